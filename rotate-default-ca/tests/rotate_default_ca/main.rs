//! The integration tests of `rotate-default-ca`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite; what the suites share lives in `testkit`.

mod etcd;
mod faults;
mod kubeadm_k0s;
mod renewal;
mod rotate_default_ca;
