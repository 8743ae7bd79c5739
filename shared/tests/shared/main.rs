//! The integration tests of the `shared` library, one test binary: each module
//! is one suite, using the library from outside as the tools do.

mod chains;
mod csr;
mod kubeconfig;
mod mutation;
mod signing_key;
