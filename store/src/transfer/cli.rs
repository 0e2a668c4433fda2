//! `ferrodyn-store export …` and `ferrodyn-store import …`: the operator's
//! commands for exports and imports, run against a running store (or any
//! DynamoDB-API endpoint) over its HTTP API. They start the job, then follow
//! it with DescribeExport/DescribeImport until it ends, showing progress —
//! items, bytes, rate and, for exports, the time left — as a bar redrawn in
//! place on a terminal and as a plain line every few seconds otherwise.
//!
//! Requests are not signed: use them against a store without
//! `--credentials`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::transfer_types::{
    ExportDescription, ExportStatus, ImportStatus, ImportTableDescription,
};
use crate::model::table::table_arn;

/// The transfer subcommands of `ferrodyn-store`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Export a table of a running store (ExportTableToPointInTime) and
    /// follow it to its end.
    Export(ExportArgs),
    /// Import objects of a bucket into a new table of a running store
    /// (ImportTable) and follow it to its end.
    Import(ImportArgs),
}

impl Command {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Export(a) => export(a).await,
            Command::Import(a) => import(a).await,
        }
    }
}

/// What the subcommands share.
#[derive(Debug, Clone, clap::Args)]
pub struct EndpointArgs {
    /// The store to ask.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub endpoint: String,
}

/// `ferrodyn-store export`: ExportTableToPointInTime, followed to its end.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Table to export (point-in-time recovery must be enabled on it).
    #[arg(long)]
    pub table: String,
    /// Bucket to write to (a folder under the store's --export-dir without
    /// --s3-endpoint).
    #[arg(long)]
    pub bucket: String,
    /// Key prefix of the export.
    #[arg(long)]
    pub prefix: Option<String>,
}

