//! What `ferrodyn-store` writes on stderr: plain text without colour codes
//! when stderr is not a terminal, one JSON object per line with
//! `--log-format json`, addresses shown as addresses, and at debug level one
//! line per request.

#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::http::call;
use support::process::{json_addr, ServerProcess};

fn store(data_dir: &std::path::Path, format: &str) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"));
    command
        .args(["--listen", "127.0.0.1:0", "--log-format", format])
        .arg("--data-dir")
        .arg(data_dir)
        .env("FERRODYN_LOG", "debug")
        // Colour must be off because stderr is a pipe, whatever else is set.
        .env_remove("NO_COLOR");
    ServerProcess::spawn(command)
}

const CREATE: &str = r#"{"TableName":"logged","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes_and_show_addresses_plainly() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = store(data.path(), "text");
    let ready = server.wait_for_line(|l| l.contains("ferrodyn-store ready"));
    let addr: SocketAddr = ready
        .split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no addr=IP:PORT in the ready line: {ready}"));
    assert_eq!(call(addr, "CreateTable", CREATE), 200);
    assert_eq!(
        call(addr, "DescribeTable", r#"{"TableName":"missing"}"#),
        400
    );
    let (status, lines) = server.terminate();
    assert!(status.success(), "exit status {status}");

    let all = lines.join("\n");
    assert!(!all.contains("\x1b["), "colour codes in piped logs:\n{all}");
    assert!(!all.contains("Some("), "an Option shown with Debug:\n{all}");
    let requests: Vec<&String> = lines.iter().filter(|l| l.contains(" request ")).collect();
    assert!(
        requests.iter().any(|l| l.contains("operation=CreateTable")
            && l.contains("table=logged")
            && l.contains("status=200")
            && l.contains("latency_ms=")
            && l.contains("request_id=")),
        "no request line for CreateTable:\n{all}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("operation=DescribeTable")
                && l.contains("status=400")
                && l.contains("error=ResourceNotFoundException")),
        "no request line for the failed DescribeTable:\n{all}"
    );
    assert!(all.contains("ferrodyn-store stopped"), "{all}");
}

#[test]
fn json_logs_are_one_object_per_line_with_a_message() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = store(data.path(), "json");
    let ready = server.wait_for_line(|l| l.contains("ferrodyn-store ready"));
    let addr = json_addr(&ready);
    assert_eq!(call(addr, "CreateTable", CREATE), 200);
    let (status, lines) = server.terminate();
    assert!(status.success(), "exit status {status}");

    assert!(!lines.is_empty());
    let mut request_lines = 0;
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(event["message"].is_string(), "no message: {line}");
        assert!(event["level"].is_string(), "no level: {line}");
        if event["message"] == "request" && event["route"] == "GET /" {
            // The binary's own readiness probe (health check).
            assert_eq!(event["status"], 200, "{line}");
            assert!(event.get("operation").is_none(), "{line}");
        } else if event["message"] == "request" {
            request_lines += 1;
            assert_eq!(event["operation"], "CreateTable", "{line}");
            assert_eq!(event["table"], "logged", "{line}");
            assert_eq!(event["status"], 200, "{line}");
            assert!(event["latency_ms"].is_number(), "{line}");
            assert_eq!(
                event["request_id"].as_str().map(str::len),
                Some(52),
                "{line}"
            );
        }
    }
    assert_eq!(request_lines, 1, "{lines:#?}");
}

#[test]
fn request_lines_are_not_written_at_the_default_level() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"));
    command
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("FERRODYN_LOG");
    let mut server = ServerProcess::spawn(command);
    let addr = json_addr(&server.wait_for_line(|l| l.contains("ferrodyn-store ready")));
    assert_eq!(call(addr, "CreateTable", CREATE), 200);
    let (_, lines) = server.terminate();
    assert!(
        !lines.iter().any(|l| l.contains(r#""message":"request""#)),
        "{lines:#?}"
    );
}
