//! The integration tests of `gen-custom-ca`, one test binary: cargo runs test binaries
//! one after another, while the tests of one binary run in parallel. Each module
//! is one suite; what the suites share lives in `testkit`, and in `util` what
//! only this binary's suites share.

mod ceremony;
mod enterprise;
mod etcd;
mod faults;
mod gen_custom_ca;
mod kubeadm_k0s;
mod pkcs11;
mod util;
