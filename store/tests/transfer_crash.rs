//! Crash safety of exports and imports: `ferrodyn-store` killed with
//! SIGKILL in the middle of an import and of an export. After the restart
//! the interrupted jobs are FAILED (never COMPLETED), the half-imported
//! table is gone (never ACTIVE), the half-written export has no manifest,
//! the exported table is intact, and running each job again succeeds.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::http::call_with_body;

/// Enough items that each job is still running when it is killed. Items are
/// small so the test needs little disk (tens of MB): a volume that fills up
/// fails the import for a reason this test is not about.
const ITEMS: usize = 200_000;

/// A store child process, killed when dropped.
struct StoreProcess(Child);

impl StoreProcess {
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

fn start(data: &Path, buckets: &Path) -> (StoreProcess, SocketAddr) {
    let addr = free_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data)
        .arg("--export-dir")
        .arg(buckets)
        .env("FERRODYN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrodyn-store");
    let process = StoreProcess(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "store did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    (process, addr)
}

fn call(addr: SocketAddr, op: &str, body: Value) -> (u16, Value) {
    let (status, text) = call_with_body(addr, op, &body.to_string());
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

fn ok(addr: SocketAddr, op: &str, body: Value) -> Value {
    let (status, v) = call(addr, op, body);
    assert_eq!(status, 200, "{op}: {v}");
    v
}

fn import_request() -> Value {
    json!({
        "S3BucketSource": {"S3Bucket": "src", "S3KeyPrefix": "big"},
        "InputFormat": "DYNAMODB_JSON",
        "InputCompressionType": "NONE",
        "TableCreationParameters": {
            "TableName": "big",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }
    })
}

fn describe_import(addr: SocketAddr, arn: &str) -> Value {
    ok(addr, "DescribeImport", json!({"ImportArn": arn}))["ImportTableDescription"].clone()
}

fn describe_export(addr: SocketAddr, arn: &str) -> Value {
    ok(addr, "DescribeExport", json!({"ExportArn": arn}))["ExportDescription"].clone()
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not so after 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn table_items(addr: SocketAddr) -> u64 {
    ok(addr, "DescribeTable", json!({"TableName": "big"}))["Table"]["ItemCount"]
        .as_u64()
        .expect("ItemCount")
}

#[test]
fn sigkill_during_an_import_and_an_export_leaves_nothing_half_done() {
    let data = tempfile::tempdir().expect("data dir");
    let buckets = tempfile::tempdir().expect("buckets");
    std::fs::create_dir_all(buckets.path().join("src")).expect("source bucket");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(buckets.path().join("src/big.json")).expect("source file"),
    );
    for i in 0..ITEMS {
        writeln!(
            file,
            "{{\"Item\":{{\"pk\":{{\"S\":\"key-{i:07}\"}},\"payload\":{{\"S\":\"{}\"}}}}}}",
            "x".repeat(16)
        )
        .expect("write line");
    }
    file.flush().expect("flush");
    drop(file);

    // An import killed half-way.
    let (store, addr) = start(data.path(), buckets.path());
    let started = ok(addr, "ImportTable", import_request());
    let import_arn = started["ImportTableDescription"]["ImportArn"]
        .as_str()
        .expect("import arn")
        .to_owned();
    until("the import is under way", || {
        let d = describe_import(addr, &import_arn);
        assert_eq!(
            d["ImportStatus"], "IN_PROGRESS",
            "the import finished too soon: {d}"
        );
        d["ProcessedItemCount"].as_u64().unwrap_or(0) > 0
    });
    store.kill();

    let (store, addr) = start(data.path(), buckets.path());
    let d = describe_import(addr, &import_arn);
    assert_eq!(d["ImportStatus"], "FAILED", "{d}");
    assert!(d["FailureCode"].is_string(), "{d}");
    until("the half-imported table is deleted", || {
        call(addr, "DescribeTable", json!({"TableName": "big"})).0 == 400
    });
    let (_, err) = call(addr, "DescribeTable", json!({"TableName": "big"}));
    assert!(
        err["__type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("ResourceNotFoundException"),
        "{err}"
    );

    // Again: it completes.
    let again = ok(addr, "ImportTable", import_request());
    let import_arn = again["ImportTableDescription"]["ImportArn"]
        .as_str()
        .expect("import arn")
        .to_owned();
    until("the second import completes", || {
        describe_import(addr, &import_arn)["ImportStatus"] != "IN_PROGRESS"
    });
    let d = describe_import(addr, &import_arn);
    assert_eq!(d["ImportStatus"], "COMPLETED", "{d}");
    assert_eq!(d["ImportedItemCount"], ITEMS);
    assert_eq!(table_items(addr), ITEMS as u64);

    // An export killed half-way (exports need point-in-time recovery).
    ok(
        addr,
        "UpdateContinuousBackups",
        json!({"TableName": "big", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}),
    );
    let table_arn = "arn:aws:dynamodb:us-east-1:000000000000:table/big";
    let export = json!({"TableArn": table_arn, "S3Bucket": "out", "S3Prefix": "x"});
    let started = ok(addr, "ExportTableToPointInTime", export.clone());
    let export_arn = started["ExportDescription"]["ExportArn"]
        .as_str()
        .expect("export arn")
        .to_owned();
    until("the export is under way", || {
        let d = describe_export(addr, &export_arn);
        assert_eq!(
            d["ExportStatus"], "IN_PROGRESS",
            "the export finished too soon: {d}"
        );
        d["ItemCount"].as_u64().unwrap_or(0) > 0
    });
    store.kill();

    let (_store, addr) = start(data.path(), buckets.path());
    let d = describe_export(addr, &export_arn);
    assert_eq!(d["ExportStatus"], "FAILED", "{d}");
    let id = export_arn.rsplit('/').next().expect("export id");
    let base = buckets.path().join("out/x/AWSDynamoDB").join(id);
    assert!(!base.join("manifest-summary.json").exists());
    assert!(!base.join("manifest-files.json").exists());
    assert_eq!(
        table_items(addr),
        ITEMS as u64,
        "the source table is intact"
    );

    let again = ok(addr, "ExportTableToPointInTime", export);
    let export_arn = again["ExportDescription"]["ExportArn"]
        .as_str()
        .expect("export arn")
        .to_owned();
    until("the second export completes", || {
        describe_export(addr, &export_arn)["ExportStatus"] != "IN_PROGRESS"
    });
    let d = describe_export(addr, &export_arn);
    assert_eq!(d["ExportStatus"], "COMPLETED", "{d}");
    assert_eq!(d["ItemCount"], ITEMS);
    let id = export_arn.rsplit('/').next().expect("export id");
    let summary: Value = serde_json::from_slice(
        &std::fs::read(
            buckets
                .path()
                .join("out/x/AWSDynamoDB")
                .join(id)
                .join("manifest-summary.json"),
        )
        .expect("manifest"),
    )
    .expect("summary json");
    assert_eq!(summary["itemCount"], ITEMS);
}
