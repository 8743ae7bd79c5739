//! The join-token CA hash, exactly as k3s computes it (`hashCA` in
//! k3s pkg/clientaccess/token.go), and token formatting.
//!
//! With more than one certificate in the bundle, k3s puts the later certificates
//! into roots (no AKI, or AKI == SKI) and intermediates (the rest), verifies the
//! first one with Go's crypto/x509, and hashes the DER of the last certificate of
//! the first chain. With one certificate, or if verification fails, it hashes the
//! raw bytes of the file. Any difference gives tokens every agent rejects.

use std::path::Path;
use std::time::SystemTime;

use crate::pki::error::{Error, Kind, Result};

use crate::pki::cert::{Certificate, bundle_in};
use crate::pki::keys::sha256_hex;
use crate::pki::pem::PemFile;
use crate::pki::verify::go_first_chain;

/// The prefix of every k3s token that carries a CA hash.
pub const TOKEN_PREFIX: &str = "K10";

/// k3s's `hashCA` of a CA bundle file: `file_bytes` are its exact contents and
/// `certs` its parsed certificates in order.
pub fn k3s_ca_hash(file_bytes: &[u8], certs: &[Certificate], now: SystemTime) -> String {
    if let [first, rest @ ..] = certs {
        if !rest.is_empty() {
            let (roots, intermediates): (Vec<&Certificate>, Vec<&Certificate>) =
                rest.iter().partition(|cert| cert.is_k3s_root());
            if let Some(chain) = go_first_chain(first, &roots, &intermediates, now) {
                if let Some(root) = chain.last() {
                    return sha256_hex(root.der());
                }
            }
        }
    }
    sha256_hex(file_bytes)
}

/// k3s's `hashCA` of a PEM bundle file already read (or planned). A file
/// with a UTF-8 byte order mark is refused: k3s hashes its bytes as they are
/// but Go's PEM reader does not skip the mark, so k3s would not read the
/// certificate after it (the one it signs with, when it starts the file).
pub fn k3s_ca_hash_of(file: &PemFile, now: SystemTime) -> Result<String> {
    if file.byte_order_marks > 0 {
        return Err(Error::at(
            &file.path,
            Kind::Pem(
                "holds a UTF-8 byte order mark (BOM): OpenSSL skips it, but Go's PEM reader, \
                 and so k3s, does not and would not read the certificate after it; remove it"
                    .into(),
            ),
        ));
    }
    Ok(k3s_ca_hash(&file.bytes, &bundle_in(file)?, now))
}

/// The token prefix agents check the server CA against: `K10<hash>::`.
pub fn token_prefix(ca_hash: &str) -> String {
    format!("{TOKEN_PREFIX}{ca_hash}::")
}

/// A join-token file (`server/token`, `server/agent-token`):
/// `K10<ca-hash>::<user>:<password>`.
pub struct TokenFile {
    ca_hash: String,
    /// The credentials after `::` (`server:<password>`).
    credentials: String,
}

impl TokenFile {
    /// Reads and parses a token file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = crate::pki::input::read(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::at(
                path,
                Kind::Inputs("not a k3s token (not UTF-8 text)".into()),
            )
        })?;
        Self::parse(path, text.trim())
    }

    /// Parses a full token.
    pub fn parse(path: &Path, token: &str) -> Result<Self> {
        let malformed = |problem: &str| {
            Error::at(
                path,
                Kind::Inputs(format!(
                    "not a k3s token ({problem}); expected K10<ca-hash>::<user>:<password>"
                )),
            )
        };
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(|| malformed("no K10 prefix"))?;
        let (hash, credentials) = rest
            .split_once("::")
            .ok_or_else(|| malformed("no '::' after the CA hash"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("the CA hash is not 64 hex digits"));
        }
        if !credentials.contains(':') {
            return Err(malformed("no <user>:<password>"));
        }
        Ok(TokenFile {
            ca_hash: hash.to_ascii_lowercase(),
            credentials: credentials.to_string(),
        })
    }

    /// The CA hash the token carries.
    pub fn ca_hash(&self) -> &str {
        &self.ca_hash
    }

    /// The same credentials under another CA hash.
    pub fn with_ca_hash(&self, ca_hash: &str) -> String {
        format!("{}{}", token_prefix(ca_hash), self.credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_keeps_its_credentials_under_a_new_hash() {
        let old = format!("K10{}::server:secret", "ab".repeat(32));
        let token = TokenFile::parse(Path::new("token"), &old).unwrap();
        let new_hash = "cd".repeat(32);
        assert_eq!(
            token.with_ca_hash(&new_hash),
            format!("K10{new_hash}::server:secret")
        );
        assert!(TokenFile::parse(Path::new("t"), "secret").is_err());
        assert!(TokenFile::parse(Path::new("t"), "K10abc::server:x").is_err());
    }
}
