//! Encrypted private keys: the passphrase of a run, reading PKCS#8
//! `ENCRYPTED PRIVATE KEY` (PBES2, what `openssl pkey -aes256` writes) and
//! OpenSSL's traditional `Proc-Type: 4,ENCRYPTED` + `DEK-Info` form (what
//! `openssl rsa -traditional -aes256` and `openssl ec -aes256` write), and
//! writing PKCS#8 PBES2.
//!
//! We write PBKDF2-HMAC-SHA256 at 600,000 iterations with AES-256-CBC (OWASP's
//! PBKDF2 figure). scrypt at OWASP's current work factor (N=2^17, 128 MiB)
//! cannot be read by `openssl pkey`, whose scrypt memory limit is 32 MiB, and an
//! encrypted root key the organisation's own tooling cannot open is worse than none.

use std::cell::OnceCell;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use der::Decode as _;
use md5::{Digest as _, Md5};
use zeroize::Zeroizing;

use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::pem::PemBlock;

/// PBKDF2-HMAC-SHA256 iterations of the keys we encrypt.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// A passphrase; wiped from memory when dropped, never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase already read.
    pub fn new(text: String) -> Self {
        Passphrase(Zeroizing::new(text))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Where a run's passphrase comes from; it is asked for at most once.
#[derive(Debug)]
pub enum PassphraseSource {
    /// The first line of a file (`--password-file`).
    File(PathBuf),
    /// A prompt without echo on the terminal (only when stdin is one).
    Terminal,
    /// Nowhere: an encrypted key is an error that says how to give one.
    None,
}

impl PassphraseSource {
    /// `--password-file` when given, else the terminal when stdin is one, else none.
    pub fn from_flag(password_file: Option<PathBuf>) -> Self {
        match password_file {
            Some(path) => PassphraseSource::File(path),
            None if std::io::stdin().is_terminal() => PassphraseSource::Terminal,
            None => PassphraseSource::None,
        }
    }
}

/// The passphrase of one run: read on first use, then reused for every
/// encrypted key the run reads or writes.
#[derive(Debug)]
pub struct Passphrases {
    source: PassphraseSource,
    cached: OnceCell<Passphrase>,
}

impl Passphrases {
    /// A run's passphrase, from `source`.
    pub fn new(source: PassphraseSource) -> Self {
        Passphrases {
            source,
            cached: OnceCell::new(),
        }
    }

    /// No passphrase: encrypted keys are refused with a hint.
    pub fn none() -> Self {
        Self::new(PassphraseSource::None)
    }

    /// The passphrase, asking for it when needed; `for_file` is the key file it
    /// is needed for, named in the prompt and in errors.
    pub fn get(&self, for_file: &Path) -> Result<&Passphrase> {
        if let Some(passphrase) = self.cached.get() {
            return Ok(passphrase);
        }
        let passphrase = match &self.source {
            PassphraseSource::File(path) => read_first_line(path)?,
            PassphraseSource::Terminal => {
                let prompt = format!("Passphrase for {}: ", for_file.display());
                let text = rpassword::prompt_password(prompt).map_err(read_from_terminal)?;
                Passphrase::new(text)
            }
            PassphraseSource::None => {
                return Err(Error::at(
                    for_file,
                    Kind::Key(
                        "is encrypted: give its passphrase with --password-file FILE \
                         (first line), or run on a terminal to be asked"
                            .into(),
                    ),
                ));
            }
        };
        Ok(self.cached.get_or_init(|| passphrase))
    }
}

impl Passphrases {
    /// The passphrase to encrypt a new key with: the run's passphrase when it
    /// has one, else asked twice on the terminal so a typo cannot lock the key.
    pub fn get_new(&self, for_file: &Path) -> Result<&Passphrase> {
        if self.cached.get().is_none() {
            if let PassphraseSource::Terminal = self.source {
                let prompt = format!("New passphrase for {}: ", for_file.display());
                let ask =
                    |prompt: String| rpassword::prompt_password(prompt).map_err(read_from_terminal);
                let first = Zeroizing::new(ask(prompt)?);
                let again = Zeroizing::new(ask("Repeat it: ".into())?);
                if first != again || first.is_empty() {
                    return Err(Error::at(
                        for_file,
                        Kind::Key("the two passphrases typed differ (or are empty)".into()),
                    ));
                }
                return Ok(self
                    .cached
                    .get_or_init(|| Passphrase::new(first.to_string())));
            }
        }
        self.get(for_file)
    }
}

/// A passphrase prompt that failed (no terminal, or it was closed).
fn read_from_terminal(source: std::io::Error) -> Error {
    Error::at(
        Location::Terminal,
        Kind::Io {
            action: "reading a passphrase",
            source,
        },
    )
}

fn read_first_line(path: &Path) -> Result<Passphrase> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::at(
            path,
            Kind::Inputs("the passphrase file is not UTF-8 text".into()),
        )
    })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(Error::at(
            path,
            Kind::Inputs("the first line of the passphrase file is empty".into()),
        ));
    }
    Ok(Passphrase::new(line.to_string()))
}

