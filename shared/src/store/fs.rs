//! Directories opened once and worked in by name (`openat`, `mkdirat`,
//! `renameat`, `O_NOFOLLOW`), the names a commit gives its own files, and the
//! check that keeps every write out of a forbidden directory whatever
//! symbolic links lie on the way.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::lock::OWN_PREFIX;
use super::plan::DIR_MODE;
use crate::pki::error::{Error, Kind, Result};

/// `.<name>.k3s-pki-<random>.<what>` beside `target`: unique across runs and
/// processes (a PID alone repeats, in containers every run is PID 1).
pub(super) fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let random: u64 = rand::random();
    target.with_file_name(format!(".{name}{OWN_PREFIX}-{random:016x}.{what}"))
}

/// The ancestors of `dir`, `dir` included, that do not exist yet, shallowest first.
pub(super) fn missing_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|p| !p.as_os_str().is_empty()) {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                let not_a_dir =
                    std::io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error());
                return Err(Error::io(path, "creating directory", not_a_dir));
            }
            Err(_) => missing.push(path.to_path_buf()),
        }
        current = path.parent();
    }
    missing.reverse();
    Ok(missing)
}

/// Creates `dir` and its missing ancestors, mode 0700 whatever the umask;
/// returns the ones this call created (another run may create some at the same
/// time), shallowest first.
pub(crate) fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for path in missing_dirs(dir)? {
        if make_dir(&path, None)? {
            created.push(path);
        }
    }
    Ok(created)
}

/// Opens the directory `path` (symbolic links on the way are followed: the
/// ancestry check below judges where it really is).
pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd> {
    let dir = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    rustix::fs::open(
        dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(path, "opening directory", e.into()))
}

/// `path` split into its parent directory and its name.
pub(super) fn split_parent(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            "opening",
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    })?;
    Ok((path.parent().unwrap_or(Path::new(".")), name))
}

/// The directory `path` split into its parent, opened, and its name.
pub(super) fn open_parent(path: &Path) -> Result<(OwnedFd, &std::ffi::OsStr)> {
    let (parent, name) = split_parent(path)?;
    Ok((open_dir(parent)?, name))
}

/// (device, inode) of the directory nothing may be written under.
pub(super) type Forbidden<'a> = Option<(&'a Path, (u64, u64))>;

/// Refuses `dir` when it is, or lies under, the forbidden directory: walks up
/// through `..` of the open directory, so the real location counts, not the
/// spelling of the path.
pub(super) fn refuse_forbidden(dir: &OwnedFd, path: &Path, forbidden: Forbidden<'_>) -> Result<()> {
    let Some((forbidden_path, forbidden_id)) = forbidden else {
        return Ok(());
    };
    let io = |e: rustix::io::Errno| Error::io(path, "resolving", e.into());
    let mut current = rustix::fs::openat(
        dir,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    // Deeper than any real tree; stops a pathological one.
    for _ in 0..4096 {
        let st = rustix::fs::fstat(&current).map_err(io)?;
        let id = (st.st_dev, st.st_ino);
        if id == forbidden_id {
            return Err(Error::at(
                path,
                Kind::Inputs(format!(
                    "resolves into the live tls directory {} (through a symbolic link?): \
                     refusing to write there",
                    forbidden_path.display()
                )),
            ));
        }
        let parent = rustix::fs::openat(
            &current,
            "..",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let up = rustix::fs::fstat(&parent).map_err(io)?;
        if (up.st_dev, up.st_ino) == id {
            return Ok(());
        }
        current = parent;
    }
    Ok(())
}

/// mkdir, refusing a forbidden parent, then chmod 0700: `mkdir`'s mode is
/// masked by the umask; then fsyncs the parent, so the new entry survives a
/// power loss. `false` when a directory was already there.
pub(super) fn make_dir(path: &Path, forbidden: Forbidden<'_>) -> Result<bool> {
    match make_dir_unsynced(path, forbidden)? {
        Some(parent) => {
            rustix::fs::fsync(&parent)
                .map_err(|e| Error::io(path, "creating directory", e.into()))?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// [`make_dir`] without the fsync, for a directory inside a commit's new
/// directory, which one syncfs makes durable with everything else in it;
/// the opened parent when it created the directory, `None` when one was
/// already there.
pub(super) fn make_dir_unsynced(path: &Path, forbidden: Forbidden<'_>) -> Result<Option<OwnedFd>> {
    let (parent, name) = open_parent(path)?;
    refuse_forbidden(&parent, path, forbidden)?;
    let io = |e: rustix::io::Errno| Error::io(path, "creating directory", e.into());
    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(DIR_MODE)) {
        Err(rustix::io::Errno::EXIST) if path.is_dir() => return Ok(None),
        other => other.map_err(io)?,
    }
    let dir = rustix::fs::openat(
        &parent,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(DIR_MODE)).map_err(io)?;
    Ok(Some(parent))
}

/// Whether `a` and `b` in `dir` are links to one file.
pub(super) fn same_file(dir: &OwnedFd, a: &std::ffi::OsStr, b: &std::ffi::OsStr) -> bool {
    id_at(dir, a).is_some_and(|a| Some(a) == id_at(dir, b))
}

/// Whether `name` exists in `dir` (without following a link).
pub(super) fn exists_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> bool {
    id_at(dir, name).is_some()
}

/// (device, inode) of `name` in `dir`, without following a link.
pub(super) fn id_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> Option<(u64, u64)> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}
