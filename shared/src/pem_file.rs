//! Reading PEM files strictly, and writing PEM the way OpenSSL does (LF line ends).
//!
//! The `pem` crate skips a `BEGIN` line that has no matching `END`; a truncated key
//! file must be an error here, so the number of `BEGIN` markers is checked against
//! the blocks decoded.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One PEM block: its label (`CERTIFICATE`, `EC PRIVATE KEY`, ...) and DER contents.
#[derive(Clone)]
pub struct PemBlock {
    /// Where the block's text (BEGIN line to END line and its newline) sits in the file.
    pub span: Range<usize>,
    /// The label between `BEGIN ` and the dashes.
    pub label: String,
    /// The decoded contents.
    pub der: Vec<u8>,
    /// The RFC 1421 headers before the base64 body, in order (`Proc-Type`,
    /// `DEK-Info` on keys encrypted in OpenSSL's traditional form).
    pub headers: Vec<(String, String)>,
}

impl PemBlock {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the block carries OpenSSL's traditional encryption headers
    /// (`Proc-Type: 4,ENCRYPTED`).
    pub fn is_encrypted(&self) -> bool {
        self.header("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"))
    }
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
        let spans = block_spans(&bytes);
        if spans.is_empty() {
            return Err(pem_error("no PEM block found (not a PEM file?)".into()));
        }
        if spans.len() != parsed.len() {
            return Err(pem_error(format!(
                "malformed PEM: {} BEGIN lines but {} complete blocks \
                 (truncated file, or a block without its END line)",
                spans.len(),
                parsed.len()
            )));
        }
        let blocks = parsed
            .into_iter()
            .zip(spans)
            .map(|(p, span)| PemBlock {
                span,
                label: p.tag().to_string(),
                headers: p
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
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

/// The byte ranges of the blocks of a PEM text: from each `-----BEGIN ` to the end
/// of the line that closes it. A BEGIN without an END yields no span.
fn block_spans(bytes: &[u8]) -> Vec<Range<usize>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let find = |from: usize, needle: &[u8]| {
        bytes
            .get(from..)
            .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
            .map(|at| from + at)
    };
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(start) = find(from, BEGIN) {
        let next_begin = find(start + BEGIN.len(), BEGIN);
        let end = find(start, END).filter(|end| next_begin.is_none_or(|nb| *end < nb));
        let Some(end) = end else {
            // Count the unterminated block, so the caller sees the mismatch.
            spans.push(start..start);
            from = next_begin.unwrap_or(bytes.len());
            if next_begin.is_none() {
                break;
            }
            continue;
        };
        let line_end = bytes[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |at| end + at + 1);
        spans.push(start..line_end);
        from = line_end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_each_block_and_its_newline() {
        let text = b"junk\n-----BEGIN A-----\nAAAA\n-----END A-----\n-----BEGIN B-----\nAAAA\n-----END B-----";
        let file = PemFile::parse(Path::new("f"), text.to_vec()).unwrap();
        let pieces: Vec<&[u8]> = file.blocks.iter().map(|b| &text[b.span.clone()]).collect();
        assert_eq!(pieces[0], b"-----BEGIN A-----\nAAAA\n-----END A-----\n");
        assert_eq!(pieces[1], b"-----BEGIN B-----\nAAAA\n-----END B-----");
    }

    #[test]
    fn a_block_without_its_end_is_malformed() {
        let text = b"-----BEGIN A-----\nAAAA\n-----END A-----\n-----BEGIN B-----\nAAAA\n";
        let err = PemFile::parse(Path::new("f.pem"), text.to_vec())
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("f.pem: malformed PEM"), "{err}");
        assert!(PemFile::parse(Path::new("e"), b" \n".to_vec()).is_err());
    }
}
