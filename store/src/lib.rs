//! Ferrodyn store: a persistent DynamoDB-API server.
//!
//! # Layout
//!
//! * [`auth`] — SigV4 request signing, for clients of DynamoDB-API endpoints
//!   (the proxy and the bench).
//! * [`backup`] — the backup directory: backup records and snapshot files.
//! * [`clock`] — wall-clock time behind a trait, so tests drive it.
//! * [`model`] — values (`AttributeValue`, exact `Number`), keys and their
//!   order-preserving encoding, table metadata, the on-disk item codec.
//! * [`api`] — the wire model: typed requests, `Operation`, `ErrorCode`, the
//!   one mapping of failures to wire errors.
//! * [`expr`] — DynamoDB's expression language: parse, resolve, evaluate.
//! * [`engine`] — LMDB storage with a single group-committing writer.
//! * [`ops`] — the operations, one module per family; [`ops::Store`] is the
//!   store as a callable service.
//! * [`server`] — the HTTP/1.1 front end.
//! * [`data_dir`] — `--data-dir`, or `--in-memory`'s private tmpfs directory.
//! * [`logging`] — the log subscriber and `--log-format` both binaries use.
//! * [`ready`] — announces where a started server listens, once it answers.
//! * [`shutdown`] — the stop signal (SIGINT, SIGTERM) both binaries wait for.
//! * [`testing`] — a fresh in-memory store on an ephemeral port, for tests.

pub mod api;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod data_dir;
pub mod engine;
pub mod expr;
pub mod logging;
pub mod model;
pub mod ops;
pub mod ready;
pub mod server;
pub mod shutdown;
pub mod testing;

pub use ops::{Store, StoreConfig};
