//! Reading PEM files strictly, and writing PEM the way OpenSSL does (LF line ends).
//!
//! The parser makes one pass over the lines of the file, so its time is linear in
//! the file's size whatever the input (a regex-based parser that rescans from
//! every `BEGIN` line is quadratic on hostile files). It is stricter than Go's
//! `pem.Decode`, which silently skips what it cannot read: a `BEGIN` line without
//! its `END`, a mangled marker line or a body that is not base64 is an error here,
//! so a truncated key file is never taken for a shorter one.
//!
//! Error messages never quote the file's text: they give line and block numbers,
//! and a label only once it has been checked to look like one (see [`is_label`]),
//! because the text of a broken marker line may be a private key's base64 body.

use std::ops::Range;
use std::path::{Path, PathBuf};

use base64ct::Encoding as _;

use crate::pki::error::{Error, Kind, Result};

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
    /// The file contents, kept for byte-exact reuse, less the UTF-8 byte
    /// order marks OpenSSL skips (Go's `pem.Decode` does not skip them: it
    /// would miss the block after one in a copy we write).
    pub bytes: Vec<u8>,
    /// The blocks in file order.
    pub blocks: Vec<PemBlock>,
    /// How many UTF-8 byte order marks were skipped (and left out of
    /// `bytes`): Go's `pem.Decode` skips none, so k3s would miss the block
    /// after each.
    pub byte_order_marks: usize,
}

