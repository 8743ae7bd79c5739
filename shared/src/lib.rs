//! The k3s / RKE2 certificate-authority topology, and everything the PKI tools share.
//!
//! Bottom up:
//! - data and formats: [`topology`] (which CAs exist, their files, CNs and
//!   profiles), [`input`] (bounded reads of regular files), [`pem_file`],
//!   [`keys`], [`cert`], [`service_key`], [`token`];
//! - operations: [`issue`] (CA certificates), [`verify`] (signatures and
//!   Go-style chain building, to predict what k3s computes);
//! - runs: [`custom_ca`], [`rotation`], [`pki_rotation`], [`sa_rotation`] and
//!   [`sign_csr`] check their inputs and build a [`plan::Plan`] of every output
//!   file; [`staging`] guards staging dirs; [`csr`] reads and checks signing
//!   requests, [`kubeconfig`] fills kubeadm's partial kubeconfigs;
//! - checks: [`checks`] (rotate-ca staging dirs, custom trees), [`expiry`];
//! - output: [`plan`] writes a plan all or nothing ([`commit`]), under a
//!   [`lock`] of its target directory; [`error`] is the one error type;
//!   [`cli`] is every tool's `main`: `--version`, argument parsing, the exit code.
pub mod cert;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod commit;
pub mod constraints;
pub mod csr;
pub mod custom_ca;
pub mod error;
pub mod expiry;
pub mod input;
pub mod issue;
pub mod keys;
pub mod kubeconfig;
pub mod layout;
pub mod lock;
pub mod pem_file;
pub mod pki_rotation;
pub mod plan;
pub mod preflight;
pub mod rotation;
pub mod sa_rotation;
pub mod service_key;
pub mod sign_csr;
pub mod staging;
pub mod token;
pub mod topology;
pub mod tree_check;
pub mod verify;
