//! Staging directories for `k3s certificate rotate-ca --path=<staging>`: k3s
//! reads `<staging>/tls/`, and the live `server/tls` must never be written while
//! k3s runs.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::topology::Product;

/// `<staging>/tls` for the live `server/tls`, refused when it is (or lies
/// inside) the live tls directory, however the paths are spelled (symlinks, `..`).
pub fn tls_dir(staging_dir: &Path, live_tls: &Path) -> Result<PathBuf> {
    cert_dir(staging_dir, live_tls)
}

/// `<staging>/` and the name of the live cert dir `live` (`tls` for k3s,
/// `pki` for kubeadm and k0s), refused as [`tls_dir`] is when it is or lies
/// inside `live`.
pub fn cert_dir(staging_dir: &Path, live: &Path) -> Result<PathBuf> {
    let staged = staging_dir.join(live.file_name().unwrap_or(OsStr::new("tls")));
    refuse_live(&staged, live)?;
    Ok(staged)
}

/// Refuses an output path that is, or lies under, the live tls directory: k3s
/// reads it while it runs, so nothing is ever written there.
pub fn refuse_live(path: &Path, live_tls: &Path) -> Result<()> {
    if resolve(path).starts_with(resolve(live_tls)) {
        return Err(Error::Inputs {
            path: path.to_path_buf(),
            problem: format!(
                "this is inside the live tls directory {}: write it elsewhere",
                live_tls.display()
            ),
        });
    }
    Ok(())
}

/// The command that loads `staging_dir`, quoted for a POSIX shell so that it
/// can be pasted whatever the path holds (spaces, quotes, `$`, non-UTF-8 bytes).
pub fn rotate_ca_command(product: Product, staging_dir: &Path) -> String {
    format!(
        "{} certificate rotate-ca --path={}",
        product.name(),
        shell_quote(staging_dir.as_os_str())
    )
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

/// Whether `path` is a directory with something in it (other than the lock a
/// run of these tools holds there).
pub fn is_non_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            !e.file_name()
                .as_bytes()
                .starts_with(crate::lock::OWN_PREFIX.as_bytes())
        })
    })
}

/// The canonical form of `path`, which may not exist yet: its nearest existing
/// ancestor is canonicalized and the rest appended.
fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    resolved.extend(rest.iter().rev());
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_tls_dir_is_refused_however_it_is_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("server/tls");
        std::fs::create_dir_all(&live).unwrap();
        assert!(tls_dir(&dir.path().join("server"), &live).is_err());
        assert!(tls_dir(&dir.path().join("server/tls/../"), &live).is_err());
        assert!(
            tls_dir(&live, &live).is_err(),
            "tls/tls lies inside the live dir"
        );
        let staged = tls_dir(&dir.path().join("server/rotate-ca"), &live).unwrap();
        assert_eq!(staged, dir.path().join("server/rotate-ca/tls"));
    }

    /// Issue 10 case 11: the printed `rotate-ca --path=...` was not shell-quoted.
    #[test]
    fn printed_commands_are_shell_quoted() {
        let quote = |s: &[u8]| shell_quote(OsStr::from_bytes(s));
        assert_eq!(quote(b"/var/lib/x"), "/var/lib/x");
        assert_eq!(quote(b"/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(quote(b"/a\nb\xff"), r"$'/a\x0ab\xff'");
        assert_eq!(quote(b""), "''");
        assert_eq!(
            rotate_ca_command(Product::Rke2, Path::new("/s $x")),
            "rke2 certificate rotate-ca --path='/s $x'"
        );
    }
}
