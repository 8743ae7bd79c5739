//! PKI primitives: bounded input, PEM, keys of every algorithm, certificates,
//! signing requests, issuance and Go-style verification. Nothing here knows a
//! distribution; every layer above builds on it.

pub mod cert;
pub mod clock;
pub mod constraints;
pub mod csr;
pub mod error;
pub mod exports;
pub mod input;
pub mod interrupt;
pub mod issue;
pub mod keys;
pub mod names;
pub mod oids;
pub mod pem;
pub mod policy;
pub mod renew;
pub mod text;
pub mod verify;
