//! Target (c): the HTTP front end with arbitrary bytes. A store is served
//! in-process on 127.0.0.1:0 (short header and body timeouts, so a
//! truncated request costs a second, not half a minute); each case writes
//! either random bytes or a damaged request to a fresh connection and reads
//! until the server closes. Invariants: the server answers or closes within
//! [`CASE_LIMIT`]; an answer is HTTP/1.1 with no 5xx but 503; a DynamoDB
//! error answer has a known `__type`; and every tenth case a well-formed
//! ListTables still gets 200.

use std::net::SocketAddr;
use std::time::Duration;

use ferrodyn_store::server::{self, Limits, ServeOptions};
use ferrodyn_store::{Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::requests::{request, target, OPERATIONS};
use crate::rng::Rng;
use crate::runner::{show_bytes, Case, Target};
use crate::targets::check_error_body;
use crate::{gen, mutate};

/// How long one connection may take, well above the server's timeouts.
pub const CASE_LIMIT: Duration = Duration::from_secs(10);

pub struct Http {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Http {
    /// Start the store and its front end on an ephemeral port.
    pub async fn start() -> anyhow::Result<Http> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&StoreConfig::new(dir.path()))?;
        for schema in &gen::SCHEMAS {
            let body = serde_json::to_vec(&schema.create_request())?;
            store
                .handle(ferrodyn_store::api::Operation::CreateTable, &body)
                .await
                .map_err(|e| anyhow::anyhow!("create {}: {}", schema.table, e.message))?;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let options = ServeOptions {
            limits: Limits {
                header_timeout: Duration::from_secs(1),
                body_timeout: Duration::from_secs(1),
                ..Limits::default()
            },
            ..ServeOptions::default()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, store, options, async {
            let _ = rx.await;
        }));
        Ok(Http {
            addr,
            _stop: tx,
            _dir: dir,
        })
    }
}

/// A request as a client would send it, for `op` with `body`.
pub(crate) fn well_formed(addr: SocketAddr, target: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut out = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn input(rng: &mut Rng, addr: SocketAddr) -> (Vec<u8>, bool) {
    match rng.below(10) {
        0 => {
            // Pure noise; half-closed so the server sees the end at once.
            let n = rng.size(4096);
            (rng.bytes(n), true)
        }
        1 => {
            let path = rng.pick(&["/", "/healthz", "/readyz", "/x", "*", "//", "/?a=b"]);
            let method = rng.pick(&["GET", "HEAD", "OPTIONS", "DELETE", "PUT", "BREW"]);
            let text = format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
            );
            let mut data = text.into_bytes();
            if rng.one_in(2) {
                mutate::bytes(rng, &mut data);
            }
            (data, false)
        }
        2 => {
            // A gzip-declared body that is not gzip, or a chunked one.
            let n = rng.size(200);
            let body = rng.bytes(n);
            let extra = rng.pick(&[
                "Content-Encoding: gzip\r\n",
                "Content-Encoding: deflate\r\n",
                "Content-Encoding: br\r\n",
                "Transfer-Encoding: chunked\r\n",
            ]);
            let mut data = well_formed(addr, "DynamoDB_20120810.ListTables", &body, extra);
            mutate::bytes(rng, &mut data);
            (data, true)
        }
        _ => {
            let op = *rng.pick(&OPERATIONS);
            let mut v = request(rng, op);
            if rng.one_in(3) {
                mutate::json(rng, &mut v);
            }
            let body = serde_json::to_vec(&v).unwrap_or_default();
            let t = if rng.one_in(20) {
                rng.pick(&[
                    "DynamoDB_20120810.Nope",
                    "",
                    "Foo.Bar",
                    "DynamoDB_20120810.",
                ])
                .to_string()
            } else {
                target(op)
            };
            let mut data = well_formed(addr, &t, &body, "");
            let damaged = rng.one_in(2);
            if damaged {
                mutate::bytes(rng, &mut data);
            }
            (data, damaged && rng.one_in(2))
        }
    }
}

/// Send `data` on a fresh connection; the answer's bytes, or None on a
/// hang.
pub(crate) async fn exchange(addr: SocketAddr, data: &[u8], half_close: bool) -> Option<Vec<u8>> {
    let run = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        // The server may close before reading everything: not a finding.
        let _ = stream.write_all(data).await;
        if half_close {
            let _ = stream.shutdown().await;
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Some(answer)
    };
    match tokio::time::timeout(CASE_LIMIT, run).await {
        Ok(Some(answer)) => Some(answer),
        Ok(None) => Some(Vec::new()),
        Err(_) => None,
    }
}

fn check_answer(answer: &[u8], case: &mut Case) {
    if answer.is_empty() {
        return;
    }
    let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        case.fail(format!(
            "answer without a header end: {}",
            show_bytes(answer)
        ));
        return;
    };
    let head = String::from_utf8_lossy(&answer[..split]);
    // An HTTP/1.0 request gets an HTTP/1.0 answer.
    let status: Option<u16> = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok());
    let Some(status) = status else {
        case.fail(format!("not an HTTP/1.x answer: {head}"));
        return;
    };
    // Only the first answer: bytes after a body the mutation cut short are
    // read as a second request, answered after this one.
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let rest = &answer[split + 4..];
    let body = &rest[..length.unwrap_or(rest.len()).min(rest.len())];
    if status >= 500 && status != 503 && !undecodable_body(body) {
        case.fail(format!("HTTP {status}: {}", show_bytes(answer)));
        return;
    }
    let is_json = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("content-type: application/x-amz-json")
    });
    if status == 400 && is_json && !body.is_empty() {
        if let Some(problem) = check_error_body(status, body) {
            case.fail(problem);
        }
    }
}

/// The store answers a body it cannot decompress (a corrupt gzip or
/// deflate stream, an unknown Content-Encoding) with InternalServerError,
/// as its wire tests pin down; that is the one 500 a client can cause.
fn undecodable_body(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("#InternalServerError")
        && [
            "Failed to decompress the request body",
            "Unsupported Content-Encoding",
            "Empty gzip request body",
            "Empty deflate request body",
        ]
        .iter()
        .any(|m| text.contains(m))
}

impl Target for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn run_case(&mut self, rng: &mut Rng) -> Case {
        let (data, half_close) = input(rng, self.addr);
        let mut case = Case::new(show_bytes(&data));
        match exchange(self.addr, &data, half_close).await {
            None => case.fail(format!("no answer and no close within {CASE_LIMIT:?}")),
            Some(answer) => {
                case.accepted = answer.starts_with(b"HTTP/1.1 200");
                check_answer(&answer, &mut case)
            }
        }
        if rng.one_in(10) {
            let probe = well_formed(self.addr, "DynamoDB_20120810.ListTables", b"{}", "");
            match exchange(self.addr, &probe, false).await {
                Some(a) if a.starts_with(b"HTTP/1.1 200") => {}
                Some(a) => case.fail(format!(
                    "server no longer serves ListTables: {}",
                    show_bytes(&a)
                )),
                None => case.fail("server no longer answers ListTables"),
            }
        }
        case
    }
}

/// The status and body of the first answer in `answer`.
pub(crate) fn parse_answer(answer: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))?
        .get(..3)?
        .parse()
        .ok()?;
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let rest = &answer[split + 4..];
    Some((
        status,
        rest[..length.unwrap_or(rest.len()).min(rest.len())].to_vec(),
    ))
}
