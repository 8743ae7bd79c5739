//! What went wrong, apart from where (see [`super::Location`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::{CsrProblem, Error, Location};

/// What went wrong. Each message reads after its location (`<location>:
/// <message>`), or alone when no place is to blame.
#[derive(Debug)]
#[non_exhaustive]
pub enum Kind {
    /// A file or directory (or stdout, the terminal) could not be read,
    /// created or written.
    Io {
        /// What we were doing ("reading", "creating directory", ...).
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Not well-formed PEM, or a block we cannot use.
    Pem(String),
    /// A certificate could not be parsed as X.509 (the library's message).
    Certificate(String),
    /// A private or public key could not be parsed or is of a kind we do not handle.
    Key(String),
    /// The private key (at the location) does not belong to the certificate
    /// it is paired with.
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
    },
    /// A certificate given as a CA is not one (no basicConstraints CA:TRUE, or no keyCertSign).
    NotCa {
        /// Its subject, for the message.
        subject: String,
        /// Which property is missing.
        problem: &'static str,
    },
    /// A certificate is outside its validity period.
    Validity {
        /// Its subject.
        subject: String,
        /// "expired on 2030-01-01T00:00:00Z" or "is not valid before ...".
        problem: String,
    },
    /// A certificate was not issued by the CA it must chain to.
    NotIssuedBy {
        /// Where the issuer certificate is.
        issuer: Location,
        /// Why: name mismatch or bad signature.
        problem: String,
    },
    /// The combination of input files cannot make a CA tree: what the user
    /// should know about the file that is missing or out of place.
    Inputs(String),
    /// The target directory belongs to an initialised cluster and `--force`
    /// was not given.
    Initialised {
        /// The CA files found there.
        found: Vec<PathBuf>,
        /// What to do instead, for this distribution (a sentence).
        advice: &'static str,
    },
    /// A staging directory already exists and `--force` was not given.
    StagingExists,
    /// A flag's value is not one the tool accepts: what is wrong, naming the
    /// flag or value unless the location does.
    Usage(String),
    /// Pre-flight: what the distribution would issue under these CAs would be
    /// rejected by a client that trusts only the root. One line per finding,
    /// naming the input file, the constraint, and the certificate and names
    /// it breaks.
    Preflight(Vec<String>),
    /// Pre-flight of a subordinate CA's profile: the distribution named, and
    /// the findings, as [`Kind::Preflight`]'s.
    SubCaProfile {
        /// The distribution the CA was to serve (`k3s`).
        who: &'static str,
        /// One line per finding.
        findings: Vec<String>,
    },
    /// An input or output path is not a regular file: what it is instead ("a FIFO").
    NotAFile(&'static str),
    /// An input file is larger than any certificate or key file can be.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// `PRODUCT` or `--product` names no known product: the value given,
    /// escaped for printing.
    Product(String),
    /// Another run holds the lock of the target directory.
    Locked {
        /// Who holds it, as the holder wrote it ("pid 42 (gen-custom-ca)").
        holder: String,
    },
    /// SIGINT, SIGTERM or SIGHUP (named) arrived before the commit was
    /// complete; it was rolled back.
    Interrupted(&'static str),
    /// Rolling back a failed commit failed too: these backups hold the old files.
    RollBackFailed {
        /// (target, backup holding its old contents) pairs that could not be restored.
        kept: Vec<(PathBuf, PathBuf)>,
        /// Why the commit was being rolled back.
        cause: Error,
    },
    /// The run's files were written, but its ceremony record was not: why.
    /// Said apart, so nobody reads "nothing was changed" into it.
    RecordNotWritten(Box<Error>),
    /// A commit journal left by an interrupted run cannot be recovered: why.
    Journal(String),
    /// The system clock cannot be right: why.
    Clock(String),
    /// A certificate signing request is refused.
    Csr(CsrProblem),
    /// Key generation, encoding or signing failed inside the crypto library.
    Crypto {
        /// What we were doing.
        what: String,
        /// The library's message.
        problem: String,
    },
    /// An invariant of the tool itself does not hold: whatever the input, this
    /// is a bug to report. A fixed text, so that it never carries user data.
    Bug(&'static str),
}

impl Kind {
    /// Whether the message is a predicate of the location ("<dir> already
    /// exists"), so that it follows it without a colon.
    pub(super) fn is_said_of_location(&self) -> bool {
        matches!(self, Kind::Initialised { .. } | Kind::StagingExists)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Io { action, source } => write!(f, "{action} failed: {source}"),
            Kind::Pem(problem)
            | Kind::Key(problem)
            | Kind::Inputs(problem)
            | Kind::Usage(problem) => f.write_str(problem),
            Kind::Certificate(problem) => write!(f, "not valid X.509: {problem}"),
            Kind::KeyMismatch { cert } => write!(
                f,
                "the private key does not match the certificate in {}",
                cert.display()
            ),
            Kind::NotCa { subject, problem } => {
                write!(f, "\"{subject}\" is not a CA certificate: {problem}")
            }
            Kind::Validity { subject, problem } => write!(f, "\"{subject}\" {problem}"),
            Kind::NotIssuedBy { issuer, problem } => {
                write!(f, "not issued by the CA in {issuer}: {problem}")
            }
            Kind::Initialised { found, advice } => {
                // The count and the first: ten paths made a line few read to the end.
                f.write_str("already holds the CA files of an initialised cluster (")?;
                match found.split_first() {
                    Some((first, [])) => write!(f, "{}", first.display())?,
                    Some((first, rest)) => {
                        write!(f, "{} and {} more", first.display(), rest.len())?;
                    }
                    None => f.write_str("none named")?,
                }
                write!(
                    f,
                    "); refusing to replace them. {advice}; \
                     use --force only if this cluster has never been started"
                )
            }
            Kind::StagingExists => f.write_str(
                "already exists (a staged rotation may already be loaded from it); \
                 use --force to replace it",
            ),
            Kind::Preflight(findings) => write!(
                f,
                "refusing to write a tree whose certificates clients that trust only the root \
                 would reject: {}",
                findings.join("; ")
            ),
            Kind::SubCaProfile { who, findings } => write!(
                f,
                "refusing to sign a subordinate CA whose profile cannot serve {who}: clients \
                 that trust only the root would reject what {who} issues under it: {}",
                findings.join("; ")
            ),
            Kind::NotAFile(what) => write!(f, "is {what}, not a regular file"),
            Kind::TooLarge { limit } => write!(
                f,
                "larger than {limit} bytes, which no certificate or key file is"
            ),
            Kind::Product(value) => write!(
                f,
                "unknown product \"{value}\" (PRODUCT or --product): use k3s, rke2, kubeadm or k0s"
            ),
            Kind::Locked { holder } => write!(
                f,
                "another run is writing here ({holder}); try again when it has finished"
            ),
            Kind::Interrupted(signal) => write!(
                f,
                "interrupted by {signal}: every file written so far was rolled back, nothing was changed"
            ),
            Kind::RollBackFailed { kept, cause } => {
                write!(
                    f,
                    "{cause}; rolling back failed too, so these backups hold the old files (move each over its target by hand):"
                )?;
                for (target, backup) in kept {
                    write!(f, " {} -> {};", backup.display(), target.display())?;
                }
                Ok(())
            }
            Kind::RecordNotWritten(cause) => write!(
                f,
                "the run's files were written, but not its ceremony record: {cause}"
            ),
            Kind::Journal(problem) => write!(
                f,
                "cannot recover the interrupted commit it records: {problem}"
            ),
            Kind::Clock(problem) => write!(f, "the system clock is wrong: {problem}"),
            Kind::Csr(problem) => write!(f, "refused: {problem}"),
            Kind::Crypto { what, problem } => write!(f, "{what} failed: {problem}"),
            Kind::Bug(what) => write!(f, "{what} (a bug in this tool, please report it)"),
        }
    }
}
