//! Ferrodyn's integration-test fixtures: the servers under test started
//! in-process on `127.0.0.1:0`, real `aws-sdk-dynamodb` clients pointed at
//! them, and the small helpers every test file would otherwise write again.
//! Each file under `tests/tests/` is its own crate and uses this one; it
//! holds no test of its own and mocks none of our components.
//!
//! # Layout
//!
//! * `server` — [`TestStore`], [`TestProxy`], [`TempDir`], SDK clients.
//! * `buckets` — folders or moto's S3 server, for exports and imports.
//! * `transfers` — a store with such buckets, waiting for export and
//!   import jobs, a whole table read back.

//! * `admin` — [`StoreAdmin`]: a store's admin endpoint, and metric reading.
//! * `foreign_engine` — [`ForeignEngine`]: a DynamoDB-API engine that
//!   requires signatures and opens and closes stream shards as other
//!   engines do, around a real store.
//! * `relay` — [`DelayRelay`] and [`FeedRelay`]: TCP relays that hold back
//!   responses or requests so that races run in a fixed order.
//! * `wire` — raw HTTP/1.1 requests and response parsing.
//! * `values` — `AttributeValue` and item constructors (`s`, `n`, `item`, …).
//! * `tables` — CreateTable in one call ([`create_table`], [`TableSpec`]),
//!   indexes added by UpdateTable.
//! * `items` — one-call puts and gets for tests about something else.
//! * `backups` — waiting on backups and restores; whole-table scans to compare.
//! * `errors` — assertions on DynamoDB error types and messages.
//! * `throttling` — a store on a manual clock with a capacity configuration,
//!   a client that does not retry throttling, provisioned tables.
//! * `wait` — polling with a deadline, for lag observable only from outside.
//! * `tls` — a test CA and server certificate, SDK clients trusting it.

pub mod backups;
pub mod buckets;

pub mod admin;
pub mod errors;
pub mod foreign_engine;
pub mod items;
pub mod relay;
pub mod server;
pub mod tables;
pub mod throttling;
pub mod tls;
pub mod transfers;
pub mod values;
pub mod wait;
pub mod wire;

pub use admin::StoreAdmin;
pub use errors::{assert_error, assert_validation};
pub use foreign_engine::{EngineOptions, ForeignEngine};
pub use relay::{DelayRelay, FeedRelay};
pub use server::{client_for, streams_client_for, TempDir, TestProxy, TestStore};
pub use tables::{create_table, create_table_with_stream, IndexSpec, TableSpec};
pub use tls::TestCa;
pub use values::{b, bs, item, l, m, n, ns, s, ss, Item};
pub use wire::{parse_response, raw_error, raw_post};
