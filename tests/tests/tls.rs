//! TLS on the listeners (`--tls-cert`/`--tls-key`): real SDK clients over
//! https against `ferrodyn-store` and `ferrodyn`, trusting a CA made at test
//! time; the admin endpoint over https; a proxy in front of an https store
//! trusting a private CA (`--upstream-ca-file`); boto3 with
//! `AWS_CA_BUNDLE`. A handshake never holds up other clients.

use std::time::Duration;

use ferrodyn_store::server::ServeOptions;
use ferrodyn_tests::items::{put_v, value};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{create_table, s, TestCa, TestProxy, TestStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tls_options(ca: &TestCa) -> ServeOptions {
    ServeOptions {
        tls: Some(ca.server_tls()),
        ..ServeOptions::default()
    }
}

async fn https_store(ca: &TestCa) -> TestStore {
    TestStore::start_serving(tls_options(ca)).await
}

/// A ferrodyn with TLS on its API and admin ports, once `/readyz` (over
/// https) says ready.
async fn https_proxy(
    ca: &TestCa,
    configure: impl FnOnce(&mut ferrodyn_proxy::Config),
) -> TestProxy {
    let tls = ca.server_tls();
    let proxy = TestProxy::start_unready(|c| {
        c.serve.tls = Some(tls);
        configure(c);
    })
    .await;
    until(PATIENCE, "proxy ready over https", || async {
        ca.https_get(proxy.admin, "/readyz").await.0 == 200
    })
    .await;
    proxy
}

#[tokio::test]
async fn rust_sdk_over_https_against_the_store() {
    let ca = TestCa::new();
    let store = https_store(&ca).await;
    let client = ca.client(&format!("https://127.0.0.1:{}", store.addr.port()));
    create_table(&client, "over_tls").await;
    put_v(&client, "over_tls", "k", "sealed").await;
    assert_eq!(value(&client, "over_tls", "k").await, Some(s("sealed")));
    // The certificate names localhost too.
    let by_name = ca.client(&format!("https://localhost:{}", store.addr.port()));
    assert_eq!(value(&by_name, "over_tls", "k").await, Some(s("sealed")));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let ca = TestCa::new();
    let store = https_store(&ca).await;
    // The SDK's default client trusts the system's roots only.
    let untrusting =
        ferrodyn_tests::client_for(&format!("https://127.0.0.1:{}", store.addr.port()));
    let err = untrusting
        .list_tables()
        .send()
        .await
        .expect_err("an unknown CA must fail the handshake");
    assert!(
        matches!(err, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );
    // Another CA's client fails the same way.
    let other = TestCa::new();
    let wrong = other.client(&format!("https://127.0.0.1:{}", store.addr.port()));
    assert!(wrong.list_tables().send().await.is_err());
    // Plain http on the TLS port gets no answer.
    let plain = ferrodyn_tests::client_for(&format!("http://127.0.0.1:{}", store.addr.port()));
    assert!(plain.list_tables().send().await.is_err());
}

#[tokio::test]
async fn rust_sdk_over_https_against_ferrodyn_and_its_admin_endpoint() {
    let ca = TestCa::new();
    let proxy = https_proxy(&ca, |_| {}).await;
    let client = ca.client(&format!("https://127.0.0.1:{}", proxy.addr.port()));
    create_table(&client, "cached_tls").await;
    put_v(&client, "cached_tls", "k", "v1").await;
    // Twice: the second read is a cache hit, served over TLS as well.
    assert_eq!(value(&client, "cached_tls", "k").await, Some(s("v1")));
    assert_eq!(value(&client, "cached_tls", "k").await, Some(s("v1")));
    let (status, metrics) = ca.https_get(proxy.admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("proxy_"), "{metrics}");
    assert_eq!(ca.https_get(proxy.admin, "/healthz").await.0, 200);
}

#[tokio::test]
async fn silent_connections_do_not_stall_the_others() {
    let ca = TestCa::new();
    // The default header timeout (30 s) is longer than the patience below:
    // a handshake that held up the accept loop would starve the client.
    let store = https_store(&ca).await;
    // One connection never starts the handshake, another stops half-way
    // through its ClientHello.
    let _silent = tokio::net::TcpStream::connect(store.addr)
        .await
        .expect("connect");
    let mut half = tokio::net::TcpStream::connect(store.addr)
        .await
        .expect("connect");
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .expect("send");
    let client = ca.client(&format!("https://127.0.0.1:{}", store.addr.port()));
    for _ in 0..3 {
        tokio::time::timeout(PATIENCE, client.list_tables().send())
            .await
            .expect("served while handshakes are pending")
            .expect("list tables");
    }
}

#[tokio::test]
async fn a_handshake_is_bounded_by_the_header_timeout() {
    let ca = TestCa::new();
    let mut options = tls_options(&ca);
    options.limits.header_timeout = Duration::from_secs(1);
    let store = TestStore::start_serving(options).await;
    let mut buf = [0u8; 16];
    let mut silent = tokio::net::TcpStream::connect(store.addr)
        .await
        .expect("connect");
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut buf))
        .await
        .expect("the server closes a connection that never shakes hands");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let mut half = tokio::net::TcpStream::connect(store.addr)
        .await
        .expect("connect");
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .expect("send");
    let read = tokio::time::timeout(PATIENCE, half.read(&mut buf))
        .await
        .expect("the server closes a connection that stops mid-handshake");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn ferrodyn_in_front_of_an_https_store_trusts_upstream_ca_file() {
    let ca = TestCa::new();
    let store = https_store(&ca).await;
    let upstream = format!("https://localhost:{}", store.addr.port());
    let ca_file = ca.ca_pem.clone();
    let proxy = TestProxy::start_with(|c| {
        c.upstream = Some(upstream.clone());
        c.upstream_ca_file = Some(ca_file);
    })
    .await;
    let client = proxy.client();
    create_table(&client, "private_ca").await;
    put_v(&client, "private_ca", "k", "through").await;
    assert_eq!(value(&client, "private_ca", "k").await, Some(s("through")));
    // A write made at the store reaches the proxy's cache through the
    // change feed, which is read over TLS as well.
    let direct = ca.client(&upstream);
    put_v(&direct, "private_ca", "k", "elsewhere").await;
    until(PATIENCE, "the feed invalidates the cached item", || async {
        value(&client, "private_ca", "k").await == Some(s("elsewhere"))
    })
    .await;

    // Without the CA file the store's certificate is not trusted: the
    // proxy answers InternalServerError instead of forwarding.
    let untrusting = TestProxy::start_unready(|c| c.upstream = Some(upstream.clone())).await;
    let err = untrusting
        .client()
        .list_tables()
        .send()
        .await
        .expect_err("an untrusted upstream certificate must fail");
    let service = err.into_service_error();
    assert!(service.is_internal_server_error(), "{service:?}");
}

/// boto3 (when installed) over https with `AWS_CA_BUNDLE` naming the test
/// CA, against `endpoint`.
fn boto3_round_trip(ca: &TestCa, endpoint: &str) {
    let script = r#"
import os, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="any", aws_secret_access_key="any")
ddb.create_table(TableName="boto_tls", KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"}],
                 BillingMode="PAY_PER_REQUEST")
ddb.put_item(TableName="boto_tls", Item={"p": {"S": "k"}, "v": {"S": "py"}})
item = ddb.get_item(TableName="boto_tls", Key={"p": {"S": "k"}})["Item"]
assert item["v"] == {"S": "py"}, item
print("boto3 ok")
"#;
    let available = std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("skipped: python3 with boto3 is not installed");
        return;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env("ENDPOINT", endpoint)
        .env("AWS_CA_BUNDLE", &ca.ca_pem)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", ca.dir().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", ca.dir().join("none"))
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "boto3 over https failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And without the CA bundle, the certificate is refused.
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env("ENDPOINT", endpoint)
        .env_remove("AWS_CA_BUNDLE")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("SSL"),
        "boto3 must refuse an unknown CA:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_over_https_with_aws_ca_bundle_against_the_store() {
    let ca = TestCa::new();
    let store = https_store(&ca).await;
    let endpoint = format!("https://localhost:{}", store.addr.port());
    tokio::task::spawn_blocking(move || boto3_round_trip(&ca, &endpoint))
        .await
        .expect("boto3 check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_over_https_with_aws_ca_bundle_against_ferrodyn() {
    let ca = TestCa::new();
    let proxy = https_proxy(&ca, |_| {}).await;
    let endpoint = format!("https://127.0.0.1:{}", proxy.addr.port());
    tokio::task::spawn_blocking(move || boto3_round_trip(&ca, &endpoint))
        .await
        .expect("boto3 check");
}
