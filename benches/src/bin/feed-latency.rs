//! `feed-latency`: how long after a write is acknowledged a consumer parked
//! on the change feed (`FerrodynFeed_20261124.GetChanges` long poll) has it —
//! the lag a remote proxy's cache lives with. The baseline, measured in the
//! same run, is the PutItem round trip itself.
//!
//! Everything runs in this process on loopback: a store with a fresh data
//! directory and the pooled client.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_store::{server, Store, StoreConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const FEED: &str = "FerrodynFeed_20261124.GetChanges";

/// Measure change-feed delivery lag (write acknowledged → long poll answered).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Writes measured.
    #[arg(long, default_value_t = 500)]
    samples: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

async fn json_call(client: &Client, target: &str, body: Value) -> anyhow::Result<Value> {
    let out = client
        .call_target(target, serde_json::to_vec(&body)?)
        .await
        .map_err(|f| anyhow::anyhow!("{target}: {} {}", f.kind, f.message))?;
    Ok(serde_json::from_slice(&out)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("ferrodyn-feed-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = Store::open(&StoreConfig::new(&dir)).context("cannot open store")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, store, async {
        let _ = stopped.await;
    }));
    let client = Client::new(&url, 8)?;
    json_call(
        &client,
        "DynamoDB_20120810.CreateTable",
        json!({"TableName": "feed", "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
               "BillingMode": "PAY_PER_REQUEST"}),
    )
    .await?;
    let mut cursor = json_call(&client, FEED, json!({}))
        .await?
        .get("NextCursor")
        .and_then(Value::as_u64)
        .context("no cursor")?;

    let (mut lag, mut put_rtt) = (Vec::new(), Vec::new());
    for i in 0..args.samples {
        let poller = {
            let client = client.clone();
            tokio::spawn(async move {
                let out = json_call(&client, FEED, json!({"Cursor": cursor, "WaitMs": 5000})).await;
                (out, Instant::now())
            })
        };
        // Let the poll park before writing.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = Instant::now();
        json_call(
            &client,
            "DynamoDB_20120810.PutItem",
            json!({"TableName": "feed", "Item": {"p": {"S": format!("k{i}")}}}),
        )
        .await?;
        let acked = Instant::now();
        put_rtt.push(acked - sent);
        let (out, delivered) = poller.await?;
        let out = out?;
        anyhow::ensure!(
            out["Changes"].as_array().is_some_and(|c| !c.is_empty()),
            "the poll returned without the change"
        );
        cursor = out["NextCursor"].as_u64().context("no cursor")?;
        lag.push(delivered.saturating_duration_since(acked));
    }
    let _ = stop.send(());
    let _ = task.await;
    let _ = std::fs::remove_dir_all(&dir);

    lag.sort();
    put_rtt.sort();
    println!(
        "feed-latency: {} writes, one parked long poll, HTTP/1.1 loopback, one process\n",
        args.samples
    );
    println!("| | p50 µs | p99 µs | max µs |");
    println!("|---|---:|---:|---:|");
    println!(
        "| PutItem round trip (baseline) | {:.0} | {:.0} | {:.0} |",
        percentile(&put_rtt, 0.5),
        percentile(&put_rtt, 0.99),
        percentile(&put_rtt, 1.0)
    );
    println!(
        "| write acknowledged → change delivered | {:.0} | {:.0} | {:.0} |",
        percentile(&lag, 0.5),
        percentile(&lag, 0.99),
        percentile(&lag, 1.0)
    );
    println!(
        "\nlag p50 / PutItem p50 = {:.2}",
        percentile(&lag, 0.5) / percentile(&put_rtt, 0.5)
    );
    Ok(())
}
