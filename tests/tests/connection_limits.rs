//! What one client may cost the others, and what web pages may do: the
//! header-read timeout against slow clients, the connection cap against
//! idle ones, the cap on requests in flight, the shutdown deadline, CORS off
//! by default, and the Host check against DNS rebinding.

use std::time::{Duration, Instant};

use ferrodyn_store::server::{self, CorsPolicy, Limits, ServeOptions};
use ferrodyn_tests::{parse_response, raw_post, TestStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits(change: impl FnOnce(&mut Limits)) -> ServeOptions {
    let mut limits = Limits::default();
    change(&mut limits);
    ServeOptions {
        limits,
        ..ServeOptions::default()
    }
}

/// One raw request with the given extra header lines; status, headers, body.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    head: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let body = b"{}";
    let req = format!(
        "{method} / HTTP/1.1\r\n{head}Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    parse_response(&buf)
}

/// A change-feed request from the end of the log that waits up to
/// `wait_ms` for a change: a request that stays in flight.
async fn long_poll(
    addr: std::net::SocketAddr,
    wait_ms: u64,
) -> tokio::task::JoinHandle<(u16, Vec<(String, String)>, Vec<u8>)> {
    const FEED: &str = "FerrodynFeed_20261124.GetChanges";
    let end = raw_post(addr, Some(FEED), &[], b"{}").await;
    let end: serde_json::Value = serde_json::from_slice(&end.2).expect("json");
    let cursor = end["NextCursor"].as_u64().expect("cursor");
    tokio::spawn(async move {
        let body = format!(r#"{{"Cursor":{cursor},"WaitMs":{wait_ms}}}"#);
        raw_post(addr, Some(FEED), &[], body.as_bytes()).await
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowloris_client_is_cut_off_at_the_header_timeout_while_others_are_served() {
    let store =
        TestStore::start_serving(limits(|l| l.header_timeout = Duration::from_secs(1))).await;
    let mut slow = TcpStream::connect(store.addr).await.expect("connect");
    slow.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let client = store.client();
    let started = Instant::now();
    let mut cut_off = None;
    let mut buf = [0u8; 256];
    while started.elapsed() < Duration::from_secs(15) {
        // One byte of a header every 200 ms: never a complete head.
        if slow.write_all(b"x").await.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = Some(started.elapsed());
                break;
            }
            _ => {}
        }
        client
            .list_tables()
            .send()
            .await
            .expect("other clients are served");
    }
    let cut_off = cut_off.expect("the slow client is still connected after 15 s");
    assert!(
        cut_off < Duration::from_secs(10),
        "cut off after {cut_off:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_longer_than_the_header_timeout_is_answered_then_the_idle_connection_closes() {
    let store =
        TestStore::start_serving(limits(|l| l.header_timeout = Duration::from_secs(1))).await;
    const FEED: &str = "FerrodynFeed_20261124.GetChanges";
    let end = raw_post(store.addr, Some(FEED), &[], b"{}").await;
    let end: serde_json::Value = serde_json::from_slice(&end.2).expect("json");
    let cursor = end["NextCursor"].as_u64().expect("cursor");
    // A change-feed request that waits 2.5 s, on a keep-alive connection.
    let mut conn = TcpStream::connect(store.addr).await.expect("connect");
    let body = format!(r#"{{"Cursor":{cursor},"WaitMs":2500}}"#);
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {FEED}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let sent = Instant::now();
    conn.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert!(n > 0, "closed while the request was in progress");
    assert!(buf.starts_with(b"HTTP/1.1 200"));
    assert!(sent.elapsed() >= Duration::from_secs(2));
    // Now idle: closed after about the header timeout.
    let idle = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    assert!(
        idle.elapsed() >= Duration::from_millis(800) && idle.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        idle.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_is_answered_at_the_body_timeout_and_a_late_one_is_read() {
    let store =
        TestStore::start_serving(limits(|l| l.body_timeout = Duration::from_millis(500))).await;
    let head = |len: usize| {
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    // The head and half the body, then nothing.
    let mut stalled = TcpStream::connect(store.addr).await.expect("connect");
    stalled
        .write_all(format!("{}{{\"Lim", head(14)).as_bytes())
        .await
        .expect("write");
    let sent = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut buf))
        .await
        .expect("answered and closed")
        .expect("read");
    let (status, headers, body) = parse_response(&buf);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert!(
        sent.elapsed() >= Duration::from_millis(400),
        "{:?}",
        sent.elapsed()
    );
    // A body sent after the head, in two pieces, well within the timeout.
    let mut late = TcpStream::connect(store.addr).await.expect("connect");
    late.write_all(head(13).as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    late.write_all(b"{\"Limit\"").await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    late.write_all(b":100}").await.expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), late.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    let (status, _, body) = parse_response(&buf[..n]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("TableNames"));
}

/// The process's open-file limit (Linux), to size the flood of connections.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_beyond_the_cap_do_not_lock_out_new_clients() {
    let store = TestStore::start_serving(limits(|l| l.max_connections = 1_000)).await;
    // Enough idle connections that, both ends in this process, they would
    // use up every file descriptor if the server kept them all (at most
    // 10,000).
    let flood = (open_file_limit() / 2).min(10_000);
    let mut idle = Vec::with_capacity(flood);
    for _ in 0..flood {
        match TcpStream::connect(store.addr).await {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    assert!(idle.len() > 1_000, "only {} connections opened", idle.len());
    let answered =
        tokio::time::timeout(Duration::from_secs(20), store.client().list_tables().send()).await;
    assert!(
        matches!(answered, Ok(Ok(_))),
        "a new client was not served with {} idle connections open: {answered:?}",
        idle.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_beyond_the_in_flight_cap_are_throttled() {
    let store = TestStore::start_serving(limits(|l| l.max_in_flight = 1)).await;
    let addr = store.addr;
    // A long poll holds the only slot.
    let waiting = long_poll(addr, 3000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = raw_post(addr, Some("DynamoDB_20120810.ListTables"), &[], b"{}").await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("ThrottlingException"), "{text}");
    assert_eq!(waiting.await.expect("task").0, 200);
    let (status, _, _) = raw_post(addr, Some("DynamoDB_20120810.ListTables"), &[], b"{}").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_waits_for_requests_in_flight_only_until_its_deadline() {
    let dir = ferrodyn_tests::TempDir::new("grace");
    let store =
        ferrodyn_store::Store::open(&ferrodyn_store::StoreConfig::new(dir.path())).expect("open");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = limits(|l| l.shutdown_grace = Duration::from_secs(1));
    let serving = tokio::spawn(server::serve(listener, store, options, async {
        let _ = stopped.await;
    }));
    // A request that would go on for 20 s, and an idle connection.
    let _long = long_poll(addr, 20_000).await;
    let _idle = TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("shutdown is not held for 20 s by a request in flight")
        .expect("task")
        .expect("serve");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_requests_are_refused_unless_their_origin_is_allowed() {
    let store = TestStore::start().await;
    let host = format!("Host: {}\r\n", store.addr);
    let evil = format!("{host}Origin: http://evil.example\r\n");
    let (status, headers, _) = request(store.addr, "POST", &evil).await;
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let preflight = format!(
        "{evil}Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-amz-target\r\n"
    );
    let (status, headers, _) = request(store.addr, "OPTIONS", &preflight).await;
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    // Without an Origin (not a browser), nothing changes.
    let (status, _, _) = request(store.addr, "POST", &host).await;
    assert_eq!(status, 200);

    let allowing = TestStore::start_serving(ServeOptions {
        cors: Some(CorsPolicy::parse(&["http://localhost:3000".to_owned()])),
        ..ServeOptions::default()
    })
    .await;
    let host = format!("Host: {}\r\n", allowing.addr);
    let app = format!("{host}Origin: http://localhost:3000\r\n");
    let (status, headers, _) = request(allowing.addr, "POST", &app).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let other = format!("{host}Origin: http://evil.example\r\n");
    assert_eq!(request(allowing.addr, "POST", &other).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebound_host_name_is_refused_on_a_loopback_listener() {
    let store = TestStore::start().await;
    let port = store.addr.port();
    let (status, _, body) = request(
        store.addr,
        "POST",
        &format!("Host: evil.example:{port}\r\n"),
    )
    .await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    for ok in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, _, _) = request(store.addr, "POST", &format!("Host: {ok}\r\n")).await;
        assert_eq!(status, 200, "{ok}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_credentials_every_origin_may_call_as_with_dynamodb() {
    let store = TestStore::start_authenticated("alice:alice-secret").await;
    let head = format!(
        "Host: {}\r\nOrigin: http://app.example\r\nAccess-Control-Request-Method: POST\r\n",
        store.addr
    );
    let (status, headers, _) = request(store.addr, "OPTIONS", &head).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
}
