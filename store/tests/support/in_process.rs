//! Requests to a store opened in the test's own process.

use ferrodyn_store::api::Operation;
use ferrodyn_store::Store;
use serde_json::Value;

/// Send `body` as `op` and decode the answer; the request must succeed.
pub async fn call(store: &Store, op: Operation, body: Value) -> Value {
    let out = store
        .handle(op, body.to_string().as_bytes())
        .await
        .expect("request succeeds");
    serde_json::from_slice(&out).expect("json")
}
