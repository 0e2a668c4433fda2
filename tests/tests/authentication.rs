//! SigV4 authentication, for servers started with `--credentials`: real
//! SDK clients signing with accepted keys get through (gzip bodies too),
//! and everything else gets DynamoDB's error — before anything is read or
//! written.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ScalarAttributeType;
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{raw_post, s, TableSpec, TestStore};

fn signed_client(endpoint: &str, id: &str, secret: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(id, secret, None, None, "tests"))
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn requests_signed_with_an_accepted_key_are_served() {
    let store = TestStore::start_authenticated("alice:alice-secret,bob:bob-secret").await;
    let alice = signed_client(&store.endpoint(), "alice", "alice-secret");
    TableSpec::new("secured")
        .hash("pk", ScalarAttributeType::S)
        .create(&alice)
        .await;
    alice
        .put_item()
        .table_name("secured")
        .item("pk", s("k"))
        .send()
        .await
        .expect("put");
    let bob = signed_client(&store.endpoint(), "bob", "bob-secret");
    let got = bob
        .get_item()
        .table_name("secured")
        .key("pk", s("k"))
        .send()
        .await
        .expect("get");
    assert!(got.item().is_some());
}

#[tokio::test]
async fn unknown_key_and_wrong_secret_are_refused_and_change_nothing() {
    let store = TestStore::start_authenticated("alice:alice-secret").await;
    let alice = signed_client(&store.endpoint(), "alice", "alice-secret");
    TableSpec::new("secured")
        .hash("pk", ScalarAttributeType::S)
        .create(&alice)
        .await;

    let stranger = signed_client(&store.endpoint(), "mallory", "alice-secret");
    let err = stranger
        .put_item()
        .table_name("secured")
        .item("pk", s("evil"))
        .send()
        .await
        .expect_err("unknown access key");
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        err.message(),
        Some("The security token included in the request is invalid.")
    );

    let wrong = signed_client(&store.endpoint(), "alice", "guess");
    let err = wrong
        .delete_table()
        .table_name("secured")
        .send()
        .await
        .expect_err("wrong secret");
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    assert!(err
        .message()
        .unwrap_or_default()
        .starts_with("The request signature we calculated does not match"));

    // Nothing changed.
    let tables = alice.list_tables().send().await.expect("list");
    assert_eq!(tables.table_names(), ["secured"]);
    let got = alice
        .get_item()
        .table_name("secured")
        .key("pk", s("evil"))
        .send()
        .await
        .expect("get");
    assert!(got.item().is_none());
}

