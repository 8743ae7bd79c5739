//! The integration tests of `sa-key-rotate`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite; what the suites share lives in `testkit`.

mod faults;
mod kubeadm_k0s;
mod sa_key_rotate;
