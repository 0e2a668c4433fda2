//! `ferrodyn-fuzz`: run Ferrodyn's fuzz targets for a time budget.
//!
//! ```text
//! ferrodyn-fuzz all --seconds 60 --seed 1     # every target, 60 s each
//! ferrodyn-fuzz ops --seed 42 --case 1234     # replay one case
//! ```
//!
//! Without `--seed` a random seed is drawn and printed. Exits 1 if any
//! target found a problem, printing each finding with its replay command.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use ferrodyn_fuzz::targets::{expr::Expr, hit_path::HitPath, http::Http, ops::Ops, wire::Wire};
use ferrodyn_fuzz::{run, Budget, Report, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Wire,
    Expr,
    /// The proxy's GetItem hit path against the store's decode.
    Hitpath,
    Http,
    Ops,
    /// The `ops` target through an embedded `ferrodyn` proxy.
    Proxy,
}

#[derive(Debug, Parser)]
#[command(about = "Run Ferrodyn's fuzz targets for a time budget")]
struct Args {
    /// The target to run (`all`: each in turn, same budget each).
    target: Which,
    /// Seconds per target (FERRODYN_FUZZ_SECONDS).
    #[arg(long, env = "FERRODYN_FUZZ_SECONDS", default_value_t = 30)]
    seconds: u64,
    /// The seed; a random one (printed) when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Run only this case (with the seed that found it).
    #[arg(long)]
    case: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(random_seed);
    let budget = match args.case {
        Some(case) => Budget {
            time: Duration::MAX,
            cases: 1,
            first: case,
        },
        None => Budget {
            time: Duration::from_secs(args.seconds),
            cases: u64::MAX,
            first: 0,
        },
    };
    println!("ferrodyn-fuzz: seed {seed} (replay with --seed {seed})");
    let all = args.target == Which::All;
    let mut findings = 0;
    if all || args.target == Which::Wire {
        findings += report(&mut Wire, seed, budget).await;
    }
    if all || args.target == Which::Expr {
        findings += report(&mut Expr, seed, budget).await;
    }
    if all || args.target == Which::Hitpath {
        findings += report(&mut HitPath, seed, budget).await;
    }
    if all || args.target == Which::Http {
        findings += report(&mut Http::start().await?, seed, budget).await;
    }
    if all || args.target == Which::Ops {
        findings += report(&mut Ops::start().await?, seed, budget).await;
    }
    if all || args.target == Which::Proxy {
        findings += report(&mut Ops::start_proxy().await?, seed, budget).await;
    }
    if findings > 0 {
        println!("ferrodyn-fuzz: {findings} finding(s) with seed {seed}");
        std::process::exit(1);
    }
    Ok(())
}

async fn report<T: Target>(target: &mut T, seed: u64, budget: Budget) -> usize {
    let Report {
        cases,
        accepted,
        findings,
        elapsed,
    } = run(target, seed, budget).await;
    println!(
        "{}: {cases} cases in {:.1} s ({:.0}/s), {accepted} accepted, {} finding(s)",
        target.name(),
        elapsed.as_secs_f64(),
        cases as f64 / elapsed.as_secs_f64().max(1e-9),
        findings.len()
    );
    for f in &findings {
        println!("FINDING {f}");
    }
    findings.len()
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}
