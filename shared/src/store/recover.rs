//! Undoing a commit that did not reach its commit point, finishing one that
//! did, and doing either for a commit a killed run left behind.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{AtFlags, RenameFlags};

use super::fs::{exists_at, id_at, open_parent, same_file};
use super::journal::{JOURNAL, JOURNAL_DONE, JOURNAL_NEW, Journal, Swap};
use super::lock::TargetLock;
use crate::pki::error::{Error, Kind, Result};

/// Undoes a [`Swap`] that did not reach the commit point: exchanges the
/// directories back if they were exchanged (takes the new one aside if it was
/// renamed into a place that was empty), then removes the new tree. `Err` when
/// the old directory could not be put back: then `new` holds it and is kept.
pub(super) fn undo_swap(swap: &Swap) -> std::result::Result<(), (PathBuf, PathBuf)> {
    let kept = || (swap.dir.clone(), swap.new.clone());
    let Ok((parent, name)) = open_parent(&swap.dir) else {
        // Its parent was never made: neither was anything in it.
        return Ok(());
    };
    let new_name = swap.new.file_name().unwrap_or_default();
    let id = |name| id_at(&parent, name);
    let put_back = match swap.old_id {
        Some(old) if id(new_name) == Some(old) => {
            rustix::fs::renameat_with(&parent, new_name, &parent, name, RenameFlags::EXCHANGE)
        }
        // The directory did not exist, so what is there now is this commit's.
        None if id(new_name).is_none() && id(name).is_some() => {
            rustix::fs::renameat_with(&parent, name, &parent, new_name, RenameFlags::NOREPLACE)
        }
        _ => Ok(()),
    };
    if put_back.is_err() {
        return Err(kept());
    }
    let _ = rustix::fs::fsync(&parent);
    let _ = fs::remove_dir_all(&swap.new);
    Ok(())
}

/// Undoes a commit that did not reach its commit point: see the module
/// documentation. Returns the (target, backup) pairs that could not be put back;
/// then the backups and the journal are kept.
pub(super) fn roll_back(
    lock_dir: &OwnedFd,
    journal: &Journal,
) -> std::result::Result<(), Vec<(PathBuf, PathBuf)>> {
    // A rollback after the commit point (a signal during its fsync) must not
    // look finished to a recovery that follows a failure here.
    let _ = rustix::fs::renameat(lock_dir, JOURNAL_DONE, lock_dir, JOURNAL);
    let mut kept = Vec::new();
    if let Some(swap) = &journal.swap {
        if let Err(pair) = undo_swap(swap) {
            kept.push(pair);
        }
    }
    for entry in journal.entries.iter().rev() {
        let Ok((dir, name)) = open_parent(&entry.target) else {
            if let Some(backup) = &entry.backup {
                kept.push((entry.target.clone(), backup.clone()));
            }
            continue;
        };
        let temp = entry.temp.file_name().unwrap_or_default();
        let temp_left = exists_at(&dir, temp);
        match &entry.backup {
            Some(backup) => {
                let backup_name = backup.file_name().unwrap_or_default();
                let put_back = if same_file(&dir, backup_name, name) {
                    // Interrupted between the link and the rename: the target
                    // is still the old file, and rename(2) between two links of
                    // one file does nothing, so the backup link is removed.
                    rustix::fs::unlinkat(&dir, backup_name, AtFlags::empty()).is_ok()
                } else {
                    !exists_at(&dir, backup_name)
                        || rustix::fs::renameat(&dir, backup_name, &dir, name).is_ok()
                };
                if !put_back {
                    kept.push((entry.target.clone(), backup.clone()));
                }
            }
            // The target did not exist before; without its temporary file, the
            // file there is the one this commit renamed into place.
            None if !temp_left && exists_at(&dir, name) => {
                let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
            }
            None => {}
        }
        if temp_left {
            let _ = rustix::fs::unlinkat(&dir, temp, AtFlags::empty());
        }
        let _ = rustix::fs::fsync(&dir);
    }
    for dir in journal.dirs.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
    if !kept.is_empty() {
        return Err(kept);
    }
    let _ = rustix::fs::unlinkat(lock_dir, JOURNAL, AtFlags::empty());
    let _ = rustix::fs::fsync(lock_dir);
    Ok(())
}

/// After the commit point: removes the backups (the old directory of a swap),
/// any temporary file, and the journal.
pub(super) fn finish(lock_dir: &OwnedFd, journal: &Journal) {
    if let Some(swap) = &journal.swap {
        let _ = fs::remove_dir_all(&swap.new);
    }
    for entry in &journal.entries {
        for leftover in [Some(&entry.temp), entry.backup.as_ref()]
            .into_iter()
            .flatten()
        {
            let _ = fs::remove_file(leftover);
        }
    }
    let _ = rustix::fs::unlinkat(lock_dir, JOURNAL_DONE, AtFlags::empty());
}

/// Finishes or undoes a commit interrupted in the locked directory; returns
/// what was done, for the report.
pub(crate) fn recover(lock: &TargetLock) -> Result<Vec<String>> {
    let Some(lock_dir) = lock.fd() else {
        return Ok(Vec::new());
    };
    let mut notes = Vec::new();
    // Written but never renamed into place: nothing else had happened yet.
    let _ = rustix::fs::unlinkat(lock_dir, JOURNAL_NEW, AtFlags::empty());
    for (name, completed) in [(JOURNAL_DONE, true), (JOURNAL, false)] {
        let path = lock.dir().join(name);
        if !exists_at(lock_dir, std::ffi::OsStr::new(name)) {
            continue;
        }
        let bytes = crate::pki::input::read(&path)?;
        let journal = Journal::decode(&bytes).ok_or_else(|| {
            Error::at(
                &path,
                Kind::Journal("not a journal this tool wrote (damaged?); remove it once the files it names are checked".into()),
            )
        })?;
        let files = match &journal.swap {
            Some(swap) => format!("directory {}", swap.dir.display()),
            None => format!("{} file(s)", journal.entries.len()),
        };
        if completed {
            finish(lock_dir, &journal);
            notes.push(format!(
                "{}: a run was interrupted after its commit point; finished it ({files} written)",
                lock.dir().display()
            ));
        } else {
            roll_back(lock_dir, &journal).map_err(|kept| {
                let cause = Error::at(&path, Kind::Journal("an interrupted commit".into()));
                Error::new(Kind::RollBackFailed { kept, cause })
            })?;
            notes.push(format!(
                "{}: a run was interrupted during its commit; rolled it back ({files} as before it)",
                lock.dir().display()
            ));
        }
    }
    Ok(notes)
}
