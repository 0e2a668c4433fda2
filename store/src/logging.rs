//! Diagnostics output of the `ferrodyn` and `ferrodyn-store` processes.
//!
//! Owns the process-wide `tracing` subscriber both binaries install: where
//! log lines go (stderr, so stdout stays free for what a program reads), in
//! which format ([`LogFormat`]: plain text for people, one JSON object per
//! line for log collectors), and which levels are shown (`FERRODYN_LOG`, an
//! `EnvFilter` directive, `info` by default). It does not decide what is
//! logged; the code that knows an event logs it.
//!
//! Text goes without ANSI colour codes unless stderr is a terminal (and
//! `NO_COLOR` is unset), so log files and CI output stay readable.

use std::io::IsTerminal;

/// The environment variable holding the level filter (e.g. `debug`,
/// `ferrodyn_store::server=debug`).
pub const FILTER_ENV: &str = "FERRODYN_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`
    /// and the event's own fields at the top level.
    Json,
}

/// The logging flags both binaries accept.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log line format on stderr: text (for people) or json (one object per
    /// line, for log collectors). Levels: FERRODYN_LOG (e.g. debug).
    #[arg(
        long,
        env = "FERRODYN_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the log subscriber")]
pub struct InitError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// Install the process's log subscriber. Call once, early in `main`.
pub fn init(format: LogFormat) -> Result<(), InitError> {
    // An unreadable filter falls back to `info` rather than silencing the
    // process; the problem is reported once the subscriber is up.
    let (filter, bad_filter) = match std::env::var(FILTER_ENV) {
        Ok(directives) => match tracing_subscriber::EnvFilter::try_new(&directives) {
            Ok(f) => (f, None),
            Err(e) => (tracing_subscriber::EnvFilter::new("info"), Some(e)),
        },
        Err(_) => (tracing_subscriber::EnvFilter::new("info"), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour_wanted()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    }
    .map_err(InitError)?;
    if let Some(e) = bad_filter {
        tracing::warn!(error = %e, "ignoring {FILTER_ENV}: logging at info");
    }
    Ok(())
}

/// Colour only for a person watching a terminal who has not opted out
/// (<https://no-color.org>).
fn colour_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
