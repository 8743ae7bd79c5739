//! The commit journal: written and made durable beside the lock before the
//! first change, renamed to its "done" name at the commit point, removed at
//! the end. It names every path a commit may touch, so the next run can
//! finish or undo a commit that was killed.

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::fs::{missing_dirs, sibling};
use super::lock::{OWN_PREFIX, check_interrupted};
use super::plan::SECRET_MODE;
use crate::pki::error::{Error, Kind, Result};

/// The journal beside the lock: written before the first change, removed after
/// the last.
pub(super) const JOURNAL: &str = ".k3s-pki-journal";
/// The journal while it is being written: nothing has happened yet.
pub(super) const JOURNAL_NEW: &str = ".k3s-pki-journal.new";
/// The journal after the commit point: only cleaning up is left.
pub(super) const JOURNAL_DONE: &str = ".k3s-pki-journal.done";
pub(super) const JOURNAL_HEADER: &str = "k3s-pki commit journal 1";

/// One target of a commit.
#[derive(Debug, PartialEq)]
pub(super) struct Entry {
    pub(super) target: PathBuf,
    pub(super) temp: PathBuf,
    /// Where the replaced file is kept until the commit point; `None` when the
    /// target did not exist.
    pub(super) backup: Option<PathBuf>,
}

/// A directory committed at once: built as `new` beside `dir` (hard links to
/// every entry of `dir`, then the planned files written in) and exchanged with
/// it by one rename. A reader sees the old directory or the new one, never a
/// mix, even after a power loss.
#[derive(Debug, PartialEq)]
pub(super) struct Swap {
    pub(super) dir: PathBuf,
    pub(super) new: PathBuf,
    /// (device, inode) of `dir` before the commit; `None` when it did not exist.
    /// After the exchange, `new` is this directory: that is how recovery tells
    /// whether the exchange happened.
    pub(super) old_id: Option<(u64, u64)>,
}

/// Everything a commit may change, absolute paths.
#[derive(Debug, PartialEq)]
pub(super) struct Journal {
    /// Directories it creates, shallowest first.
    pub(super) dirs: Vec<PathBuf>,
    /// File by file commits (when no [`Swap`] is possible).
    pub(super) entries: Vec<Entry>,
    pub(super) swap: Option<Swap>,
}

impl Journal {
    /// One line per directory and target, paths in hex (they need not be UTF-8),
    /// and an end line so a torn journal is recognised.
    pub(super) fn encode(&self) -> Vec<u8> {
        let hex = |p: &Path| crate::pki::keys::hex(p.as_os_str().as_bytes());
        let mut text = format!("{JOURNAL_HEADER}\n");
        for dir in &self.dirs {
            text.push_str(&format!("dir {}\n", hex(dir)));
        }
        for e in &self.entries {
            let backup = e.backup.as_deref().map_or_else(|| "-".into(), hex);
            text.push_str(&format!(
                "file {} {} {backup}\n",
                hex(&e.target),
                hex(&e.temp)
            ));
        }
        if let Some(swap) = &self.swap {
            let id = swap
                .old_id
                .map_or_else(|| "-".into(), |(dev, ino)| format!("{dev}:{ino}"));
            text.push_str(&format!(
                "swap {} {} {id}\n",
                hex(&swap.dir),
                hex(&swap.new)
            ));
        }
        text.push_str("end\n");
        text.into_bytes()
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Journal> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        (lines.next()? == JOURNAL_HEADER).then_some(())?;
        let path = |h: &str| -> Option<PathBuf> {
            let bytes = crate::pki::keys::decode_hex(h)?;
            let path = PathBuf::from(std::ffi::OsString::from_vec(bytes));
            path.is_absolute().then_some(path)
        };
        let mut journal = Journal {
            dirs: Vec::new(),
            entries: Vec::new(),
            swap: None,
        };
        // Only our own siblings of a target are ever touched.
        let own = format!("{OWN_PREFIX}-");
        let ours = |p: &Path, of: &Path| {
            p.parent() == of.parent()
                && p.file_name()
                    .is_some_and(|n| n.as_bytes().windows(own.len()).any(|w| w == own.as_bytes()))
        };
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["dir", dir] => journal.dirs.push(path(dir)?),
                ["file", target, temp, backup] => {
                    let entry = Entry {
                        target: path(target)?,
                        temp: path(temp)?,
                        backup: if *backup == "-" {
                            None
                        } else {
                            Some(path(backup)?)
                        },
                    };
                    let backup_ours = entry
                        .backup
                        .as_deref()
                        .is_none_or(|b| ours(b, &entry.target));
                    if !ours(&entry.temp, &entry.target) || !backup_ours {
                        return None;
                    }
                    journal.entries.push(entry);
                }
                ["swap", dir, new, id] => {
                    let (dir, new) = (path(dir)?, path(new)?);
                    let old_id = match *id {
                        "-" => None,
                        id => {
                            let (dev, ino) = id.split_once(':')?;
                            Some((dev.parse().ok()?, ino.parse().ok()?))
                        }
                    };
                    ours(&new, &dir).then_some(())?;
                    journal.swap = Some(Swap { dir, new, old_id });
                }
                ["end"] => return Some(journal),
                _ => return None,
            }
        }
        None
    }
}

