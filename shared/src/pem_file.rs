//! Reading PEM files strictly, and writing PEM the way OpenSSL does (LF line ends).
//!
//! The `pem` crate skips a `BEGIN` line that has no matching `END`; a truncated key
//! file must be an error here, so the number of `BEGIN` markers is checked against
//! the blocks decoded.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One PEM block: its label (`CERTIFICATE`, `EC PRIVATE KEY`, ...) and DER contents.
#[derive(Clone)]
pub struct PemBlock {
    /// The label between `BEGIN ` and the dashes.
    pub label: String,
    /// The decoded contents.
    pub der: Vec<u8>,
    /// Whether the block carries legacy OpenSSL encryption headers.
    pub encrypted: bool,
}

/// The blocks of one PEM file, with the file's path for error messages.
pub struct PemFile {
    /// Where the blocks were read from.
    pub path: PathBuf,
    /// The raw file contents, kept for byte-exact reuse.
    pub bytes: Vec<u8>,
    /// The blocks in file order.
    pub blocks: Vec<PemBlock>,
}

impl PemFile {
    /// Reads and decodes `path`; an unreadable file, no PEM block, or a malformed
    /// (for instance truncated) block is an error naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "reading", e))?;
        Self::parse(path, bytes)
    }

    /// Decodes PEM `bytes` that came from `path`.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let pem_error = |problem: String| Error::Pem {
            path: path.to_path_buf(),
            problem,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(pem_error("the file is empty".into()));
        }
        let parsed =
            pem::parse_many(&bytes).map_err(|e| pem_error(format!("malformed PEM: {e}")))?;
        let begins = count(&bytes, b"-----BEGIN ");
        if parsed.is_empty() {
            return Err(pem_error("no PEM block found (not a PEM file?)".into()));
        }
        if begins != parsed.len() {
            return Err(pem_error(format!(
                "malformed PEM: {begins} BEGIN lines but only {} complete blocks \
                 (truncated file, or a block without its END line)",
                parsed.len()
            )));
        }
        let blocks = parsed
            .into_iter()
            .map(|p| PemBlock {
                label: p.tag().to_string(),
                encrypted: p
                    .headers()
                    .get("Proc-Type")
                    .is_some_and(|v| v.contains("ENCRYPTED")),
                der: p.into_contents(),
            })
            .collect();
        Ok(PemFile {
            path: path.to_path_buf(),
            bytes,
            blocks,
        })
    }

    /// The DER of every `CERTIFICATE` block, in order.
    pub fn certificate_ders(&self) -> impl Iterator<Item = &[u8]> {
        self.blocks
            .iter()
            .filter(|b| b.label == CERTIFICATE)
            .map(|b| b.der.as_slice())
    }
}

/// The PEM label of an X.509 certificate.
pub const CERTIFICATE: &str = "CERTIFICATE";

/// Encodes one block with LF line endings, 64 columns, as OpenSSL writes it.
pub fn encode(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
