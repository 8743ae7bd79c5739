//! The algorithm table: every key type the tools read, the ones they generate,
//! and the signature algorithm each signs with.
//!
//! One table in the spirit of rcgen's `sign_algo.rs`: adding a key type adds a
//! row here and one arm per operation in [`super::PrivateKey`], nothing else.

use std::fmt;
use std::str::FromStr;

use der::asn1::ObjectIdentifier;

use crate::pki::error::Error;

/// A key type and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA with the given modulus size in bits.
    Rsa(usize),
    /// ECDSA on NIST P-256 (prime256v1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// ECDSA on NIST P-521 (secp521r1).
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// The signature algorithm certificates signed with such a key carry: SHA-256
    /// for RSA (what the upstream scripts and k3s use), the hash that matches the
    /// curve for ECDSA (as OpenSSL and Go choose), Ed25519 for Ed25519.
    pub fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            KeyAlgorithm::Rsa(_) => SignatureAlgorithm::RsaSha256,
            KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaSha256,
            KeyAlgorithm::EcdsaP384 => SignatureAlgorithm::EcdsaSha384,
            KeyAlgorithm::EcdsaP521 => SignatureAlgorithm::EcdsaSha512,
            KeyAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }

    /// Whether keyEncipherment belongs in the keyUsage of a certificate for such a
    /// key: only RSA can encipher (RFC 5480 and RFC 8410 forbid it for EC and Ed25519).
    pub fn can_encipher(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa(_))
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa(bits) => write!(f, "RSA-{bits}"),
            KeyAlgorithm::EcdsaP256 => f.write_str("ECDSA-P256"),
            KeyAlgorithm::EcdsaP384 => f.write_str("ECDSA-P384"),
            KeyAlgorithm::EcdsaP521 => f.write_str("ECDSA-P521"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// A key type the tools generate, named as kubeadm names them
/// (`ClusterConfiguration.encryptionAlgorithm`). Ed25519 is read but never
/// generated: FIPS builds (RKE2's boringcrypto) reject it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratedKey(KeyAlgorithm);

impl GeneratedKey {
    /// RSA-2048: the service-account key k3s expects.
    pub const RSA_2048: GeneratedKey = GeneratedKey(KeyAlgorithm::Rsa(2048));
    /// RSA-4096: the default root and intermediate of a custom tree.
    pub const RSA_4096: GeneratedKey = GeneratedKey(KeyAlgorithm::Rsa(4096));
    /// ECDSA-P256: k3s's own CAs and the default leaf CAs of a custom tree.
    pub const ECDSA_P256: GeneratedKey = GeneratedKey(KeyAlgorithm::EcdsaP256);

    /// Every choice offered, in kubeadm's spelling.
    pub const ALL: [GeneratedKey; 5] = [
        GeneratedKey(KeyAlgorithm::Rsa(2048)),
        GeneratedKey(KeyAlgorithm::Rsa(3072)),
        GeneratedKey(KeyAlgorithm::Rsa(4096)),
        GeneratedKey(KeyAlgorithm::EcdsaP256),
        GeneratedKey(KeyAlgorithm::EcdsaP384),
    ];

    /// The key type.
    pub fn algorithm(self) -> KeyAlgorithm {
        self.0
    }
}

impl fmt::Display for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for GeneratedKey {
    type Err = Error;

    /// `RSA-2048`, `RSA-3072`, `RSA-4096`, `ECDSA-P256`, `ECDSA-P384`, any case.
    fn from_str(name: &str) -> Result<Self, Error> {
        GeneratedKey::ALL
            .into_iter()
            .find(|choice| choice.to_string().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let names: Vec<String> = GeneratedKey::ALL.iter().map(|c| c.to_string()).collect();
                Error::usage(format!(
                    "unknown key algorithm \"{name}\": use one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// A certificate signature algorithm: the OID written into certificates we sign
/// and accepted when verifying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// sha256WithRSAEncryption (PKCS#1 v1.5).
    RsaSha256,
    /// sha384WithRSAEncryption.
    RsaSha384,
    /// sha512WithRSAEncryption.
    RsaSha512,
    /// ecdsa-with-SHA256.
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// ecdsa-with-SHA512.
    EcdsaSha512,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureAlgorithm::RsaSha256 => "sha256WithRSAEncryption",
            SignatureAlgorithm::RsaSha384 => "sha384WithRSAEncryption",
            SignatureAlgorithm::RsaSha512 => "sha512WithRSAEncryption",
            SignatureAlgorithm::EcdsaSha256 => "ecdsa-with-SHA256",
            SignatureAlgorithm::EcdsaSha384 => "ecdsa-with-SHA384",
            SignatureAlgorithm::EcdsaSha512 => "ecdsa-with-SHA512",
            SignatureAlgorithm::Ed25519 => "Ed25519",
        })
    }
}

/// The hash a signature algorithm applies to the signed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// None outside the algorithm itself (Ed25519 hashes internally).
    Intrinsic,
}

impl SignatureAlgorithm {
    /// Every algorithm, for lookups by OID.
    const ALL: [SignatureAlgorithm; 7] = [
        SignatureAlgorithm::RsaSha256,
        SignatureAlgorithm::RsaSha384,
        SignatureAlgorithm::RsaSha512,
        SignatureAlgorithm::EcdsaSha256,
        SignatureAlgorithm::EcdsaSha384,
        SignatureAlgorithm::EcdsaSha512,
        SignatureAlgorithm::Ed25519,
    ];

    /// Its object identifier.
    pub fn oid(self) -> ObjectIdentifier {
        let oid = match self {
            SignatureAlgorithm::RsaSha256 => "1.2.840.113549.1.1.11",
            SignatureAlgorithm::RsaSha384 => "1.2.840.113549.1.1.12",
            SignatureAlgorithm::RsaSha512 => "1.2.840.113549.1.1.13",
            SignatureAlgorithm::EcdsaSha256 => "1.2.840.10045.4.3.2",
            SignatureAlgorithm::EcdsaSha384 => "1.2.840.10045.4.3.3",
            SignatureAlgorithm::EcdsaSha512 => "1.2.840.10045.4.3.4",
            SignatureAlgorithm::Ed25519 => "1.3.101.112",
        };
        ObjectIdentifier::new_unwrap(oid)
    }

    /// The algorithm with this OID, if supported.
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.oid() == oid)
    }

    /// Whether the AlgorithmIdentifier carries an explicit NULL parameter: RFC 4055
    /// wants one for RSA; RFC 5758 and RFC 8410 forbid any for ECDSA and Ed25519.
    pub fn has_null_parameters(self) -> bool {
        matches!(
            self,
            SignatureAlgorithm::RsaSha256
                | SignatureAlgorithm::RsaSha384
                | SignatureAlgorithm::RsaSha512
        )
    }

    /// The hash over the signed data.
    pub fn hash(self) -> Hash {
        match self {
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::EcdsaSha256 => Hash::Sha256,
            SignatureAlgorithm::RsaSha384 | SignatureAlgorithm::EcdsaSha384 => Hash::Sha384,
            SignatureAlgorithm::RsaSha512 | SignatureAlgorithm::EcdsaSha512 => Hash::Sha512,
            SignatureAlgorithm::Ed25519 => Hash::Intrinsic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeadm_names_parse_in_any_case_and_ed25519_is_not_generated() {
        assert_eq!(
            "ecdsa-p384".parse::<GeneratedKey>().unwrap().algorithm(),
            KeyAlgorithm::EcdsaP384
        );
        assert_eq!(
            "RSA-3072".parse::<GeneratedKey>().unwrap().algorithm(),
            KeyAlgorithm::Rsa(3072)
        );
        assert!("Ed25519".parse::<GeneratedKey>().is_err());
        assert!("RSA-1024".parse::<GeneratedKey>().is_err());
    }

    #[test]
    fn every_signature_oid_round_trips() {
        for algorithm in SignatureAlgorithm::ALL {
            assert_eq!(
                SignatureAlgorithm::from_oid(algorithm.oid()),
                Some(algorithm)
            );
        }
    }
}
