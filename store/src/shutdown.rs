//! The signal that stops a server process: SIGINT (Ctrl-C) or SIGTERM (what
//! `kill`, systemd and container runtimes send).
//!
//! Both binaries call [`signal`] first thing in `main` and pass the future
//! as the `shutdown` of their `run`. A stop request then drains in-flight
//! requests and lets `main` return normally: destructors run, which is what
//! removes an `--in-memory` data directory. The handlers are installed when
//! [`signal`] is called, not when its future is first polled, so a signal
//! that arrives while the process is still starting (after its ready line,
//! say) is not lost to the default action of dying on the spot. SIGKILL
//! cannot be caught: nothing here helps against `kill -9`.

use std::future::Future;

/// Install the stop handlers; the future completes when the process is
/// asked to stop. Call from within the Tokio runtime.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // A handler that cannot be installed leaves that signal its default
        // action (exit at once); the other one still stops gracefully.
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {},
                () = wait(interrupt) => {},
            }
            tracing::info!("stop requested: finishing in-flight requests");
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::info!("stop requested: finishing in-flight requests");
        }
    }
}
