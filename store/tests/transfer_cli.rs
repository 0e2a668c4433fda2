//! `ferrodyn-store export` and `ferrodyn-store import` against a running
//! store: each starts its job, follows it to the end (plain progress lines
//! when stderr is not a terminal) and exits 0 on success, non-zero with the
//! reason on failure.

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::http::call_with_body;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run ferrodyn-store");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn export_and_import_commands_follow_their_jobs_to_the_end() {
    let data = tempfile::tempdir().expect("data dir");
    let buckets = tempfile::tempdir().expect("buckets");
    let addr = free_addr();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data.path())
        .arg("--export-dir")
        .arg(buckets.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the store");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "store did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let call = |op: &str, body: &str| {
        let (status, answer) = call_with_body(addr, op, body);
        assert_eq!(status, 200, "{op}: {answer}");
        answer
    };
    call(
        "CreateTable",
        r#"{"TableName":"songs","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#,
    );
    call(
        "UpdateContinuousBackups",
        r#"{"TableName":"songs","PointInTimeRecoverySpecification":{"PointInTimeRecoveryEnabled":true}}"#,
    );
    for i in 0..3 {
        call(
            "PutItem",
            &format!(r#"{{"TableName":"songs","Item":{{"pk":{{"S":"k{i}"}}}}}}"#),
        );
    }
    let endpoint = format!("http://{addr}");
    let (ok, said) = cli(&[
        "export",
        "--endpoint",
        &endpoint,
        "--table",
        "songs",
        "--bucket",
        "out",
        "--prefix",
        "p",
    ]);
    assert!(ok, "{said}");
    assert!(said.contains("completed: 3 items"), "{said}");
    let id = said
        .split("/export/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("export id in the output")
        .to_owned();

    let prefix = format!("p/AWSDynamoDB/{id}/data/");
    let (ok, said) = cli(&[
        "import",
        "--endpoint",
        &endpoint,
        "--bucket",
        "out",
        "--prefix",
        &prefix,
        "--compression",
        "GZIP",
        "--table",
        "copy",
        "--partition-key",
        "pk:S",
    ]);
    assert!(ok, "{said}");
    assert!(said.contains("completed: 3 items imported"), "{said}");
    let described = call("DescribeTable", r#"{"TableName":"copy"}"#);
    assert!(described.contains(r#""ItemCount":3"#), "{described}");

    // A failure is an exit status and a reason.
    let (ok, said) = cli(&[
        "export",
        "--endpoint",
        &endpoint,
        "--table",
        "missing",
        "--bucket",
        "out",
    ]);
    assert!(!ok);
    assert!(said.contains("TableNotFoundException"), "{said}");
    let _ = server.kill();
    let _ = server.wait();
}
