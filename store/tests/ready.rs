//! A program that starts `ferrodyn-store --listen 127.0.0.1:0` learns the
//! port from stdout's first line or from `--ready-file`, and can send
//! requests at once.

#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::http::call;
use support::process::ServerProcess;

#[test]
fn stdout_first_line_and_ready_file_give_the_bound_address() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ready_file = dir.path().join("ready");
    // A file left by an earlier run must not be taken for this one's.
    std::fs::write(&ready_file, "http://127.0.0.1:1\n").expect("stale file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"));
    command
        .current_dir(dir.path())
        .args(["--in-memory", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready_file);
    let mut server = ServerProcess::spawn(command);

    let first = server.stdout_line();
    let url = first
        .strip_prefix("FERRODYN_LISTENING ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not http://IP:PORT: {url}"));
    assert_ne!(addr.port(), 0);
    assert_eq!(
        std::fs::read_to_string(&ready_file).expect("ready file"),
        format!("{url}\n")
    );
    // Ready means answering: no retry needed.
    assert_eq!(call(addr, "ListTables", "{}"), 200);

    let (status, _) = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(!ready_file.exists(), "the ready file outlived the server");
}
