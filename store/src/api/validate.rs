//! Coral-style constraint checking: DynamoDB reports every violated member
//! constraint of a request at once ("2 validation errors detected: Value ...
//! at 'tableName' failed to satisfy constraint: ...; Value ...").

use super::error::ApiError;

#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn new() -> Violations {
        Violations(Vec::new())
    }

    /// Record that `value` (already rendered as DynamoDB renders it, e.g.
    /// `'abc'` or `null`) at `path` fails `constraint`.
    pub fn push(&mut self, value: &str, path: &str, constraint: &str) {
        self.0.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn null(&mut self, path: &str) {
        self.push("null", path, "Member must not be null");
    }

    /// Table-name rules: 3..=255 characters of `[a-zA-Z0-9_.-]`.
    pub fn table_name(&mut self, name: Option<&str>, path: &str) {
        let Some(name) = name else {
            self.null(path);
            return;
        };
        let quoted = format!("'{name}'");
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
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        {
            self.push(
                &quoted,
                path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
    }

    /// An enum member: `value` must be one of `allowed`.
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

    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}
