//! With a signer, every request carries a SigV4 `Authorization` that
//! verifies against the body and headers the server actually received.

// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrodyn_bench::client::Client;
use ferrodyn_store::auth::sigv4::Signer;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// (host, target, x-amz-date, authorization, body) of each request.
type Seen = Arc<Mutex<Vec<[String; 5]>>>;

async fn recording_server() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let log = log.clone();
                async move {
                    let h = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let head = [
                        h("host"),
                        h("x-amz-target"),
                        h("x-amz-date"),
                        h("authorization"),
                    ];
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let [a, b, c, d] = head;
                    log.lock().unwrap().push([
                        a,
                        b,
                        c,
                        d,
                        String::from_utf8_lossy(&body).into_owned(),
                    ]);
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, seen)
}

fn signer() -> Signer {
    Signer::new(
        "AKIDEXAMPLE".into(),
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        None,
        "us-east-1".into(),
    )
}

#[tokio::test]
async fn signed_requests_verify_against_what_the_server_received() {
    let (url, seen) = recording_server().await;
    let client = Client::new(&url, 1)
        .unwrap()
        .with_signer(Arc::new(signer()));
    client
        .call(
            "GetItem",
            br#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#.to_vec(),
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let [host, target, date, authorization, body] = &seen[0];
    assert_eq!(host, url.trim_start_matches("http://"));
    assert_eq!(target, "DynamoDB_20120810.GetItem");
    let expected = signer().sign(host, target, body.as_bytes(), date);
    assert_eq!(authorization, &expected.authorization);
}

#[tokio::test]
async fn unsigned_requests_carry_no_authorization() {
    let (url, seen) = recording_server().await;
    let client = Client::new(&url, 1).unwrap();
    client.call("ListTables", b"{}".to_vec()).await.unwrap();
    assert_eq!(seen.lock().unwrap()[0][3], "");
}
