//! The integration tests of `ca-check`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite; what the suites share lives in `testkit`.

mod ca_check;
mod ca_renewal;
mod expiry_layouts;
mod expiry_metrics;
mod expiry_services;
mod record;
mod serving;
mod tokens;
mod tree_layouts;
mod tree_preflight;
