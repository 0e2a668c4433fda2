//! Raw HTTP/1.1 for tests of the wire itself (framing, headers, error
//! types, compression) and of the proxy's admin endpoint: what an SDK
//! client would hide.

use std::net::SocketAddr;

/// Raw HTTP: POST a JSON body with `X-Amz-Target: DynamoDB_20120810.<op>`,
/// returning status, headers and body. For tests of the wire itself.
pub async fn raw_post(
    addr: SocketAddr,
    target: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if let Some(t) = target {
        req.push_str(&format!("X-Amz-Target: {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write head");
    // The server may answer (413) and close before reading the whole body.
    let _ = stream.write_all(body).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    parse_response(&buf)
}

/// POST `body` to the DynamoDB operation `op` without an SDK (SDKs refuse
/// some invalid requests before sending them), expecting an error; returns
/// its type without the namespace, and its message.
pub async fn raw_error(addr: SocketAddr, op: &str, body: &str) -> (String, String) {
    let target = format!("DynamoDB_20120810.{op}");
    let (status, _, body) = raw_post(addr, Some(&target), &[], body.as_bytes()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("error body");
    let code = v["__type"].as_str().unwrap_or_default();
    let code = code.rsplit('#').next().unwrap_or_default().to_owned();
    (code, v["message"].as_str().unwrap_or_default().to_owned())
}

/// Split a raw HTTP/1.1 response (Content-Length framed) into its parts.
pub fn parse_response(buf: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = buf.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}
