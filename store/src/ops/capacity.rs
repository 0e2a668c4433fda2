//! Consumed capacity by DynamoDB's unit rules: reads in 4 KB units (half for
//! eventually consistent reads), writes in 1 KB units, rounded up, at least one.

use serde::Serialize;

use crate::api::validate::Violations;

/// What `ReturnConsumedCapacity` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    None,
    Total,
    Indexes,
}

impl Mode {
    pub fn parse(value: Option<&str>, v: &mut Violations) -> Mode {
        v.one_of(
            value,
            "returnConsumedCapacity",
            &["INDEXES", "TOTAL", "NONE"],
        );
        match value {
            Some("TOTAL") => Mode::Total,
            Some("INDEXES") => Mode::Indexes,
            _ => Mode::None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumedCapacity {
    pub table_name: String,
    pub capacity_units: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Units>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Units {
    pub capacity_units: f64,
}

pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

pub fn report(mode: Mode, table: &str, units: f64) -> Option<ConsumedCapacity> {
    match mode {
        Mode::None => None,
        Mode::Total => Some(ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: units,
            table: None,
        }),
        Mode::Indexes => Some(ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: units,
            table: Some(Units {
                capacity_units: units,
            }),
        }),
    }
}
