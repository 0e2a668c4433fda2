//! What a benchmark reads about the process it runs in and the proxies it
//! starts: resident memory from `/proc/self/status`, a sample from a
//! proxy's `/metrics`.

use anyhow::Context;

use crate::client::Client;

/// A field of `/proc/self/status` given in kB (`VmRSS`, `RssAnon`, ...), in
/// bytes. Linux only.
pub fn status_bytes(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    Ok(kb * 1024)
}

/// This process's resident set size in bytes.
pub fn rss_bytes() -> anyhow::Result<u64> {
    status_bytes("VmRSS")
}

/// The value of the unlabelled sample `name` in the `/metrics` text served
/// at `metrics_url` (`http://host:port/metrics`); 0 when it is absent.
pub async fn metric(metrics_url: &str, name: &str) -> anyhow::Result<f64> {
    let client = Client::new(metrics_url, 1)?;
    // The admin endpoint answers any method; the client only POSTs.
    let text = client
        .call("metrics", Vec::new())
        .await
        .map_err(|f| anyhow::anyhow!("{metrics_url}: {} {}", f.kind, f.message))?;
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0))
}