impl PemFile {
    /// Reads and decodes `path` (a regular file of at most
    /// [`crate::pki::input::MAX_INPUT_BYTES`]); an unreadable file, no PEM block, or a
    /// malformed (for instance truncated) block is an error naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(path, crate::pki::input::read(path)?)
    }

    /// Decodes PEM `bytes` that came from `path`.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let (blocks, boms) =
            parse_blocks(&bytes).map_err(|problem| Error::at(path, Kind::Pem(problem)))?;
        let byte_order_marks = boms.len();
        let bytes = if boms.is_empty() {
            bytes
        } else {
            without(&bytes, &boms)
        };
        Ok(PemFile {
            path: path.to_path_buf(),
            bytes,
            blocks,
            byte_order_marks,
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
    let body = base64ct::Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Whether `text` looks like a PEM label and may be quoted in a message:
/// short, upper-case letters, digits and single inner spaces (RFC 7468 labels
/// in practice). Anything else may be a fragment of a base64 body.
pub fn is_label(text: &str) -> bool {
    const MAX_LABEL: usize = 40;
    !text.is_empty()
        && text.len() <= MAX_LABEL
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
}

const BEGIN: &[u8] = b"-----BEGIN ";
/// The UTF-8 byte order mark some Windows editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// The label of a marker line (`-----BEGIN X-----` after `BEGIN`), if well-formed.
fn marker_label(line: &[u8], marker: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(marker)?.trim_ascii_end();
    let label = std::str::from_utf8(rest.strip_suffix(DASHES)?).ok()?;
    is_label(label).then(|| label.to_string())
}

/// A block being read.
struct Open {
    start: usize,
    label: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// `bytes` less the ranges `cut` (in order, not overlapping).
fn without(bytes: &[u8], cut: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for range in cut {
        out.extend_from_slice(&bytes[from..range.start]);
        from = range.end;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// The blocks, with spans in the file less its skipped byte order marks, and
/// where those marks were.
type Parsed = (Vec<PemBlock>, Vec<Range<usize>>);

/// One pass over the lines: each line is looked at once, the body of each
/// block is collected and decoded once.
fn parse_blocks(bytes: &[u8]) -> std::result::Result<Parsed, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty".into());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(
            "the file is UTF-16 (it starts with a UTF-16 byte order mark): \
                    save it as ASCII (or UTF-8)"
                .into(),
        );
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut offset = 0;
    // OpenSSL skips one UTF-8 byte order mark where it starts looking for a
    // BEGIN line: at the start of the file and on the line after each END line.
    let mut bom_allowed = true;
    let mut boms = Vec::new();
    for (number, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        #[cfg(test)]
        tests::LINES_SEEN.with(|seen| seen.set(seen.get() + 1));
        let shift = boms.len() * BOM.len();
        let (line_start, mut line_end) = (offset - shift, offset + raw.len() - shift);
        offset += raw.len();
        let number = number + 1;
        let mut line = raw.trim_ascii_end();
        if bom_allowed && open.is_none() {
            if let Some(rest) = line.strip_prefix(BOM) {
                line = rest;
                boms.push(offset - raw.len()..offset - raw.len() + BOM.len());
                line_end -= BOM.len();
            }
        }
        bom_allowed = false;
        if line
            .strip_prefix(BOM)
            .is_some_and(|rest| rest.starts_with(DASHES))
        {
            return Err(format!(
                "malformed PEM: line {number}: a UTF-8 byte order mark (BOM) before a marker \
                 line, where OpenSSL would not skip it (it skips one at the start of the file \
                 or right after an END line): remove it"
            ));
        }
        let block_no = blocks.len() + 1;
        match open.as_mut() {
            None if line.starts_with(BEGIN) => {
                let label = marker_label(line, BEGIN).ok_or_else(|| {
                    format!("malformed PEM: line {number}: not a well-formed BEGIN line")
                })?;
                open = Some(Open {
                    start: line_start,
                    label,
                    headers: Vec::new(),
                    body: Vec::new(),
                });
            }
            None if line.starts_with(END) => {
                return Err(format!(
                    "malformed PEM: line {number}: an END line without its BEGIN line \
                     (a mangled BEGIN line?)"
                ));
            }
            // Text between blocks is allowed, as OpenSSL and Go allow it.
            None => {}
            Some(block) if line.starts_with(END) => {
                if marker_label(line, END).as_deref() != Some(block.label.as_str()) {
                    return Err(format!(
                        "malformed PEM: line {number}: block #{block_no} (\"{}\") does not end \
                         with its own END line",
                        block.label
                    ));
                }
                let der = base64ct::Base64::decode_vec(&String::from_utf8_lossy(&block.body))
                    .map_err(|_| {
                        format!(
                            "malformed PEM: block #{block_no} (\"{}\"): the body is not valid base64",
                            block.label
                        )
                    })?;
                bom_allowed = true;
                if let Some(block) = open.take() {
                    blocks.push(PemBlock {
                        span: block.start..line_end,
                        label: block.label,
                        der,
                        headers: block.headers,
                    });
                }
            }
            Some(block) if line.starts_with(BEGIN) || line.starts_with(DASHES) => {
                return Err(format!(
                    "malformed PEM: line {number}: block #{block_no} (\"{}\") has no END line \
                     before the next marker (truncated block?)",
                    block.label
                ));
            }
            Some(block) => read_body_line(block, line, number, block_no)?,
        }
    }
    if let Some(block) = open {
        return Err(format!(
            "malformed PEM: block #{} (\"{}\") has no END line (truncated file?)",
            blocks.len() + 1,
            block.label
        ));
    }
    if blocks.is_empty() {
        if let Some(kind) = crate::pki::exports::binary_der(bytes) {
            return Err(kind.into());
        }
        return Err("no PEM block found (not a PEM file?)".into());
    }
    Ok((blocks, boms))
}

/// A header (`Name: value`, only before the body), the blank line after the
/// headers, or a line of base64.
fn read_body_line(
    block: &mut Open,
    line: &[u8],
    number: usize,
    block_no: usize,
) -> std::result::Result<(), String> {
    let line = line.trim_ascii();
    let in_headers = block.body.is_empty();
    if in_headers {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let text = |b: &[u8]| String::from_utf8_lossy(b.trim_ascii()).into_owned();
            block.headers.push((text(name), text(value)));
            return Ok(());
        }
    }
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if !line.iter().all(base64) {
        return Err(format!(
            "malformed PEM: line {number}: block #{block_no} (\"{}\") holds a line that is not base64",
            block.label
        ));
    }
    block.body.extend_from_slice(line);
    Ok(())
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

    #[test]
    fn headers_of_traditional_encrypted_keys_are_kept() {
        let text = b"-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n\
            DEK-Info: AES-256-CBC,00FF\r\n\r\nAAAA\r\n-----END RSA PRIVATE KEY-----\r\n";
        let file = PemFile::parse(Path::new("k"), text.to_vec()).unwrap();
        let block = &file.blocks[0];
        assert!(block.is_encrypted());
        assert_eq!(block.header("DEK-Info"), Some("AES-256-CBC,00FF"));
        assert_eq!(block.der, [0, 0, 0]);
    }

    #[test]
    fn encoding_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        let file = PemFile::parse(Path::new("c"), text.into_bytes()).unwrap();
        assert_eq!(file.blocks[0].der, der);
    }

    /// Issue 10 case 4: a BEGIN line missing one dash made the old parser quote
    /// everything up to the next block, a whole private key, in its message.
    #[test]
    fn a_mangled_begin_line_never_puts_key_material_in_the_message() {
        let body = "MHcCAQEEIGlRHVV2QkqxKbp4GdwV0g8gBzJtO1QDWX6wFvpzLNHhoAoGCCqGSM49";
        let text = format!(
            "-----BEGIN EC PRIVATE KEY----\n{body}\n-----END EC PRIVATE KEY-----\n\
             -----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"
        );
        let err = PemFile::parse(Path::new("k.key"), text.into_bytes())
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("MHcC") && !err.contains('\n'), "{err}");
        let text = format!("-----BEGIN {body}-----\n{body}\n-----END {body}-----\n");
        let err = PemFile::parse(Path::new("k.key"), text.into_bytes())
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("MHcC"), "{err}");
    }

    /// Issue 18: a UTF-8 BOM was "an END line without its BEGIN line". OpenSSL
    /// (`openssl x509 -in`) skips one at the start of the file and one at the
    /// start of the line after an END line; two in a row, or one elsewhere
    /// before a marker, it does not (and the block is lost to it).
    #[test]
    fn a_byte_order_mark_is_skipped_where_openssl_skips_it() {
        let block = "-----BEGIN A-----\r\nAAAA\r\n-----END A-----\r\n";
        let parse = |text: String| PemFile::parse(Path::new("f.pem"), text.into_bytes());
        let bom = "\u{feff}";
        let file = parse(format!("{bom}{block}")).unwrap();
        assert_eq!(file.blocks.len(), 1);
        assert_eq!(file.bytes, block.as_bytes(), "the copy we keep has no BOM");
        let file = parse(format!("{bom}\n{block}{bom}{block}")).unwrap();
        assert_eq!(file.bytes, format!("\n{block}{block}").as_bytes());
        for b in &file.blocks {
            assert_eq!(&file.bytes[b.span.clone()], block.as_bytes());
        }
        assert_eq!(
            parse(format!("{block}{bom}comment\n{block}"))
                .unwrap()
                .blocks
                .len(),
            2
        );
        for (text, expected) in [
            (
                format!("{bom}{bom}{block}"),
                "line 1: a UTF-8 byte order mark (BOM)",
            ),
            (
                format!("{block}x\n{bom}{block}"),
                "line 5: a UTF-8 byte order mark (BOM)",
            ),
            // OpenSSL refuses a BEGIN line that does not start its line too.
            (
                format!(" {block}"),
                "line 3: an END line without its BEGIN line",
            ),
        ] {
            let err = parse(text).err().unwrap().to_string();
            assert!(err.contains(expected) && !err.contains('\n'), "{err}");
        }
        let utf16: Vec<u8> = b"\xFF\xFE-\0-\0".to_vec();
        let err = PemFile::parse(Path::new("w.pem"), utf16).err().unwrap();
        assert!(err.to_string().contains("UTF-16"), "{err}");
    }

    thread_local! {
        /// Lines `parse_blocks` has looked at on this thread.
        pub(super) static LINES_SEEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Lines looked at while parsing `text`, and whether it parsed.
    fn lines_seen(text: String) -> (usize, bool) {
        LINES_SEEN.with(|seen| seen.set(0));
        let parsed = PemFile::parse(Path::new("big"), text.into_bytes()).is_ok();
        (LINES_SEEN.with(std::cell::Cell::get), parsed)
    }

    /// Issue 10 case 8: 40,000 BEGIN lines took 17 s with the old scanner,
    /// which searched the rest of the file again from every BEGIN line. Each
    /// line is looked at once, whatever the file holds (counted, not timed:
    /// a time limit fails on a busy machine and proves nothing on a fast one).
    #[test]
    fn pem_scanning_is_linear() {
        let block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let file = PemFile::parse(Path::new("big"), block.repeat(200_000).into_bytes()).unwrap();
        assert_eq!(file.blocks.len(), 200_000);
        assert_eq!(lines_seen(block.repeat(200_000)), (600_000, true));
        // Errors stop at the line that shows them...
        let unterminated = "-----BEGIN CERTIFICATE-----\n".repeat(200_000);
        assert_eq!(lines_seen(unterminated), (2, false));
        // ...or after one pass when only the end tells.
        let begins = "x-----BEGIN -----BEGIN \n".repeat(200_000);
        assert_eq!(lines_seen(begins), (200_000, false));
        let open = format!("-----BEGIN A-----\n{}", "AAAA\n".repeat(200_000));
        assert_eq!(lines_seen(open), (200_001, false));
    }
}
