//! One DynamoDB request over a fresh connection, for tests that need no
//! SDK (the store's crate has none).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// POST `body` as `DynamoDB_20120810.<op>` and return the HTTP status.
pub fn call(addr: SocketAddr, op: &str, body: &str) -> u16 {
    call_with_body(addr, op, body).0
}

/// Like [`call`], with the response body.
pub fn call_with_body(addr: SocketAddr, op: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: DynamoDB_20120810.{op}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}
