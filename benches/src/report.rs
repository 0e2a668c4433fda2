//! Reports: the text table on stdout, JSON, CSV, and compare-mode ratios.
//!
//! Latencies are milliseconds. Throughput counts successes only; failures
//! are listed by kind under each target.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value};

use hdrhistogram::Histogram;

use crate::stats::{per_second, summary_ms, OpStats, Recorder, PERCENTILES};
use crate::workload::Op;

/// Everything measured against one target.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub url: String,
    /// Each round's results, in order.
    pub rounds: Vec<Recorder>,
}

impl TargetResult {
    pub fn total(&self) -> Recorder {
        let mut t = Recorder::default();
        for r in &self.rounds {
            t.merge(r);
        }
        t
    }
}

/// One target against the first, for one operation (or all of them),
/// round by round.
#[derive(Debug, Clone)]
pub struct Ratios {
    pub target: String,
    pub baseline: String,
    /// An operation's label, or `all`.
    pub operation: String,
    /// (throughput, p50, p99) ratio per round.
    pub per_round: Vec<[f64; 3]>,
}

impl Ratios {
    pub fn medians(&self) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (i, m) in out.iter_mut().enumerate() {
            *m = median(self.per_round.iter().map(|r| r[i]).collect());
        }
        out
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Per-round ratios of every target against the first: over all
/// operations, and per operation when there are several (a mixed workload's
/// overall p50 can flip between its operations' modes).
pub fn ratios(results: &[TargetResult]) -> Vec<Ratios> {
    let Some(base) = results.first() else {
        return Vec::new();
    };
    let ops: Vec<Op> = base.total().ops.keys().copied().collect();
    let mut out = Vec::new();
    for t in &results[1..] {
        let pair = |operation: String, per_round: Vec<[f64; 3]>| Ratios {
            target: t.url.clone(),
            baseline: base.url.clone(),
            operation,
            per_round,
        };
        let rounds = || t.rounds.iter().zip(&base.rounds);
        let all = rounds()
            .map(|(r, b)| {
                compare(
                    r.throughput(),
                    &r.all_latency(),
                    b.throughput(),
                    &b.all_latency(),
                )
            })
            .collect();
        out.push(pair("all".into(), all));
        if ops.len() > 1 {
            for op in &ops {
                let per_round = rounds()
                    .map(|(r, b)| match (r.ops.get(op), b.ops.get(op)) {
                        (Some(x), Some(y)) => compare(
                            per_second(x.successes(), r.elapsed),
                            &x.latency,
                            per_second(y.successes(), b.elapsed),
                            &y.latency,
                        ),
                        _ => [f64::NAN; 3],
                    })
                    .collect();
                out.push(pair(op.label().into(), per_round));
            }
        }
    }
    out
}

fn compare(tput: f64, lat: &Histogram<u64>, base_tput: f64, base_lat: &Histogram<u64>) -> [f64; 3] {
    let (a, b) = (summary_ms(lat), summary_ms(base_lat));
    [ratio(tput, base_tput), ratio(a[0], b[0]), ratio(a[2], b[2])]
}

const HEADER: &str = "operation";

/// The human-readable report.
pub fn text(description: &str, results: &[TargetResult], corrected: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{description}");
    for t in results {
        let total = t.total();
        let _ = writeln!(
            out,
            "\ntarget {}: {:.0} ok/s, {} ok, {} errors in {:.1} s",
            t.url,
            total.throughput(),
            total.successes(),
            total.errors(),
            total.elapsed.as_secs_f64()
        );
        let mut head = format!("  {HEADER:<18} {:>9} {:>7} {:>10}", "ok", "errors", "ok/s");
        for (label, _) in PERCENTILES {
            let _ = write!(head, " {label:>9}");
        }
        let _ = writeln!(out, "{head} {:>9}   (latency in ms)", "max");
        for (op, s) in &total.ops {
            let _ = writeln!(out, "{}", row(op.label(), s, total.elapsed));
        }
        if corrected {
            let _ = writeln!(
                out,
                "  service time (from actual send, not corrected for coordinated omission):"
            );
            for (op, s) in &total.ops {
                let svc = OpStats {
                    latency: s.service.clone(),
                    ..OpStats::default()
                };
                let _ = writeln!(out, "{}", row(op.label(), &svc, total.elapsed));
            }
        }
        for (op, s) in &total.ops {
            for (kind, n) in &s.errors {
                let _ = writeln!(out, "  error {op}: {kind} x{n}");
            }
        }
    }
    for r in ratios(results) {
        let _ = writeln!(
            out,
            "\n{} vs {}, {} (ratio per round: throughput, p50, p99):",
            r.target, r.baseline, r.operation
        );
        for (i, x) in r.per_round.iter().enumerate() {
            let _ = writeln!(
                out,
                "  round {:>2}: {:>7.3} {:>7.3} {:>7.3}",
                i + 1,
                x[0],
                x[1],
                x[2]
            );
        }
        let m = r.medians();
        let _ = writeln!(out, "  median  : {:>7.3} {:>7.3} {:>7.3}", m[0], m[1], m[2]);
    }
    out
}

fn row(label: &str, s: &OpStats, elapsed: Duration) -> String {
    let mut line = format!(
        "  {label:<18} {:>9} {:>7} {:>10.0}",
        s.successes(),
        s.error_count(),
        crate::stats::per_second(s.successes(), elapsed)
    );
    for v in summary_ms(&s.latency) {
        let _ = write!(line, " {v:>9.3}");
    }
    line
}

fn percentiles_json(h: &Histogram<u64>) -> Value {
    let v = summary_ms(h);
    let mut m = Map::new();
    for (i, (label, _)) in PERCENTILES.iter().enumerate() {
        m.insert((*label).to_owned(), json!(v[i]));
    }
    m.insert("max".into(), json!(v[5]));
    Value::Object(m)
}

/// The machine-readable report.
pub fn json(description: &str, results: &[TargetResult]) -> Value {
    let targets: Vec<Value> = results
        .iter()
        .map(|t| {
            let total = t.total();
            let ops: Map<String, Value> = total
                .ops
                .iter()
                .map(|(op, s)| {
                    (
                        op.label().to_owned(),
                        json!({
                            "ok": s.successes(),
                            "errors": s.errors,
                            "ok_per_second": crate::stats::per_second(s.successes(), total.elapsed),
                            "latency_ms": percentiles_json(&s.latency),
                            "service_time_ms": percentiles_json(&s.service),
                        }),
                    )
                })
                .collect();
            let rounds: Vec<Value> = t
                .rounds
                .iter()
                .map(|r| {
                    json!({
                        "elapsed_s": r.elapsed.as_secs_f64(),
                        "ok_per_second": r.throughput(),
                        "errors": r.errors(),
                        "latency_ms": percentiles_json(&r.all_latency()),
                    })
                })
                .collect();
            json!({
                "url": t.url,
                "elapsed_s": total.elapsed.as_secs_f64(),
                "ok": total.successes(),
                "errors": total.errors(),
                "ok_per_second": total.throughput(),
                "latency_ms": percentiles_json(&total.all_latency()),
                "operations": ops,
                "rounds": rounds,
            })
        })
        .collect();
    let ratios: Vec<Value> = ratios(results)
        .iter()
        .map(|r| {
            let m = r.medians();
            json!({
                "target": r.target,
                "baseline": r.baseline,
                "operation": r.operation,
                "per_round": r.per_round.iter().map(|x| json!({"throughput": x[0], "p50": x[1], "p99": x[2]})).collect::<Vec<_>>(),
                "median": {"throughput": m[0], "p50": m[1], "p99": m[2]},
            })
        })
        .collect();
    json!({"description": description, "targets": targets, "ratios": ratios})
}

/// One CSV row per (target, operation).
pub fn csv(results: &[TargetResult]) -> String {
    let mut out = String::from("target,operation,ok,errors,ok_per_second");
    for (label, _) in PERCENTILES {
        let _ = write!(out, ",{label}_ms");
    }
    out.push_str(",max_ms\n");
    for t in results {
        let total = t.total();
        for (op, s) in &total.ops {
            let _ = write!(
                out,
                "{},{},{},{},{:.1}",
                t.url,
                op.label(),
                s.successes(),
                s.error_count(),
                crate::stats::per_second(s.successes(), total.elapsed)
            );
            for v in summary_ms(&s.latency) {
                let _ = write!(out, ",{v:.3}");
            }
            out.push('\n');
        }
    }
    out
}
