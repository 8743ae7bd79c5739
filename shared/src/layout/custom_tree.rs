//! The custom tree of `generate-custom-ca-certs.sh`, in every layout: a root
//! and an intermediate above the distribution's CAs. No distribution reads
//! these files; they are what an organisation brings or keeps in a vault.

use super::CaSpec;
use crate::pki::keys::KeyAlgorithm;

/// The root of a custom tree (`root-ca.pem`).
pub const ROOT: CaSpec = CaSpec {
    key: KeyAlgorithm::Rsa(4096),
    validity_days: 7300,
};
/// The intermediate of a custom tree (`intermediate-ca.pem`).
pub const INTERMEDIATE: CaSpec = CaSpec {
    key: KeyAlgorithm::Rsa(4096),
    validity_days: 3700,
};

/// The root certificate alone.
pub const ROOT_PEM: &str = "root-ca.pem";
/// The root key (belongs in a vault).
pub const ROOT_KEY: &str = "root-ca.key";
/// The root as a bundle of one.
pub const ROOT_CRT: &str = "root-ca.crt";
/// The intermediate certificate alone.
pub const INTERMEDIATE_PEM: &str = "intermediate-ca.pem";
/// The intermediate key.
pub const INTERMEDIATE_KEY: &str = "intermediate-ca.key";
/// Intermediate + root.
pub const INTERMEDIATE_CRT: &str = "intermediate-ca.crt";
