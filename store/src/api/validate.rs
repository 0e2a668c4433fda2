//! Coral-style constraint checking: DynamoDB reports every violated member
//! constraint of a request at once ("2 validation errors detected: Value ...
//! at 'tableName' failed to satisfy constraint: ...; Value ...").
//!
//! The order of the violations is not the order of the request's members
//! nor alphabetical: each operation has a member order of its own, which an
//! operation passes to [`Violations::finish_in`]. At most ten violations are
//! reported, as DynamoDB reports.

use super::error::ApiError;

/// Whether `name` is a table name DynamoDB accepts: 3 to 255 characters
/// of `[a-zA-Z0-9_.-]` (not an ARN).
pub fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len()) && name.bytes().all(in_name_pattern)
}

fn in_name_pattern(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// Which bytes a name may hold (`a-z A-Z 0-9 _ - .`), looked up rather
/// than compared: every request's table name is checked.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-';
        b += 1;
    }
    table
};

/// Most violations one message lists.
const MAX_REPORTED: usize = 10;

#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

#[derive(Debug)]
struct Violation {
    /// The member path, e.g. `transactItems.1.member.put.item`.
    path: String,
    text: String,
}

impl Violations {
    pub fn new() -> Violations {
        Violations(Vec::new())
    }

    /// Record that `value` (already rendered as DynamoDB renders it, e.g.
    /// `'abc'` or `null`) at `path` fails `constraint`.
    pub fn push(&mut self, value: &str, path: &str, constraint: &str) {
        self.0.push(Violation {
            path: path.to_owned(),
            text: format!("Value {value} at '{path}' failed to satisfy constraint: {constraint}"),
        });
    }

    pub fn null(&mut self, path: &str) {
        self.push("null", path, "Member must not be null");
    }

