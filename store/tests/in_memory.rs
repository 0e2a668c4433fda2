//! `ferrodyn-store --in-memory`: nothing written to the working directory,
//! the private data directory removed on SIGTERM, a restart starts empty.

#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::http::{call, call_with_body};
use support::process::{json_addr, ServerProcess};

fn start_in_memory(work: &Path) -> (ServerProcess, std::net::SocketAddr, PathBuf) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"));
    command
        .current_dir(work)
        .env("FERRODYN_IN_MEMORY", "true")
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("FERRODYN_LOG", "info")
        .env_remove("FERRODYN_DATA_DIR");
    let mut server = ServerProcess::spawn(command);
    let ready = server.wait_for_line(|l| l.contains("ferrodyn-store ready"));
    let event: serde_json::Value = serde_json::from_str(&ready).expect("JSON line");
    assert_eq!(event["in_memory"], true, "{ready}");
    let data_dir = PathBuf::from(event["data_dir"].as_str().expect("data_dir field"));
    (server, json_addr(&ready), data_dir)
}

#[test]
fn in_memory_store_leaves_nothing_behind_after_sigterm() {
    let work = tempfile::tempdir().expect("working directory");
    let (server, addr, data_dir) = start_in_memory(work.path());
    assert!(data_dir.is_dir());
    let create = r#"{"TableName":"ephemeral","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    assert_eq!(call(addr, "CreateTable", create), 200);
    let put = r#"{"TableName":"ephemeral","Item":{"pk":{"S":"k"}}}"#;
    assert_eq!(call(addr, "PutItem", put), 200);

    let (status, _) = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(!data_dir.exists(), "{} left behind", data_dir.display());
    let left: Vec<_> = std::fs::read_dir(work.path()).expect("read").collect();
    assert!(left.is_empty(), "{left:?}");

    let (server, addr, _) = start_in_memory(work.path());
    let (status, body) = call_with_body(addr, "ListTables", "{}");
    assert_eq!((status, body.as_str()), (200, r#"{"TableNames":[]}"#));
    server.terminate();
}
