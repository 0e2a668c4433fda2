//! The store's boundary as a service: what answers API requests
//! ([`Backend`]), the request it is handed ([`BackendRequest`]) and what it
//! answers ([`BackendResponse`]).
//!
//! The HTTP front end builds a request from the wire (operation, headers,
//! decompressed body) and calls a backend: the store itself, or the proxy's
//! stack in front of it. A request's typed input ([`Input`]) is decoded from
//! its body at most once, by whichever holder needs it first — a proxy layer
//! that must know a write's key, or the store that executes it — and travels
//! with the request from then on, so no layer parses the body again.
//!
//! Invariant: a request's typed input is exactly what `api::decode` makes of
//! its body; a layer that rewrites the body rewrites the input the same way
//! ([`BackendRequest::set_return_values_all_new`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::OnceLock;

use bytes::Bytes;
use http::StatusCode;
use serde_json::value::RawValue;

use crate::api::types::{
    BatchGetItemInput, BatchWriteItemInput, DeleteItemInput, GetItemInput, PutItemInput,
    QueryInput, ScanInput, TransactWriteItemsInput, UpdateItemInput,
};
use crate::api::{self, ApiError, Operation};
pub use crate::engine::Health;

/// One API request, as the front end hands it to a [`Backend`].
#[derive(Debug, Clone)]
pub struct BackendRequest {
    pub op: Operation,
    /// The request's headers (a forwarding backend passes them on, e.g. the
    /// client's signature).
    pub headers: http::HeaderMap,
    /// The JSON body, already decompressed.
    pub body: Bytes,
    /// The typed input, once decoded: `Some(None)` when the body does not
    /// decode as `op`'s input, or `op` has no [`Input`] variant. Boxed: a
    /// request is moved into every layer's future, and the largest input
    /// would make each of them that much larger.
    input: OnceLock<Option<Box<Input>>>,
    /// Set only in-process, never from the wire: a cache that will itself
    /// store what this single-item write leaves (or drop its entry) names
    /// itself here. An in-process store stamps the write's change record
    /// with it, so the cache's change-feed follower can pass over the
    /// changes it made (`api::feed::Change::origin`).
    pub origin: Option<u64>,
    /// Set only in-process, with `origin`: a PutItem's item in the stored
    /// encoding (`codec::encoded_item` of the decoded input's item), which
    /// the cache keeps as its entry. The store writes these bytes instead
    /// of encoding the item a second time.
    pub encoded_item: Option<Bytes>,
}

/// What an in-process cache said about its write
/// ([`BackendRequest::origin`], [`BackendRequest::encoded_item`]).
#[derive(Debug, Default)]
pub struct InProcess {
    pub origin: Option<u64>,
    pub encoded_item: Option<Bytes>,
}

/// The typed input of the operations whose requests more than one holder
/// reads: the data-plane reads and writes.
#[derive(Debug, Clone)]
pub enum Input {
    GetItem(GetItemInput),
    PutItem(PutItemInput),
    UpdateItem(UpdateItemInput),
    DeleteItem(DeleteItemInput),
    Query(QueryInput),
    Scan(ScanInput),
    BatchGetItem(BatchGetItemInput),
    BatchWriteItem(BatchWriteItemInput),
    TransactWriteItems(TransactWriteItemsInput),
}

impl Input {
    /// `body` decoded as `op`'s input; `None` if `op` has no variant here or
    /// the body does not decode (the store then reports why).
    pub(crate) fn decode(op: Operation, body: &[u8]) -> Option<Input> {
        Some(match op {
            // Most GetItem bodies are read without the JSON parser.
            Operation::GetItem => {
                Input::GetItem(api::plain::get_item(body).or_else(|| api::decode(body).ok())?)
            }
            Operation::PutItem => Input::PutItem(api::decode(body).ok()?),
            Operation::UpdateItem => Input::UpdateItem(api::decode(body).ok()?),
            Operation::DeleteItem => Input::DeleteItem(api::decode(body).ok()?),
            Operation::Query => Input::Query(api::decode(body).ok()?),
            Operation::Scan => Input::Scan(api::decode(body).ok()?),
            Operation::BatchGetItem => Input::BatchGetItem(api::decode(body).ok()?),
            Operation::BatchWriteItem => Input::BatchWriteItem(api::decode(body).ok()?),
            Operation::TransactWriteItems => Input::TransactWriteItems(api::decode(body).ok()?),
            _ => return None,
        })
    }

    /// The one table an input names, as sent (`None` for the batch and
    /// transaction inputs, which may name several).
    pub(crate) fn table_name(&self) -> Option<Option<&str>> {
        let name = match self {
            Input::GetItem(i) => &i.table_name,
            Input::PutItem(i) => &i.table_name,
            Input::UpdateItem(i) => &i.table_name,
            Input::DeleteItem(i) => &i.table_name,
            Input::Query(i) => &i.table_name,
            Input::Scan(i) => &i.table_name,
            Input::BatchGetItem(_) | Input::BatchWriteItem(_) | Input::TransactWriteItems(_) => {
                return None
            }
        };
        Some(name.as_deref())
    }
}

