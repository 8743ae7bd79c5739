//! Text that reaches a terminal or a shell: one line per message whatever a
//! path holds, and paths quoted so that a printed command can be pasted.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

pub use crate::pki::error::one_line;

/// A path as reports print it: [`one_line`], so that a file named with a
/// line break or an escape sequence neither forges report lines nor drives
/// the terminal.
pub fn shown(path: impl AsRef<Path>) -> String {
    one_line(&path.as_ref().display().to_string())
}

/// `text` as one shell word: unchanged when it holds only safe characters,
/// single-quoted when it is printable UTF-8, else `$'...'` with `\xNN` escapes.
pub fn shell_quote(text: &OsStr) -> String {
    let bytes = text.as_bytes();
    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(b);
    if !bytes.is_empty() && bytes.iter().all(safe) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => {
            format!("'{}'", text.replace('\'', r"'\''"))
        }
        _ => {
            let mut quoted = String::from("$'");
            for &b in bytes {
                match b {
                    b'\'' | b'\\' => quoted.extend(['\\', char::from(b)]),
                    0x20..=0x7e => quoted.push(char::from(b)),
                    _ => quoted.push_str(&format!("\\x{b:02x}")),
                }
            }
            quoted.push('\'');
            quoted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 11: the printed `rotate-ca --path=...` was not shell-quoted.
    #[test]
    fn printed_paths_are_shell_quoted() {
        let quote = |s: &[u8]| shell_quote(OsStr::from_bytes(s));
        assert_eq!(quote(b"/var/lib/x"), "/var/lib/x");
        assert_eq!(quote(b"/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(quote(b"/a\nb\xff"), r"$'/a\x0ab\xff'");
        assert_eq!(quote(b""), "''");
    }

    /// The promise of one line per error holds for paths with line breaks.
    #[test]
    fn an_error_is_one_line_whatever_the_path_holds() {
        use crate::pki::error::{Error, Kind};
        let error = Error::at(
            std::path::Path::new("/d/evil\nname"),
            Kind::NotAFile("a FIFO"),
        );
        assert_eq!(
            one_line(&error.to_string()),
            "/d/evil\\nname: is a FIFO, not a regular file"
        );
    }
}
