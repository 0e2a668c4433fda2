//! The api layer: the wire model of the DynamoDB JSON 1.0 protocol.
//!
//! Owns request decoding (JSON → typed inputs, once), response encoding,
//! the `Operation` and `ErrorCode` enums, and the single mapping of failures
//! to wire errors. Nothing past this layer sees `serde_json::Value` inputs.

pub mod backup_types;
pub mod control_types;
pub mod error;
pub mod feed;
pub mod insights;
pub mod keys;
pub mod operation;
pub mod partiql;
pub(crate) mod plain;
pub mod streams;
pub mod tables;
pub mod transfer_types;
pub mod types;
pub mod validate;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use operation::Operation;

use crate::model::wire::VALIDATION_TAG;

/// Decode a request body into its typed input.
///
/// JSON syntax errors and members of the wrong JSON type are
/// SerializationExceptions; schema-free value validation failures (tagged by
/// `model::wire`) are ValidationExceptions.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        if let Some(start) = text.find(VALIDATION_TAG) {
            let msg = &text[start + VALIDATION_TAG.len()..];
            // serde_json appends " at line L column C"; DynamoDB's messages have no position.
            let msg = match msg.rfind(" at line ") {
                Some(i) => &msg[..i],
                None => msg,
            };
            ApiError::validation(msg)
        } else if e.is_syntax() || e.is_eof() {
            // DynamoDB answers malformed JSON with a bare SerializationException.
            ApiError::serialization("")
        } else {
            ApiError::serialization(serialization_message(&text))
        }
    })
}

/// A client-facing description of a type mismatch, without serde's positions.
fn serialization_message(text: &str) -> String {
    let msg = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text,
    };
    format!("Unexpected value in request: {msg}")
}

/// Encode a response body.
pub fn encode<T: Serialize>(value: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| ApiError::internal(&e))
}

/// Encode a response body whose first member, `name`, is JSON that `first`
/// writes itself (items written straight from their stored bytes), followed
/// by the members of `rest` (a struct, whose members may all be absent).
/// `stored` is the size of what `first` writes out, in the stored encoding:
/// the answer is sized for about twice that, so it is seldom copied to grow.
pub fn encode_with_first<T: Serialize>(
    name: &str,
    stored: usize,
    first: impl FnOnce(&mut Vec<u8>) -> Result<(), crate::model::codec::CodecError>,
    rest: &T,
) -> ApiResult<Vec<u8>> {
    let rest = serde_json::to_vec(rest).map_err(|e| ApiError::internal(&e))?;
    let mut out = Vec::with_capacity(rest.len() + 2 * stored + 64);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    first(&mut out).map_err(|e| ApiError::internal(&e))?;
    match rest.get(1..) {
        Some(members) if members != b"}" => {
            out.push(b',');
            out.extend_from_slice(members);
        }
        _ => out.push(b'}'),
    }
    Ok(out)
}