impl BackendRequest {
    pub fn new(op: Operation, headers: http::HeaderMap, body: Bytes) -> BackendRequest {
        BackendRequest {
            op,
            headers,
            body,
            input: OnceLock::new(),
            origin: None,
            encoded_item: None,
        }
    }

    /// The typed input, decoded now if no holder decoded it before; `None`
    /// if the body is not a valid input of the operation (or the operation
    /// has no [`Input`] variant).
    pub fn input(&self) -> Option<&Input> {
        self.input
            .get_or_init(|| Input::decode(self.op, &self.body).map(Box::new))
            .as_deref()
    }

    /// The typed input if some holder decoded it, without decoding it.
    /// Still boxed: the futures it is handed down through stay small.
    pub fn into_decoded(self) -> (Operation, Bytes, Option<Box<Input>>) {
        (self.op, self.body, self.input.into_inner().flatten())
    }

    /// Ask for the whole new item back: `ReturnValues` becomes `ALL_NEW` in
    /// the body and, if decoded, in the input. `false` if the body is not a
    /// JSON object (nothing changes then).
    pub fn set_return_values_all_new(&mut self) -> bool {
        let Some(body) = with_member(&self.body, "ReturnValues", r#""ALL_NEW""#) else {
            return false;
        };
        self.body = body;
        if let Some(Some(input)) = self.input.get_mut() {
            if let Input::UpdateItem(input) = input.as_mut() {
                input.return_values = Some("ALL_NEW".to_owned());
            }
        }
        true
    }
}

/// The JSON object `body` with its member `name` set to the JSON text
/// `value`; `None` if `body` is not a JSON object.
/// The other members keep their text as sent.
fn with_member(body: &[u8], name: &str, value: &str) -> Option<Bytes> {
    let mut members: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).ok()?;
    members.insert(
        name.to_owned(),
        RawValue::from_string(value.to_owned()).ok()?,
    );
    serde_json::to_vec(&members).ok().map(Bytes::from)
}

/// What a [`Backend`] answers: an HTTP status and a JSON body.
#[derive(Debug, Clone)]
pub struct BackendResponse {
    pub status: StatusCode,
    pub body: Bytes,
    /// The CRC32 of `body` (DynamoDB's `x-amz-crc32` header), when the
    /// backend has it already: a cache keeps it with an answer it sends
    /// many times. `None`: the front end computes it.
    pub crc32: Option<u32>,
}

impl BackendResponse {
    pub fn from_result(result: Result<Vec<u8>, ApiError>) -> BackendResponse {
        match result {
            Ok(body) => BackendResponse {
                status: StatusCode::OK,
                body: Bytes::from(body),
                crc32: None,
            },
            Err(e) => BackendResponse {
                status: StatusCode::from_u16(e.code.http_status())
                    .unwrap_or(StatusCode::BAD_REQUEST),
                body: Bytes::from(e.body()),
                crc32: None,
            },
        }
    }
}

/// Whatever answers API requests behind the HTTP front end: the store
/// itself, or the proxy's service stack.
pub trait Backend: Clone + Send + Sync + 'static {
    fn call(&self, req: BackendRequest) -> impl Future<Output = BackendResponse> + Send;

    /// Whether the storage behind this backend takes writes (the health
    /// check reports it); a backend without local storage is always `Ok`.
    fn health(&self) -> Health {
        Health::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(body: &'static [u8]) -> BackendRequest {
        BackendRequest::new(
            Operation::UpdateItem,
            http::HeaderMap::new(),
            Bytes::from_static(body),
        )
    }

    #[test]
    fn return_values_is_set_in_the_body_and_the_decoded_input() {
        let mut req = update(br#"{"TableName":"t","ReturnValues":"NONE","Key":{"p":{"S":"a"}}}"#);
        assert!(matches!(req.input(), Some(Input::UpdateItem(_))));
        assert!(req.set_return_values_all_new());
        let again: UpdateItemInput = api::decode(&req.body).expect("still a valid request");
        assert_eq!(again.return_values.as_deref(), Some("ALL_NEW"));
        assert_eq!(again.table_name.as_deref(), Some("t"));
        let (_, _, input) = req.into_decoded();
        let Some(Input::UpdateItem(input)) = input.map(|i| *i) else {
            panic!("decoded input kept");
        };
        assert_eq!(input.return_values.as_deref(), Some("ALL_NEW"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_left_alone() {
        let mut req = update(b"not json");
        assert!(req.input().is_none());
        assert!(!req.set_return_values_all_new());
        assert_eq!(&req.body[..], b"not json");
    }

    #[test]
    fn an_undecoded_request_hands_down_no_input() {
        let req = update(br#"{"TableName":"t","Key":{"p":{"S":"a"}}}"#);
        assert!(req.into_decoded().2.is_none());
    }
}
