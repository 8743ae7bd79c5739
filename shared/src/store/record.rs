//! The ceremony record of a writing run (`--record FILE`): what was made, by
//! which tool, when, on which host, from which inputs; for every file its
//! mode and SHA-256, for every certificate its subject, issuer, serial,
//! validity, key type, fingerprint and SPKI pin. Written beside it: a text
//! form to print and sign on paper, and a `sha256sum -c` list of the tree.
//!
//! The record is derived from the run's [`Plan`](super::plan::Plan), so it
//! names exactly what the run writes, and `ca-check record` verifies a
//! carried tree against it. It never holds key material: a key file gets its
//! path, mode and SHA-256 only (see [`FileEntry::sha256`]).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::pki::cert::{Certificate, format_time};
use crate::pki::error::{Error, Kind, Result, one_line};
use crate::pki::keys::{PublicKey, hex, sha256_hex};
use crate::pki::pem::PemFile;

/// The `format` field: what a reader of the JSON checks first.
pub const FORMAT: &str = "k3s-pki ceremony record 1";

/// The largest record `ca-check record` reads: a signed directory of tens of
/// thousands of CSRs stays well below it.
pub const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;

/// What `--record FILE` and `--note TEXT` ask for, with the tool that runs.
#[derive(Clone, Debug)]
pub struct RecordRequest {
    /// The JSON record; the text form and the checksums go beside it.
    pub path: PathBuf,
    /// What the operator says about the run.
    pub note: Option<String>,
    /// The tool's name.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// The git commit it was built from, when known.
    pub commit: Option<String>,
}

impl RecordRequest {
    /// The request, refused when its path would collide with its own
    /// companions (`FILE.txt`, `FILE.SHA256SUMS`).
    pub fn new(
        path: PathBuf,
        note: Option<String>,
        tool: &str,
        version: &str,
        commit: Option<&str>,
    ) -> Result<Self> {
        let request = RecordRequest {
            path,
            note,
            tool: tool.to_string(),
            version: version.to_string(),
            commit: commit.map(str::to_string),
        };
        let files = request.files();
        if files[0] == files[1] || files[0] == files[2] || request.path.file_name().is_none() {
            return Err(Error::usage(format!(
                "--record {}: name the JSON record, e.g. ceremony.json (its text form and \
                 checksums go beside it as ceremony.txt and ceremony.SHA256SUMS)",
                one_line(&request.path.display().to_string())
            )));
        }
        Ok(request)
    }

    /// The three files written: the JSON record, its text form, the checksums.
    pub fn files(&self) -> [PathBuf; 3] {
        [
            self.path.clone(),
            self.path.with_extension("txt"),
            self.path.with_extension("SHA256SUMS"),
        ]
    }
}

/// A ceremony record, as written in JSON.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// [`FORMAT`].
    pub format: String,
    /// The tool that ran.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// The git commit it was built from.
    pub commit: Option<String>,
    /// When the run wrote (taken just before its commit), RFC 3339 UTC.
    pub time: String,
    /// The host it ran on.
    pub host: String,
    /// The operator's note.
    pub note: Option<String>,
    /// The directory the files are relative to: the deepest one holding
    /// everything the run wrote.
    pub tree: String,
    /// The companions of the record, by file name, beside it: a check skips
    /// them should the record lie in the tree.
    pub companions: Vec<String>,
    /// Every file the run read.
    pub inputs: Vec<InputEntry>,
    /// Every file of the tree: what the run wrote, and the inputs that lie in
    /// the directories it wrote in (they are carried with it).
    pub files: Vec<FileEntry>,
}

/// A file the run read.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct InputEntry {
    /// Its absolute path.
    pub path: String,
    /// What it was to the run ("the CA key").
    pub role: String,
    /// SHA-256 of its bytes; `None` for a passphrase file: a passphrase is
    /// short enough that its hash would let anyone test guesses offline.
    pub sha256: Option<String>,
}

/// A file of the tree.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Relative to [`Record::tree`].
    pub path: String,
    /// Permission bits, octal (`0600`).
    pub mode: String,
    /// SHA-256 of the file. Also for a private key: the hash of a key (or of
    /// an encrypted key file) reveals nothing of it, as the key is far too
    /// long to guess, and it is what tells a key swapped in transit.
    pub sha256: String,
    /// Whether this run wrote it (else it was an input already there).
    pub written: bool,
    /// Whether it goes with the tree to the cluster; a CA key for the vault
    /// does not: it is left out of the checksums, and a carried tree may
    /// lack it.
    #[serde(default = "carried_by_default")]
    pub carried: bool,
    /// The certificates it holds, in order (none for keys and kubeconfigs).
    pub certificates: Vec<CertEntry>,
}