#[tokio::test]
async fn unsigned_and_stale_requests_get_dynamodb_errors() {
    let store = TestStore::start_authenticated("alice:alice-secret").await;
    let (status, _, body) =
        raw_post(store.addr, Some("DynamoDB_20120810.ListTables"), &[], b"{}").await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400);
    assert!(
        body.contains("MissingAuthenticationTokenException"),
        "{body}"
    );
    assert!(
        body.contains("Request is missing Authentication Token"),
        "{body}"
    );

    let stale = [
        ("X-Amz-Date", "20170101T010101Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=alice/20170101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ),
    ];
    let (status, _, body) = raw_post(
        store.addr,
        Some("DynamoDB_20120810.ListTables"),
        &stale,
        b"{}",
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400);
    assert!(body.contains("InvalidSignatureException"), "{body}");
    assert!(
        body.contains("Signature expired: 20170101T010101Z is now earlier than"),
        "{body}"
    );

    let future = [
        ("X-Amz-Date", "30200101T010101Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=alice/30200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ),
    ];
    let (_, _, body) = raw_post(
        store.addr,
        Some("DynamoDB_20120810.ListTables"),
        &future,
        b"{}",
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("Signature not yet current"), "{body}");

    // The health check needs no signature.
    let health = health_check(store.addr).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

/// `GET /` over a raw socket: the health check.
async fn health_check(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn an_unauthenticated_request_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = TestStore::start_authenticated("alice:alice-secret").await;
    let mut stream = tokio::net::TcpStream::connect(store.addr)
        .await
        .expect("connect");
    // Announces 15 MB and sends none of it.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n",
        store.addr,
        15 << 20
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.contains("MissingAuthenticationTokenException"),
        "{text}"
    );
}

#[tokio::test]
async fn signatures_must_cover_the_host_and_the_operation() {
    let store = TestStore::start_authenticated("alice:alice-secret").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = ferrodyn_store::auth::sigv4::amz_date(now);
    for (signed, message) in [
        (
            "x-amz-date;x-amz-target",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "host;x-amz-date",
            "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ] {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=alice/{}/us-east-1/dynamodb/aws4_request, SignedHeaders={signed}, Signature=00",
            &date[..8]
        );
        let headers = [
            ("X-Amz-Date", date.as_str()),
            ("Authorization", authorization.as_str()),
        ];
        let (status, _, body) = raw_post(
            store.addr,
            Some("DynamoDB_20120810.ListTables"),
            &headers,
            b"{}",
        )
        .await;
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(status, 400);
        assert_eq!(
            body["__type"],
            "com.amazon.coral.service#InvalidSignatureException"
        );
        assert_eq!(body["message"], message);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_endpoint_needs_a_key_pair_when_credentials_are_set() {
    let proxy = ferrodyn_tests::TestProxy::start_with(|c| {
        c.client_auth = Some(
            ferrodyn_store::auth::verify::Verifier::parse("alice:alice-secret")
                .expect("credentials"),
        );
    })
    .await;
    for path in ["/metrics", "/insights"] {
        assert_eq!(proxy.admin_get(path).await.0, 401, "{path}");
    }
    assert_eq!(proxy.admin_get("/healthz").await.0, 200);
    // alice:alice-secret in base64.
    let (status, body) = proxy
        .admin_get_with(
            "/metrics",
            &[("Authorization", "Basic YWxpY2U6YWxpY2Utc2VjcmV0")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("proxy_requests_total") || body.contains("# HELP"));
    let (status, _) = proxy
        .admin_get_with("/metrics", &[("Authorization", "Basic YWxpY2U6d3Jvbmc=")])
        .await;
    assert_eq!(status, 401);
}

/// POST `body` to `target` at `addr`, signed with `key`:`secret`.
async fn signed_post(
    addr: std::net::SocketAddr,
    key: &str,
    secret: &str,
    target: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    use ferrodyn_store::auth::sigv4::{now, Signer};
    let signer = Signer::new(key.into(), secret.into(), None, "us-east-1".into());
    let host = addr.to_string();
    let signed = signer.sign(&host, target, body, &now());
    let (status, _, body) = raw_post(
        addr,
        Some(target),
        &[
            ("X-Amz-Date", &signed.amz_date),
            ("Authorization", &signed.authorization),
        ],
        body,
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn only_the_keys_allowed_to_read_the_feed_can_call_it() {
    let verifier = ferrodyn_store::auth::verify::Verifier::parse("reader:s1,writer:s2")
        .expect("credentials")
        .with_feed_readers(["reader".to_owned()]);
    let store = TestStore::start_serving(ferrodyn_store::server::ServeOptions {
        auth: Some(verifier),
        ..Default::default()
    })
    .await;
    let feed = "FerrodynFeed_20261124.GetChanges";
    let request = br#"{"Limit": 10}"#;

    let (status, body) = signed_post(store.addr, "reader", "s1", feed, request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    let (status, body) = signed_post(store.addr, "writer", "s2", feed, request).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{text}");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#AccessDeniedException"
    );
    assert_eq!(
        v["message"],
        "User: writer is not authorized to perform: GetChanges"
    );

    // The same key may use the DynamoDB API.
    let (status, body) = signed_post(
        store.addr,
        "writer",
        "s2",
        "DynamoDB_20120810.ListTables",
        b"{}",
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}
