//! What the export and import operations share: the store's transfer state
//! (where buckets are, the job records), ARNs, paging tokens, how a job's
//! failure is reported, and the clean-up of imports a stop interrupted.

use std::path::Path;
use std::sync::Arc;

use super::{abort_to_api, Store};
use crate::api::validate::Violations;
use crate::api::{ApiError, ApiResult};
use crate::engine::{Abort, Engine};
use crate::model::table::{ACCOUNT, REGION};
use crate::transfer::{Jobs, Locations, TransferConfig, TransferError};

/// Exports (and imports) in progress at once; DynamoDB allows 300 exports
/// and 50 imports.
pub(super) const MAX_CONCURRENT: usize = 50;

/// The store's export and import state.
pub struct Transfers {
    pub(super) locations: Locations,
    pub(super) jobs: Jobs,
}

impl Transfers {
    /// Load the job records of `data_dir`. Returns the ARNs of imports a
    /// stop interrupted (their tables must be deleted).
    pub(super) fn open(config: &TransferConfig, data_dir: &Path) -> (Transfers, Vec<String>) {
        let (jobs, interrupted) = Jobs::open(data_dir);
        (
            Transfers {
                locations: Locations::new(config, data_dir),
                jobs,
            },
            interrupted,
        )
    }
}

/// Delete every table an import was still filling when the store stopped:
/// such a table is CREATING and must never become ACTIVE half-built.
pub(super) async fn drop_unfinished_imports(engine: Arc<Engine>) {
    for table in engine.tables() {
        if table.importing.is_none() {
            continue;
        }
        let name = table.name.clone();
        let id = table.id;
        let dropped = engine
            .write(move |ctx| {
                match ctx.table(&name) {
                    Some(t) if t.id == id && t.importing.is_some() => ctx.drop_table(&t)?,
                    _ => {}
                }
                Ok::<(), Abort<()>>(())
            })
            .await;
        match dropped {
            Ok(()) => {
                tracing::info!(table = %table.name, "deleted a table whose import was interrupted")
            }
            Err(_) => {
                tracing::error!(table = %table.name, "cannot delete a table whose import was interrupted")
            }
        }
    }
}

impl Store {
    /// Delete the table an import was filling (it failed).
    pub(super) async fn drop_import_table(&self, name: &str, import_arn: &str) -> ApiResult<()> {
        let name = name.to_owned();
        let arn = import_arn.to_owned();
        self.engine
            .write(move |ctx| {
                if let Some(t) = ctx.table(&name) {
                    if t.importing.as_deref() == Some(arn.as_str()) {
                        ctx.drop_table(&t)?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(abort_to_api)
    }
}

/// The table name in `arn:aws:dynamodb:<region>:<account>:table/<name>`.
pub(super) fn parse_table_arn(arn: &str) -> ApiResult<&str> {
    let prefix = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/");
    match arn.strip_prefix(&prefix) {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(name),
        _ => Err(ApiError::validation(format!("Invalid TableArn: {arn}"))),
    }
}

/// ExportArn and ImportArn are at least 37 characters.
pub(super) fn check_arn_length(arn: &str, path: &str, v: &mut Violations) {
    if arn.len() < 37 {
        v.push(
            &format!("'{arn}'"),
            path,
            "Member must have length greater than or equal to 37",
        );
    }
}

/// A paging token naming the last ARN returned: its bytes in hex, padded
/// with zeros to whole 16-digit groups (DynamoDB's tokens are such groups).
pub(super) fn arn_next_token(arn: &str) -> String {
    let mut hex: String = arn.bytes().map(|b| format!("{b:02x}")).collect();
    while !hex.len().is_multiple_of(16) || hex.len() < 112 {
        hex.push_str("00");
    }
    hex
}

/// Where the page after `token` starts in `arns`.
pub(super) fn page_after(arns: &[&str], token: Option<&str>) -> ApiResult<usize> {
    let Some(token) = token else {
        return Ok(0);
    };
    let invalid = || ApiError::validation("Invalid NextToken");
    if !token.len().is_multiple_of(2) || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let mut bytes = Vec::with_capacity(token.len() / 2);
    for pair in token.as_bytes().chunks(2) {
        let text = std::str::from_utf8(pair).map_err(|_| invalid())?;
        bytes.push(u8::from_str_radix(text, 16).map_err(|_| invalid())?);
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    let last = String::from_utf8(bytes).map_err(|_| invalid())?;
    arns.iter()
        .position(|a| *a == last)
        .map(|i| i + 1)
        .ok_or_else(invalid)
}

/// FailureCode and FailureMessage of a job that failed.
pub(super) fn failure(error: &TransferError) -> (String, String) {
    let code = match error {
        TransferError::NoSuchBucket(_) => "S3NoSuchBucket",
        TransferError::ObjectStore(object_store::Error::NotFound { .. }) => "S3NoSuchKey",
        TransferError::ObjectStore(_) => "S3AccessFailure",
        TransferError::Invalid(_) => "InvalidInput",
        TransferError::TableGone => "TableNotFound",
        TransferError::Engine(_) | TransferError::Io(_) => "InternalError",
    };
    (code.to_owned(), error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tokens_name_the_last_arn_and_pages_resume_after_it() {
        let arns = ["arn:a/export/1", "arn:a/export/2", "arn:a/export/3"];
        let token = arn_next_token(arns[1]);
        assert!(token.len() >= 112 && token.len().is_multiple_of(16));
        assert_eq!(page_after(&arns, Some(&token)).expect("test value"), 2);
        assert_eq!(page_after(&arns, None).expect("test value"), 0);
        assert!(page_after(&arns, Some("zz")).is_err());
        assert!(page_after(&arns, Some(&arn_next_token("other"))).is_err());
    }
}
