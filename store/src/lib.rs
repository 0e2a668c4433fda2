//! Ferrodyn store: a persistent DynamoDB-API server.
//!
//! # Layout
//!
//! * [`auth`] — SigV4 request signing, for clients of DynamoDB-API endpoints
//!   (the proxy and the bench).
//! * [`backend`] — the store's boundary as a service: [`backend::Backend`],
//!   its request (with the typed input, decoded once) and its response.
//! * [`backup`] — the backup directory: backup records and snapshot files;
//!   the operator's `backup` and `restore` commands ([`backup::cli`]).

//! * [`capacity`] — throughput enforcement: token buckets and the one
//!   throttling decision.
//! * [`calendar`] — UTC dates of Unix times and back, for wire timestamps.
//! * [`clock`] — wall-clock time behind a trait, so tests drive it.
//! * [`model`] — values (`AttributeValue`, exact `Number`), keys and their
//!   order-preserving encoding, table metadata, the on-disk item codec.
//! * [`api`] — the wire model: typed requests, `Operation`, `ErrorCode`, the
//!   one mapping of failures to wire errors.
//! * [`expr`] — DynamoDB's expression language: parse, resolve, evaluate.
//! * [`engine`] — LMDB storage with a single group-committing writer.
//! * [`faults`] — fault injection: injected errors, latency, a paused feed.

//! * [`partiql`] — DynamoDB's PartiQL dialect: parse, then plan as a JSON
//!   operation.
//! * [`ops`] — the operations, one module per family; [`ops::Store`] is the
//!   store as a callable service.
//! * [`server`] — the HTTP/1.1 front end.
//! * [`transfer`] — export to and import from S3-compatible storage or
//!   folders, in DynamoDB's layout.

//! * [`telemetry`] — per-table metrics and contributor insights.
//! * [`topk`] — a bounded streaming top-K (Space-Saving), for hot keys.
//! * [`admin`] — the admin endpoint: `/metrics`, `/healthz`, `/readyz`, `/insights`.
//! * [`data_dir`] — `--data-dir`, or `--in-memory`'s private tmpfs directory.
//! * [`logging`] — the log subscriber and `--log-format` both binaries use.
//! * [`ready`] — announces where a started server listens, once it answers.
//! * [`shutdown`] — the stop signal (SIGINT, SIGTERM) both binaries wait for.
//! * [`alloc`] — the global allocator of every binary (mimalloc).
//! * [`testing`] — a fresh in-memory store on an ephemeral port, for tests.

pub mod admin;
pub mod alloc;
pub mod api;
pub mod auth;
pub mod backend;
pub mod backup;

pub mod calendar;
pub mod capacity;
pub mod clock;
pub mod data_dir;
pub mod engine;
pub mod expr;
pub mod faults;
pub mod logging;
pub mod model;
pub mod ops;
pub mod partiql;
pub mod ready;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod testing;
pub mod topk;
pub mod transfer;

pub use ops::{Store, StoreConfig};
