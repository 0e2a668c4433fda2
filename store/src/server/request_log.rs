//! The front end's request line: at debug level, one line per request with
//! its route (for what is not an API call), operation, table (when the body
//! names a loggable one), HTTP status, error name, latency, request id and
//! peer.
//!
//! Nothing here runs unless debug is enabled for this module: the front end
//! asks [`RequestLog::start_if_enabled`] and carries `None` otherwise, so at
//! the default `info` level a request pays for one cached level check.
//! Client bytes reach the log only when they cannot break a line (see
//! [`logged_table_name`]).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tracing::Level;

use crate::api::{ErrorCode, Operation};

/// What the debug-level request line says beyond the response itself,
/// gathered while the request is answered.
pub(super) struct RequestLog {
    start: Instant,
    /// Method and path, shown for what is not an API call (health checks,
    /// stray requests).
    route: String,
    op: Option<Operation>,
    table: Option<String>,
    /// The error's name (`ConditionalCheckFailedException`), for API errors.
    error: Option<String>,
}

impl RequestLog {
    /// Starts timing a request, when request lines are enabled at all.
    pub(super) fn start_if_enabled(req: &Request<Incoming>) -> Option<RequestLog> {
        // Checked first, so nothing is built or timed when debug is off.
        if !tracing::enabled!(Level::DEBUG) {
            return None;
        }
        Some(RequestLog {
            start: Instant::now(),
            route: {
                // Paths are ASCII (hyper refuses anything else); long ones
                // are cut so a client cannot fill the log.
                let path = req.uri().path();
                format!("{} {}", req.method(), path.get(..128).unwrap_or(path))
            },
            op: None,
            table: None,
            error: None,
        })
    }

    /// The request is an API call: its operation, and the table it names.
    pub(super) fn api_call(&mut self, op: Operation, body: &[u8]) {
        self.op = Some(op);
        self.table = logged_table_name(body);
    }

    /// The front end refused the request before the backend saw it.
    pub(super) fn rejected(&mut self, code: ErrorCode) {
        self.error = code.as_str().rsplit('#').next().map(str::to_owned);
    }

    /// What the backend answered.
    pub(super) fn backend_answer(&mut self, status: StatusCode, body: &[u8]) {
        if status != StatusCode::OK {
            self.error = logged_error_name(body);
        }
    }

    /// Write the line.
    pub(super) fn finish(self, resp: &Response<Full<Bytes>>, peer: SocketAddr) {
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Whole microseconds: the float's last digits are noise.
        let latency_ms = self.start.elapsed().as_micros() as f64 / 1000.0;
        let route = self.op.is_none().then_some(self.route.as_str());
        tracing::debug!(
            route = route.map(tracing::field::display),
            operation = self.op.map(|op| tracing::field::display(op.name())),
            table = self.table.as_deref().map(tracing::field::display),
            status = resp.status().as_u16(),
            error = self.error.as_deref().map(tracing::field::display),
            latency_ms,
            request_id = %request_id,
            %peer,
            "request"
        );
    }
}

/// The `TableName` a request body names, if it is one that can be logged
/// as it is: anything else (a missing or malformed name) is left out rather
/// than letting client bytes, a newline say, into the log.
fn logged_table_name(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(rename = "TableName", borrow)]
        table_name: Option<std::borrow::Cow<'a, str>>,
    }
    let name = serde_json::from_slice::<Named>(body).ok()?.table_name?;
    // Table names, and the table ARNs DynamoDB also accepts there.
    let loggable = !name.is_empty()
        && name.len() <= 1024
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-:/".contains(&b));
    loggable.then(|| name.into_owned())
}

/// The name part of an error body's `__type` (`...#ResourceNotFoundException`).
fn logged_error_name(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(rename = "__type", borrow)]
        error_type: std::borrow::Cow<'a, str>,
    }
    let typed = serde_json::from_slice::<Typed>(body).ok()?;
    let name = typed.error_type.rsplit('#').next()?;
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.')
        .then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_that_could_break_a_log_line_are_left_out() {
        assert_eq!(
            logged_table_name(br#"{"TableName":"music","Key":{}}"#).as_deref(),
            Some("music")
        );
        assert_eq!(
            logged_table_name(br#"{"TableName":"arn:aws:dynamodb:us-east-1:1:table/music"}"#)
                .as_deref(),
            Some("arn:aws:dynamodb:us-east-1:1:table/music")
        );
        assert_eq!(
            logged_table_name(br#"{"TableName":"a\nINFO forged"}"#),
            None
        );
        assert_eq!(logged_table_name(br#"{"TableName":"a b"}"#), None);
        assert_eq!(logged_table_name(br#"{"TableName":7}"#), None);
        assert_eq!(logged_table_name(br#"{"RequestItems":{}}"#), None);
        assert_eq!(logged_table_name(b"not json"), None);
    }

    #[test]
    fn error_names_are_read_from_the_wire_type() {
        assert_eq!(
            logged_error_name(
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"x"}"#
            )
            .as_deref(),
            Some("ConditionalCheckFailedException")
        );
        assert_eq!(logged_error_name(br#"{"message":"x"}"#), None);
    }
}
