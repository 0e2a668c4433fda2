//! Backups: what Ferrodyn reports about them.
//!
//! Ferrodyn keeps no on-demand backups and offers no point-in-time recovery
//! yet, so DescribeContinuousBackups truthfully reports both as disabled;
//! the operations that would create, list or restore backups, or enable
//! point-in-time recovery, answer `UnknownOperationException` (see the
//! dispatcher) rather than pretend.

use serde_json::json;

use super::Store;
use crate::api::types::TableNameInput;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};

impl Store {
    pub(super) fn describe_continuous_backups(&self, input: TableNameInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name(input.table_name.as_deref(), "tableName");
        v.finish()?;
        let name = input.table_name.as_deref().unwrap_or_default();
        if self.engine.table(name).is_none() {
            return Err(ApiError::new(
                ErrorCode::TableNotFound,
                format!("Table not found: {name}"),
            ));
        }
        encode(&json!({
            "ContinuousBackupsDescription": {
                "ContinuousBackupsStatus": "DISABLED",
                "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}
            }
        }))
    }
}
