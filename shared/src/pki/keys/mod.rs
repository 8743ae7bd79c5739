//! Private keys of every type in [`algorithm`]: generation, reading in every
//! form k3s, Kubernetes and OpenSSL write (PKCS#1, SEC1, PKCS#8, encrypted
//! PKCS#8 and OpenSSL's traditional encrypted PEM), writing in OpenSSL's
//! traditional encodings (what k3s itself writes) or encrypted PKCS#8, and
//! signing, through [`SigningKey`] like any key held elsewhere.

use std::fmt;
use std::path::Path;

use der::Encode as _;
use p256::elliptic_curve::Generate as _;
use pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use sha2::{Digest as _, Sha256};
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use zeroize::Zeroizing;

use crate::pki::error::{Error, Kind, Result};
use crate::pki::pem::{PemBlock, PemFile};

pub mod algorithm;
mod decode;
mod ec;
pub mod encrypted;
mod pending;
pub mod pkcs11;
mod public;
mod rsa_primes;
mod sign;

pub use algorithm::{GeneratedKey, Hash, KeyAlgorithm, SignatureAlgorithm};
pub use encrypted::{Passphrase, PassphraseSource, Passphrases};
pub use pending::PendingKeys;
pub use public::PublicKey;
pub use sign::SigningKey;
pub(crate) use sign::{KeySigner, RawSignature};

/// The RSA sizes a CA key may have, as the README promises: from 2048 bits
/// (what OpenSSL clients at Debian's default security level require) to 8192
/// (the most the RSA implementation reads).
pub const CA_RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The RSA modulus size of a DER SubjectPublicKeyInfo, when it is an RSA key
/// (rsaEncryption) whose modulus can be read, whatever its size.
pub fn rsa_modulus_bits(spki_der: &[u8]) -> Option<usize> {
    use der::Decode as _;
    const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).ok()?;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return None;
    }
    let bits = spki.subject_public_key.as_bytes()?;
    let key = rsa::pkcs1::RsaPublicKeyRef::from_der(bits).ok()?;
    let n = key.modulus.as_bytes();
    let first = *n.first()?;
    Some(n.len() * 8 - first.leading_zeros() as usize)
}

/// Refuses a CA public key of an RSA size outside [`CA_RSA_BITS`], in words:
/// "an RSA-1024 key: a CA key must be RSA 2048 to 8192 bits (or ECDSA, Ed25519)".
pub fn check_ca_key_size(spki: &SubjectPublicKeyInfoOwned) -> std::result::Result<(), String> {
    let Some(bits) = spki.to_der().ok().as_deref().and_then(rsa_modulus_bits) else {
        return Ok(());
    };
    if CA_RSA_BITS.contains(&bits) {
        return Ok(());
    }
    Err(format!(
        "its key is RSA-{bits}: a CA key must be RSA {} to {} bits \
         (or ECDSA P-256/P-384/P-521, Ed25519)",
        CA_RSA_BITS.start(),
        CA_RSA_BITS.end()
    ))
}

/// A private key of one of the supported algorithms.
#[derive(Clone)]
pub enum PrivateKey {
    /// An RSA key.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// An ECDSA P-256 key. ECDSA keys are held as signing keys, which keep
    /// their public point: deriving it costs a scalar multiplication, as much
    /// as a signature, and a run signs thousands of certificates with one key.
    P256(p256::ecdsa::SigningKey),
    /// An ECDSA P-384 key.
    P384(p384::ecdsa::SigningKey),
    /// An ECDSA P-521 key.
    P521(Box<p521::ecdsa::SigningKey>),
    /// An Ed25519 key.
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        write!(f, "PrivateKey({})", self.algorithm())
    }
}

/// The PEM label of a PKCS#8 private key.
pub const PKCS8_LABEL: &str = "PRIVATE KEY";
/// The PEM label of an encrypted PKCS#8 private key.
pub const ENCRYPTED_PKCS8_LABEL: &str = "ENCRYPTED PRIVATE KEY";

