//! The integration tests of `kubeconfig-user`, one test binary; what the
//! suites share lives in `testkit`.

mod kubeconfig_user;
