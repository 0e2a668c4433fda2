//! The fuzz loop: runs cases of a [`Target`] until the budget is spent,
//! counts panics anywhere in the process (a connection task's panic does
//! not unwind into the loop, so a panic hook records it), and collects
//! findings with what is needed to replay them.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::rng::Rng;

/// What one case sent, and what was wrong with the answer, if anything.
#[derive(Debug, Default)]
pub struct Case {
    /// The input, printable (bytes are shown escaped).
    pub input: String,
    pub problem: Option<String>,
    /// The input went all the way through (decoded, evaluated, answered
    /// 200): the share of such cases shows how deep the inputs reach.
    pub accepted: bool,
}

impl Case {
    pub fn new(input: impl Into<String>) -> Case {
        Case {
            input: input.into(),
            problem: None,
            accepted: false,
        }
    }

    /// Record a problem (the first one wins).
    pub fn fail(&mut self, problem: impl Into<String>) {
        if self.problem.is_none() {
            self.problem = Some(problem.into());
        }
    }
}

/// A fuzz target: turns a generator into one input, runs it, checks the
/// invariants.
pub trait Target {
    fn name(&self) -> &'static str;
    fn run_case(&mut self, rng: &mut Rng) -> impl Future<Output = Case>;
}

#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// At most this many cases (`u64::MAX`: the time decides).
    pub cases: u64,
    /// The first case number (to replay one case: `first = N, cases = 1`).
    pub first: u64,
}

#[derive(Debug)]
pub struct Finding {
    pub target: &'static str,
    pub seed: u64,
    pub case: u64,
    pub problem: String,
    pub input: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut input = self.input.clone();
        if input.len() > 2000 {
            let mut cut = 2000;
            while !input.is_char_boundary(cut) {
                cut -= 1;
            }
            input.truncate(cut);
            input.push('…');
        }
        write!(
            f,
            "{} seed {} case {}: {}\n  input: {input}\n  replay: ferrodyn-fuzz {} --seed {} --case {}",
            self.target, self.seed, self.case, self.problem, self.target, self.seed, self.case
        )
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub cases: u64,
    pub accepted: u64,
    pub findings: Vec<Finding>,
    pub elapsed: Duration,
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Count every panic in the process and remember the last one's message
/// and place, without printing it (a finding prints it with its input).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = format!("panic at {place}: {msg}");
            }
        }));
    });
}

fn last_panic() -> String {
    LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Run `target` with `seed` until `budget` is spent. Stops early after ten
/// findings (they are usually one bug).
pub async fn run<T: Target>(target: &mut T, seed: u64, budget: Budget) -> Report {
    install_panic_hook();
    let start = Instant::now();
    let mut report = Report::default();
    let mut case = budget.first;
    while report.cases < budget.cases && start.elapsed() < budget.time {
        let panics_before = PANICS.load(Ordering::SeqCst);
        let mut rng = Rng::for_case(seed, case);
        let mut outcome = target.run_case(&mut rng).await;
        report.accepted += u64::from(outcome.accepted);
        if PANICS.load(Ordering::SeqCst) != panics_before {
            outcome.fail(last_panic());
        }
        if let Some(problem) = outcome.problem {
            report.findings.push(Finding {
                target: target.name(),
                seed,
                case,
                problem,
                input: outcome.input,
            });
            if report.findings.len() >= 10 {
                report.cases += 1;
                break;
            }
        }
        report.cases += 1;
        case += 1;
    }
    report.elapsed = start.elapsed();
    report
}

/// Printable bytes: text as it is, anything else escaped.
pub fn show_bytes(data: &[u8]) -> String {
    data.escape_ascii().to_string()
}
