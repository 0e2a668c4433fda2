//! The proxy in front of a foreign DynamoDB-API endpoint: moto (a Python
//! DynamoDB emulator, with DynamoDB Streams) as the upstream. Writes made
//! straight to moto reach the proxy's cache through the Streams API; a
//! table without a stream is cached until the TTL. Also: forwarded requests
//! are re-signed with the proxy's own credentials, and an https upstream is
//! accepted.
//!
//! moto is needed (`pip install 'moto[server]'`, which `.ci/run` does); with
//! `FERRODYN_SKIP_MOTO=1` the moto tests are skipped instead of failing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue as Av, StreamViewType};
use ferrodyn_proxy::credentials::{Credentials, Setting};
use ferrodyn_store::auth::sigv4::Signer;
use ferrodyn_tests::items::{put_v, until_value, value};
use ferrodyn_tests::wait::within;
use ferrodyn_tests::{client_for, create_table, create_table_with_stream, s, TestProxy};

/// A `moto_server` child process on a free port, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Start moto, or `None` (after saying so) if `FERRODYN_SKIP_MOTO=1`
    /// and moto is not installed.
    async fn start() -> Option<Moto> {
        let skip = std::env::var("FERRODYN_SKIP_MOTO").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        let spawn = |program: &str, prefix: &[&str]| {
            Command::new(program)
                .args(prefix)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let not_installed = "moto is not installed: `python3 -m pip install 'moto[server]'` \
                             (or set FERRODYN_SKIP_MOTO=1 to skip the moto tests)";
        let child = spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"]));
        let mut child = match child {
            Ok(c) => c,
            Err(_) if skip => {
                println!("skipped: moto is not installed and FERRODYN_SKIP_MOTO=1");
                return None;
            }
            Err(e) => panic!("{not_installed} ({e})"),
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                if skip {
                    println!("skipped: moto did not start ({status}) and FERRODYN_SKIP_MOTO=1");
                    return None;
                }
                panic!("{not_installed} (moto exited: {status})");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("moto_server did not start listening on {addr} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Moto {
            child,
            endpoint: format!("http://{addr}"),
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proxy_credentials() -> Setting {
    Setting::Static(Credentials {
        access_key_id: "AKIDFERRODYNPROXY".into(),
        secret_access_key: "proxy-secret".into(),
        session_token: None,
    })
}

/// A proxy in front of `upstream`, re-signing with its own (fake)
/// credentials, caching items for `ttl`.
async fn proxy_for(upstream: &str, ttl: Duration) -> TestProxy {
    let upstream = upstream.to_owned();
    TestProxy::start_with(move |c| {
        c.upstream = Some(upstream);
        c.credentials = proxy_credentials();
        c.region = Some("us-east-1".into());
        c.item_ttl = ttl;
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_straight_to_moto_invalidates_the_proxy_through_streams() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let direct = client_for(&moto.endpoint);
    create_table_with_stream(&direct, "streamed", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "streamed", "k", "1").await;

    let proxy = proxy_for(&moto.endpoint, Duration::from_secs(300)).await;
    let cached = proxy.client();
    assert_eq!(value(&cached, "streamed", "k").await, Some(s("1")));
    assert_eq!(value(&cached, "streamed", "k").await, Some(s("1")));
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 1.0);
    assert!(proxy.metric("proxy_item_cache_hits_total").await >= 1.0);

    let mut lags = Vec::new();
    for i in 2..7 {
        let v = i.to_string();
        put_v(&direct, "streamed", "k", &v).await;
        lags.push(until_value(&cached, "streamed", "k", &v, Duration::from_secs(10)).await);
        // Cached again before the next round.
        assert_eq!(value(&cached, "streamed", "k").await, Some(Av::S(v)));
    }
    lags.sort();
    println!(
        "moto write → proxy invalidated through DynamoDB Streams: p50 {:?}, max {:?} ({} rounds)",
        lags[lags.len() / 2],
        lags[lags.len() - 1],
        lags.len()
    );
    assert!(proxy.metric("proxy_invalidations_received_total").await >= 1.0);
    let count = proxy.metric("proxy_feed_lag_seconds_count").await;
    assert!(count >= 1.0);
    println!(
        "proxy_feed_lag_seconds (record creation → invalidation): mean {:.3} s over {count} records",
        proxy.metric("proxy_feed_lag_seconds_sum").await / count
    );
    assert_eq!(proxy.metric("proxy_change_feed_connected").await, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_created_through_the_proxy_is_followed_without_waiting_for_discovery() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let proxy = proxy_for(&moto.endpoint, Duration::from_secs(300)).await;
    let (direct, cached) = (client_for(&moto.endpoint), proxy.client());
    // The periodic discovery round (30 s) has already happened.
    create_table_with_stream(&cached, "late", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "late", "k", "1").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // The new table's stream is followed once its first round drops what
    // was cached before: wait for that, then check invalidation.
    until_value(&cached, "late", "k", "1", Duration::from_secs(10)).await;
    loop {
        put_v(&direct, "late", "k", "x").await;
        put_v(&direct, "late", "k", "1").await;
        assert_eq!(value(&cached, "late", "k").await, Some(s("1")));
        put_v(&direct, "late", "k", "2").await;
        let visible = within(Duration::from_secs(2), || async {
            value(&cached, "late", "k").await == Some(s("2"))
        });
        if visible.await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a table created through the proxy is not followed within 10 s"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_a_stream_is_cached_until_the_ttl() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let direct = client_for(&moto.endpoint);
    create_table(&direct, "unstreamed").await;
    put_v(&direct, "unstreamed", "k", "1").await;

    let ttl = Duration::from_secs(2);
    let proxy = proxy_for(&moto.endpoint, ttl).await;
    let cached = proxy.client();
    assert_eq!(value(&cached, "unstreamed", "k").await, Some(s("1")));
    let filled = Instant::now();
    put_v(&direct, "unstreamed", "k", "2").await;
    // No stream: nothing tells the proxy, the entry is served until it expires.
    assert_eq!(value(&cached, "unstreamed", "k").await, Some(s("1")));
    until_value(&cached, "unstreamed", "k", "2", Duration::from_secs(15)).await;
    let seen = filled.elapsed();
    println!("table without a stream: the new value was served after {seen:?} (TTL {ttl:?})");
    assert!(
        seen >= ttl - Duration::from_millis(100),
        "served fresh before the TTL: {seen:?}"
    );
    assert_eq!(proxy.metric("proxy_change_feed_ttl_only").await, 1.0);
}

/// One request as a server received it.
struct Captured {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A tiny DynamoDB look-alike that records every request: no Ferrodyn feed,
/// no tables, `{}` for everything else.
async fn capturing_upstream() -> (SocketAddr, Arc<Mutex<Vec<Captured>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let headers: HashMap<String, String> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let target = headers.get("x-amz-target").cloned().unwrap_or_default();
                let (status, body) = if target.starts_with("FerrodynFeed") {
                    (
                        "400 Bad Request",
                        r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#,
                    )
                } else {
                    ("200 OK", "{}")
                };
                log.lock().expect("log").push(Captured {
                    headers,
                    body: buf[head_end..head_end + length].to_vec(),
                });
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_requests_are_re_signed_with_the_proxys_credentials() {
    let (addr, seen) = capturing_upstream().await;
    let upstream = format!("http://{addr}");
    let proxy = TestProxy::start_with(|c| {
        c.upstream = Some(upstream);
        c.credentials = Setting::Static(Credentials {
            access_key_id: "AKIDPROXY".into(),
            secret_access_key: "proxy-secret".into(),
            session_token: Some("proxy-session".into()),
        });
        c.region = Some("us-west-2".into());
    })
    .await;
    // The SDK client signs with its own credentials, for the proxy's host.
    let _ = value(&proxy.client(), "anything", "k").await;

    let signer = Signer::new(
        "AKIDPROXY".into(),
        "proxy-secret".into(),
        Some("proxy-session".into()),
        "us-west-2".into(),
    );
    let requests = std::mem::take(&mut *seen.lock().expect("log"));
    let targets: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.headers.get("x-amz-target").map(String::as_str))
        .collect();
    assert!(
        targets.contains(&"DynamoDB_20120810.GetItem"),
        "the GetItem was forwarded: {targets:?}"
    );
    for r in &requests {
        let h = |name: &str| r.headers.get(name).map(String::as_str).unwrap_or_default();
        assert_eq!(
            h("host"),
            addr.to_string(),
            "signed for the upstream's host"
        );
        let expected = signer.sign(h("host"), h("x-amz-target"), &r.body, h("x-amz-date"));
        assert_eq!(
            h("authorization"),
            expected.authorization,
            "{}",
            h("x-amz-target")
        );
        assert_eq!(h("x-amz-security-token"), "proxy-session");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_upstream_is_accepted_and_readiness_reports_it_unreachable() {
    // Nothing listens on port 9: the proxy starts (TLS set up with the
    // system's roots) and /readyz explains why it is not ready.
    let proxy = TestProxy::start_unready(|c| {
        c.upstream = Some("https://127.0.0.1:9".into());
        c.credentials = proxy_credentials();
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::net::TcpStream::connect(proxy.admin).await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "admin endpoint: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = proxy.admin_get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("upstream unreachable"), "{body}");
}
