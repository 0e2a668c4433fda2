//! `ferrodyn-store backup` and `ferrodyn-store restore` on a data
//! directory no server holds: they take a backup and restore it as a server
//! would, print progress lines on stderr (plain lines when it is not a
//! terminal) and the result on stdout; with a server holding the directory
//! they refuse and say why.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::http::call_with_body;

struct StoreProcess(Child);

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path) -> (StoreProcess, SocketAddr) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let child = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(dir)
        .env("FERRODYN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrodyn-store");
    let p = StoreProcess(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "store did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    (p, addr)
}

fn ok(addr: SocketAddr, op: &str, body: &Value) -> Value {
    let (status, text) = call_with_body(addr, op, &body.to_string());
    assert_eq!(status, 200, "{op}: {text}");
    serde_json::from_str(&text).expect("json")
}

fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .args(args)
        .env("FERRODYN_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run ferrodyn-store")
}

#[test]
fn backup_and_restore_commands_work_on_a_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let (p, addr) = start(dir.path());
    ok(
        addr,
        "CreateTable",
        &json!({"TableName": "orders", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}]}),
    );
    for i in 0..100 {
        ok(
            addr,
            "PutItem",
            &json!({"TableName": "orders", "Item": {"p": {"S": format!("k{i}")}, "v": {"N": i.to_string()}}}),
        );
    }
    let before = ok(addr, "Scan", &json!({"TableName": "orders"}));

    let refused = admin(&[
        "backup",
        "--data-dir",
        data,
        "--table",
        "orders",
        "--name",
        "nightly",
    ]);
    assert!(!refused.status.success(), "a held directory is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot open data directory"));
    drop(p);

    let backup = admin(&[
        "backup",
        "--data-dir",
        data,
        "--table",
        "orders",
        "--name",
        "nightly",
    ]);
    let err = String::from_utf8_lossy(&backup.stderr);
    assert!(backup.status.success(), "{err}");
    assert!(err.contains("backup: 100/100 items"), "{err}");
    let arn = String::from_utf8_lossy(&backup.stdout).trim().to_owned();
    assert!(
        arn.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/orders/backup/"),
        "{arn}"
    );

    let restore = admin(&[
        "restore",
        "--data-dir",
        data,
        "--backup-arn",
        &arn,
        "--target-table",
        "orders-copy",
    ]);
    let err = String::from_utf8_lossy(&restore.stderr);
    assert!(restore.status.success(), "{err}");
    assert!(err.contains("restore: 100/100 items"), "{err}");
    assert!(err.contains("items/s") && err.contains("ETA"), "{err}");

    let (_p, addr) = start(dir.path());
    let copy = ok(addr, "Scan", &json!({"TableName": "orders-copy"}));
    assert_eq!(copy["Items"], before["Items"]);
    let listed = ok(addr, "ListBackups", &json!({}));
    assert_eq!(listed["BackupSummaries"][0]["BackupArn"], json!(arn));
}
