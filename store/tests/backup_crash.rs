//! Crash safety of backups and restores: a `ferrodyn-store` child process
//! is killed with SIGKILL right after it accepted a CreateBackup, then
//! right after it accepted a RestoreTableFromBackup. After each restart no
//! backup is left CREATING (a cut-short one is gone, a finished one is
//! AVAILABLE and restorable), the source table is intact, the restore
//! resumes and the restored table — never ACTIVE before it is whole —
//! ends equal to the source, and retrying the backup succeeds.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::http::call_with_body;

/// Items of ~10 KB: enough bytes that writing or loading a snapshot takes
/// longer than the kill that follows the answer.
const ITEMS: usize = 3000;

struct StoreProcess(Child);

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn start(dir: &std::path::Path) -> (StoreProcess, SocketAddr) {
    let addr = free_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(dir)
        .env("FERRODYN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrodyn-store");
    let process = StoreProcess(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(addr).is_ok()
            && call(addr, "ListTables", &json!({})).0 == 200
        {
            return (process, addr);
        }
        assert!(Instant::now() < deadline, "store did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(mut p: StoreProcess) {
    // SIGKILL: no chance to finish anything.
    p.0.kill().expect("kill -9");
    let _ = p.0.wait();
}

fn call(addr: SocketAddr, op: &str, body: &Value) -> (u16, Value) {
    let (status, text) = call_with_body(addr, op, &body.to_string());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ok(addr: SocketAddr, op: &str, body: &Value) -> Value {
    let (status, out) = call(addr, op, body);
    assert_eq!(status, 200, "{op}: {out}");
    out
}

/// Every page of a Scan of `table`.
fn scan_pages(addr: SocketAddr, table: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut body = json!({"TableName": table});
    loop {
        let page = ok(addr, "Scan", &body);
        let next = page.get("LastEvaluatedKey").cloned();
        pages.push(page["Items"].clone());
        match next {
            Some(k) => body["ExclusiveStartKey"] = k,
            None => return pages,
        }
    }
}

fn backups(addr: SocketAddr) -> Vec<Value> {
    ok(addr, "ListBackups", &json!({}))["BackupSummaries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn status(addr: SocketAddr, table: &str) -> Option<String> {
    let (code, out) = call(addr, "DescribeTable", &json!({"TableName": table}));
    (code == 200).then(|| {
        out["Table"]["TableStatus"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    })
}

#[test]
fn sigkill_during_backup_and_restore_leaves_nothing_half_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (p, addr) = start(dir.path());
    ok(
        addr,
        "CreateTable",
        &json!({"TableName": "src", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}]}),
    );
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(25) {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"PutRequest": {"Item": {"p": {"S": format!("k{i}")}, "v": {"S": format!("{i}-{}", "x".repeat(10_000))}}}}))
            .collect();
        ok(
            addr,
            "BatchWriteItem",
            &json!({"RequestItems": {"src": requests}}),
        );
    }
    let source = scan_pages(addr, "src");

    // Killed right after CreateBackup answered.
    let answer = ok(
        addr,
        "CreateBackup",
        &json!({"TableName": "src", "BackupName": "cut"}),
    );
    assert_eq!(answer["BackupDetails"]["BackupStatus"], "CREATING");
    kill(p);
    let (p, addr) = start(dir.path());
    let listed = backups(addr);
    for b in &listed {
        assert_eq!(b["BackupStatus"], "AVAILABLE", "after a restart: {b}");
    }
    eprintln!("backups surviving the kill: {}", listed.len());
    assert_eq!(scan_pages(addr, "src"), source, "the source is intact");

    // A retry succeeds.
    let arn = ok(
        addr,
        "CreateBackup",
        &json!({"TableName": "src", "BackupName": "retry"}),
    )["BackupDetails"]["BackupArn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ok(addr, "DescribeBackup", &json!({"BackupArn": arn}))["BackupDescription"]
        ["BackupDetails"]["BackupStatus"]
        != "AVAILABLE"
    {
        assert!(Instant::now() < deadline, "backup never AVAILABLE");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Killed right after RestoreTableFromBackup answered.
    let answer = ok(
        addr,
        "RestoreTableFromBackup",
        &json!({"BackupArn": arn, "TargetTableName": "copy"}),
    );
    assert_eq!(answer["TableDescription"]["TableStatus"], "CREATING");
    kill(p);
    let (_p, addr) = start(dir.path());
    let first = status(addr, "copy");
    eprintln!("restored table after the kill: {first:?}");
    if first.as_deref() == Some("CREATING") {
        // Not usable until it is whole.
        let (code, out) = call(
            addr,
            "GetItem",
            &json!({"TableName": "copy", "Key": {"p": {"S": "k1"}}}),
        );
        assert!(
            code == 400
                && out["__type"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("ResourceNotFoundException")
                || status(addr, "copy").as_deref() == Some("ACTIVE"),
            "{out}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while status(addr, "copy").as_deref() != Some("ACTIVE") {
        assert!(
            status(addr, "copy").is_some(),
            "the resumed restore vanished"
        );
        assert!(Instant::now() < deadline, "restore never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        scan_pages(addr, "copy"),
        source,
        "the restored table is whole"
    );
    let described = ok(addr, "DescribeTable", &json!({"TableName": "copy"}));
    assert_eq!(described["Table"]["ItemCount"], json!(ITEMS));
    assert_eq!(scan_pages(addr, "src"), source, "the source is intact");
}
