//! What `ferrodyn` writes on stderr: the same formats as `ferrodyn-store`
//! (one shared set-up), and its ready lines name addresses plainly.

#![cfg(unix)]

#[path = "../../store/tests/support/process.rs"]
mod process;

use std::process::Command;

use process::{json_addr, ServerProcess};

fn ferrodyn(data_dir: &std::path::Path, format: &str) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn"));
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--log-format", format])
        .arg("--data-dir")
        .arg(data_dir)
        .env("FERRODYN_LOG", "info")
        .env_remove("NO_COLOR");
    ServerProcess::spawn(command)
}

#[test]
fn ready_lines_show_addresses_without_colour_or_debug_wrappers() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = ferrodyn(data.path(), "text");
    server.wait_for_line(|l| l.contains("ferrodyn ready"));
    let (status, lines) = server.terminate();
    assert!(status.success(), "exit status {status}");
    let all = lines.join("\n");
    assert!(!all.contains("\x1b["), "colour codes in piped logs:\n{all}");
    assert!(!all.contains("Some("), "an Option shown with Debug:\n{all}");
    let admin = lines
        .iter()
        .find(|l| l.contains("admin endpoint ready"))
        .unwrap_or_else(|| panic!("no admin ready line:\n{all}"));
    assert!(admin.contains("addr=127.0.0.1:"), "{admin}");
}

#[test]
fn json_logs_are_one_object_per_line_with_a_message() {
    let data = tempfile::tempdir().expect("temporary directory");
    let mut server = ferrodyn(data.path(), "json");
    let ready = server.wait_for_line(|l| l.contains("ferrodyn ready"));
    assert!(json_addr(&ready).port() != 0);
    let (status, lines) = server.terminate();
    assert!(status.success(), "exit status {status}");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(event["message"].is_string(), "no message: {line}");
        if event["message"] == "ferrodyn admin endpoint ready" {
            assert!(json_addr(line).port() != 0, "{line}");
        }
    }
}
