//! The DynamoDB-JSON floor: a hyper server that answers GetItem from a
//! `HashMap` — it reads the body, decodes the request with serde_json
//! (table, typed key), looks the key up and encodes the item. No storage
//! engine, no validation beyond decoding: the least a server speaking
//! DynamoDB JSON does per read, so the floor under any cache's hit.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use ferrodyn_store::model::Item;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// One table's items, by the key's JSON text as `serde_json` writes an
/// [`Item`] (attribute names sorted).
#[derive(Clone, Debug, Default)]
pub struct Items {
    pub table: String,
    pub items: HashMap<String, Item>,
}

impl Items {
    /// Keep `item` under `key` (the key's attributes).
    pub fn insert(&mut self, key: &Item, item: Item) -> serde_json::Result<()> {
        self.items.insert(serde_json::to_string(key)?, item);
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetItem {
    table_name: String,
    key: Item,
    #[serde(default)]
    #[allow(dead_code)]
    consistent_read: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Output<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a Item>,
}

/// The answer to one GetItem body.
fn answer(items: &Items, body: &[u8]) -> (StatusCode, Bytes) {
    let bad = || {
        (
            StatusCode::BAD_REQUEST,
            Bytes::from_static(br#"{"__type":"com.amazon.coral.validate#ValidationException"}"#),
        )
    };
    let Ok(req) = serde_json::from_slice::<GetItem>(body) else {
        return bad();
    };
    if req.table_name != items.table {
        return bad();
    }
    let Ok(key) = serde_json::to_string(&req.key) else {
        return bad();
    };
    let item = items.items.get(&key);
    match serde_json::to_vec(&Output { item }) {
        Ok(body) => (StatusCode::OK, Bytes::from(body)),
        Err(_) => bad(),
    }
}

/// Serve GetItem from `items` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    items: Items,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let items = Arc::new(items);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let items = items.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let items = items.clone();
            async move {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let (status, body) = answer(&items, &body);
                let mut resp = Response::new(Full::new(body));
                *resp.status_mut() = status;
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(ferrodyn_store::server::CONTENT_TYPE),
                );
                Ok::<_, Infallible>(resp)
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_what_it_holds_whatever_the_key_order() {
        let key: Item = serde_json::from_str(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#).expect("key");
        let mut item = key.clone();
        item.insert(
            "v".into(),
            ferrodyn_store::model::AttributeValue::S("x".into()),
        );
        let mut items = Items {
            table: "t".into(),
            ..Items::default()
        };
        items.insert(&key, item).expect("insert");
        let (status, body) = answer(
            &items,
            br#"{"Key":{"sk":{"N":"1"},"pk":{"S":"a"}},"TableName":"t"}"#,
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            &body[..],
            br#"{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"x"}}}"#
        );
        let (_, missing) = answer(&items, br#"{"Key":{"pk":{"S":"b"}},"TableName":"t"}"#);
        assert_eq!(&missing[..], b"{}");
    }
}