/// `ferrodyn-store import`: ImportTable, followed to its end.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Bucket to read from.
    #[arg(long)]
    pub bucket: String,
    /// Every object whose key starts with this prefix is imported.
    #[arg(long)]
    pub prefix: Option<String>,
    /// DYNAMODB_JSON, ION or CSV.
    #[arg(long, default_value = "DYNAMODB_JSON")]
    pub format: String,
    /// NONE, GZIP or ZSTD.
    #[arg(long, default_value = "NONE")]
    pub compression: String,
    /// Name of the new table.
    #[arg(long)]
    pub table: String,
    /// Partition key, `NAME:TYPE` (TYPE S, N or B).
    #[arg(long)]
    pub partition_key: String,
    /// Sort key, `NAME:TYPE`.
    #[arg(long)]
    pub sort_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExportAnswer {
    export_description: ExportDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportAnswer {
    import_table_description: ImportTableDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableAnswer {
    table: TableCount,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableCount {
    item_count: u64,
}

/// One request over a fresh connection.
async fn call(endpoint: &str, op: &str, body: &str) -> anyhow::Result<Vec<u8>> {
    let host = endpoint
        .strip_prefix("http://")
        .context("the endpoint must be an http:// URL")?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .with_context(|| format!("cannot connect to {endpoint}"))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: DynamoDB_20120810.{op}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("not an HTTP response")?;
    let status = String::from_utf8_lossy(&answer[..split]);
    let body = answer[split + 4..].to_vec();
    if !status.starts_with("HTTP/1.1 200") {
        bail!("{op} failed: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

/// Draws progress: a bar redrawn in place on a terminal, else a line every
/// five seconds.
struct Progress {
    tty: bool,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn show(&mut self, items: u64, bytes: u64, total: Option<u64>) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = items as f64 / secs;
        let eta = match total {
            Some(t) if rate > 0.0 && t > items => {
                let left = ((t - items) as f64 / rate) as u64;
                format!("ETA {}:{:02}", left / 60, left % 60)
            }
            Some(_) => "ETA 0:00".to_owned(),
            None => "ETA unknown".to_owned(),
        };
        let bar = match total {
            Some(t) if t > 0 => {
                let done = ((items.min(t) * 30) / t) as usize;
                format!("[{}{}] ", "#".repeat(done), " ".repeat(30 - done))
            }
            _ => String::new(),
        };
        let text = format!(
            "{bar}{items} items  {:.1} MB  {rate:.0} items/s  {eta}",
            bytes as f64 / 1e6
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        } else if self.last_line.elapsed() >= Duration::from_secs(5) {
            let _ = writeln!(err, "{text}");
            self.last_line = Instant::now();
        }
    }

    fn done(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Run `ferrodyn-store export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let endpoint = args.endpoint.endpoint.as_str();
    let total: Option<u64> = call(
        endpoint,
        "DescribeTable",
        &serde_json::to_string(&serde_json::json!({"TableName": args.table}))?,
    )
    .await
    .ok()
    .and_then(|b| serde_json::from_slice::<TableAnswer>(&b).ok())
    .map(|t| t.table.item_count);
    let request = serde_json::json!({
        "TableArn": table_arn(&args.table),
        "S3Bucket": args.bucket,
        "S3Prefix": args.prefix,
    });
    let started: ExportAnswer = serde_json::from_slice(
        &call(endpoint, "ExportTableToPointInTime", &request.to_string()).await?,
    )?;
    let arn = started.export_description.export_arn;
    eprintln!("export {arn}");
    let mut progress = Progress::new();
    loop {
        let body = serde_json::json!({"ExportArn": arn}).to_string();
        let d = serde_json::from_slice::<ExportAnswer>(
            &call(endpoint, "DescribeExport", &body).await?,
        )?
        .export_description;
        progress.show(d.item_count, d.billed_size_bytes, total);
        match d.export_status {
            ExportStatus::InProgress => tokio::time::sleep(Duration::from_millis(500)).await,
            ExportStatus::Completed => {
                progress.done();
                eprintln!(
                    "completed: {} items, {} bytes, manifest {}",
                    d.item_count,
                    d.billed_size_bytes,
                    d.export_manifest.unwrap_or_default()
                );
                return Ok(());
            }
            ExportStatus::Failed => {
                progress.done();
                bail!(
                    "export failed: {} {}",
                    d.failure_code.unwrap_or_default(),
                    d.failure_message.unwrap_or_default()
                );
            }
        }
    }
}

fn key(spec: &str, key_type: &str) -> anyhow::Result<(serde_json::Value, serde_json::Value)> {
    let (name, t) = spec
        .split_once(':')
        .with_context(|| format!("a key is NAME:TYPE, not {spec}"))?;
    Ok((
        serde_json::json!({"AttributeName": name, "AttributeType": t}),
        serde_json::json!({"AttributeName": name, "KeyType": key_type}),
    ))
}

/// Run `ferrodyn-store import`.
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let endpoint = args.endpoint.endpoint.as_str();
    let mut definitions = Vec::new();
    let mut schema = Vec::new();
    let (d, k) = key(&args.partition_key, "HASH")?;
    definitions.push(d);
    schema.push(k);
    if let Some(sort) = &args.sort_key {
        let (d, k) = key(sort, "RANGE")?;
        definitions.push(d);
        schema.push(k);
    }
    let request = serde_json::json!({
        "S3BucketSource": {"S3Bucket": args.bucket, "S3KeyPrefix": args.prefix},
        "InputFormat": args.format,
        "InputCompressionType": args.compression,
        "TableCreationParameters": {
            "TableName": args.table,
            "AttributeDefinitions": definitions,
            "KeySchema": schema,
            "BillingMode": "PAY_PER_REQUEST"
        }
    });
    let started: ImportAnswer =
        serde_json::from_slice(&call(endpoint, "ImportTable", &request.to_string()).await?)?;
    let arn = started.import_table_description.import_arn;
    eprintln!("import {arn}");
    let mut progress = Progress::new();
    loop {
        let body = serde_json::json!({"ImportArn": arn}).to_string();
        let d = serde_json::from_slice::<ImportAnswer>(
            &call(endpoint, "DescribeImport", &body).await?,
        )?
        .import_table_description;
        progress.show(d.processed_item_count, d.processed_size_bytes, None);
        match d.import_status {
            ImportStatus::InProgress | ImportStatus::Cancelling => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            ImportStatus::Completed => {
                progress.done();
                eprintln!("completed: {} items imported", d.imported_item_count);
                return Ok(());
            }
            ImportStatus::Failed | ImportStatus::Cancelled => {
                progress.done();
                bail!(
                    "import {:?}: {} items imported, {} errors: {} {}",
                    d.import_status,
                    d.imported_item_count,
                    d.error_count,
                    d.failure_code.unwrap_or_default(),
                    d.failure_message.unwrap_or_default()
                );
            }
        }
    }
}