impl PrivateKey {
    /// Generates a new key. RSA keys use e = 65537.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self> {
        let mut keys = Self::generate_all(&[algorithm])?;
        keys.pop()
            .ok_or_else(|| Error::bug("no key generated for the one asked for"))
    }

    /// Generates one key per entry, in order. The RSA prime searches of all the
    /// keys share every core (see `rsa_primes`), so asking for the keys of a run
    /// together is faster than one by one.
    pub fn generate_all(algorithms: &[KeyAlgorithm]) -> Result<Vec<Self>> {
        PendingKeys::start(algorithms)?.wait_all()
    }

    /// Starts generating one key per entry and returns at once: the
    /// elliptic-curve keys are made, the RSA searches run on their own thread
    /// until the first RSA key is asked for (see [`PendingKeys`]). Runs call
    /// this as soon as they know their keys, and do their other work meanwhile.
    pub fn start_all(algorithms: &[KeyAlgorithm]) -> Result<PendingKeys> {
        PendingKeys::start(algorithms)
    }

    /// A new key of `algorithm` unless it is RSA (a search, see `rsa_primes`).
    fn generate_ec(algorithm: KeyAlgorithm, rng: &mut impl rand::CryptoRng) -> Option<Self> {
        Some(match algorithm {
            KeyAlgorithm::Rsa(_) => return None,
            KeyAlgorithm::EcdsaP256 => {
                PrivateKey::P256(p256::SecretKey::generate_from_rng(rng).into())
            }
            KeyAlgorithm::EcdsaP384 => {
                PrivateKey::P384(p384::SecretKey::generate_from_rng(rng).into())
            }
            KeyAlgorithm::EcdsaP521 => {
                PrivateKey::P521(Box::new(p521::SecretKey::generate_from_rng(rng).into()))
            }
            KeyAlgorithm::Ed25519 => {
                PrivateKey::Ed25519(Box::new(ed25519_dalek::SigningKey::generate(rng)))
            }
        })
    }

    /// The algorithm and size of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PrivateKey::Rsa(key) => {
                KeyAlgorithm::Rsa(rsa::traits::PublicKeyParts::n(key.as_ref()).bits() as usize)
            }
            PrivateKey::P256(_) => KeyAlgorithm::EcdsaP256,
            PrivateKey::P384(_) => KeyAlgorithm::EcdsaP384,
            PrivateKey::P521(_) => KeyAlgorithm::EcdsaP521,
            PrivateKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The key in OpenSSL's traditional encoding, as k3s writes keys: PKCS#1
    /// `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`; Ed25519 has no traditional form,
    /// so PKCS#8 `PRIVATE KEY` (what `openssl genpkey` writes).
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        let line_ending = der::pem::LineEnding::LF;
        // From the public point the signing key keeps (see `ec`).
        macro_rules! sec1 {
            ($curve:ty, $key:expr) => {
                ec::sec1_pem(
                    &$key.to_bytes(),
                    <$curve as pkcs8::AssociatedOid>::OID,
                    $key.verifying_key().to_sec1_point(false).as_bytes(),
                )
                .map_err(|e| e.to_string())
            };
        }
        let encoded = match self {
            PrivateKey::Rsa(key) => key.to_pkcs1_pem(line_ending).map_err(|e| e.to_string()),
            PrivateKey::P256(key) => sec1!(p256::NistP256, key),
            PrivateKey::P384(key) => sec1!(p384::NistP384, key),
            PrivateKey::P521(key) => sec1!(p521::NistP521, key.as_ref()),
            PrivateKey::Ed25519(_) => {
                let der = self.to_pkcs8_der()?;
                return Ok(Zeroizing::new(crate::pki::pem::encode(PKCS8_LABEL, &der)));
            }
        };
        encoded.map_err(|e| Error::crypto(format!("encoding an {} key", self.algorithm()), e))
    }

    /// The key as PKCS#8 DER (a `PRIVATE KEY` block's contents).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let document = match self {
            PrivateKey::Rsa(key) => key.to_pkcs8_der(),
            PrivateKey::P256(key) => key.to_pkcs8_der(),
            PrivateKey::P384(key) => key.to_pkcs8_der(),
            PrivateKey::P521(key) => key.to_pkcs8_der(),
            PrivateKey::Ed25519(key) => key.to_pkcs8_der(),
        };
        document
            .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
            .map_err(|e| Error::crypto(format!("encoding an {} key", self.algorithm()), e))
    }

    /// The key as an `ENCRYPTED PRIVATE KEY` block (PKCS#8 PBES2, see [`encrypted`]).
    pub fn to_encrypted_pem(&self, passphrase: &Passphrase) -> Result<Zeroizing<String>> {
        encrypted::encrypt_pkcs8_pem(&self.to_pkcs8_der()?, passphrase)
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let document = match self {
            PrivateKey::Rsa(key) => key.to_public_key().to_public_key_der(),
            PrivateKey::P256(key) => key.verifying_key().to_public_key_der(),
            PrivateKey::P384(key) => key.verifying_key().to_public_key_der(),
            PrivateKey::P521(key) => key.verifying_key().to_public_key_der(),
            PrivateKey::Ed25519(key) => key.verifying_key().to_public_key_der(),
        };
        document
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| Error::crypto("encoding a public key", e))
    }

    /// Whether this key is the private half of `spki` (a certificate's public key).
    pub fn matches(&self, spki: &SubjectPublicKeyInfoOwned) -> Result<bool> {
        let ours = self.public_key_der()?;
        let theirs = spki
            .to_der()
            .map_err(|e| Error::crypto("encoding a public key", e))?;
        Ok(ours == theirs)
    }

    /// Reads the first private key of a PEM file (unencrypted: k3s reads it).
    pub fn read_first(path: &Path) -> Result<Self> {
        let file = PemFile::read(path)?;
        Self::first_in(&file)
    }

    /// The first private key among the blocks of `file` (unencrypted).
    pub fn first_in(file: &PemFile) -> Result<Self> {
        Self::from_block(&file.path, first_key_block(file)?)
    }

    /// The first private key among the blocks of `file`, decrypted with the run's
    /// passphrase when it is encrypted: for the keys that never reach k3s (a root
    /// or an issuing CA brought to sign with).
    pub fn first_in_decrypting(file: &PemFile, passphrases: &Passphrases) -> Result<Self> {
        let block = first_key_block(file)?;
        if block.label == ENCRYPTED_PKCS8_LABEL || block.is_encrypted() {
            let passphrase = passphrases.get(&file.path)?;
            let (label, der) = encrypted::decrypt(&file.path, block, passphrase)?;
            return decode::private_key(&label, &der)
                .map_err(|problem| Error::at(&file.path, Kind::Key(problem)));
        }
        Self::from_block(&file.path, block)
    }

    /// Decodes one unencrypted PEM block as a PKCS#1, SEC1 or PKCS#8 private key.
    /// An encrypted block is refused: k3s cannot read it.
    pub fn from_block(path: &Path, block: &PemBlock) -> Result<Self> {
        if block.is_encrypted() || block.label == ENCRYPTED_PKCS8_LABEL {
            return Err(Error::at(
                path,
                Kind::Key(format!(
                    "the {} block is encrypted, and k3s reads this file in the clear",
                    block.label
                )),
            ));
        }
        decode::private_key(&block.label, &block.der)
            .map_err(|problem| Error::at(path, Kind::Key(problem)))
    }
}

