//! Crash safety: a `ferrodyn-store` child process under eight concurrent
//! writers is killed with SIGKILL at random moments; after every restart
//! each acknowledged write is present with its exact value, a write in
//! flight at the kill is wholly there or wholly absent, and the change log
//! continues without a gap (see `support/crash.rs`).
//!
//! The 100-cycle run is ignored by default (a few minutes on a debug
//! build): `cargo test -p ferrodyn-store --test crash -- --ignored --nocapture`.

#[path = "support/crash.rs"]
mod harness;

use std::process::{Command, Stdio};

use harness::{free_addr, run_cycles, Options, ServerProcess};

const STORE_ONLY: Options = Options {
    cached: false,
    proxy_outlives_store: false,
};

fn spawn_store(dir: &std::path::Path) -> (ServerProcess, std::net::SocketAddr) {
    let addr = free_addr();
    let process = ServerProcess(
        Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(dir)
            .env("FERRODYN_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ferrodyn-store"),
    );
    (process, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let figures = run_cycles("crash", 20, STORE_ONLY, spawn_store).await;
    println!("ferrodyn-store, {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "100 kill cycles take minutes; run by hand"]
async fn acknowledged_writes_survive_100_sigkills() {
    let figures = run_cycles("crash100", 100, STORE_ONLY, spawn_store).await;
    println!("ferrodyn-store, {figures:?}");
}
