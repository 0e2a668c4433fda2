//! A self-contained SVG (or HTML wrapping it) of the latency percentile
//! spectrum: one line per (target, operation), x = percentile on the usual
//! HdrHistogram log scale (0%, 90%, 99%, 99.9%, ...), y = latency in ms on a
//! log scale, so endpoints microseconds and milliseconds apart share a plot.

use std::fmt::Write as _;

use crate::report::TargetResult;
use crate::stats::ticks_ms;

const W: f64 = 1100.0;
/// Height of the plotting area.
const PH: f64 = 430.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 360.0;
const BOTTOM: f64 = 50.0;
/// Nines shown on the x axis: up to 99.9999%.
const MAX_NINES: f64 = 6.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const DASHES: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];

/// One line: (label, points of (nines, latency ms)).
type Series = (String, Vec<(f64, f64)>);

fn series(results: &[TargetResult]) -> Vec<(usize, usize, Series)> {
    let mut out = Vec::new();
    for (ti, t) in results.iter().enumerate() {
        let total = t.total();
        for (oi, (op, s)) in total.ops.iter().enumerate() {
            if s.latency.is_empty() {
                continue;
            }
            let mut pts = Vec::new();
            let resolution = (s.latency.len() as f64).log10().max(1.0);
            for v in s.latency.iter_quantiles(5) {
                let q = v.quantile_iterated_to();
                // The maximum sits at the resolution the sample count
                // allows, not at the right edge of the plot.
                let nines = if q >= 1.0 {
                    resolution
                } else {
                    -(1.0 - q).log10()
                }
                .min(MAX_NINES);
                let ms = ticks_ms(s.latency.highest_equivalent(v.value_iterated_to()));
                pts.push((nines, ms.max(0.001)));
            }
            out.push((
                ti,
                oi,
                (format!("#{} {} {}", ti + 1, t.url, op.label()), pts),
            ));
        }
    }
    out
}

/// The plot as a standalone SVG document.
pub fn svg(title: &str, results: &[TargetResult]) -> String {
    let all = series(results);
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, _, (_, pts)) in &all {
        for (_, ms) in pts {
            lo = lo.min(*ms);
            hi = hi.max(*ms);
        }
    }
    if lo > hi {
        (lo, hi) = (0.001, 1.0);
    }
    let (ylo, yhi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let pw = W - LEFT - RIGHT;
    let lines = title_lines(title);
    let top = 24.0 + 16.0 * lines.len() as f64;
    let ph = PH;
    let h = top + PH + BOTTOM;
    let x = |nines: f64| LEFT + pw * nines / MAX_NINES;
    let y = |ms: f64| top + ph * (1.0 - (ms.log10() - ylo) / (yhi - ylo));
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    for (i, line) in lines.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{:.1}" font-size="13">{}</text>"#,
            20.0 + 16.0 * i as f64,
            escape(line)
        );
    }
    for n in 0..=MAX_NINES as usize {
        let label = match n {
            0 => "0%".to_owned(),
            _ => format!("{}%", 100.0 - 100.0 / 10f64.powi(n as i32)),
        };
        let xv = x(n as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{xv:.1}" y1="{top:.1}" x2="{xv:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xv:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    let mut d = ylo;
    while d <= yhi + 1e-9 {
        let ms = 10f64.powf(d);
        let yv = y(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yv:.1}" x2="{:.1}" y2="{yv:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yv + 4.0,
            format_ms(ms)
        );
        d += 1.0;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">latency (ms)</text>"#,
        LEFT + pw / 2.0,
        h - 10.0,
        top + ph / 2.0,
        top + ph / 2.0
    );
    for (i, (ti, oi, (label, pts))) in all.iter().enumerate() {
        let points: Vec<String> = pts
            .iter()
            .map(|(n, ms)| format!("{:.1},{:.1}", x(*n), y(*ms)))
            .collect();
        let color = COLORS[ti % COLORS.len()];
        let dash = DASHES[oi % DASHES.len()];
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.8" stroke-dasharray="{dash}" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 10.0 + 18.0 * i as f64;
        let lx = LEFT + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The title broken at "; " into lines that fit the width.
fn title_lines(title: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for part in title.split("; ") {
        match lines.last_mut() {
            Some(last) if last.len() + part.len() + 2 <= 120 => {
                last.push_str("; ");
                last.push_str(part);
            }
            _ => lines.push(part.to_owned()),
        }
    }
    lines
}

/// The plot wrapped in a minimal HTML page.
pub fn html(title: &str, results: &[TargetResult]) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n{}</body></html>\n",
        escape(title),
        svg(title, results)
    )
}

fn format_ms(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
