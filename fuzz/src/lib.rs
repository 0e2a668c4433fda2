//! Ferrodyn's fuzz targets.
//!
//! The stable toolchain has no coverage-guided engine built in (libFuzzer
//! needs nightly's sanitizer flags), so these targets are driven by seeded
//! generators and mutators: structure-aware inputs (valid-ish DynamoDB
//! requests, expressions, HTTP requests) with random damage applied, run
//! for a time or case budget. Every case derives from (seed, case number),
//! so a finding is replayed with `--seed S --case N`.
//!
//! # Layout
//!
//! * [`rng`] — the seeded generator.
//! * [`gen`] — values, items, keys and expressions for the fuzz tables.
//! * [`requests`] — a request body for each operation.
//! * [`mutate`] — byte, expression-text and JSON-tree mutations.
//! * [`runner`] — the loop: budget, panic capture, findings.
//! * [`targets`] — the targets: `wire`, `expr`, `hitpath`, `http`, `ops` and
//!   `proxy` (the `ops` target through an embedded proxy).

pub mod gen;
pub mod mutate;
pub mod requests;
pub mod rng;
pub mod runner;
pub mod targets;

pub use runner::{run, Budget, Case, Finding, Report, Target};
