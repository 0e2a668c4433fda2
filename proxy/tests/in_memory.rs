//! `ferrodyn --in-memory`: the full database with nothing written to the
//! working directory, and nothing left once the process has stopped.

#![cfg(unix)]

#[path = "../../store/tests/support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use process::{json_addr, ServerProcess};

/// `ferrodyn --in-memory` started in `work`, its address and its in-memory
/// data directory (from the log).
fn start_in_memory(work: &Path) -> (ServerProcess, String, PathBuf) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn"));
    command
        .current_dir(work)
        .args(["--in-memory", "--log-format", "json"])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env("FERRODYN_LOG", "info")
        .env_remove("FERRODYN_DATA_DIR")
        .env_remove("FERRODYN_IN_MEMORY");
    let mut server = ServerProcess::spawn(command);
    let announced = server.wait_for_line(|l| l.contains("in-memory data directory"));
    let event: serde_json::Value = serde_json::from_str(&announced).expect("JSON line");
    let data_dir = PathBuf::from(event["dir"].as_str().expect("dir field"));
    let ready = server.wait_for_line(|l| l.contains(r#""message":"ferrodyn ready""#));
    let endpoint = format!("http://{}", json_addr(&ready));
    // What a program that started it reads: the same address, once serving.
    assert_eq!(
        server.stdout_line(),
        format!("FERRODYN_LISTENING {endpoint}")
    );
    (server, endpoint, data_dir)
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the working directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn in_memory_writes_nothing_to_the_working_directory_and_forgets_on_exit() {
    let work = tempfile::tempdir().expect("working directory");
    let (server, endpoint, data_dir) = start_in_memory(work.path());
    if Path::new("/dev/shm").is_dir() {
        assert!(data_dir.starts_with("/dev/shm"), "{}", data_dir.display());
    }
    assert!(data_dir.is_dir());

    let db = client(&endpoint);
    db.create_table()
        .table_name("ephemeral")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
    db.put_item()
        .table_name("ephemeral")
        .item("pk", AttributeValue::S("k".into()))
        .item("v", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("PutItem");
    let read = db
        .get_item()
        .table_name("ephemeral")
        .key("pk", AttributeValue::S("k".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    assert_eq!(
        read.item().and_then(|i| i.get("v")),
        Some(&AttributeValue::N("1".into()))
    );

    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status}\n{}", log.join("\n"));
    assert_eq!(entries(work.path()), Vec::<String>::new());
    assert!(!data_dir.exists(), "{} left behind", data_dir.display());

    // A new process starts empty.
    let (server, endpoint, _) = start_in_memory(work.path());
    let tables = client(&endpoint)
        .list_tables()
        .send()
        .await
        .expect("ListTables");
    assert!(tables.table_names().is_empty(), "{tables:?}");
    let (status, _) = server.terminate();
    assert!(status.success());
    assert_eq!(entries(work.path()), Vec::<String>::new());
}

#[test]
fn in_memory_refuses_an_explicit_data_dir() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferrodyn"))
        .args(["--in-memory", "--data-dir", "somewhere"])
        .output()
        .expect("run ferrodyn");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'--in-memory' cannot be used with '--data-dir"),
        "{stderr}"
    );
}