/// One certificate of a file: what a person compares on paper.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CertEntry {
    /// RFC 4514.
    pub subject: String,
    /// RFC 4514.
    pub issuer: String,
    /// Hex, as `openssl x509 -serial` prints it (but lowercase).
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    /// `RSA-4096`, `ECDSA-P256`, ...
    pub key_algorithm: String,
    /// SHA-256 of the DER certificate (`openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
    /// SHA-256 of the SubjectPublicKeyInfo: the pin (kubeadm's discovery hash).
    pub spki_sha256: String,
}

/// A file of the tree before it is recorded: where it is and its bytes.
pub(super) struct TreeFile<'a> {
    pub(super) path: &'a Path,
    pub(super) contents: &'a [u8],
    pub(super) mode: u32,
    pub(super) written: bool,
    pub(super) carried: bool,
}

/// A file the run read, and whether it is a passphrase file.
pub(super) struct ReadFile<'a> {
    pub(super) path: &'a Path,
    pub(super) role: &'a str,
    pub(super) passphrase: bool,
}

/// Builds the record of a run writing `written` after reading `inputs`.
/// Inputs lying in a directory the run writes in join the tree; every input
/// but a passphrase file is hashed now, as the run read it moments ago.
pub(super) fn build(
    request: &RecordRequest,
    written: &[TreeFile<'_>],
    inputs: &[ReadFile<'_>],
    now: SystemTime,
) -> Result<Record> {
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| Error::io(p, "resolving", e));
    let mut read = Vec::new();
    let mut seen = BTreeSet::new();
    for input in inputs {
        let path = absolute(input.path)?;
        // A run names what it may read (an admin kubeconfig, unless --server
        // was given): one that is not there was not read.
        if !path.exists() || !seen.insert(path.clone()) {
            continue;
        }
        let sha256 = if input.passphrase {
            None
        } else {
            Some(sha256_hex(&crate::pki::input::read_up_to(
                input.path,
                MAX_RECORD_BYTES,
            )?))
        };
        read.push(InputEntry {
            path: utf8(&path)?.to_string(),
            role: input.role.to_string(),
            sha256,
        });
    }
    let outputs: Vec<PathBuf> = written
        .iter()
        .map(|f| absolute(f.path))
        .collect::<Result<_>>()?;
    let dirs: BTreeSet<PathBuf> = outputs
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let tree = common_dir(&dirs);
    let mut files = Vec::new();
    for (file, path) in written.iter().zip(&outputs) {
        let mut made = entry(&tree, path, file.contents, file.mode, file.written)?;
        made.carried = file.carried;
        files.push(made);
    }
    for input in inputs.iter().filter(|i| !i.passphrase) {
        let path = absolute(input.path)?;
        if !path.exists() {
            continue;
        }
        let in_tree = path.parent().is_some_and(|d| dirs.contains(d));
        if !in_tree || outputs.contains(&path) || files.iter().any(|f| tree.join(&f.path) == path) {
            continue;
        }
        let contents = crate::pki::input::read_up_to(&path, MAX_RECORD_BYTES)?;
        let mode = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, "reading", e))?
            .permissions()
            .mode()
            & 0o7777;
        files.push(entry(&tree, &path, &contents, mode, false)?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let companions = request
        .files()
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    Ok(Record {
        format: FORMAT.to_string(),
        tool: request.tool.clone(),
        version: request.version.clone(),
        commit: request.commit.clone(),
        time: format_time(now),
        host: rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
        note: request.note.clone(),
        tree: utf8(&tree)?.to_string(),
        companions,
        inputs: read,
        files,
    })
}

fn carried_by_default() -> bool {
    true
}

/// The deepest directory holding every one of `dirs` (absolute paths).
fn common_dir(dirs: &BTreeSet<PathBuf>) -> PathBuf {
    let mut iter = dirs.iter();
    let Some(first) = iter.next() else {
        return PathBuf::from("/");
    };
    let mut common = first.clone();
    for dir in iter {
        while !dir.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// The entry of the file at `path` (absolute, inside `tree`).
fn entry(tree: &Path, path: &Path, contents: &[u8], mode: u32, written: bool) -> Result<FileEntry> {
    let relative = path.strip_prefix(tree).unwrap_or(path);
    let text = utf8(relative)?;
    // sha256sum escapes such names; a record keeps to names it can list plainly.
    if text.contains(['\n', '\r', '\\']) {
        return Err(Error::at(
            path,
            Kind::Inputs("a line break or backslash in a file name: no record can list it".into()),
        ));
    }
    Ok(FileEntry {
        path: text.to_string(),
        mode: format!("{mode:04o}"),
        sha256: sha256_hex(contents),
        written,
        carried: true,
        certificates: certificates(path, contents),
    })
}

/// The certificates of a PEM file; nothing for anything else. Only
/// CERTIFICATE blocks are looked at: a key block is never decoded here.
fn certificates(path: &Path, contents: &[u8]) -> Vec<CertEntry> {
    let Ok(pem) = PemFile::parse(path, contents.to_vec()) else {
        return Vec::new();
    };
    pem.certificate_ders()
        .enumerate()
        .filter_map(|(i, der)| Certificate::from_der(path, i + 1, der).ok())
        .map(|cert| {
            let spki = der::Encode::to_der(cert.public_key()).unwrap_or_default();
            let key_algorithm = PublicKey::from_spki(cert.public_key())
                .map(|key| key.algorithm().to_string())
                .unwrap_or_else(|_| "unknown".to_string());
            CertEntry {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                serial: serial_hex(cert.x509().tbs_certificate().serial_number().as_bytes()),
                not_before: format_time(cert.not_before()),
                not_after: format_time(cert.not_after()),
                key_algorithm,
                sha256_fingerprint: sha256_hex(cert.der()),
                spki_sha256: sha256_hex(&spki),
            }
        })
        .collect()
}

/// A serial as openssl prints it (lowercased): the DER sign byte dropped.
fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex(&bytes[start..])
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::at(
            path,
            Kind::Inputs("not UTF-8: a record cannot name it".into()),
        )
    })
}

