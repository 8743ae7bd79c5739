//! The integration tests of `testkit`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite: the enterprise builders against Go, docs/ against the tools'
//! help, the README's tasks, and the release.

mod enterprise;
mod help_pages;
mod readme;
mod release;
