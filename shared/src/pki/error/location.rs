//! Where an error happened, as the user would look for it.

use std::fmt;
use std::path::{Path, PathBuf};

/// The place an [`super::Error`] blames: what its message starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A file or directory.
    File(PathBuf),
    /// One certificate of a PEM bundle, where the file alone would not say
    /// which (`intermediate-ca.pem (certificate #2)`).
    Certificate {
        /// The file.
        path: PathBuf,
        /// 1-based position of the certificate in the file.
        index: usize,
    },
    /// A command-line flag, with its value when the value is what is wrong.
    Flag {
        /// As typed: `--bits`, `-o`.
        name: &'static str,
        /// The value given.
        value: Option<String>,
    },
    /// The standard output, where reports are written.
    Stdout,
    /// The terminal a passphrase is asked on.
    Terminal,
    /// A key in a PKCS#11 token, by its `pkcs11:` URI (which never holds a PIN).
    Token(String),
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Location::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::File(path.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::File(path)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Certificate { path, index } => {
                write!(f, "{} (certificate #{index})", path.display())
            }
            Location::Flag { name, value: None } => f.write_str(name),
            Location::Flag {
                name,
                value: Some(value),
            } => write!(f, "{name} {value}"),
            Location::Stdout => f.write_str("standard output"),
            Location::Terminal => f.write_str("the terminal"),
            Location::Token(uri) => f.write_str(uri),
        }
    }
}