impl Record {
    /// The JSON form, pretty-printed, ending in a line break.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|_| Error::bug("a ceremony record could not be encoded"))?;
        json.push(b'\n');
        Ok(json)
    }

    /// Reads a record written by [`Self::to_json`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = crate::pki::input::read_up_to(path, MAX_RECORD_BYTES)?;
        let record: Record = serde_json::from_slice(&bytes)
            .map_err(|e| Error::at(path, Kind::Inputs(format!("not a ceremony record: {e}"))))?;
        if record.format != FORMAT {
            return Err(Error::at(
                path,
                Kind::Inputs(format!(
                    "format {:?}, not {FORMAT:?}",
                    one_line(&record.format)
                )),
            ));
        }
        for file in &record.files {
            let safe = Path::new(&file.path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !safe {
                return Err(Error::at(
                    path,
                    Kind::Inputs(format!(
                        "file {:?} leaves the tree: not a record this tool wrote",
                        one_line(&file.path)
                    )),
                ));
            }
        }
        Ok(record)
    }

    /// `sha256sum -c` input: one `<hash>  <path>` line per file carried with
    /// the tree, paths relative to it.
    pub fn sha256sums(&self) -> Vec<u8> {
        let mut text = String::new();
        for file in self.files.iter().filter(|f| f.carried) {
            text.push_str(&format!("{}  {}\n", file.sha256, file.path));
        }
        text.into_bytes()
    }

    /// The text form, to print, compare and sign on paper; `record` is
    /// where the JSON record goes (the checksums beside it).
    pub fn to_text(&self, record: &Path) -> Vec<u8> {
        let record = std::path::absolute(record).unwrap_or_else(|_| record.to_path_buf());
        let sums = record.with_extension("SHA256SUMS");
        let line = |text: &str| one_line(text);
        let mut t = String::new();
        t.push_str("CEREMONY RECORD\n\n");
        let version = match &self.commit {
            Some(commit) => format!("{} (commit {})", self.version, line(commit)),
            None => self.version.clone(),
        };
        t.push_str(&format!(
            "tool      {} {}\n",
            line(&self.tool),
            line(&version)
        ));
        t.push_str(&format!("time      {}\n", line(&self.time)));
        t.push_str(&format!("host      {}\n", line(&self.host)));
        if let Some(note) = &self.note {
            t.push_str(&format!("note      {}\n", line(note)));
        }
        t.push_str(&format!("tree      {}\n", line(&self.tree)));
        t.push_str(&format!(
            "check     cd {} && sha256sum -c {}\n          or: ca-check record {}\n",
            line(&self.tree),
            line(&sums.display().to_string()),
            line(&record.display().to_string())
        ));
        t.push_str("\nINPUTS\n");
        if self.inputs.is_empty() {
            t.push_str("  none\n");
        }
        for input in &self.inputs {
            t.push_str(&format!("  {}: {}\n", line(&input.role), line(&input.path)));
            match &input.sha256 {
                Some(hash) => t.push_str(&format!("    sha256 {hash}\n")),
                None => t.push_str("    (a passphrase file is not hashed)\n"),
            }
        }
        t.push_str("\nFILES (relative to the tree)\n");
        for file in &self.files {
            let how = match (file.written, file.carried) {
                (true, true) => "written",
                (true, false) => "written; stays behind, not carried",
                (false, _) => "input",
            };
            t.push_str(&format!("  {}  {}  ({how})\n", file.mode, line(&file.path)));
            t.push_str(&format!("    sha256 {}\n", file.sha256));
            for (i, cert) in file.certificates.iter().enumerate() {
                t.push_str(&format!("    certificate {}\n", i + 1));
                for (name, value) in [
                    ("subject", &cert.subject),
                    ("issuer", &cert.issuer),
                    ("serial", &cert.serial),
                    ("not before", &cert.not_before),
                    ("not after", &cert.not_after),
                    ("key", &cert.key_algorithm),
                    ("sha256 fingerprint", &cert.sha256_fingerprint),
                    ("spki sha256 (pin)", &cert.spki_sha256),
                ] {
                    t.push_str(&format!("      {name:<19} {}\n", line(value)));
                }
            }
        }
        t.push_str(
            "\nOperator   name ____________________  signature ____________________  date __________\n\
             Witness    name ____________________  signature ____________________  date __________\n",
        );
        t.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path) -> RecordRequest {
        RecordRequest::new(
            dir.join("ceremony.json"),
            Some("root ceremony\nline two".into()),
            "gen-custom-ca",
            "1.0.0",
            Some("abc1234"),
        )
        .unwrap()
    }

    #[test]
    fn record_companions_sit_beside_it_and_never_collide() {
        let dir = Path::new("/media/usb");
        let files = request(dir).files();
        assert_eq!(files[1], dir.join("ceremony.txt"));
        assert_eq!(files[2], dir.join("ceremony.SHA256SUMS"));
        for bad in ["ceremony.txt", "x.SHA256SUMS", "/"] {
            assert!(
                RecordRequest::new(PathBuf::from(bad), None, "t", "1", None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn record_tree_is_the_deepest_common_dir_and_inputs_there_join_it() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("server/tls");
        std::fs::create_dir_all(tls.join("etcd")).unwrap();
        let brought = tls.join("intermediate-ca.key");
        std::fs::write(&brought, b"key bytes").unwrap();
        let elsewhere = dir.path().join("password");
        std::fs::write(&elsewhere, b"secret\n").unwrap();
        let (a, b) = (tls.join("a.crt"), tls.join("etcd/b.crt"));
        let written = [
            TreeFile {
                path: &a,
                contents: b"a",
                mode: 0o644,
                written: true,
                carried: true,
            },
            TreeFile {
                path: &b,
                contents: b"b",
                mode: 0o644,
                written: true,
                carried: true,
            },
        ];
        let inputs = [
            ReadFile {
                path: &brought,
                role: "the intermediate key",
                passphrase: false,
            },
            ReadFile {
                path: &elsewhere,
                role: "the passphrase file",
                passphrase: true,
            },
        ];
        let record = build(
            &request(dir.path()),
            &written,
            &inputs,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(record.tree, tls.to_str().unwrap());
        let paths: Vec<&str> = record.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.crt", "etcd/b.crt", "intermediate-ca.key"]);
        assert!(!record.files[2].written);
        assert_eq!(
            record.inputs[1].sha256, None,
            "a passphrase is never hashed"
        );
        assert_eq!(
            record.inputs[0].sha256.as_deref(),
            Some(sha256_hex(b"key bytes").as_str())
        );
        assert_eq!(record.time, "1970-01-01T00:00:00Z");
        let sums = String::from_utf8(record.sha256sums()).unwrap();
        assert_eq!(
            sums.lines().next().unwrap(),
            format!("{}  a.crt", sha256_hex(b"a"))
        );
        // The note's line break cannot forge a line of the text form.
        let text = String::from_utf8(record.to_text(&dir.path().join("ceremony.json"))).unwrap();
        assert!(
            text.contains("note      root ceremony\\nline two\n"),
            "{text}"
        );
        // The JSON reads back as it was written.
        let path = dir.path().join("ceremony.json");
        std::fs::write(&path, record.to_json().unwrap()).unwrap();
        assert_eq!(Record::read(&path).unwrap(), record);
    }

    #[test]
    fn record_that_leaves_its_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        let a = tls.join("a.crt");
        let file = [TreeFile {
            path: &a,
            contents: b"a",
            mode: 0o644,
            written: true,
            carried: true,
        }];
        let mut record = build(&request(dir.path()), &file, &[], SystemTime::UNIX_EPOCH).unwrap();
        record.files[0].path = "../etc/passwd".into();
        std::fs::write(&path, record.to_json().unwrap()).unwrap();
        let error = Record::read(&path).unwrap_err().to_string();
        assert!(error.contains("leaves the tree"), "{error}");
        std::fs::write(&path, b"{}").unwrap();
        let error = Record::read(&path).unwrap_err().to_string();
        assert!(error.contains("not a ceremony record"), "{error}");
    }
}
