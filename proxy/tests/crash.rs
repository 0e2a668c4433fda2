//! Crash safety with the proxy, under eight concurrent writers going
//! through it (see `store/tests/support/crash.rs`):
//!
//! * the embedded `ferrodyn` (proxy and store in one process) killed with
//!   SIGKILL at random moments: after every restart each acknowledged write
//!   is present, the change log continues without a gap, and reads the
//!   restarted proxy may answer from its cache agree with the store;
//! * a `ferrodyn-store` killed again and again behind a sidecar `ferrodyn`
//!   that stays up: the same checks, and the proxy's cached reads after
//!   each store restart agree with the store (a write in flight at the
//!   kill, committed or not, leaves no stale entry).
//!
//! The 100-cycle runs are ignored by default (minutes on a debug build):
//! `cargo test -p ferrodyn-proxy --test crash -- --ignored --nocapture`.

#[path = "../../store/tests/support/crash.rs"]
mod harness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use harness::{free_addr, run_cycles, Options, ServerProcess};

const CACHED: Options = Options {
    cached: true,
    proxy_outlives_store: false,
};

fn spawn_embedded(dir: &Path) -> (ServerProcess, SocketAddr) {
    let addr = free_addr();
    let process = ServerProcess(
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
    );
    (process, addr)
}

/// The `ferrodyn-store` binary: built beside `ferrodyn` in the same target
/// directory (the workspace's tests build every binary).
fn store_binary() -> PathBuf {
    let proxy = PathBuf::from(env!("CARGO_BIN_EXE_ferrodyn"));
    proxy.with_file_name(format!("ferrodyn-store{}", std::env::consts::EXE_SUFFIX))
}

/// A store on a fixed address (restarted there after each kill) behind a
/// `ferrodyn` proxy started once, which outlives every store process.
struct Sidecar {
    store_addr: SocketAddr,
    proxy_addr: SocketAddr,
    proxy: Option<ServerProcess>,
}

impl Sidecar {
    fn new() -> Sidecar {
        Sidecar {
            store_addr: free_addr(),
            proxy_addr: free_addr(),
            proxy: None,
        }
    }

    fn spawn(&mut self, dir: &Path) -> (ServerProcess, SocketAddr) {
        let store = ServerProcess(
            Command::new(store_binary())
                .arg("--listen")
                .arg(self.store_addr.to_string())
                .arg("--data-dir")
                .arg(dir)
                .env("FERRODYN_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn ferrodyn-store (build it: cargo build --bin ferrodyn-store)"),
        );
        if self.proxy.is_none() {
            self.proxy = Some(ServerProcess(
                Command::new(env!("CARGO_BIN_EXE_ferrodyn"))
                    .arg("--listen")
                    .arg(self.proxy_addr.to_string())
                    .arg("--admin-listen")
                    .arg("off")
                    .arg("--upstream")
                    .arg(format!("http://{}", self.store_addr))
                    .env("FERRODYN_LOG", "warn")
                    .env("AWS_ACCESS_KEY_ID", "crash")
                    .env("AWS_SECRET_ACCESS_KEY", "crash")
                    .env_remove("FERRODYN_IN_MEMORY")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn ferrodyn"),
            ));
        }
        (store, self.proxy_addr)
    }
}

const SIDECAR: Options = Options {
    cached: true,
    proxy_outlives_store: true,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_acknowledged_writes_survive_sigkill() {
    let figures = run_cycles("crash-embedded", 8, CACHED, spawn_embedded).await;
    println!("embedded ferrodyn, {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "100 kill cycles take minutes; run by hand"]
async fn embedded_acknowledged_writes_survive_100_sigkills() {
    let figures = run_cycles("crash-embedded100", 100, CACHED, spawn_embedded).await;
    println!("embedded ferrodyn, {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sidecar_proxy_stays_coherent_across_store_sigkills() {
    let mut sidecar = Sidecar::new();
    let figures = run_cycles("crash-sidecar", 8, SIDECAR, |dir| sidecar.spawn(dir)).await;
    println!("store behind a sidecar ferrodyn, {figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "100 kill cycles take minutes; run by hand"]
async fn sidecar_proxy_stays_coherent_across_100_store_sigkills() {
    let mut sidecar = Sidecar::new();
    let figures = run_cycles("crash-sidecar100", 100, SIDECAR, |dir| sidecar.spawn(dir)).await;
    println!("store behind a sidecar ferrodyn, {figures:?}");
}
