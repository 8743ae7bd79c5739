//! Encrypted private keys: the passphrase of a run, reading PKCS#8
//! `ENCRYPTED PRIVATE KEY` (the schemes of [`pkcs8`]: PBES2 and the PKCS#12
//! PBE schemes, what openssl 1.0 to 3 and Java write) and OpenSSL's traditional
//! `Proc-Type: 4,ENCRYPTED` + `DEK-Info` form (what `openssl rsa -aes256` and
//! `openssl ec -aes256` write), and writing PKCS#8 PBES2. Every derivation is
//! bounded before it starts ([`kdf`]) and runs where a signal can end the run
//! ([`crate::pki::interrupt::run`]).
//!
//! We write PBKDF2-HMAC-SHA256 at 600,000 iterations with AES-256-CBC (OWASP's
//! PBKDF2 figure). scrypt at OWASP's current work factor (N=2^17, 128 MiB)
//! cannot be read by `openssl pkey`, whose scrypt memory limit is 32 MiB, and an
//! encrypted root key the organisation's own tooling cannot open is worse than none.

mod kdf;
mod pkcs8;

use std::cell::OnceCell;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use der::Decode as _;
use zeroize::Zeroizing;

pub use kdf::{MAX_ITERATIONS, MAX_SCRYPT_MEMORY, MAX_SCRYPT_P, MAX_SCRYPT_WORK};
use pkcs8::Cipher;

use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::pem::PemBlock;
use crate::pki::text::shown;

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

    /// The passphrase file, when the passphrase comes from one: a ceremony
    /// record names it (never its contents, nor their hash).
    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            PassphraseSource::File(path) => Some(path),
            PassphraseSource::Terminal | PassphraseSource::None => None,
        }
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
                let prompt = format!("Passphrase for {}: ", shown(for_file));
                Passphrase(ask(prompt)?)
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
                let prompt = format!("New passphrase for {}: ", shown(for_file));
                let first = ask(prompt)?;
                let again = ask("Repeat it: ".into())?;
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

/// Asks on the terminal without echo. SIGINT (Ctrl-C) and SIGTERM end the
/// wait: the read fails with EINTR, and rpassword turns echo back on.
fn ask(prompt: String) -> Result<Zeroizing<String>> {
    let typed = rpassword::prompt_password(prompt).map(Zeroizing::new);
    crate::pki::interrupt::check_interrupted()?;
    typed.map_err(read_from_terminal)
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

/// The first line of a passphrase file: read as every input is (a regular
/// file, bounded), and refused when group or others may read it, as ssh
/// refuses such a private key: the passphrase is the key in the clear.
fn read_first_line(path: &Path) -> Result<Passphrase> {
    let bytes = Zeroizing::new(crate::pki::input::read(path)?);
    let mode = rustix::fs::stat(path)
        .map_err(|e| Error::io(path, "reading", e.into()))?
        .st_mode;
    if mode & 0o077 != 0 {
        return Err(Error::at(
            path,
            Kind::Inputs(format!(
                "the passphrase file is readable by group or others (mode {:o}); \
                 `chmod 600` it",
                mode & 0o777
            )),
        ));
    }
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
    let (label, clear) = if block.label == super::ENCRYPTED_PKCS8_LABEL {
        let scheme = pkcs8::parse(&block.der).map_err(error)?;
        let passphrase = Zeroizing::new(passphrase.bytes().to_vec());
        let (kdf, cipher, iv) = (scheme.kdf, scheme.cipher, scheme.iv);
        // The key (and, for PKCS#12, the IV) derived where a signal can stop it.
        let derived = crate::pki::interrupt::run(move || {
            let key = kdf.derive(&passphrase, 1, cipher.key_len())?;
            let iv = match iv {
                Some(iv) => Zeroizing::new(iv),
                None => kdf.derive(&passphrase, 2, cipher.block_len())?,
            };
            Some((key, iv))
        })?;
        let (key, iv) =
            derived.ok_or_else(|| error(format!("{}: the key derivation failed", scheme.name)))?;
        let clear = cbc_decrypt(cipher, &key, &iv, scheme.ciphertext);
        (super::PKCS8_LABEL.to_string(), clear)
    } else {
        let dek_info = block
            .header("DEK-Info")
            .ok_or_else(|| error("encrypted, but without a DEK-Info header".into()))?;
        let (cipher, iv) = dek_info_cipher(dek_info).map_err(error)?;
        let key = kdf::bytes_to_key(passphrase.bytes(), &iv[..8], cipher.key_len());
        (
            block.label.clone(),
            cbc_decrypt(cipher, &key, &iv, &block.der),
        )
    };
    // A wrong passphrase can still yield valid padding by chance (1 in 256): the
    // clear text must also be one DER value.
    match clear {
        Some(clear) if der::asn1::AnyRef::from_der(&clear).is_ok() => Ok((label, clear)),
        _ => Err(error(
            "wrong passphrase (or a damaged key): cannot decrypt it".into(),
        )),
    }
}

/// The cipher and IV of a `DEK-Info: CIPHER,IVHEX` header.
fn dek_info_cipher(dek_info: &str) -> std::result::Result<(Cipher, Vec<u8>), String> {
    let (name, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| format!("malformed DEK-Info \"{}\"", dek_info.escape_debug()))?;
    let name = name.trim().to_ascii_uppercase();
    let cipher = match name.as_str() {
        "AES-128-CBC" => Cipher::Aes128,
        "AES-192-CBC" => Cipher::Aes192,
        "AES-256-CBC" => Cipher::Aes256,
        "DES-EDE3-CBC" => Cipher::DesEde3,
        other => {
            return Err(format!(
                "traditional PEM encrypted with {}: not supported (AES-128/192/256-CBC and \
                 DES-EDE3-CBC are); {}",
                other.escape_debug(),
                pkcs8::REENCRYPT
            ));
        }
    };
    let iv = super::decode_hex(iv_hex.trim()).ok_or("DEK-Info IV is not hex")?;
    if iv.len() != cipher.block_len() {
        return Err(format!("DEK-Info IV of {} bytes for {name}", iv.len()));
    }
    Ok((cipher, iv))
}

/// CBC with PKCS#7 padding; `None` when the padding is wrong.
fn cbc_decrypt(cipher: Cipher, key: &[u8], iv: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    match cipher {
        Cipher::Aes128 => cbc_with::<aes::Aes128>(key, iv, body),
        Cipher::Aes192 => cbc_with::<aes::Aes192>(key, iv, body),
        Cipher::Aes256 => cbc_with::<aes::Aes256>(key, iv, body),
        Cipher::DesEde3 => cbc_with::<des::TdesEde3>(key, iv, body),
        Cipher::DesEde2 => cbc_with::<des::TdesEde2>(key, iv, body),
    }
}

fn cbc_with<C>(key: &[u8], iv: &[u8], body: &[u8]) -> Option<Zeroizing<Vec<u8>>>
where
    C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
{
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    decryptor
        .decrypt_padded_vec::<Pkcs7>(body)
        .ok()
        .map(Zeroizing::new)
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
    let params = ::pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
        PBKDF2_ITERATIONS,
        &salt,
        iv,
    )
    .map_err(|e| crypto(&e))?;
    let info = ::pkcs8::PrivateKeyInfoRef::from_der(pkcs8_der).map_err(|e| crypto(&e))?;
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
    fn a_missing_passphrase_names_the_key_file_and_the_flag() {
        let error = Passphrases::none()
            .get(Path::new("root-ca.key"))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("root-ca.key: is encrypted"), "{error}");
        assert!(error.contains("--password-file"), "{error}");
    }
}
