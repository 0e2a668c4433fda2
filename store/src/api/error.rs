//! The wire error: `ErrorCode` and `ApiError`.
//!
//! This is the one place where failures become what a client sees: an HTTP
//! status and `{"__type": "<namespace>#<Name>", "message": "..."}`. Layer
//! errors (`EngineError`, `ExprError`, `NumberError`, ...) convert into
//! `ApiError` here and nowhere else.

use std::fmt;

use crate::engine::EngineError;
use crate::expr::ExprError;
use crate::model::number::NumberError;
use crate::partiql::PartiqlError;

/// Every error type Ferrodyn sends. The namespace and HTTP status follow
/// DynamoDB: coral's own validation and protocol errors in `com.amazon.coral.*`,
/// DynamoDB's errors in `com.amazonaws.dynamodb.v20120810`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Validation,
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    /// SigV4: the access key is not known.
    UnrecognizedClient,
    /// SigV4: the signature does not match, or the date is out of range.
    InvalidSignature,
    /// SigV4: the Authorization header lacks a part.
    IncompleteSignature,
    AccessDenied,
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    RequestLimitExceeded,
    ItemCollectionSizeLimitExceeded,
    TransactionCanceled,
    TransactionConflict,
    TransactionInProgress,
    IdempotentParameterMismatch,
    ExpiredIterator,
    TrimmedDataAccess,
    Throttling,
    InternalServer,
    /// HTTP 503: DynamoDB is unavailable for a while.
    ServiceUnavailable,
    /// Streams API: a table has no stream.
    StreamResourceNotFound,
    /// Backup operations name a table that does not exist.
    TableNotFound,
    BackupNotFound,
    BackupInUse,
    /// A restore's target table exists.
    TableAlreadyExists,
    /// A table is being created or deleted (backups and restores).
    TableInUse,
    ContinuousBackupsUnavailable,
    PointInTimeRecoveryUnavailable,
    InvalidRestoreTime,
    /// Export and import jobs (see `transfer`).
    ExportNotFound,
    ExportConflict,
    InvalidExportTime,
    ImportNotFound,
    ImportConflict,
    /// PartiQL INSERT of a key that exists.
    DuplicateItem,
}

impl ErrorCode {
    /// The `__type` value, namespace included.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "com.amazon.coral.validate#ValidationException",
            ErrorCode::Serialization => "com.amazon.coral.service#SerializationException",
            ErrorCode::UnknownOperation => "com.amazon.coral.service#UnknownOperationException",
            ErrorCode::MissingAuthenticationToken => {
                "com.amazon.coral.service#MissingAuthenticationTokenException"
            }
            ErrorCode::AccessDenied => "com.amazon.coral.service#AccessDeniedException",
            ErrorCode::UnrecognizedClient => "com.amazon.coral.service#UnrecognizedClientException",
            ErrorCode::InvalidSignature => "com.amazon.coral.service#InvalidSignatureException",
            ErrorCode::IncompleteSignature => {
                "com.amazon.coral.service#IncompleteSignatureException"
            }
            ErrorCode::ResourceNotFound => {
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            }
            ErrorCode::ResourceInUse => "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
            ErrorCode::ConditionalCheckFailed => {
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
            }
            ErrorCode::LimitExceeded => "com.amazonaws.dynamodb.v20120810#LimitExceededException",
            ErrorCode::ProvisionedThroughputExceeded => {
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
            }
            ErrorCode::RequestLimitExceeded => {
                "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded"
            }
            ErrorCode::ItemCollectionSizeLimitExceeded => {
                "com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException"
            }
            ErrorCode::TransactionCanceled => {
                "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
            }
            ErrorCode::TransactionConflict => {
                "com.amazonaws.dynamodb.v20120810#TransactionConflictException"
            }
            ErrorCode::TransactionInProgress => {
                "com.amazonaws.dynamodb.v20120810#TransactionInProgressException"
            }
            ErrorCode::IdempotentParameterMismatch => {
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"
            }
            ErrorCode::ExpiredIterator => {
                "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException"
            }
            ErrorCode::TrimmedDataAccess => {
                "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException"
            }
            ErrorCode::Throttling => "com.amazon.coral.availability#ThrottlingException",
            ErrorCode::InternalServer => "com.amazonaws.dynamodb.v20120810#InternalServerError",
            ErrorCode::ServiceUnavailable => "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
            ErrorCode::StreamResourceNotFound => {
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            }
            ErrorCode::TableNotFound => "com.amazonaws.dynamodb.v20120810#TableNotFoundException",
            ErrorCode::BackupNotFound => "com.amazonaws.dynamodb.v20120810#BackupNotFoundException",
            ErrorCode::BackupInUse => "com.amazonaws.dynamodb.v20120810#BackupInUseException",
            ErrorCode::TableAlreadyExists => {
                "com.amazonaws.dynamodb.v20120810#TableAlreadyExistsException"
            }
            ErrorCode::TableInUse => "com.amazonaws.dynamodb.v20120810#TableInUseException",
            ErrorCode::ContinuousBackupsUnavailable => {
                "com.amazonaws.dynamodb.v20120810#ContinuousBackupsUnavailableException"
            }
            ErrorCode::ExportNotFound => "com.amazonaws.dynamodb.v20120810#ExportNotFoundException",
            ErrorCode::ExportConflict => "com.amazonaws.dynamodb.v20120810#ExportConflictException",
            ErrorCode::InvalidExportTime => {
                "com.amazonaws.dynamodb.v20120810#InvalidExportTimeException"
            }
            ErrorCode::PointInTimeRecoveryUnavailable => {
                "com.amazonaws.dynamodb.v20120810#PointInTimeRecoveryUnavailableException"
            }
            ErrorCode::ImportNotFound => "com.amazonaws.dynamodb.v20120810#ImportNotFoundException",
            ErrorCode::ImportConflict => "com.amazonaws.dynamodb.v20120810#ImportConflictException",
            ErrorCode::InvalidRestoreTime => {
                "com.amazonaws.dynamodb.v20120810#InvalidRestoreTimeException"
            }

