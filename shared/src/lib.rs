//! Everything the PKI tools share, in layers; each imports only from the
//! layers before it in this list (a test, in `layers.rs`, keeps it so):
//!
//! 1. [`pki`]: error, input, PEM, keys, certificates, CSRs, issuance,
//!    verification; never names a distribution.
//! 2. [`layout`]: the distributions as data (k3s, RKE2, kubeadm, k0s): the
//!    only code that knows them.
//! 3. [`store`]: plans, the all-or-nothing commit, its journal, locks.
//! 4. [`checks`]: findings about files: pre-flight, staging dirs, trees,
//!    expiry, tokens.
//! 5. [`runs`]: options in, a plan and what to report out.
//! 6. [`report`]: those results rendered as text and JSON.
//! 7. [`cli`]: what every tool's `main` shares.

pub mod pki;

pub mod layout;

pub mod store;

pub mod checks;

pub mod runs;

pub mod report;

pub mod cli;

#[cfg(test)]
mod layers;
