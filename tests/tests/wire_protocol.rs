//! The HTTP wire itself: headers every response carries, the health check,
//! content encodings, body limits, and DynamoDB's protocol-level errors.

use std::io::Write;

use ferrodyn_tests::{parse_response, raw_post, TestStore};
use serde_json::Value;

const CREATE: &str = r#"{"TableName":"wire","KeySchema":[{"AttributeName":"p","KeyType":"HASH"}],
    "AttributeDefinitions":[{"AttributeName":"p","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn error_type(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("error body is JSON");
    v["__type"].as_str().expect("__type").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_request_id_crc32_and_json_content_type() {
    let server = TestStore::start().await;
    let (status, headers, body) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.CreateTable"),
        &[],
        CREATE.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(header(&headers, "x-amzn-requestid").map(str::len), Some(52));
    let crc: u32 = header(&headers, "x-amz-crc32")
        .expect("crc header")
        .parse()
        .expect("crc is a number");
    assert_eq!(crc, crc32fast::hash(&body));
    assert!(header(&headers, "date").is_some());
    assert!(header(&headers, "server").is_some());

    let (status, headers, body) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.DescribeTable"),
        &[],
        br#"{"TableName":"none"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_type(&body),
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    );
    let crc: u32 = header(&headers, "x-amz-crc32")
        .expect("crc header")
        .parse()
        .expect("crc");
    assert_eq!(crc, crc32fast::hash(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn get_root_answers_health_line() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestStore::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let (status, _, body) = ferrodyn_tests::parse_response(&buf);
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body).trim(),
        format!("healthy: {}", server.addr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_errors_have_dynamodb_types() {
    let server = TestStore::start().await;
    let cases: &[(Option<&str>, &[u8], &str)] = &[
        (
            Some("DynamoDB_20120810.NoSuchThing"),
            b"{}",
            "com.amazon.coral.service#UnknownOperationException",
        ),
        (
            None,
            b"{}",
            "com.amazon.coral.service#UnknownOperationException",
        ),
        (
            Some("DynamoDB_20120810.ListTables"),
            b"{not json",
            "com.amazon.coral.service#SerializationException",
        ),
        (
            Some("DynamoDB_20120810.ListTables"),
            br#"{"Limit":"ten"}"#,
            "com.amazon.coral.service#SerializationException",
        ),
        (
            Some("DynamoDB_20120810.ListTables"),
            b"[]",
            "com.amazon.coral.service#SerializationException",
        ),
        (
            Some("DynamoDB_20120810.PutItem"),
            br#"{"Item":{"p":{"S":"x"}}}"#,
            "com.amazon.coral.validate#ValidationException",
        ),
        (
            Some("DynamoDB_20120810.PutItem"),
            br#"{"TableName":"wire","Item":{"p":{"S":"x","N":"1"}}}"#,
            "com.amazon.coral.validate#ValidationException",
        ),
        (
            Some("DynamoDB_20120810.PutItem"),
            br#"{"TableName":"wire","Item":{"p":{"B":"not base64!"}}}"#,
            "com.amazon.coral.service#SerializationException",
        ),
    ];
    for (target, body, expected) in cases {
        let (status, _, resp) = raw_post(server.addr, *target, &[], body).await;
        assert_eq!(status, 400, "{target:?} {}", String::from_utf8_lossy(body));
        assert_eq!(
            &error_type(&resp),
            expected,
            "{target:?} {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_and_deflate_bodies_are_accepted() {
    let server = TestStore::start().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(CREATE.as_bytes()).expect("gzip");
    let body = gz.finish().expect("gzip");
    let (status, _, resp) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.CreateTable"),
        &[("Content-Encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));

    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(br#"{"TableName":"wire","Item":{"p":{"S":"deflated"}}}"#)
        .expect("deflate");
    let body = z.finish().expect("deflate");
    let (status, _, resp) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.PutItem"),
        &[("Content-Encoding", "deflate")],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));

    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.PutItem"),
        &[("Content-Encoding", "gzip")],
        b"not gzip at all",
    )
    .await;
    assert_eq!(status, 500);
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.PutItem"),
        &[("Content-Encoding", "br")],
        b"{}",
    )
    .await;
    assert_eq!(status, 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_16_mb_get_413() {
    let server = TestStore::start().await;
    let body = vec![b' '; 16 * 1024 * 1024 + 1];
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.ListTables"),
        &[],
        &body,
    )
    .await;
    assert_eq!(status, 413);
    // A small body that decompresses past the limit is refused too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 20 * 1024 * 1024]).expect("gzip");
    let body = gz.finish().expect("gzip");
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.ListTables"),
        &[("Content-Encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(status, 413);
}

/// POST `chunks` as a chunked body (no Content-Length), each chunk written
/// separately; the connection is kept open, and a second request with a
/// declared length follows on it.
async fn chunked_then_plain(
    addr: std::net::SocketAddr,
    chunks: &[&[u8]],
) -> (u16, Vec<u8>, u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in chunks {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        // The server may answer (413) and close before the rest arrives.
        if stream.write_all(&framed).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let plain = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let _ = stream.write_all(plain.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let (status, headers, body) = parse_response(&buf);
    let first_len: usize = header(&headers, "content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(body.len());
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |p| p + 4 + first_len);
    let (second_status, second_body) = if split < buf.len() {
        let (s, _, b) = parse_response(&buf[split..]);
        (s, b)
    } else {
        (0, Vec::new())
    };
    let body = body.get(..first_len).unwrap_or(&body).to_vec();
    (status, body, second_status, second_body)
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_bodies_are_read_whole_and_the_connection_is_reused() {
    let server = TestStore::start().await;
    let (status, body, second, second_body) =
        chunked_then_plain(server.addr, &[b"{\"Lim", b"it\":", b" 7}"]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("TableNames"));
    assert_eq!(second, 200, "{}", String::from_utf8_lossy(&second_body));
    assert!(String::from_utf8_lossy(&second_body).contains("TableNames"));
    // A chunk that is not JSON on its own is not read as the whole body:
    // the pieces together are, and a bad one is DynamoDB's error.
    let (status, body, _, _) = chunked_then_plain(server.addr, &[b"{\"Limit\":", b"0}"]).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        error_type(&body),
        "com.amazon.coral.validate#ValidationException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_bodies_over_16_mb_get_413() {
    let server = TestStore::start().await;
    let chunk = vec![b' '; 4 * 1024 * 1024];
    let chunks: Vec<&[u8]> = vec![&chunk; 5];
    let (status, body, _, _) = chunked_then_plain(server.addr, &chunks).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_never_panics_or_changes_anything() {
    let server = TestStore::start().await;
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.CreateTable"),
        &[],
        CREATE.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let ops = [
        "CreateTable",
        "DescribeTable",
        "ListTables",
        "DeleteTable",
        "UpdateTable",
        "PutItem",
        "GetItem",
        "DeleteItem",
        "UpdateItem",
    ];
    let valid: Vec<&[u8]> = vec![
        br#"{"TableName":"wire","Item":{"p":{"S":"x"},"a":{"L":[{"N":"1"},{"M":{"b":{"SS":["q"]}}}]}}}"#,
        br#"{"TableName":"wire","Key":{"p":{"S":"x"}},"UpdateExpression":"SET a = :v","ExpressionAttributeValues":{":v":{"N":"2"}}}"#,
        br##"{"TableName":"wire","Key":{"p":{"S":"x"}},"ProjectionExpression":"a[0], #b","ExpressionAttributeNames":{"#b":"b"}}"##,
        CREATE.as_bytes(),
    ];
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut checked = 0;
    for op in ops {
        let target = format!("DynamoDB_20120810.{op}");
        for body in &valid {
            // Every truncation of a valid body.
            for cut in (0..body.len()).step_by(3) {
                let (status, _, resp) =
                    raw_post(server.addr, Some(&target), &[], &body[..cut]).await;
                assert!(
                    status == 200 || status == 400,
                    "{op} cut {cut}: {status} {}",
                    String::from_utf8_lossy(&resp)
                );
                checked += 1;
            }
            // Random byte flips.
            for _ in 0..20 {
                let mut b = body.to_vec();
                let i = (rng.next() as usize) % b.len();
                b[i] = rng.next() as u8;
                let (status, _, _) = raw_post(server.addr, Some(&target), &[], &b).await;
                assert!(status == 200 || status == 400, "{op}: {status}");
                checked += 1;
            }
        }
        // Wrong JSON types for every member name we know.
        for member in [
            "TableName",
            "Item",
            "Key",
            "KeySchema",
            "Limit",
            "ReturnValues",
            "UpdateExpression",
            "ExpressionAttributeValues",
        ] {
            for value in [
                "1",
                "true",
                "null",
                "[]",
                "{}",
                "\"s\"",
                "[{}]",
                "{\"a\":1}",
            ] {
                let body = format!("{{\"{member}\":{value}}}");
                let (status, _, resp) =
                    raw_post(server.addr, Some(&target), &[], body.as_bytes()).await;
                assert!(
                    status == 200 || status == 400,
                    "{op} {body}: {status} {}",
                    String::from_utf8_lossy(&resp)
                );
                checked += 1;
            }
        }
    }
    // Pure random bytes.
    for _ in 0..200 {
        let len = (rng.next() % 64) as usize;
        let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let (status, _, _) =
            raw_post(server.addr, Some("DynamoDB_20120810.PutItem"), &[], &b).await;
        assert_eq!(status, 400);
        checked += 1;
    }
    // Deeply nested JSON is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.PutItem"),
        &[],
        deep.as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(checked > 1000);
    // The server is still healthy and the table still there.
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.DescribeTable"),
        &[],
        br#"{"TableName":"wire"}"#,
    )
    .await;
    assert!(status == 200 || status == 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_responses_are_compressed_when_accepted() {
    use std::io::Read;
    let server = TestStore::start().await;
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.CreateTable"),
        &[],
        CREATE.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let item = format!(
        r#"{{"TableName":"wire","Item":{{"p":{{"S":"big"}},"v":{{"S":"{}"}}}}}}"#,
        "x".repeat(20_000)
    );
    let (status, _, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.PutItem"),
        &[],
        item.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let get = br#"{"TableName":"wire","Key":{"p":{"S":"big"}}}"#;
    let (_, headers, plain) =
        raw_post(server.addr, Some("DynamoDB_20120810.GetItem"), &[], get).await;
    assert_eq!(header(&headers, "content-encoding"), None);
    for (accept, encoding) in [
        ("gzip, deflate", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0, deflate", "deflate"),
    ] {
        let (status, headers, body) = raw_post(
            server.addr,
            Some("DynamoDB_20120810.GetItem"),
            &[("Accept-Encoding", accept)],
            get,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-encoding"),
            Some(encoding),
            "{accept}"
        );
        let crc: u32 = header(&headers, "x-amz-crc32")
            .expect("crc")
            .parse()
            .expect("crc");
        assert_eq!(
            crc,
            crc32fast::hash(&body),
            "the checksum covers the bytes as sent"
        );
        assert!(body.len() * 10 < plain.len());
        let mut decoded = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded),
            _ => flate2::read::ZlibDecoder::new(&body[..]).read_to_end(&mut decoded),
        }
        .expect("decompress");
        assert_eq!(decoded, plain);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_from_an_allowed_origin_get_cors_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestStore::start_serving(ferrodyn_store::server::ServeOptions {
        cors: Some(ferrodyn_store::server::CorsPolicy::Any),
        ..Default::default()
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let req = format!(
        "OPTIONS / HTTP/1.1\r\nHost: {}\r\nOrigin: http://example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-amz-target\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let (status, headers, _) = ferrodyn_tests::parse_response(&buf);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        header(&headers, "access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        header(&headers, "access-control-allow-headers"),
        Some("x-amz-target")
    );
    let (_, headers, _) = raw_post(
        server.addr,
        Some("DynamoDB_20120810.ListTables"),
        &[("Origin", "http://example.com")],
        b"{}",
    )
    .await;
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert!(header(&headers, "access-control-max-age").is_none());
}

#[tokio::test]
async fn oversized_headers_and_request_lines_get_400() {
    let store = TestStore::start().await;
    let small = [("header1", "dog")];
    let (status, _, _) = raw_post(
        store.addr,
        Some("DynamoDB_20120810.ListTables"),
        &small,
        b"{}",
    )
    .await;
    assert_eq!(status, 200);
    let (big1, big2) = ("x".repeat(8192), "y".repeat(8192));
    let big = [("header1", big1.as_str()), ("header2", big2.as_str())];
    let (status, _, _) = raw_post(
        store.addr,
        Some("DynamoDB_20120810.ListTables"),
        &big,
        b"{}",
    )
    .await;
    assert_eq!(status, 400);

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (path, expected) in [
        ("/garbage".to_owned(), 404),
        (format!("/{}", "x".repeat(17_000)), 400),
    ] {
        let mut stream = tokio::net::TcpStream::connect(store.addr)
            .await
            .expect("connect");
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        let (status, _, _) = parse_response(&buf);
        assert_eq!(status, expected, "path of {} bytes", path.len());
    }
}
