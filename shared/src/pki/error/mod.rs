//! The one error type of the library: *where* ([`Location`]) apart from
//! *what* ([`Kind`]), as der's `Error { kind, position }`.
//!
//! Every error prints as one line, `<location>: <problem>` (or the problem
//! alone when no place is to blame), so the binaries can tell the user what
//! to fix. No dependency error types leak through: their messages are
//! captured as text at the point of failure. This module is the base of the
//! crate and imports nothing from it (a test in `layers.rs` keeps it so).

mod csr;
mod kind;
mod location;

use std::fmt;
use std::io;
use std::path::Path;

pub use csr::CsrProblem;
pub use kind::Kind;
pub use location::Location;

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading inputs, building a plan or
/// writing it: a [`Kind`], at a [`Location`] when one is to blame.
///
/// Boxed, so that a `Result` costs one pointer however much an error says.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    location: Option<Location>,
    kind: Kind,
}

impl Error {
    /// An error no particular place is to blame for.
    pub fn new(kind: Kind) -> Self {
        Error(Box::new(Inner {
            location: None,
            kind,
        }))
    }

    /// An error at `location`: a file or directory (`&Path`), a certificate of
    /// a bundle, a flag, stdout or the terminal.
    pub fn at(location: impl Into<Location>, kind: Kind) -> Self {
        Error(Box::new(Inner {
            location: Some(location.into()),
            kind,
        }))
    }

    /// A [`Kind::Io`] error for the file or directory `path`.
    pub fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        Error::at(path, Kind::Io { action, source })
    }

    /// A [`Kind::Usage`] error: a flag's value the tool does not accept; the
    /// problem names the flag.
    pub fn usage(problem: impl Into<String>) -> Self {
        Error::new(Kind::Usage(problem.into()))
    }

    /// A [`Kind::Crypto`] error from any displayable library error.
    pub(crate) fn crypto(what: impl Into<String>, problem: impl fmt::Display) -> Self {
        Error::new(Kind::Crypto {
            what: what.into(),
            problem: problem.to_string(),
        })
    }

    /// A [`Kind::Bug`]: an invariant of the tool itself does not hold.
    pub fn bug(what: &'static str) -> Self {
        Error::new(Kind::Bug(what))
    }

    /// Where it went wrong, when a place is to blame.
    pub fn location(&self) -> Option<&Location> {
        self.0.location.as_ref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &Kind {
        &self.0.kind
    }
}

/// `message` on one line: a path, a certificate's subject or a requested name
/// may hold line breaks, escape sequences and other control characters,
/// which are shown escaped (`\n`, `\u{1b}`). Applying it twice changes nothing.
pub fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Always one line (see [`one_line`]), whatever the paths and names in it hold.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner { location, kind } = &*self.0;
        let text = match location {
            None => kind.to_string(),
            // "<dir> already exists ...": the location is the subject of the sentence.
            Some(location) if kind.is_said_of_location() => format!("{location} {kind}"),
            Some(location) => format!("{location}: {kind}"),
        };
        f.write_str(&one_line(&text))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind() {
            Kind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The result of writing a report to stdout: a closed pipe (`tool | head`) is not
/// an error, the reader has seen enough; any other failure is.
pub fn stdout_result(result: io::Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::at(
            Location::Stdout,
            Kind::Io {
                action: "writing",
                source: e,
            },
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::path::PathBuf;

    use super::*;

    /// Every location reads as the place the user has to look at.
    #[test]
    fn an_error_names_its_location_then_its_problem() {
        let refused = |location: Location| Error::at(location, Kind::Usage("refused".into()));
        let cases = [
            (
                refused(PathBuf::from("/d/a.crt").into()),
                "/d/a.crt: refused",
            ),
            (
                refused(Location::Certificate {
                    path: "/d/b.pem".into(),
                    index: 2,
                }),
                "/d/b.pem (certificate #2): refused",
            ),
            (
                refused(Location::Flag {
                    name: "-o",
                    value: Some("xml".into()),
                }),
                "-o xml: refused",
            ),
            (
                refused(Location::Flag {
                    name: "--service-cidr",
                    value: None,
                }),
                "--service-cidr: refused",
            ),
            (refused(Location::Stdout), "standard output: refused"),
            (refused(Location::Terminal), "the terminal: refused"),
            (Error::usage("refused"), "refused"),
            (
                Error::at(Path::new("/d/rotate-ca"), Kind::StagingExists),
                "/d/rotate-ca already exists (a staged rotation may already be loaded \
                 from it); use --force to replace it",
            ),
            (
                Error::bug("no key"),
                "no key (a bug in this tool, please report it)",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    /// An io error keeps the operating system's error as its source.
    #[test]
    fn io_errors_keep_their_source() {
        let error = Error::io(
            Path::new("/d/a.crt"),
            "reading",
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(error.source().is_some());
        assert!(Error::bug("x").source().is_none());
        assert_eq!(error.location(), Some(&Location::File("/d/a.crt".into())));
    }

    /// Issue 19: a file named with a newline and an escape sequence, or a
    /// subject holding them, forged lines and drove the terminal.
    #[test]
    fn an_error_is_one_line_whatever_its_names_hold() {
        let error = Error::at(
            Location::Certificate {
                path: "/d/a\nroot-ca.pem: OK\x1b[2K".into(),
                index: 2,
            },
            Kind::NotCa {
                subject: "CN\r\n\x1b]0;owned\x07".into(),
                problem: "basicConstraints CA:TRUE is missing",
            },
        );
        assert_eq!(
            error.to_string(),
            "/d/a\\nroot-ca.pem: OK\\u{1b}[2K (certificate #2): \"CN\\r\\n\\u{1b}]0;owned\\u{7}\" \
             is not a CA certificate: basicConstraints CA:TRUE is missing"
        );
        assert_eq!(one_line(&error.to_string()), error.to_string());
    }

    /// `Result<T>` stays as small as `T` plus a pointer.
    #[test]
    fn an_error_is_one_pointer() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
    }

    #[test]
    fn a_closed_pipe_is_not_an_error_but_a_full_disk_is() {
        assert!(stdout_result(Err(io::ErrorKind::BrokenPipe.into())).is_ok());
        let full = stdout_result(Err(io::Error::from_raw_os_error(28))).unwrap_err();
        assert!(
            full.to_string()
                .starts_with("standard output: writing failed: No space left on device"),
            "{full}"
        );
    }
}
