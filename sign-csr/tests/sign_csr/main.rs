//! The integration tests of `sign-csr`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite; what the suites share lives in `testkit`.

mod dates;
mod faults;
mod pkcs11;
mod sign_csr;
