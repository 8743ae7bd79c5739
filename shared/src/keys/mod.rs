//! Private keys: generation, parsing in every form k3s and OpenSSL write, and
//! encoding the way OpenSSL does (EC: SEC1 `EC PRIVATE KEY`; RSA: PKCS#1
//! `RSA PRIVATE KEY`), which is what k3s itself writes and what the upstream
//! scripts produce.

use std::fmt;
use std::path::Path;

use der::{Decode, Encode};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use sha2::{Digest, Sha256};
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::pem_file::{PemBlock, PemFile};

mod rsa_primes;

/// The key types of the k3s CA topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with the given modulus size in bits.
    Rsa(usize),
    /// ECDSA on NIST P-256 (prime256v1).
    EcP256,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa(bits) => write!(f, "RSA-{bits}"),
            KeyAlgorithm::EcP256 => f.write_str("EC P-256"),
        }
    }
}

/// A private key of one of the supported algorithms.
#[derive(Clone)]
pub enum PrivateKey {
    /// An RSA key.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// A P-256 key.
    EcP256(p256::SecretKey),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        write!(f, "PrivateKey({})", self.algorithm())
    }
}

const OID_RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

impl PrivateKey {
    /// Generates a new key. RSA keys use e = 65537.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self> {
        let mut keys = Self::generate_all(&[algorithm])?;
        keys.pop()
            .ok_or_else(|| Error::crypto("generating a key", "no key"))
    }

    /// Generates one key per entry, in order. The RSA prime searches of all the
    /// keys share every core (see `rsa_primes`), so asking for the keys of a run
    /// together is faster than one by one.
    pub fn generate_all(algorithms: &[KeyAlgorithm]) -> Result<Vec<Self>> {
        let rsa_bits: Vec<usize> = algorithms
            .iter()
            .filter_map(|a| match a {
                KeyAlgorithm::Rsa(bits) => Some(*bits),
                KeyAlgorithm::EcP256 => None,
            })
            .collect();
        let mut rsa_keys = rsa_primes::generate(&rsa_bits)?.into_iter();
        let mut rng = rand::rng();
        algorithms
            .iter()
            .map(|algorithm| match algorithm {
                KeyAlgorithm::Rsa(_) => rsa_keys
                    .next()
                    .map(|k| PrivateKey::Rsa(Box::new(k)))
                    .ok_or_else(|| Error::crypto("generating an RSA key", "no key")),
                KeyAlgorithm::EcP256 => Ok(PrivateKey::EcP256(p256::SecretKey::generate_from_rng(
                    &mut rng,
                ))),
            })
            .collect()
    }

    /// The algorithm and size of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PrivateKey::Rsa(key) => {
                KeyAlgorithm::Rsa(rsa::traits::PublicKeyParts::n(key.as_ref()).bits() as usize)
            }
            PrivateKey::EcP256(_) => KeyAlgorithm::EcP256,
        }
    }

    /// The key in OpenSSL's traditional encoding: PKCS#1 for RSA, SEC1 for EC.
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        let line_ending = der::pem::LineEnding::LF;
        match self {
            PrivateKey::Rsa(key) => key
                .to_pkcs1_pem(line_ending)
                .map_err(|e| Error::crypto("encoding an RSA key", e)),
            PrivateKey::EcP256(key) => key
                .to_sec1_pem(line_ending)
                .map_err(|e| Error::crypto("encoding an EC key", e)),
        }
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let document = match self {
            PrivateKey::Rsa(key) => key.to_public_key().to_public_key_der(),
            PrivateKey::EcP256(key) => key.public_key().to_public_key_der(),
        };
        document
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| Error::crypto("encoding a public key", e))
    }

    /// The public half as a typed SubjectPublicKeyInfo, for certificate building.
    pub fn public_key_info(&self) -> Result<SubjectPublicKeyInfoOwned> {
        let der = self.public_key_der()?;
        SubjectPublicKeyInfoOwned::from_der(&der)
            .map_err(|e| Error::crypto("decoding a public key", e))
    }

    /// Whether this key is the private half of `spki` (a certificate's public key).
    pub fn matches(&self, spki: &SubjectPublicKeyInfoOwned) -> Result<bool> {
        let ours = self.public_key_der()?;
        let theirs = spki
            .to_der()
            .map_err(|e| Error::crypto("encoding a public key", e))?;
        Ok(ours == theirs)
    }

    /// Reads the first private key of a PEM file.
    pub fn read_first(path: &Path) -> Result<Self> {
        let file = PemFile::read(path)?;
        Self::first_in(&file)
    }

    /// The first private key among the blocks of `file`.
    pub fn first_in(file: &PemFile) -> Result<Self> {
        let block = file
            .blocks
            .iter()
            .find(|b| b.label.ends_with("PRIVATE KEY"))
            .ok_or_else(|| Error::Key {
                path: file.path.clone(),
                problem: "no PRIVATE KEY block in the file".into(),
            })?;
        Self::from_block(&file.path, block)
    }

    /// Decodes one PEM block as a PKCS#1, SEC1 or PKCS#8 private key.
    pub fn from_block(path: &Path, block: &PemBlock) -> Result<Self> {
        let key_error = |problem: String| Error::Key {
            path: path.to_path_buf(),
            problem,
        };
        if block.is_encrypted() || block.label == "ENCRYPTED PRIVATE KEY" {
            return Err(key_error(format!(
                "the {} block is encrypted; decrypt it first (openssl pkey -in {} -out <plain file>)",
                block.label,
                path.display()
            )));
        }
        match block.label.as_str() {
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(&block.der)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| key_error(format!("invalid PKCS#1 RSA private key: {e}"))),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&block.der)
                .map(PrivateKey::EcP256)
                .map_err(|e| {
                    key_error(format!(
                        "invalid or unsupported SEC1 EC private key (only P-256 is supported): {e}"
                    ))
                }),
            "PRIVATE KEY" => Self::from_pkcs8(&block.der).map_err(key_error),
            other => Err(key_error(format!(
                "a \"{other}\" block where a private key was expected"
            ))),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(der)
            .map_err(|e| format!("invalid PKCS#8 private key: {e}"))?;
        let algorithm = info.algorithm.oid;
        if algorithm == OID_RSA_ENCRYPTION {
            rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| format!("invalid PKCS#8 RSA private key: {e}"))
        } else if algorithm == OID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| format!("PKCS#8 EC key without a named curve: {e}"))?;
            if curve != OID_P256 {
                return Err(format!(
                    "EC key on curve {curve}; only P-256 (prime256v1) is supported"
                ));
            }
            p256::SecretKey::from_pkcs8_der(der)
                .map(PrivateKey::EcP256)
                .map_err(|e| format!("invalid PKCS#8 EC private key: {e}"))
        } else {
            Err(format!(
                "PKCS#8 key of algorithm {algorithm}; only RSA and EC P-256 are supported"
            ))
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
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
