//! Checks turn files into findings: the pre-flight every run shares, a staging
//! dir as `rotate-ca` judges it, a custom tree, what expires, the join tokens.

pub mod expiry;
pub mod finding;
pub mod preflight;
pub mod staged;
pub mod tree;
