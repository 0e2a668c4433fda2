//! Crash safety of the embedded `ferrodyn` (proxy and store in one
//! process): killed with SIGKILL at random moments under eight concurrent
//! writers (through the proxy's write-through path). After every restart
//! each acknowledged write is present, the change log continues without a
//! gap, and reads the restarted proxy may answer from its cache agree with
//! the store (see `store/tests/support/crash.rs`).
//!
//! The 100-cycle run is ignored by default (a few minutes on a debug
//! build): `cargo test -p ferrodyn-proxy --test crash -- --ignored --nocapture`.

#[path = "../../store/tests/support/crash.rs"]
mod harness;

use std::process::{Command, Stdio};

use harness::{run_cycles, ServerProcess};

fn spawn_embedded(dir: &std::path::Path, addr: std::net::SocketAddr) -> ServerProcess {
    ServerProcess(
        Command::new(env!("CARGO_BIN_EXE_ferrodyn"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--admin-listen")
            .arg("off")
            .arg("--data-dir")
            .arg(dir)
            .env("FERRODYN_LOG", "warn")
            .env_remove("FERRODYN_UPSTREAM")
            .env_remove("FERRODYN_IN_MEMORY")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ferrodyn"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_acknowledged_writes_survive_sigkill() {
    let figures = run_cycles("crash-embedded", 8, true, spawn_embedded).await;
    println!("embedded ferrodyn, {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "100 kill cycles take minutes; run by hand"]
async fn embedded_acknowledged_writes_survive_100_sigkills() {
    let figures = run_cycles("crash-embedded100", 100, true, spawn_embedded).await;
    println!("embedded ferrodyn, {figures:?}");
}
