//! herald's integration tests: one binary (Cargo.toml has `autotests = false`), one module per
//! topic, each running the real `herald` on a site in a temp dir through `support::Site`.
//!
//! Run one topic with `cargo test --test integration feeds` (or `cli`, ...). Fixture sites live
//! in `tests/fixtures/`; broken inputs, one per error message, in `tests/fixtures/invalid/`.

// Shared by every topic module.
mod support;

// Topic modules: add new ones here (newsletter, serve, ...), one file per topic in tests/.
mod bounces;
mod cli;
mod digests;
mod dkim;
mod doctor;
mod faults;
mod feeds;
mod generators;
mod hostile;
mod newsletter;
mod pipes;
mod properties;
mod repository;
mod serve;
mod snapshots;