            ErrorCode::DuplicateItem => "com.amazonaws.dynamodb.v20120810#DuplicateItemException",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InternalServer => 500,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::MissingAuthenticationToken | ErrorCode::AccessDenied => 400,
            _ => 400,
        }
    }

    /// Whether SDKs retry this error (they decide by `__type`; this is for
    /// our own clients, such as the proxy's upstream and the benchmark).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::ProvisionedThroughputExceeded
                | ErrorCode::RequestLimitExceeded
                | ErrorCode::Throttling
                | ErrorCode::TransactionConflict
                | ErrorCode::TransactionInProgress
                | ErrorCode::InternalServer
                | ErrorCode::ServiceUnavailable
        )
    }
}

/// An error as the client will see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra top-level members of the error body (e.g. `Item` on a
    /// ConditionalCheckFailedException, `CancellationReasons`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Validation, message)
    }

    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Serialization, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ResourceNotFound, message)
    }

    /// DynamoDB's message when a table operation (DescribeTable,
    /// DeleteTable, UpdateTable, the TTL operations) names a table that does
    /// not exist.
    pub fn table_not_found(table: &str) -> ApiError {
        ApiError::not_found(format!(
            "Requested resource not found: Table: {table} not found"
        ))
    }

    /// DynamoDB's message when an item operation (the reads, the writes,
    /// their batches and transactions) names a table that does not exist:
    /// unlike the table operations' message, it does not name the table.
    pub fn resource_not_found() -> ApiError {
        ApiError::not_found("Requested resource not found")
    }

    pub fn in_use(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ResourceInUse, message)
    }

    pub fn conditional_check_failed() -> ApiError {
        ApiError::new(
            ErrorCode::ConditionalCheckFailed,
            "The conditional request failed",
        )
    }

    /// An internal fault: logged with its whole chain here, opaque to the client.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> ApiError {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        ApiError::new(ErrorCode::InternalServer, "Internal server error")
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("__type".into(), self.code.as_str().into());
        // Some coral errors (malformed JSON, unknown operation) carry no message.
        if !self.message.is_empty() {
            obj.insert("message".into(), self.message.clone().into());
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_default()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> ApiError {
        match err {
            // Not a fault of this request, and it passes: a retryable 500
            // that says why (the engine logs the condition once).
            EngineError::CollectionTooLarge => ApiError::new(
                ErrorCode::ItemCollectionSizeLimitExceeded,
                "Item collection size limit exceeded",
            ),
            EngineError::StorageFull => ApiError::new(
                ErrorCode::InternalServer,
                "Internal server error: the storage volume is full; writes are refused until space is freed",
            ),
            err => ApiError::internal(&err),
        }
    }
}

impl From<ExprError> for ApiError {
    fn from(err: ExprError) -> ApiError {
        ApiError::validation(err.0)
    }
}

impl From<PartiqlError> for ApiError {
    fn from(err: PartiqlError) -> ApiError {
        ApiError::validation(err.to_string())
    }
}

impl From<NumberError> for ApiError {
    fn from(err: NumberError) -> ApiError {
        ApiError::validation(err.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
