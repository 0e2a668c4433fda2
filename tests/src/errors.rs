//! Assertions on DynamoDB errors as an SDK client sees them: the error
//! type (`code`) and the message, checked together.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

/// Asserts that `err` is DynamoDB's error `code` and that its message
/// contains `needle`.
pub fn assert_error<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E, code: &str, needle: &str) {
    assert_eq!(err.code(), Some(code), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
}

/// Asserts a ValidationException whose message is exactly `message`.
pub fn assert_validation<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E, message: &str) {
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert_eq!(err.message(), Some(message), "{err:?}");
}
