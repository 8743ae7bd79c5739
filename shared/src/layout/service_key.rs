//! The service-account key file (`service.key`): every key in it, read the way
//! Kubernetes' keyutil reads it, with each block's exact bytes kept so that
//! rotations can carry old keys over unchanged.
//!
//! keyutil ignores PEM labels and accepts PKCS#1 and PKCS#8 RSA private keys,
//! SEC1 EC private keys and PKIX public keys; the first private key signs new
//! tokens, every key verifies old ones. It silently skips what it cannot read
//! (PKCS#1 `RSA PUBLIC KEY`, PKCS#8 EC keys); here such a block is an error that
//! names it, so a key the user believes active is never silently dropped.

use std::path::{Path, PathBuf};

use der::Decode as _;

use crate::pki::error::{Error, Kind, Result};
use crate::pki::keys::{KeyAlgorithm, PrivateKey, PublicKey, sha256_hex};
use crate::pki::pem::{PemBlock, PemFile};

/// One key of a service-account key file.
#[derive(Clone, Debug)]
pub struct ServiceKey {
    /// 1-based position of its PEM block in the file.
    pub block: usize,
    /// Its PEM label.
    pub label: String,
    /// Its exact text in the file (BEGIN line to END line).
    pub text: zeroize::Zeroizing<Vec<u8>>,
    /// DER SubjectPublicKeyInfo of its public key.
    pub public_key_der: Vec<u8>,
    /// Key type and size.
    pub algorithm: KeyAlgorithm,
    /// Whether the block holds a private key (only those can sign).
    pub private: bool,
}

impl ServiceKey {
    /// SHA-256 of the SubjectPublicKeyInfo, lowercase hex: a stable key fingerprint.
    pub fn fingerprint(&self) -> String {
        sha256_hex(&self.public_key_der)
    }

    /// The public key as a PEM `PUBLIC KEY` block (what `sa.pub` holds).
    pub fn public_pem(&self) -> String {
        crate::pki::pem::encode("PUBLIC KEY", &self.public_key_der)
    }
}

/// All keys of a `service.key` file, in file order.
pub struct ServiceKeyFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's exact bytes.
    pub bytes: Vec<u8>,
    /// Its keys.
    pub keys: Vec<ServiceKey>,
}

impl ServiceKeyFile {
    /// Reads `path`; any block that is not a usable key is an error naming it,
    /// and so is a file without a private key.
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(PemFile::read(path)?)
    }

    /// Reads a file of verify keys (`sa.pub`): public or private keys, at least one.
    pub fn read_verify_keys(path: &Path) -> Result<Self> {
        let file = Self::parse_any(PemFile::read(path)?)?;
        if file.keys.is_empty() {
            return Err(Error::at(path, Kind::Key("no key".into())));
        }
        Ok(file)
    }

    /// The keys of an already read (or planned) PEM file, one of them private.
    pub fn parse(file: PemFile) -> Result<Self> {
        let file = Self::parse_any(file)?;
        if !file.keys.iter().any(|k| k.private) {
            return Err(Error::at(
                file.path,
                Kind::Key(
                    "no private key: the first private key is what signs service-account tokens"
                        .into(),
                ),
            ));
        }
        Ok(file)
    }

    /// Every key of a PEM file, public or private.
    fn parse_any(mut file: PemFile) -> Result<Self> {
        let keys = file
            .blocks
            .iter()
            .enumerate()
            .map(|(i, block)| {
                read_block(&file.path, i + 1, block).map(|(algorithm, der, private)| ServiceKey {
                    block: i + 1,
                    label: block.label.clone(),
                    text: zeroize::Zeroizing::new(file.bytes[block.span.clone()].to_vec()),
                    public_key_der: der,
                    algorithm,
                    private,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ServiceKeyFile {
            path: std::mem::take(&mut file.path),
            bytes: std::mem::take(&mut file.bytes),
            keys,
        })
    }

    /// The key that signs tokens today: the first private key.
    pub fn signing_key(&self) -> Option<&ServiceKey> {
        self.keys.iter().find(|k| k.private)
    }

    /// A new key file: `new_key_pem` first, then this file byte for byte.
    pub fn after(&self, new_key_pem: &[u8]) -> Vec<u8> {
        let mut contents = new_key_pem.to_vec();
        contents.extend_from_slice(&self.bytes);
        if !self.bytes.ends_with(b"\n") {
            contents.push(b'\n');
        }
        contents
    }

    /// Whether a key with this public key is in the file.
    pub fn contains(&self, public_key_der: &[u8]) -> bool {
        self.keys.iter().any(|k| k.public_key_der == public_key_der)
    }
}

fn read_block(
    path: &Path,
    index: usize,
    block: &PemBlock,
) -> Result<(KeyAlgorithm, Vec<u8>, bool)> {
    let error = |problem: String| {
        let problem = format!("block #{index} (\"{}\"): {problem}", block.label);
        Error::at(path, Kind::Key(problem))
    };
    match block.label.as_str() {
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
            if block.label == "PRIVATE KEY" && is_pkcs8_ec(&block.der) {
                return Err(error(
                    "a PKCS#8 EC key, which Kubernetes ignores; convert it with `openssl ec -in <file>`"
                        .into(),
                ));
            }
            let key = PrivateKey::from_block(path, block).map_err(|e| match e.kind() {
                Kind::Key(problem) => error(problem.clone()),
                _ => e,
            })?;
            Ok((
                kubernetes_algorithm(key.algorithm()).map_err(error)?,
                key.public_key_der()?,
                true,
            ))
        }
        "PUBLIC KEY" => {
            let algorithm = PublicKey::from_der(&block.der).map_err(error)?.algorithm();
            Ok((
                kubernetes_algorithm(algorithm).map_err(error)?,
                block.der.clone(),
                false,
            ))
        }
        "RSA PUBLIC KEY" => Err(error(
            "a PKCS#1 public key, which Kubernetes ignores; use a PKIX \"PUBLIC KEY\" block".into(),
        )),
        _ => Err(error("not a key".into())),
    }
}

/// Kubernetes signs and verifies service-account tokens with RSA and ECDSA keys
/// only (keyutil refuses the rest).
fn kubernetes_algorithm(algorithm: KeyAlgorithm) -> std::result::Result<KeyAlgorithm, String> {
    match algorithm {
        KeyAlgorithm::Ed25519 => {
            Err("an Ed25519 key; Kubernetes accepts only RSA and ECDSA service-account keys".into())
        }
        other => Ok(other),
    }
}

fn is_pkcs8_ec(der: &[u8]) -> bool {
    const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    rsa::pkcs8::PrivateKeyInfoRef::from_der(der)
        .is_ok_and(|info| info.algorithm.oid == EC_PUBLIC_KEY)
}