/// What a commit of `todo` (the planned paths) will do, recorded before it
/// starts; targets that are directories are refused before anything is written.
pub(super) fn journal_for(todo: &[&Path], lock_dir: &Path) -> Result<Journal> {
    // (absolute target, whether something is there now)
    let mut targets = Vec::new();
    for &path in todo {
        let target = std::path::absolute(path).map_err(|e| Error::io(path, "resolving", e))?;
        let existing = fs::symlink_metadata(&target).ok();
        if existing.as_ref().is_some_and(fs::Metadata::is_dir) {
            return Err(Error::at(path, Kind::NotAFile("a directory")));
        }
        targets.push((target, existing.is_some()));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    // Thousands of targets share a directory: each is looked at once.
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut add_missing = |dir: &Path| -> Result<()> {
        if !seen.insert(dir.to_path_buf()) {
            return Ok(());
        }
        for missing in missing_dirs(dir)? {
            if !dirs.contains(&missing) {
                dirs.push(missing);
            }
        }
        Ok(())
    };
    let mut entries = Vec::new();
    let paths: Vec<&Path> = targets.iter().map(|(t, _)| t.as_path()).collect();
    let swap = match swap_root(&paths, lock_dir) {
        Some(root) => {
            if let Some(parent) = root.parent() {
                add_missing(parent)?;
            }
            let old_id = rustix::fs::lstat(&root)
                .ok()
                .map(|st| (st.st_dev, st.st_ino));
            Some(Swap {
                new: sibling(&root, "new"),
                dir: root,
                old_id,
            })
        }
        None => {
            for (target, existing) in targets {
                if let Some(parent) = target.parent() {
                    add_missing(parent)?;
                }
                entries.push(Entry {
                    temp: sibling(&target, "tmp"),
                    backup: existing.then(|| sibling(&target, "old")),
                    target,
                });
            }
            None
        }
    };
    dirs.sort_by_key(|d| d.components().count());
    Ok(Journal {
        dirs,
        entries,
        swap,
    })
}

/// The directory a commit can switch at once: the deepest directory holding
/// every target, if it lies strictly inside the locked directory (the lock
/// stays on the directory it was taken on) and it and every directory between
/// it and a target is a real directory or not there yet (a symbolic link would
/// be copied as a link, and written through outside the new tree).
pub(super) fn swap_root(targets: &[&Path], lock_dir: &Path) -> Option<PathBuf> {
    let lock_dir = std::path::absolute(lock_dir).ok()?;
    let mut root = targets.first()?.parent()?.to_path_buf();
    for target in targets {
        while !target.starts_with(&root) {
            root = root.parent()?.to_path_buf();
        }
    }
    if !root.starts_with(&lock_dir) || root == lock_dir {
        return None;
    }
    let mut checked: HashSet<&Path> = HashSet::new();
    for target in targets {
        for dir in target.ancestors().skip(1) {
            if checked.contains(dir) {
                break;
            }
            if fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
                return None;
            }
            checked.insert(dir);
            if dir == root {
                break;
            }
        }
    }
    Some(root)
}

/// Writes the journal under a temporary name, fsyncs it and renames it into
/// place, so a journal is either whole or absent.
pub(super) fn write_journal(lock_dir: &OwnedFd, dir: &Path, journal: &Journal) -> Result<()> {
    let path = dir.join(JOURNAL);
    let io = |e: std::io::Error| Error::io(&path, "writing", e);
    let file = rustix::fs::openat(
        lock_dir,
        JOURNAL_NEW,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(SECRET_MODE),
    )
    .map_err(|e| io(e.into()))?;
    let mut file = fs::File::from(file);
    file.write_all(&journal.encode())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    rustix::fs::renameat(lock_dir, JOURNAL_NEW, lock_dir, JOURNAL).map_err(|e| io(e.into()))?;
    rustix::fs::fsync(lock_dir).map_err(|e| io(e.into()))
}

/// The commit point of both kinds of commit: the journal renamed to its done
/// name and the rename made durable.
pub(super) fn mark_done(lock_dir: &OwnedFd, lock_path: &Path) -> Result<()> {
    let done = lock_path.join(JOURNAL_DONE);
    rustix::fs::renameat(lock_dir, JOURNAL, lock_dir, JOURNAL_DONE)
        .map_err(|e| Error::io(&done, "writing", e.into()))?;
    rustix::fs::fsync(lock_dir).map_err(|e| Error::io(&done, "syncing", e.into()))?;
    check_interrupted()
}

/// Whether `dir` holds a journal of an interrupted commit.
pub(crate) fn has_journal(dir: &Path) -> bool {
    [JOURNAL, JOURNAL_NEW, JOURNAL_DONE]
        .iter()
        .any(|name| fs::symlink_metadata(dir.join(name)).is_ok())
}
