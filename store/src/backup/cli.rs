//! `ferrodyn-store backup …` and `ferrodyn-store restore …`: the operator's
//! commands for backups of a data directory that no server has open.
//!
//! Each command opens the store on the directory (it fails if a server
//! holds it: use the AWS CLI against that server instead), makes the same
//! request a client would (CreateBackup, RestoreTableFromBackup) through
//! [`Store::handle`], and reports progress until the work is done: one line
//! every second with items, bytes, rate and ETA — rewritten in place on a
//! terminal, one line each otherwise.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::api::Operation;
use crate::{Store, StoreConfig};

/// The operator commands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Take an on-demand backup of a table and wait until it is AVAILABLE.
    Backup {
        /// Data directory (no server may have it open).
        #[arg(long, default_value = "./ferrodyn-data")]
        data_dir: PathBuf,
        /// Backup directory (default: `backups` in the data directory).
        #[arg(long)]
        backup_dir: Option<PathBuf>,
        #[arg(long)]
        table: String,
        #[arg(long)]
        name: String,
    },
    /// Restore a backup into a new table and wait until it is ACTIVE.
    Restore {
        #[arg(long, default_value = "./ferrodyn-data")]
        data_dir: PathBuf,
        #[arg(long)]
        backup_dir: Option<PathBuf>,
        #[arg(long)]
        backup_arn: String,
        #[arg(long)]
        target_table: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Details {
    backup_arn: String,
    backup_status: String,
    backup_size_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateOut {
    backup_details: Details,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Source {
    item_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Description {
    backup_details: Details,
    source_table_details: Source,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOut {
    backup_description: Description,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Table {
    table_status: String,
    item_count: u64,
    table_size_bytes: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableOut {
    table: Table,
}

async fn call<T: serde::de::DeserializeOwned>(
    store: &Store,
    op: Operation,
    body: serde_json::Value,
) -> anyhow::Result<T> {
    let bytes = serde_json::to_vec(&body)?;
    let out = store
        .handle(op, &bytes)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code.as_str(), e.message))?;
    Ok(serde_json::from_slice(&out)?)
}

/// One progress report: a line rewritten in place on a terminal.
struct Progress {
    started: Instant,
    tty: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn report(&self, what: &str, items: u64, bytes: u64, total_items: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = items as f64 / secs;
        let eta = if rate > 0.0 && total_items > items {
            format!("{:.0}s", (total_items - items) as f64 / rate)
        } else {
            "-".to_owned()
        };
        let line = format!(
            "{what}: {items}/{total_items} items, {:.1} MB, {rate:.0} items/s, {:.1} MB/s, ETA {eta}",
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / secs
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn done(&self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// Run an operator command to completion.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    let (data_dir, backup_dir) = match &command {
        AdminCommand::Backup {
            data_dir,
            backup_dir,
            ..
        }
        | AdminCommand::Restore {
            data_dir,
            backup_dir,
            ..
        } => (data_dir.clone(), backup_dir.clone()),
    };
    let mut config = StoreConfig::new(&data_dir);
    config.backup_dir = backup_dir;
    let store = Store::open(&config).with_context(|| {
        format!(
            "cannot open data directory {} (a running server holds it? use the AWS CLI against that server)",
            data_dir.display()
        )
    })?;
    let progress = Progress::new();
    match command {
        AdminCommand::Backup { table, name, .. } => {
            let before: TableOut = call(
                &store,
                Operation::DescribeTable,
                serde_json::json!({"TableName": table}),
            )
            .await?;
            let created: CreateOut = call(
                &store,
                Operation::CreateBackup,
                serde_json::json!({"TableName": table, "BackupName": name}),
            )
            .await?;
            let arn = created.backup_details.backup_arn;
            loop {
                let d: DescribeOut = call(
                    &store,
                    Operation::DescribeBackup,
                    serde_json::json!({"BackupArn": arn}),
                )
                .await?;
                let total = d.backup_description.source_table_details.item_count;
                if d.backup_description.backup_details.backup_status == "AVAILABLE" {
                    let bytes = d.backup_description.backup_details.backup_size_bytes;
                    progress.report("backup", total, bytes.unwrap_or(0), total);
                    break;
                }
                // The snapshot's size so far, against the table's.
                let id = arn.rsplit('/').next().unwrap_or_default();
                let tmp = config
                    .backup_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("backups"))
                    .join(format!("{id}.snap.tmp"));
                let written = std::fs::metadata(&tmp).map_or(0, |m| m.len());
                let table_bytes = before.table.table_size_bytes.max(1);
                let items = (total as f64 * (written as f64 / table_bytes as f64).min(1.0)) as u64;
                progress.report("backup (items estimated)", items, written, total);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            progress.done();
            println!("{arn}");
        }
        AdminCommand::Restore {
            backup_arn,
            target_table,
            ..
        } => {
            let d: DescribeOut = call(
                &store,
                Operation::DescribeBackup,
                serde_json::json!({"BackupArn": backup_arn}),
            )
            .await?;
            let total = d.backup_description.source_table_details.item_count;
            let _: serde_json::Value = call(
                &store,
                Operation::RestoreTableFromBackup,
                serde_json::json!({"BackupArn": backup_arn, "TargetTableName": target_table}),
            )
            .await?;
            loop {
                let t = match call::<TableOut>(
                    &store,
                    Operation::DescribeTable,
                    serde_json::json!({"TableName": target_table}),
                )
                .await
                {
                    Ok(t) => t,
                    Err(e) => bail!("the restore failed (see the log): {e}"),
                };
                progress.report(
                    "restore",
                    t.table.item_count,
                    t.table.table_size_bytes,
                    total,
                );
                if t.table.table_status == "ACTIVE" {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            progress.done();
            println!("{target_table}");
        }
    }
    Ok(())
}
