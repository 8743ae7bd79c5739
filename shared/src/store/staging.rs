//! Staging directories for `k3s certificate rotate-ca --path=<staging>`: k3s
//! reads `<staging>/tls/`, and the live `server/tls` must never be written while
//! k3s runs.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::pki::error::{Error, Kind, Result};

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
        return Err(Error::at(
            path,
            Kind::Inputs(format!(
                "this is inside the live tls directory {}: write it elsewhere",
                live_tls.display()
            )),
        ));
    }
    Ok(())
}

/// Whether `path` is a directory with something in it (other than the lock a
/// run of these tools holds there).
pub fn is_non_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            !e.file_name()
                .as_bytes()
                .starts_with(super::lock::OWN_PREFIX.as_bytes())
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
}
