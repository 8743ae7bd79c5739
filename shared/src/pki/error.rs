//! The one error type of the library.
//!
//! Every variant names the file (or directory) it is about, so the binaries can
//! print one line that tells the user what to fix. No dependency error types leak
//! through: their messages are captured as text at the point of failure.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading inputs, building a plan or writing it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read, created or written.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What we were doing ("reading", "creating directory", ...).
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not well-formed PEM, or holds a block we cannot use.
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A certificate in the file could not be parsed as X.509.
    Certificate {
        /// The file.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A private or public key could not be parsed or is of a kind we do not handle.
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A private key does not belong to the certificate it is paired with.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// A certificate given as a CA is not one (no basicConstraints CA:TRUE, or no keyCertSign).
    NotCa {
        /// The certificate file.
        path: PathBuf,
        /// Its subject, for the message.
        subject: String,
        /// Which property is missing.
        problem: &'static str,
    },
    /// A certificate is outside its validity period.
    Validity {
        /// The certificate file.
        path: PathBuf,
        /// Its subject.
        subject: String,
        /// "expired on 2030-01-01T00:00:00Z" or "is not valid before ...".
        problem: String,
    },
    /// A certificate was not issued by the CA it must chain to.
    NotIssuedBy {
        /// The certificate file.
        cert: PathBuf,
        /// The issuer certificate file.
        issuer: PathBuf,
        /// Why: name mismatch or bad signature.
        problem: String,
    },
    /// The combination of input files cannot make a CA tree.
    Inputs {
        /// The file that is missing or out of place.
        path: PathBuf,
        /// What the user should know.
        problem: String,
    },
    /// The target directory belongs to an initialised cluster and `--force` was not given.
    Initialised {
        /// The TLS directory.
        dir: PathBuf,
        /// The CA files found there.
        found: Vec<PathBuf>,
        /// What to do instead, for this distribution (a sentence).
        advice: &'static str,
    },
    /// A staging directory already exists and `--force` was not given.
    StagingExists {
        /// The staging directory.
        dir: PathBuf,
    },
    /// A flag's value is not one the tool accepts.
    Usage {
        /// What is wrong, naming the flag or value.
        problem: String,
    },
    /// Pre-flight: what k3s would issue under these CAs would be rejected by a
    /// client that trusts only the root. Each entry names the input file, the
    /// constraint, and the certificate and names it breaks.
    Preflight {
        /// One line per finding.
        findings: Vec<String>,
    },
    /// An input or output path is not a regular file (a directory, FIFO, device...).
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a FIFO").
        kind: &'static str,
    },
    /// An input file is larger than any certificate or key file can be.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// `PRODUCT` or `--product` names no known product.
    Product {
        /// The value given, escaped for printing.
        value: String,
    },
    /// Another run holds the lock of the target directory.
    Locked {
        /// The locked directory.
        dir: PathBuf,
        /// Who holds it, as the holder wrote it ("pid 42 (gen-custom-ca)").
        holder: String,
    },
    /// SIGINT or SIGTERM arrived before the commit was complete; it was rolled back.
    Interrupted {
        /// The signal's name.
        signal: &'static str,
    },
    /// Rolling back a failed commit failed too: these backups hold the old files.
    RollBackFailed {
        /// (target, backup holding its old contents) pairs that could not be restored.
        kept: Vec<(PathBuf, PathBuf)>,
        /// Why the commit was being rolled back.
        cause: Box<Error>,
    },
    /// A commit journal left by an interrupted run cannot be read.
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The system clock cannot be right.
    Clock {
        /// Why.
        problem: String,
    },
    /// A certificate signing request is refused (see [`crate::pki::csr`]).
    Csr {
        /// The CSR file.
        path: PathBuf,
        /// Why.
        problem: crate::pki::csr::CsrProblem,
    },
    /// Key generation or signing failed inside the crypto library.
    Crypto {
        /// What we were doing.
        what: String,
        /// The library's message.
        problem: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// An [`Error::Crypto`] from any displayable library error.
    pub(crate) fn crypto(what: impl Into<String>, problem: impl fmt::Display) -> Self {
        Error::Crypto {
            what: what.into(),
            problem: problem.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "{}: {action} failed: {source}", path.display()),
            Error::Pem { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Certificate {
                path,
                index,
                problem,
            } => write!(
                f,
                "{}: certificate #{index} is not valid X.509: {problem}",
                path.display()
            ),
            Error::Key { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::KeyMismatch { cert, key } => write!(
                f,
                "{}: the private key does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
            Error::NotCa {
                path,
                subject,
                problem,
            } => write!(
                f,
                "{}: \"{subject}\" is not a CA certificate: {problem}",
                path.display()
            ),
            Error::Validity {
                path,
                subject,
                problem,
            } => write!(f, "{}: \"{subject}\" {problem}", path.display()),
            Error::NotIssuedBy {
                cert,
                issuer,
                problem,
            } => write!(
                f,
                "{}: not issued by the CA in {}: {problem}",
                cert.display(),
                issuer.display()
            ),
            Error::Inputs { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Initialised { dir, found, advice } => {
                write!(
                    f,
                    "{} already holds the CA files of an initialised cluster (",
                    dir.display()
                )?;
                for (i, path) in found.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{}", path.display())?;
                }
                write!(
                    f,
                    "); refusing to replace them. {advice}; \
                     use --force only if this cluster has never been started"
                )
            }
            Error::StagingExists { dir } => write!(
                f,
                "{} already exists (a staged rotation may already be loaded from it); \
                 use --force to replace it",
                dir.display()
            ),
            Error::Usage { problem } => f.write_str(problem),
            Error::Preflight { findings } => write!(
                f,
                "refusing to write a tree whose certificates clients that trust only the root \
                 would reject: {}",
                findings.join("; ")
            ),
            Error::NotAFile { path, kind } => {
                write!(f, "{}: is {kind}, not a regular file", path.display())
            }
            Error::TooLarge { path, limit } => write!(
                f,
                "{}: larger than {limit} bytes, which no certificate or key file is",
                path.display()
            ),
            Error::Product { value } => write!(
                f,
                "unknown product \"{value}\" (PRODUCT or --product): use k3s, rke2, kubeadm or k0s"
            ),
            Error::Locked { dir, holder } => write!(
                f,
                "{}: another run is writing here ({holder}); try again when it has finished",
                dir.display()
            ),
            Error::Interrupted { signal } => write!(
                f,
                "interrupted by {signal}: every file written so far was rolled back, nothing was changed"
            ),
            Error::RollBackFailed { kept, cause } => {
                write!(
                    f,
                    "{cause}; rolling back failed too, so these backups hold the old files (move each over its target by hand):"
                )?;
                for (target, backup) in kept {
                    write!(f, " {} -> {};", backup.display(), target.display())?;
                }
                Ok(())
            }
            Error::Journal { path, problem } => write!(
                f,
                "{}: cannot recover the interrupted commit it records: {problem}",
                path.display()
            ),
            Error::Clock { problem } => write!(f, "the system clock is wrong: {problem}"),
            Error::Csr { path, problem } => write!(f, "{}: refused: {problem}", path.display()),
            Error::Crypto { what, problem } => write!(f, "{what} failed: {problem}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The result of writing a report to stdout: a closed pipe (`tool | head`) is not
/// an error, the reader has seen enough; any other failure is.
pub fn stdout_result(result: io::Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::io(Path::new("<stdout>"), "writing", e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::text::one_line;

    /// The promise of one line per error holds for paths with line breaks.
    #[test]
    fn an_error_is_one_line_whatever_the_path_holds() {
        let error = Error::NotAFile {
            path: PathBuf::from("/d/evil\nname"),
            kind: "a FIFO",
        };
        assert_eq!(
            one_line(&error.to_string()),
            "/d/evil\\nname: is a FIFO, not a regular file"
        );
    }
}