/// The first block of `file` whose label names a private key.
fn first_key_block(file: &PemFile) -> Result<&PemBlock> {
    file.blocks
        .iter()
        .find(|b| b.label.ends_with(PKCS8_LABEL))
        .ok_or_else(|| {
            Error::at(
                &file.path,
                Kind::Key(crate::pki::exports::missing_block(file, "PRIVATE KEY")),
            )
        })
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The bytes `text` spells in hex (either case); `None` unless it is whole
/// pairs of hex digits.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use der::asn1::{BitString, Null, UintRef};
    use der::{Any, Decode as _};
    use x509_cert::spki::AlgorithmIdentifierOwned;

    use super::*;

    /// An RSA SubjectPublicKeyInfo whose modulus has `bits` bits (not a real
    /// key: only its size matters here).
    fn rsa_spki(bits: usize) -> SubjectPublicKeyInfoOwned {
        let mut n = vec![0xC3; bits / 8];
        n[0] = 0xFF;
        let key = rsa::pkcs1::RsaPublicKeyRef {
            modulus: UintRef::new(&n).unwrap(),
            public_exponent: UintRef::new(&[1, 0, 1]).unwrap(),
        };
        SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(Any::from_der(&Null.to_der().unwrap()).unwrap()),
            },
            subject_public_key: BitString::from_bytes(&key.to_der().unwrap()).unwrap(),
        }
    }

    /// Issue 19 item 10: an RSA-16384 public key was "an unsupported type".
    #[test]
    fn an_rsa_key_too_large_to_read_is_named_with_its_size() {
        let der = rsa_spki(16384).to_der().unwrap();
        assert_eq!(rsa_modulus_bits(&der), Some(16384));
        let message = PublicKey::from_der(&der).err().unwrap();
        assert_eq!(
            message,
            "an RSA-16384 public key: RSA keys of 1024 to 8192 bits are read"
        );
    }

    /// Issue 18: the README's 2048 to 8192 bits, for CA keys brought to the tools.
    #[test]
    fn ca_keys_must_be_rsa_2048_to_8192() {
        for bits in [2048, 4096, 8192] {
            assert!(check_ca_key_size(&rsa_spki(bits)).is_ok(), "{bits}");
        }
        assert_eq!(
            check_ca_key_size(&rsa_spki(1024)).unwrap_err(),
            "its key is RSA-1024: a CA key must be RSA 2048 to 8192 bits \
             (or ECDSA P-256/P-384/P-521, Ed25519)"
        );
        assert!(check_ca_key_size(&rsa_spki(16384)).is_err());
    }
}
