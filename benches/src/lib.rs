//! Ferrodyn's benchmarks: the `ferrodyn-bench` load generator for any
//! DynamoDB-API endpoint, and the pieces `store-throughput` reuses.
//!
//! # Layout
//!
//! * [`rng`] — a small seedable PRNG.
//! * [`keys`] — key distributions: uniform, zipfian, latest, hotspot.
//! * [`workload`] — operation mixes (YCSB A–F, custom) and raw DynamoDB JSON
//!   request bodies.
//! * [`client`] — the pooled hyper client and failure classification by
//!   `__type`.
//! * [`stats`] — per-operation HdrHistograms and error counts.
//! * [`driver`] — table setup, load phase, closed- and open-loop phases.
//! * [`report`] — text, JSON and CSV reports; compare-mode ratios.
//! * [`plot`] — the latency percentile spectrum as SVG/HTML.
//! * [`cli`] — `ferrodyn-bench`'s flags and the run they describe.
//! * [`fixed`] — a fixed-response HTTP server: the HTTP floor.
//! * [`probe`] — resident memory and a proxy's `/metrics` samples.
//! * [`json_floor`] — GetItem from a `HashMap` over serde_json: the
//!   DynamoDB-JSON floor.

/// Every benchmark binary allocates through mimalloc, as `ferrodyn` and
/// `ferrodyn-store` do: the store and proxy they host in-process then cost
/// what they cost in the shipped binaries, and the floors get the same
/// allocator.
#[global_allocator]
static ALLOCATOR: ferrodyn_store::alloc::Allocator = ferrodyn_store::alloc::Allocator;

pub mod cli;
pub mod client;
pub mod driver;
pub mod fixed;
pub mod json_floor;
pub mod keys;
pub mod plot;
pub mod probe;
pub mod report;
pub mod rng;
pub mod stats;
pub mod workload;