    /// Table-name rules ([`is_table_name`]); the pattern is reported
    /// before the length, and an empty name breaks both.
    pub fn table_name(&mut self, name: Option<&str>, path: &str) {
        let Some(name) = name else {
            self.null(path);
            return;
        };
        if is_table_name(name) {
            // Valid: nothing to report (and no message to build).
            return;
        }
        let quoted = format!("'{name}'");
        let pattern_ok = !name.is_empty() && name.bytes().all(in_name_pattern);
        if !pattern_ok {
            self.push(
                &quoted,
                path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
        if name.len() < 3 {
            self.push(
                &quoted,
                path,
                "Member must have length greater than or equal to 3",
            );
        }
        if name.len() > 255 {
            self.push(
                &quoted,
                path,
                "Member must have length less than or equal to 255",
            );
        }
    }

    /// A `TableName` that may also be given as the table's ARN (every
    /// operation on an existing table, unlike CreateTable): its own
    /// constraint is only a length of at least 1, so an empty name breaks
    /// that alone; any other name is checked as a table name.
    pub fn table_name_or_arn(&mut self, name: Option<&str>, path: &str) {
        match name {
            Some("") => self.push(
                "''",
                path,
                "Member must have length greater than or equal to 1",
            ),
            other => self.table_name(other, path),
        }
    }

    /// A number member that must lie in `min..=max`, its value quoted in
    /// the message as DynamoDB quotes most numbers.
    pub fn in_range(&mut self, value: Option<i64>, path: &str, min: i64, max: i64) {
        if let Some(n) = value {
            self.range(&format!("'{n}'"), n, path, min, max);
        }
    }

    /// [`Violations::in_range`] for the members whose value DynamoDB
    /// writes without quotes (the export and import listings' sizes).
    pub fn in_range_unquoted(&mut self, value: Option<i64>, path: &str, min: i64, max: i64) {
        if let Some(n) = value {
            self.range(&n.to_string(), n, path, min, max);
        }
    }

    fn range(&mut self, rendered: &str, n: i64, path: &str, min: i64, max: i64) {
        if n < min {
            self.push(
                rendered,
                path,
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if n > max {
            self.push(
                rendered,
                path,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// The enumerated member `value` as its Rust enum; a value outside the
    /// enumeration is recorded (DynamoDB's message) and gives `None`, as
    /// does an absent member.
    pub fn parse<E: WireEnum>(&mut self, value: Option<&str>, path: &str) -> Option<E> {
        let value = value?;
        match E::from_wire(value) {
            Some(parsed) => Some(parsed),
            None => {
                let names: Vec<&str> = E::VALUES.iter().map(|(name, _)| *name).collect();
                self.one_of(Some(value), path, &names);
                None
            }
        }
    }

    pub fn one_of(&mut self, value: Option<&str>, path: &str, allowed: &[&str]) {
        if let Some(v) = value {
            if !allowed.contains(&v) {
                self.push(
                    &format!("'{v}'"),
                    path,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Report the violations in the order they were recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        self.finish_in(&[])
    }

    /// Report the violations in `order`, the operation's member order:
    /// each violation goes by the top-level member its path starts with;
    /// members `order` does not name come last, in the order recorded.
    pub fn finish_in(mut self, order: &[&str]) -> Result<(), ApiError> {
        let rank = |v: &Violation| {
            let member = v.path.split('.').next().unwrap_or_default();
            order
                .iter()
                .position(|m| *m == member)
                .unwrap_or(order.len())
        };
        self.0.sort_by_key(rank);
        let texts: Vec<&str> = self
            .0
            .iter()
            .take(MAX_REPORTED)
            .map(|v| v.text.as_str())
            .collect();
        match texts.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                texts[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                texts.join("; ")
            ))),
        }
    }
}

/// An enumerated request member: its wire names and values, in the order
/// DynamoDB lists them in "Member must satisfy enum value set" messages.
pub trait WireEnum: Copy + PartialEq + 'static {
    const VALUES: &'static [(&'static str, Self)];

    /// The value a wire name stands for; `None` outside the enumeration.
    fn from_wire(name: &str) -> Option<Self> {
        Self::VALUES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| *value)
    }

    /// The wire name of the value.
    fn wire_name(self) -> &'static str {
        Self::VALUES
            .iter()
            .find(|(_, value)| *value == self)
            .map_or("", |(name, _)| *name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(v: Violations, order: &[&str]) -> String {
        v.finish_in(order)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn table_names_are_letters_digits_underscore_dash_and_dot() {
        for b in 0..=255u8 {
            let allowed = b.is_ascii_alphanumeric() || b"_-.".contains(&b);
            let name = [b'a', b'b', b];
            assert_eq!(
                is_table_name(&String::from_utf8_lossy(&name)),
                allowed,
                "byte {b:#x}"
            );
        }
        assert!(is_table_name(&"x".repeat(255)));
        assert!(!is_table_name(&"x".repeat(256)));
        assert!(!is_table_name("ab"));
    }

    #[test]
    fn violations_follow_the_operation_member_order() {
        let mut v = Violations::new();
        v.null("key");
        v.table_name(Some("a;"), "tableName");
        v.one_of(Some("x"), "returnConsumedCapacity", &["NONE"]);
        assert_eq!(
            message(v, &["returnConsumedCapacity", "tableName", "key"]),
            "4 validation errors detected: \
             Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [NONE]; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value null at 'key' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn at_most_ten_violations_are_reported() {
        let mut v = Violations::new();
        for i in 0..12 {
            v.null(&format!("m{i}"));
        }
        assert!(message(v, &[]).starts_with("10 validation errors detected: "));
    }

    #[test]
    fn an_empty_name_breaks_only_the_length_when_an_arn_is_allowed() {
        let mut strict = Violations::new();
        strict.table_name(Some(""), "tableName");
        assert!(message(strict, &[]).starts_with("2 validation errors detected: "));
        let mut arn = Violations::new();
        arn.table_name_or_arn(Some(""), "tableName");
        assert_eq!(
            message(arn, &[]),
            "1 validation error detected: Value '' at 'tableName' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn an_enumerated_member_parses_or_is_reported_with_dynamodbs_set() {
        use crate::api::types::ReturnValues;
        let mut v = Violations::new();
        assert_eq!(
            v.parse::<ReturnValues>(Some("ALL_OLD"), "returnValues"),
            Some(ReturnValues::AllOld)
        );
        assert_eq!(v.parse::<ReturnValues>(None, "returnValues"), None);
        assert!(v.is_empty());
        assert_eq!(
            v.parse::<ReturnValues>(Some("all_old"), "returnValues"),
            None
        );
        let err = v.finish().expect_err("refused");
        assert!(err.message.contains(
            "Value 'all_old' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
        ), "{}", err.message);
    }
}