/// Decrypts an encrypted key block: returns the label and DER of the clear key
/// (`PRIVATE KEY` for PKCS#8; the block's own label for the traditional form).
pub(super) fn decrypt(
    path: &Path,
    block: &PemBlock,
    passphrase: &Passphrase,
) -> Result<(String, Zeroizing<Vec<u8>>)> {
    let error = |problem: String| Error::at(path, Kind::Key(problem));
    let wrong = || error("wrong passphrase (or a damaged key): cannot decrypt it".into());
    if block.label == super::ENCRYPTED_PKCS8_LABEL {
        let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&block.der)
            .map_err(|e| error(format!("invalid encrypted PKCS#8 key: {e}")))?;
        let clear = info.decrypt(passphrase.bytes()).map_err(|_| wrong())?;
        return Ok((
            super::PKCS8_LABEL.to_string(),
            Zeroizing::new(clear.as_bytes().to_vec()),
        ));
    }
    let dek_info = block
        .header("DEK-Info")
        .ok_or_else(|| error("encrypted, but without a DEK-Info header".into()))?;
    let clear =
        decrypt_traditional(dek_info, &block.der, passphrase.bytes()).map_err(|problem| {
            match problem {
                TraditionalError::Decrypt => wrong(),
                TraditionalError::Header(problem) => error(problem),
            }
        })?;
    // A wrong passphrase can still yield valid padding by chance: the DER check
    // in the caller then fails, and says so.
    if der::asn1::Any::from_der(&clear).is_err() {
        return Err(wrong());
    }
    Ok((block.label.clone(), clear))
}

enum TraditionalError {
    Header(String),
    Decrypt,
}

/// OpenSSL's `PEM_do_header`: key = EVP_BytesToKey(MD5, salt = the first 8
/// bytes of the IV, one round), then CBC with PKCS#7 padding.
fn decrypt_traditional(
    dek_info: &str,
    body: &[u8],
    passphrase: &[u8],
) -> std::result::Result<Zeroizing<Vec<u8>>, TraditionalError> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| TraditionalError::Header(format!("malformed DEK-Info \"{dek_info}\"")))?;
    let iv = super::decode_hex(iv_hex.trim())
        .ok_or_else(|| TraditionalError::Header("DEK-Info IV is not hex".into()))?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let (key_len, block_len) = match cipher.as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        other => {
            return Err(TraditionalError::Header(format!(
                "unsupported DEK-Info cipher {other}; AES-128/192/256-CBC and DES-EDE3-CBC are supported"
            )));
        }
    };
    if iv.len() != block_len {
        return Err(TraditionalError::Header(format!(
            "DEK-Info IV of {} bytes for {cipher}",
            iv.len()
        )));
    }
    let key = bytes_to_key(passphrase, &iv[..8], key_len);
    let result = match cipher.as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, body),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, body),
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, body),
        _ => cbc_decrypt::<des::TdesEde3>(&key, &iv, body),
    };
    result.ok_or(TraditionalError::Decrypt)
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
{
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    decryptor
        .decrypt_padded_vec::<Pkcs7>(body)
        .ok()
        .map(Zeroizing::new)
}

/// EVP_BytesToKey with MD5 and one iteration.
fn bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous: Vec<u8> = Vec::new();
    while key.len() < len {
        let mut md5 = Md5::new();
        md5.update(&previous);
        md5.update(passphrase);
        md5.update(salt);
        previous = md5.finalize().to_vec();
        key.extend_from_slice(&previous);
    }
    key.truncate(len);
    key
}

/// `key` as an `ENCRYPTED PRIVATE KEY` PEM block: PKCS#8 PBES2 with
/// PBKDF2-HMAC-SHA256 and AES-256-CBC, fresh salt and IV.
pub(super) fn encrypt_pkcs8_pem(
    pkcs8_der: &[u8],
    passphrase: &Passphrase,
) -> Result<Zeroizing<String>> {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    let crypto = |e: &dyn std::fmt::Display| Error::crypto("encrypting a private key", e);
    let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
        PBKDF2_ITERATIONS,
        &salt,
        iv,
    )
    .map_err(|e| crypto(&e))?;
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8_der).map_err(|e| crypto(&e))?;
    let encrypted = info
        .encrypt_with_params(params, passphrase.bytes())
        .map_err(|e| crypto(&e))?;
    Ok(Zeroizing::new(crate::pki::pem::encode(
        super::ENCRYPTED_PKCS8_LABEL,
        encrypted.as_bytes(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // The first MD5 block is MD5(passphrase || salt); keys made by openssl are
        // decrypted end to end in the gen-custom-ca tests.
        let key = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        let mut md5 = Md5::new();
        md5.update(b"secret");
        md5.update([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&key[..16], md5.finalize().as_slice());
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn a_missing_passphrase_names_the_key_file_and_the_flag() {
        let error = Passphrases::none()
            .get(Path::new("root-ca.key"))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("root-ca.key: is encrypted"), "{error}");
        assert!(error.contains("--password-file"), "{error}");
    }
}
