//! Public keys of every type in the algorithm table, for verifying signatures.

use der::Encode as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use pkcs8::DecodePublicKey as _;
use sha2::Digest as _;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::algorithm::{Hash, KeyAlgorithm, SignatureAlgorithm};

/// A public key.
pub enum PublicKey {
    /// RSA.
    Rsa(rsa::RsaPublicKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// ECDSA P-521.
    P521(p521::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Decodes a DER SubjectPublicKeyInfo of a supported type.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        rsa::RsaPublicKey::from_public_key_der(der)
            .map(PublicKey::Rsa)
            .or_else(|_| p256::ecdsa::VerifyingKey::from_public_key_der(der).map(PublicKey::P256))
            .or_else(|_| p384::ecdsa::VerifyingKey::from_public_key_der(der).map(PublicKey::P384))
            .or_else(|_| p521::ecdsa::VerifyingKey::from_public_key_der(der).map(PublicKey::P521))
            .or_else(|_| {
                ed25519_dalek::VerifyingKey::from_public_key_der(der).map(PublicKey::Ed25519)
            })
            .map_err(|_| match super::rsa_modulus_bits(der) {
                Some(bits)
                    if !(rsa::RsaPublicKey::MIN_SIZE..=rsa::RsaPublicKey::MAX_SIZE)
                        .contains(&bits) =>
                {
                    format!(
                        "an RSA-{bits} public key: RSA keys of {} to {} bits are read",
                        rsa::RsaPublicKey::MIN_SIZE,
                        rsa::RsaPublicKey::MAX_SIZE
                    )
                }
                _ => "a public key of an unsupported type (RSA, ECDSA P-256/P-384/P-521 and \
                      Ed25519 are supported)"
                    .to_string(),
            })
    }

    /// Decodes a typed SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, String> {
        let der = spki
            .to_der()
            .map_err(|e| format!("cannot encode a public key: {e}"))?;
        Self::from_der(&der)
    }

    /// The key type and size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::Rsa(key) => {
                KeyAlgorithm::Rsa(rsa::traits::PublicKeyParts::n(key).bits() as usize)
            }
            PublicKey::P256(_) => KeyAlgorithm::EcdsaP256,
            PublicKey::P384(_) => KeyAlgorithm::EcdsaP384,
            PublicKey::P521(_) => KeyAlgorithm::EcdsaP521,
            PublicKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// Checks an RSASSA-PSS `signature` over `message`: MGF1 over `hash`, a salt
    /// as long as the hash (the only form Go's x509 verifies).
    pub fn verify_rsa_pss(
        &self,
        hash: Hash,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let PublicKey::Rsa(key) = self else {
            return Err(format!(
                "signed with RSASSA-PSS but the issuer key is {}",
                self.algorithm()
            ));
        };
        let result = match hash {
            Hash::Sha256 => key.verify(
                rsa::pss::Pss::<sha2::Sha256>::new(),
                &sha2::Sha256::digest(message),
                signature,
            ),
            Hash::Sha384 => key.verify(
                rsa::pss::Pss::<sha2::Sha384>::new(),
                &sha2::Sha384::digest(message),
                signature,
            ),
            Hash::Sha512 | Hash::Intrinsic => key.verify(
                rsa::pss::Pss::<sha2::Sha512>::new(),
                &sha2::Sha512::digest(message),
                signature,
            ),
        };
        result.map_err(|e| format!("signature does not verify with the issuer's key ({e})"))
    }

    /// Checks a SHA-1 `signature` over `message`: PKCS#1 v1.5 for RSA, ECDSA
    /// for the curves. Only requests may carry one (see `verify::Sha1`).
    pub fn verify_sha1(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let bad = |e: &dyn std::fmt::Display| format!("signature does not verify ({e})");
        let digest = sha1::Sha1::digest(message);
        macro_rules! ecdsa {
            ($curve:ident, $key:expr) => {{
                let signature =
                    $curve::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                $key.verify_prehash(&digest, &signature)
                    .map_err(|e| bad(&e))
            }};
        }
        match self {
            PublicKey::Rsa(key) => key
                .verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &digest, signature)
                .map_err(|e| bad(&e)),
            PublicKey::P256(key) => ecdsa!(p256, key),
            PublicKey::P384(key) => ecdsa!(p384, key),
            PublicKey::P521(key) => ecdsa!(p521, key),
            PublicKey::Ed25519(_) => Err("an Ed25519 key signs without SHA-1".into()),
        }
    }

    /// Checks `signature` over `message` made with `algorithm`. ECDSA accepts any
    /// of SHA-256/384/512 on any curve, as Go does.
    pub fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let bad = |e: &dyn std::fmt::Display| {
            format!("signature does not verify with the issuer's key ({e})")
        };
        let mismatch = || {
            format!(
                "signed with {algorithm} but the issuer key is {}",
                self.algorithm()
            )
        };
        let digest = || -> Vec<u8> {
            match algorithm.hash() {
                Hash::Sha256 => sha2::Sha256::digest(message).to_vec(),
                Hash::Sha384 => sha2::Sha384::digest(message).to_vec(),
                Hash::Sha512 | Hash::Intrinsic => sha2::Sha512::digest(message).to_vec(),
            }
        };
        macro_rules! ecdsa {
            ($curve:ident, $key:expr) => {{
                let signature =
                    $curve::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                $key.verify_prehash(&digest(), &signature)
                    .map_err(|e| bad(&e))
            }};
        }
        let is_ecdsa = matches!(
            algorithm,
            SignatureAlgorithm::EcdsaSha256
                | SignatureAlgorithm::EcdsaSha384
                | SignatureAlgorithm::EcdsaSha512
        );
        match self {
            PublicKey::Rsa(key) => {
                use rsa::pkcs1v15::{Signature, VerifyingKey};
                let signature = Signature::try_from(signature).map_err(|e| bad(&e))?;
                let key = key.clone();
                match algorithm {
                    SignatureAlgorithm::RsaSha256 => {
                        VerifyingKey::<sha2::Sha256>::new(key).verify(message, &signature)
                    }
                    SignatureAlgorithm::RsaSha384 => {
                        VerifyingKey::<sha2::Sha384>::new(key).verify(message, &signature)
                    }
                    SignatureAlgorithm::RsaSha512 => {
                        VerifyingKey::<sha2::Sha512>::new(key).verify(message, &signature)
                    }
                    _ => return Err(mismatch()),
                }
                .map_err(|e| bad(&e))
            }
            PublicKey::P256(key) if is_ecdsa => ecdsa!(p256, key),
            PublicKey::P384(key) if is_ecdsa => ecdsa!(p384, key),
            PublicKey::P521(key) if is_ecdsa => ecdsa!(p521, key),
            PublicKey::Ed25519(key) if algorithm == SignatureAlgorithm::Ed25519 => {
                let signature =
                    ed25519_dalek::Signature::from_slice(signature).map_err(|e| bad(&e))?;
                key.verify(message, &signature).map_err(|e| bad(&e))
            }
            _ => Err(mismatch()),
        }
    }
}
