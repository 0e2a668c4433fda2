//! The fuzz targets, one module each.
//!
//! * [`wire::Wire`] — request JSON (generated, then damaged) decoded into
//!   every typed input: only Validation or Serialization errors, no panic.
//! * [`expr::Expr`] — expression text parsed, printed and parsed again (the
//!   print is a fixed point), resolved and evaluated against an item.
//! * [`http::Http`] — arbitrary and damaged HTTP requests on a socket to an
//!   in-process store: an answer or a close within the time limit, never a
//!   5xx other than 503, and the server still serves afterwards.
//! * [`hit_path::HitPath`] — the proxy's GetItem read at the edge of its
//!   stack against the store's decode (differential).
//! * [`ops::Ops`] — valid-ish operations against an in-process store: no
//!   panic, no hang, only DynamoDB error types, and a model check of
//!   acknowledged writes; the same through an embedded `ferrodyn` proxy
//!   (`proxy`), whose cached reads must show every write it acknowledged.

pub mod expr;
pub mod hit_path;
pub mod http;
pub mod ops;
pub mod wire;

use ferrodyn_store::api::ErrorCode;

/// Every error type Ferrodyn may send (`ErrorCode::as_str`).
pub const ERROR_CODES: [ErrorCode; 25] = [
    ErrorCode::Validation,
    ErrorCode::Serialization,
    ErrorCode::UnknownOperation,
    ErrorCode::MissingAuthenticationToken,
    ErrorCode::UnrecognizedClient,
    ErrorCode::InvalidSignature,
    ErrorCode::IncompleteSignature,
    ErrorCode::AccessDenied,
    ErrorCode::ResourceNotFound,
    ErrorCode::ResourceInUse,
    ErrorCode::ConditionalCheckFailed,
    ErrorCode::LimitExceeded,
    ErrorCode::ProvisionedThroughputExceeded,
    ErrorCode::RequestLimitExceeded,
    ErrorCode::ItemCollectionSizeLimitExceeded,
    ErrorCode::TransactionCanceled,
    ErrorCode::TransactionConflict,
    ErrorCode::TransactionInProgress,
    ErrorCode::IdempotentParameterMismatch,
    ErrorCode::ExpiredIterator,
    ErrorCode::TrimmedDataAccess,
    ErrorCode::Throttling,
    ErrorCode::InternalServer,
    ErrorCode::StreamResourceNotFound,
    ErrorCode::TableNotFound,
];

/// What is wrong with an error answer's body, if anything: it must be
/// `{"__type": <a known type>, "message": <string>}` (the message may be
/// absent, as DynamoDB omits it for a bare SerializationException), and an
/// internal error is always a finding.
pub fn check_error_body(status: u16, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    if volume_full(&text) {
        return None;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Some(format!("{status} answer is not JSON: {text}"));
    };
    let Some(ty) = v.get("__type").and_then(|t| t.as_str()) else {
        return Some(format!("{status} answer has no __type: {text}"));
    };
    let known = ERROR_CODES.iter().find(|c| c.as_str() == ty);
    match known {
        None => Some(format!("unknown error type {ty}: {text}")),
        Some(ErrorCode::InternalServer) => Some(format!("internal error: {text}")),
        Some(code) if code.http_status() != status => {
            Some(format!("{ty} sent with HTTP {status}: {text}"))
        }
        Some(_) => match v.get("message").or_else(|| v.get("Message")) {
            None | Some(serde_json::Value::String(_)) => None,
            Some(_) => Some(format!("message is not a string: {text}")),
        },
    }
}

/// The store refuses writes while its volume is full (a commit failed
/// with ENOSPC), with an InternalServerError that says so, and takes them
/// again once space is freed. That is the machine's state, not the input's
/// fault: not a finding, but said once on stderr.
pub fn volume_full(answer: &str) -> bool {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let full =
        answer.contains("#InternalServerError") && answer.contains("the storage volume is full");
    if full && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("ferrodyn-fuzz: the volume is full; writes refused meanwhile are not findings");
    }
    full
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::runner::{run, Budget, Target};

    fn budget(cases: u64) -> Budget {
        Budget {
            time: Duration::from_secs(120),
            cases,
            first: 0,
        }
    }

    async fn clean<T: Target>(target: &mut T, cases: u64) {
        let report = run(target, 1, budget(cases)).await;
        assert_eq!(report.cases, cases);
        let findings: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
        assert!(findings.is_empty(), "{}", findings.join("\n"));
    }

    #[tokio::test]
    async fn every_target_runs_clean_on_a_fixed_seed() {
        clean(&mut super::wire::Wire, 100).await;
        clean(&mut super::expr::Expr, 300).await;
        clean(&mut super::hit_path::HitPath, 300).await;
        clean(&mut super::ops::Ops::start().await.expect("store"), 200).await;
        clean(&mut super::http::Http::start().await.expect("server"), 20).await;
        clean(
            &mut super::ops::Ops::start_proxy().await.expect("proxy"),
            100,
        )
        .await;
    }

    #[test]
    fn an_internal_error_or_an_unknown_type_is_a_finding() {
        let internal =
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"x"}"#;
        assert!(super::check_error_body(500, internal).is_some());
        let unknown = br#"{"__type":"com.example#Oops","message":"x"}"#;
        assert!(super::check_error_body(400, unknown).is_some());
        let validation =
            br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"x"}"#;
        assert!(super::check_error_body(400, validation).is_none());
        assert!(super::check_error_body(500, validation).is_some());
    }
}
