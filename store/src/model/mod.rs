//! The data model: values, numbers, keys, tables, and their encodings.

pub mod codec;
mod json_scan;
pub mod key;
pub mod number;
pub mod stored;
pub mod table;
pub mod value;
pub mod wire;

pub use number::Number;
pub use value::{AttributeValue, Item};
