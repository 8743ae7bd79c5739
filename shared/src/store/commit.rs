//! Committing a plan's files: all or none, even when the process is
//! interrupted or killed.
//!
//! Applying, under the target directory's [`TargetLock`], first writes a
//! journal beside the lock naming everything the commit may change, fsynced,
//! and then one of two commits:
//! - when every planned file lies in one directory strictly inside the locked
//!   one (`server/tls` under `DATA_DIR`, `<staging>/tls` under the staging dir),
//!   a new copy of that directory is built beside it (hard links to what it
//!   holds, the planned files written in, everything fsynced) and exchanged
//!   with it by one `renameat2(RENAME_EXCHANGE)`: a reader, k3s starting after a
//!   power loss included, sees the old directory or the new one, never a mix;
//! - otherwise file by file: each temporary file is written and fsynced beside
//!   its target, each target linked to a backup, then the temporary file
//!   renamed over it; the directories are fsynced.
//!
//! A plan of more than a few dozen files (a directory of signed CSRs) is made
//! durable by one syncfs(2) per filesystem once every file is written, instead
//! of one fsync per file; a smaller one fsyncs each file once all are written,
//! each file's writeback started as it was written (see `Unsynced`, with the
//! costs measured). Either way nothing is renamed into place before its
//! contents are on disk.
//!
//! A plan's late files (`Plan::add_secret_late`: a key file whose key is
//! still being searched) are named in the journal from the start but made
//! only once every other file is written and durable, then written and
//! synced the same way: the commit's disk work overlaps the search.
//!
//! Renaming the journal to its "done" name is the commit point; then the old
//! directory or the backups and the journal are removed. Temporary, backup and
//! new-directory names carry a random part, so they never collide with a file
//! left by another run. Directories are created 0700 whatever the umask.
//!
//! On any failure, or SIGINT/SIGTERM/SIGHUP before the commit point, the
//! directories are exchanged back or every backup renamed back, created files
//! and directories are removed, and the journal goes. A backup that cannot be
//! put back is kept and named in the error, and so is the journal, for the
//! next run to retry. After SIGKILL or a power loss, the next run that takes
//! the lock reads the journal and rolls the commit back (before the commit
//! point) or finishes it (after).
//!
//! Every directory is opened once and worked in by name (`openat`, `renameat`,
//! `linkat`, `O_NOFOLLOW`), and a plan that must not write under the live tls
//! directory checks each opened directory's ancestry by device and inode, once:
//! a symbolic link anywhere on the way cannot redirect a write into it.

use std::collections::{HashMap, hash_map};
use std::fs;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};

use super::fs::{
    Forbidden, make_dir, make_dir_unsynced, missing_dirs, open_dir, open_parent, refuse_forbidden,
    sibling, split_parent,
};
use super::journal::{Entry, Journal, Swap, journal_for, mark_done, write_journal};
use super::lock::{TargetLock, check_interrupted};
use super::plan::{DIR_MODE, PlannedFile, SECRET_MODE};
use super::recover::{finish, roll_back};
use crate::pki::error::{Error, Kind, Result};

/// Files of a commit whose contents come late (see `Plan::add_secret_late`):
/// their paths, known to the journal from the start, and how to make them,
/// called once every other file of the commit is written and durable.
pub(crate) struct Late<'a> {
    pub paths: &'a [PathBuf],
    pub make: &'a dyn Fn() -> Result<&'a [PlannedFile]>,
}

impl<'a> Late<'a> {
    /// The late files of `late`, made; none without.
    fn made(late: Option<&Late<'a>>) -> Result<&'a [PlannedFile]> {
        let Some(late) = late else {
            return Ok(&[]);
        };
        let made = (late.make)()?;
        if made.iter().map(|f| &f.path).ne(late.paths) {
            return Err(Error::bug("late files made other than planned"));
        }
        Ok(made)
    }
}

/// Writes `files`, then the `late` ones, all or none under `lock` (see the
/// module documentation); nothing is ever written under `forbidden`.
pub(crate) fn commit(
    lock: &TargetLock,
    files: &[&PlannedFile],
    late: Option<&Late<'_>>,
    forbidden: Option<&Path>,
) -> Result<()> {
    let lock_dir = lock
        .fd()
        .ok_or_else(|| Error::at(lock.dir(), Kind::Bug("committing without holding its lock")))?;
    let late_paths = late.map_or(&[][..], |late| late.paths);
    let paths: Vec<&Path> = files
        .iter()
        .map(|f| f.path.as_path())
        .chain(late_paths.iter().map(PathBuf::as_path))
        .collect();
    let journal = journal_for(&paths, lock.dir())?;
    let forbidden = forbidden.and_then(|dir| {
        rustix::fs::stat(dir)
            .ok()
            .map(|st| (dir, (st.st_dev, st.st_ino)))
    });
    write_journal(lock_dir, lock.dir(), &journal)?;
    let durability = Durability::for_plan(paths.len());
    let committed = match &journal.swap {
        Some(swap) => commit_swap(
            lock_dir,
            lock.dir(),
            &journal,
            swap,
            files,
            late,
            durability,
            forbidden,
        ),
        None => commit_files(
            lock_dir,
            lock.dir(),
            &journal,
            files,
            late,
            durability,
            forbidden,
        ),
    };
    match committed {
        Ok(()) => {
            finish(lock_dir, &journal);
            Ok(())
        }
        Err(cause) => match roll_back(lock_dir, &journal) {
            Ok(()) => Err(cause),
            Err(kept) => Err(Error::new(Kind::RollBackFailed { kept, cause })),
        },
    }
}

/// Steps 2 and 3 of the module documentation, up to the commit point; checks
/// for SIGINT/SIGTERM after every step.
#[allow(clippy::too_many_arguments)]
fn commit_files(
    lock_dir: &OwnedFd,
    lock_path: &Path,
    journal: &Journal,
    files: &[&PlannedFile],
    late: Option<&Late<'_>>,
    durability: Durability,
    forbidden: Forbidden<'_>,
) -> Result<()> {
    for dir in &journal.dirs {
        make_dir(dir, forbidden)?;
        check_interrupted()?;
    }
    let mut dirs = DirHandles::new(forbidden);
    let mut unsynced = Unsynced::default();
    let mut write = |entries: &[Entry], files: &mut dyn Iterator<Item = &PlannedFile>| {
        for (entry, file) in entries.iter().zip(files) {
            let (parent, _) = dirs.parent_of(&entry.target, &file.path)?;
            let temp_name = entry.temp.file_name().unwrap_or_default();
            write_temp(parent, temp_name, file, durability, &mut unsynced)?;
            check_interrupted()?;
        }
        unsynced.sync()
    };
    let (now, later) = journal
        .entries
        .split_at(files.len().min(journal.entries.len()));
    write(now, &mut files.iter().copied())?;
    let late = Late::made(late)?;
    write(later, &mut late.iter())?;
    dirs.make_durable(durability)?;
    let all = files.iter().copied().chain(late);
    for (entry, file) in journal.entries.iter().zip(all) {
        let (parent, name) = dirs.parent_of(&entry.target, &file.path)?;
        let temp_name = entry.temp.file_name().unwrap_or_default();
        if let Some(backup) = &entry.backup {
            let backup_name = backup.file_name().unwrap_or_default();
            rustix::fs::linkat(parent, name, parent, backup_name, AtFlags::empty())
                .map_err(|e| Error::io(&file.path, "keeping a copy of", e.into()))?;
        }
        rustix::fs::renameat(parent, temp_name, parent, name)
            .map_err(|e| Error::io(&file.path, "replacing", e.into()))?;
        check_interrupted()?;
    }
    dirs.sync_each()?;
    mark_done(lock_dir, lock_path)
}

/// How the temporary files of a commit are made durable before any is renamed
/// into place (or, in a new directory, before it is exchanged).
#[derive(Clone, Copy, PartialEq)]
enum Durability {
    /// fsync each file, once all are written (see [`Unsynced`]): a tree of
    /// certificates and keys.
    EachFile,
    /// One syncfs(2) per filesystem once all are written: a directory of
    /// thousands of signed CSRs, where one fsync per file would cost seconds
    /// (the reason dpkg calls sync(2) before its renames).
    WholeFilesystem,
}

impl Durability {
    /// Above this many files a plan is synced by filesystem.
    const EACH_FILE_UP_TO: usize = 64;

    fn for_plan(files: usize) -> Self {
        if files <= Self::EACH_FILE_UP_TO {
            Durability::EachFile
        } else {
            Durability::WholeFilesystem
        }
    }
}

/// The directories a commit writes in, each opened once and, when the plan must
/// not write under the live tls directory, checked once: every later step works
/// through that same handle, whatever happens to the path meanwhile.
struct DirHandles<'a> {
    open: HashMap<PathBuf, OwnedFd>,
    forbidden: Forbidden<'a>,
}

impl<'a> DirHandles<'a> {
    fn new(forbidden: Forbidden<'a>) -> Self {
        DirHandles {
            open: HashMap::new(),
            forbidden,
        }
    }

    /// The opened parent of `target` and its name there; `shown` is the path
    /// a refusal names.
    fn parent_of<'t>(
        &mut self,
        target: &'t Path,
        shown: &Path,
    ) -> Result<(&OwnedFd, &'t std::ffi::OsStr)> {
        let (parent, name) = split_parent(target)?;
        let dir = match self.open.entry(parent.to_path_buf()) {
            hash_map::Entry::Occupied(known) => known.into_mut(),
            hash_map::Entry::Vacant(new) => {
                let dir = open_dir(parent)?;
                refuse_forbidden(&dir, shown, self.forbidden)?;
                new.insert(dir)
            }
        };
        Ok((dir, name))
    }

    /// Makes everything written so far durable when `durability` deferred it:
    /// one syncfs per filesystem the directories lie on.
    fn make_durable(&self, durability: Durability) -> Result<()> {
        if durability == Durability::EachFile {
            return Ok(());
        }
        let mut synced = Vec::new();
        for (path, dir) in &self.open {
            let device = rustix::fs::fstat(dir)
                .map_err(|e| Error::io(path, "syncing", e.into()))?
                .st_dev;
            if !synced.contains(&device) {
                rustix::fs::syncfs(dir).map_err(|e| Error::io(path, "syncing", e.into()))?;
                synced.push(device);
                check_interrupted()?;
            }
        }
        Ok(())
    }

    /// fsyncs every directory, so the renames in it survive a power loss.
    fn sync_each(&self) -> Result<()> {
        for (path, dir) in &self.open {
            rustix::fs::fsync(dir).map_err(|e| Error::io(path, "syncing", e.into()))?;
            check_interrupted()?;
        }
        Ok(())
    }
}

/// The commit of a [`Swap`]: builds the new directory, exchanges it with the
/// old one (the commit point for readers), then marks the journal done; checks
/// for SIGINT/SIGTERM after every step.
#[allow(clippy::too_many_arguments)]
fn commit_swap(
    lock_dir: &OwnedFd,
    lock_path: &Path,
    journal: &Journal,
    swap: &Swap,
    files: &[&PlannedFile],
    late: Option<&Late<'_>>,
    durability: Durability,
    forbidden: Forbidden<'_>,
) -> Result<()> {
    for dir in &journal.dirs {
        make_dir(dir, forbidden)?;
        check_interrupted()?;
    }
    let (parent, name) = open_parent(&swap.dir)?;
    refuse_forbidden(&parent, &swap.dir, forbidden)?;
    let new_name = swap.new.file_name().unwrap_or_default();
    let mode = match swap.old_id {
        Some(_) => {
            fs::symlink_metadata(&swap.dir)
                .map_err(|e| Error::io(&swap.dir, "reading", e))?
                .permissions()
                .mode()
                & 0o7777
        }
        None => DIR_MODE,
    };
    let io = |path: &Path, e: rustix::io::Errno| Error::io(path, "creating directory", e.into());
    rustix::fs::mkdirat(&parent, new_name, Mode::from_raw_mode(mode))
        .map_err(|e| io(&swap.dir, e))?;
    let new_dir = rustix::fs::openat(
        &parent,
        new_name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(&swap.dir, e))?;
    rustix::fs::fchmod(&new_dir, Mode::from_raw_mode(mode)).map_err(|e| io(&swap.dir, e))?;
    if swap.old_id.is_some() {
        mirror(&swap.dir, &swap.new)?;
    }
    // The new directory is the commit's own until the exchange: nothing in it
    // needs checking against the forbidden directory.
    let mut written = DirHandles::new(None);
    let mut unsynced = Unsynced::default();
    written.open.insert(swap.new.clone(), new_dir);
    let mut write = |files: &mut dyn Iterator<Item = &PlannedFile>| {
        for file in files {
            write_into(swap, &mut written, file, durability, &mut unsynced)?;
            check_interrupted()?;
        }
        unsynced.sync()
    };
    write(&mut files.iter().copied())?;
    write(&mut Late::made(late)?.iter())?;
    written.make_durable(durability)?;
    written.sync_each()?;
    let flags = if swap.old_id.is_some() {
        RenameFlags::EXCHANGE
    } else {
        RenameFlags::NOREPLACE
    };
    rustix::fs::renameat_with(&parent, new_name, &parent, name, flags)
        .map_err(|e| Error::io(&swap.dir, "replacing", e.into()))?;
    rustix::fs::fsync(&parent).map_err(|e| Error::io(&swap.dir, "syncing", e.into()))?;
    check_interrupted()?;
    mark_done(lock_dir, lock_path)
}

/// Writes `file` into the new directory of `swap`, under its own name there,
/// creating the directories it lies in; a directory written in already is
/// not looked at again (its entries are made durable by `sync_each`).
fn write_into(
    swap: &Swap,
    written: &mut DirHandles<'_>,
    file: &PlannedFile,
    durability: Durability,
    unsynced: &mut Unsynced,
) -> Result<()> {
    let target =
        std::path::absolute(&file.path).map_err(|e| Error::io(&file.path, "resolving", e))?;
    let inside = swap
        .new
        .join(target.strip_prefix(&swap.dir).unwrap_or(&target));
    let dir = inside.parent().unwrap_or(&swap.new);
    if !written.open.contains_key(dir) {
        for missing in missing_dirs(dir)? {
            make_dir_unsynced(&missing, None)?;
        }
    }
    let (dir_fd, file_name) = written.parent_of(&inside, &file.path)?;
    let temp = sibling(&inside, "tmp");
    let temp_name = temp.file_name().unwrap_or_default();
    write_temp(dir_fd, temp_name, file, durability, unsynced)?;
    rustix::fs::renameat(dir_fd, temp_name, dir_fd, file_name)
        .map_err(|e| Error::io(&file.path, "writing", e.into()))
}

/// Fills the empty directory `to` with what `from` holds: the same
/// directories (same modes), hard links to everything else, so the files the
/// commit does not replace stay the very same files; fsyncs each directory.
fn mirror(from: &Path, to: &Path) -> Result<()> {
    let entries = fs::read_dir(from).map_err(|e| Error::io(from, "reading directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(from, "reading directory", e))?;
        let (source, copy) = (entry.path(), to.join(entry.file_name()));
        let meta = fs::symlink_metadata(&source).map_err(|e| Error::io(&source, "reading", e))?;
        if meta.is_dir() {
            let mode = fs::Permissions::from_mode(meta.permissions().mode() & 0o7777);
            fs::create_dir(&copy)
                .and_then(|()| fs::set_permissions(&copy, mode))
                .map_err(|e| Error::io(&source, "copying", e))?;
            mirror(&source, &copy)?;
        } else {
            // linkat(2) without AT_SYMLINK_FOLLOW: a symbolic link stays a link.
            fs::hard_link(&source, &copy).map_err(|e| Error::io(&source, "linking", e))?;
        }
    }
    // The links must survive a power loss as surely as the new files: the
    // directories the plan writes in are fsynced later, the others here.
    rustix::fs::fsync(open_dir(to)?).map_err(|e| Error::io(from, "syncing", e.into()))
}

/// Creates the temporary file (never following a link, never reusing a name),
/// writes it and sets its mode; unless `durability` leaves it to a syncfs,
/// starts its writeback and hands it to `unsynced`, which fsyncs it later.
fn write_temp(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    file: &PlannedFile,
    durability: Durability,
    unsynced: &mut Unsynced,
) -> Result<()> {
    let target = &file.path;
    let out = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(SECRET_MODE),
    )
    .map_err(|e| Error::io(target, "writing", e.into()))?;
    let mut out = fs::File::from(out);
    out.write_all(&file.contents)
        .and_then(|()| out.set_permissions(fs::Permissions::from_mode(file.mode)))
        .map_err(|e| Error::io(target, "writing", e))?;
    if durability == Durability::EachFile {
        unsynced.push(target, out);
    }
    Ok(())
}

/// The files of a small commit, written and not yet fsynced, each with its
/// writeback already started.
///
/// A commit makes every file durable before anything is renamed into place
/// (or the new directory is exchanged), so it need not fsync each file before
/// writing the next: it starts each file's writeback as the file is written
/// (`posix_fadvise(POSIX_FADV_DONTNEED)`, which on Linux starts writing the
/// dirty pages without waiting), and fsyncs them all once the last is
/// written, so the device works on them together. The guarantee is the same
/// fsync per file; only the waiting overlaps.
///
/// Measured on this project's machine (ext4 on a virtio disk, 2 cores,
/// 2026-12-06, load 1.3-2.5 from a concurrent build): an fsync of a new
/// 900-byte file costs 0.16-0.26 ms, of its directory 0.07-0.11 ms, of an
/// unchanged directory 0.03-0.05 ms. Writing and renaming the 11 files of a
/// k3s rotation costs 0.4-0.6 ms unsynced, 2.5-5.6 ms with an fsync after
/// each write, 2.2-3.7 ms as here (25-40% less). One syncfs(2) would be
/// cheaper still on an idle filesystem (0.6-1.7 ms for all of it) but waits
/// for every dirty page of the filesystem, whoever wrote it: 7-250 ms here
/// beside a cargo build, 115 ms after another process wrote 200 MB; a k3s
/// server's disk is shared with containerd's image pulls and the logs. Only
/// plans of thousands of files, where an fsync each costs seconds, take that
/// bet ([`Durability::WholeFilesystem`]).
#[derive(Default)]
struct Unsynced(Vec<(PathBuf, fs::File)>);

impl Unsynced {
    /// Keeps `out` (the file of `target`) for [`Self::sync`], its writeback started.
    fn push(&mut self, target: &Path, out: fs::File) {
        // Only a hint: the fsync in `sync` is what makes the file durable.
        let _ = rustix::fs::fadvise(&out, 0, None, rustix::fs::Advice::DontNeed);
        self.0.push((target.to_path_buf(), out));
    }

    /// fsyncs every file kept, in order; checks for SIGINT/SIGTERM after each.
    fn sync(&mut self) -> Result<()> {
        for (target, out) in self.0.drain(..) {
            out.sync_all()
                .map_err(|e| Error::io(&target, "writing", e))?;
            check_interrupted()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal::{Entry, has_journal};
    use crate::store::plan::{Change, Plan};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn lock(dir: &Path) -> TargetLock {
        TargetLock::acquire(dir, "test", false).unwrap()
    }

    #[test]
    fn applies_every_file_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::new();
        plan.add_public(dir.path().join("a/b/cert.pem"), "cert");
        plan.add_secret(dir.path().join("a/key.pem"), "key");
        let lock = lock(dir.path());
        let changes = plan.apply(&lock).unwrap();
        assert!(changes.iter().all(|(_, c)| *c == Change::Create));
        assert_eq!(fs::read(dir.path().join("a/b/cert.pem")).unwrap(), b"cert");
        assert_eq!(mode(&dir.path().join("a/key.pem")), 0o600);
        assert_eq!(mode(&dir.path().join("a/b/cert.pem")), 0o644);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let again = plan.apply(&lock).unwrap();
        assert!(again.iter().all(|(_, c)| *c == Change::Unchanged));
        assert_eq!(
            names(&dir.path().join("a")),
            ["b", "key.pem"],
            "no temp files left"
        );
        drop(lock);
        assert_eq!(names(dir.path()), ["a"], "no lock or journal left");
    }

    /// Plans above the fsync-each limit are made durable by syncfs: the same
    /// files, modes and replacements, file by file and by directory switch.
    #[test]
    fn a_plan_of_many_files_is_applied_whole_both_ways() {
        let count = Durability::EACH_FILE_UP_TO + 1;
        assert!(Durability::for_plan(count) == Durability::WholeFilesystem);
        let dir = tempfile::tempdir().unwrap();
        for target in [dir.path().to_path_buf(), dir.path().join("server/tls")] {
            fs::create_dir_all(&target).unwrap();
            fs::write(target.join("0.crt"), "old").unwrap();
            let mut plan = Plan::new();
            for i in 0..count {
                if i % 2 == 0 {
                    plan.add_public(target.join(format!("{i}.crt")), format!("cert {i}"));
                } else {
                    plan.add_secret(target.join(format!("{i}.key")), format!("key {i}"));
                }
            }
            let files: Vec<_> = plan.files().iter().map(|f| f.path.as_path()).collect();
            let swap = journal_for(&files, dir.path()).unwrap().swap;
            assert_eq!(swap.is_some(), target != dir.path(), "{target:?}");
            let lock = lock(dir.path());
            let changes = plan.apply(&lock).unwrap();
            drop(lock);
            assert_eq!(
                changes
                    .iter()
                    .filter(|(_, c)| *c == Change::Replace)
                    .count(),
                1
            );
            assert_eq!(fs::read(target.join("0.crt")).unwrap(), b"cert 0");
            assert_eq!(fs::read(target.join("1.key")).unwrap(), b"key 1");
            assert_eq!(mode(&target.join("1.key")), 0o600);
            assert_eq!(mode(&target.join("2.crt")), 0o644);
            let hidden: Vec<String> = names(&target)
                .into_iter()
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(hidden.is_empty(), "{hidden:?}");
        }
    }

    #[test]
    fn a_failure_leaves_everything_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing.pem");
        fs::write(&existing, "old").unwrap();
        // A file that cannot be created (its parent is a file) makes the commit
        // fail after the other files were already renamed into place.
        fs::write(dir.path().join("blocker"), "x").unwrap();
        let mut plan = Plan::new();
        plan.add_public(existing.clone(), "new");
        plan.add_secret(dir.path().join("new/key.pem"), "key");
        plan.add_public(dir.path().join("blocker/inner"), "cannot be written");
        let lock = lock(dir.path());
        let err = plan.apply(&lock).unwrap_err().to_string();
        assert!(err.contains("blocker"), "{err}");
        drop(lock);
        assert_eq!(fs::read(&existing).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["blocker", "existing.pem"]);
    }

    /// The names under `dir` and its subdirectories, hidden ones included.
    fn all_names(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            found.push(entry.file_name().into_string().unwrap());
            if entry.file_type().unwrap().is_dir() {
                found.extend(all_names(&entry.path()));
            }
        }
        found
    }

    /// A fresh directory and a target in it committed file by file (the
    /// locked directory itself), then one committed by directory switch.
    fn both_ways() -> [(tempfile::TempDir, PathBuf); 2] {
        let (by_file, by_switch) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (file_target, switch_target) = (
            by_file.path().to_path_buf(),
            by_switch.path().join("server/tls"),
        );
        [(by_file, file_target), (by_switch, switch_target)]
    }

    /// A late file is made only once every other file of the commit is
    /// written (in the new directory of a switch, or as a temporary file
    /// beside its target), and lands with them: both ways of committing.
    #[test]
    fn a_late_file_is_made_after_the_others_are_written_and_lands_with_them() {
        for (dir, target) in both_ways() {
            fs::create_dir_all(&target).unwrap();
            fs::write(target.join("service.key"), "old key").unwrap();
            let mut plan = Plan::new();
            plan.add_public(target.join("ca.crt"), "cert");
            plan.add_secret(target.join("etcd/ca.key"), "ca key");
            let watched = dir.path().to_path_buf();
            plan.add_secret_late(target.join("service.key"), move || {
                let seen = all_names(&watched);
                let written = |name: &str| seen.iter().any(|n| n.contains(name) && n != name);
                assert!(
                    written("ca.crt.") || seen.iter().any(|n| n == "ca.crt"),
                    "{seen:?}"
                );
                assert!(
                    written("ca.key.") || seen.iter().any(|n| n == "ca.key"),
                    "{seen:?}"
                );
                assert!(!seen.iter().any(|n| n.contains("service.key.")), "{seen:?}");
                Ok(b"new key".to_vec())
            })
            .unwrap();
            let lock = lock(dir.path());
            let changes = plan.apply(&lock).unwrap();
            let listed: Vec<(String, Change)> = changes
                .iter()
                .map(|(f, c)| (f.path.file_name().unwrap().to_string_lossy().into(), *c))
                .collect();
            assert_eq!(
                listed,
                [
                    ("ca.crt".into(), Change::Create),
                    ("ca.key".into(), Change::Create),
                    ("service.key".into(), Change::Replace),
                ]
            );
            assert_eq!(fs::read(target.join("service.key")).unwrap(), b"new key");
            assert_eq!(mode(&target.join("service.key")), 0o600);
            assert_eq!(fs::read(target.join("etcd/ca.key")).unwrap(), b"ca key");
            let hidden: Vec<String> = all_names(dir.path())
                .into_iter()
                .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
                .collect();
            assert!(hidden.is_empty(), "{hidden:?}");
        }
    }

    /// A late file that cannot be made (its key search was interrupted)
    /// fails the commit after the other files were written: nothing stays.
    #[test]
    fn a_late_file_that_fails_leaves_everything_as_it_was() {
        for (dir, target) in both_ways() {
            fs::create_dir_all(&target).unwrap();
            fs::write(target.join("ca.crt"), "old").unwrap();
            let before = all_names(dir.path());
            let mut plan = Plan::new();
            plan.add_public(target.join("ca.crt"), "new");
            plan.add_public(target.join("etcd/ca.crt"), "new");
            plan.add_secret_late(target.join("service.key"), || {
                Err(crate::pki::error::Error::usage("no key today"))
            })
            .unwrap();
            let err = plan.apply(&lock(dir.path())).unwrap_err().to_string();
            assert!(err.contains("no key today"), "{err}");
            assert_eq!(fs::read(target.join("ca.crt")).unwrap(), b"old");
            assert_eq!(all_names(dir.path()), before, "{target:?}");
        }
    }

    /// A dry run makes the late file to list it, writes nothing; a late path
    /// planned twice is a bug.
    #[test]
    fn a_dry_run_lists_a_late_file_and_a_late_path_is_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::new();
        plan.add_public(dir.path().join("ca.crt"), "cert");
        // Looking at the plan before a late file is added (a run reads its
        // planned CA for the join hash) must not lose the late file.
        assert_eq!(plan.files_made().unwrap().count(), 1);
        plan.add_secret_late(dir.path().join("service.key"), || Ok(b"k".to_vec()))
            .unwrap();
        assert!(
            plan.add_secret_late(dir.path().join("ca.crt"), || Ok(Vec::new()))
                .is_err()
        );
        let lock = lock(dir.path());
        let outcome = plan.write(&lock, true).unwrap();
        let listed: Vec<_> = outcome
            .changes
            .iter()
            .map(|(f, c)| (f.path.clone(), *c))
            .collect();
        assert_eq!(
            listed,
            [
                (dir.path().join("ca.crt"), Change::Create),
                (dir.path().join("service.key"), Change::Create),
            ]
        );
        drop(lock);
        assert!(names(dir.path()).is_empty());
    }

    /// Issue 10 case 11: a directory where a file should be was reported as
    /// "keeping a copy of failed: Operation not permitted".
    #[test]
    fn a_directory_where_a_file_should_be_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("service.key")).unwrap();
        let mut plan = Plan::new();
        plan.add_secret(dir.path().join("service.key"), "key");
        let err = plan.apply(&lock(dir.path())).unwrap_err().to_string();
        assert!(
            err.ends_with("service.key: is a directory, not a regular file"),
            "{err}"
        );
    }

    /// Issue 10 case 1: `rotate-ca/tls/etcd -> ../../tls/etcd` let a staging
    /// run replace the live etcd CA files.
    #[test]
    fn a_symlink_inside_a_staging_dir_cannot_reach_the_live_tls_dir() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("server/tls");
        fs::create_dir_all(live.join("etcd")).unwrap();
        fs::write(live.join("etcd/peer-ca.crt"), "live").unwrap();
        let staged = dir.path().join("server/rotate-ca/tls");
        fs::create_dir_all(&staged).unwrap();
        std::os::unix::fs::symlink("../../tls/etcd", staged.join("etcd")).unwrap();
        let mut plan = Plan::new();
        plan.forbid_under(live.clone());
        plan.add_public(staged.join("client-ca.crt"), "new");
        plan.add_public(staged.join("etcd/peer-ca.crt"), "new");
        let err = plan
            .apply(&lock(&dir.path().join("server/rotate-ca")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("resolves into the live tls directory"),
            "{err}"
        );
        assert_eq!(fs::read(live.join("etcd/peer-ca.crt")).unwrap(), b"live");
        assert_eq!(names(&live.join("etcd")), ["peer-ca.crt"]);
        assert_eq!(names(&staged), ["etcd"]);
    }

    /// Issue 10 case 5: when restoring a backup failed too, the roll back
    /// deleted the backups anyway and the old file was lost.
    #[test]
    fn a_backup_that_cannot_be_restored_is_kept_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let lock = lock(dir.path());
        let target = dir.path().join("ca.key");
        let backup = sibling(&target, "old");
        fs::write(&backup, "old key").unwrap();
        // A non-empty directory in the target's place: renaming the backup over it fails.
        fs::create_dir_all(target.join("x")).unwrap();
        let journal = Journal {
            dirs: Vec::new(),
            swap: None,
            entries: vec![Entry {
                temp: sibling(&target, "tmp"),
                backup: Some(backup.clone()),
                target: target.clone(),
            }],
        };
        write_journal(lock.fd().unwrap(), dir.path(), &journal).unwrap();
        let kept = roll_back(lock.fd().unwrap(), &journal).unwrap_err();
        assert_eq!(kept, [(target, backup.clone())]);
        assert_eq!(fs::read(&backup).unwrap(), b"old key");
        assert!(has_journal(dir.path()), "kept for the next run to retry");
        let err = Error::new(Kind::RollBackFailed {
            kept,
            cause: Error::new(Kind::Interrupted("SIGTERM")),
        })
        .to_string();
        assert!(err.contains(&backup.display().to_string()), "{err}");
    }

    /// Issue 10 case 2: a run killed during its commit left a mixed tree and
    /// its temporary files; the next run now rolls the commit back first.
    #[test]
    fn the_next_run_rolls_back_an_interrupted_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.pem"), dir.path().join("sub/b.key"));
        fs::write(&a, "old a").unwrap();
        let journal = Journal {
            dirs: vec![dir.path().join("sub")],
            swap: None,
            entries: vec![
                Entry {
                    temp: sibling(&a, "tmp"),
                    backup: Some(sibling(&a, "old")),
                    target: a.clone(),
                },
                Entry {
                    temp: sibling(&b, "tmp"),
                    backup: None,
                    target: b.clone(),
                },
            ],
        };
        assert_eq!(Journal::decode(&journal.encode()).as_ref(), Some(&journal));
        {
            let lock = lock(dir.path());
            write_journal(lock.fd().unwrap(), dir.path(), &journal).unwrap();
            // Killed after `a` was replaced and `b`'s temporary file was written.
            fs::hard_link(&a, journal.entries[0].backup.as_ref().unwrap()).unwrap();
            fs::write(&journal.entries[0].temp, "new a").unwrap();
            fs::rename(&journal.entries[0].temp, &a).unwrap();
            fs::create_dir(dir.path().join("sub")).unwrap();
            fs::write(&journal.entries[1].temp, "new b").unwrap();
            // Dropping the lock as a kill would: the journal stays.
            drop(lock);
        }
        let lock = lock(dir.path());
        assert_eq!(lock.recovered().len(), 1, "{:?}", lock.recovered());
        drop(lock);
        assert_eq!(fs::read(&a).unwrap(), b"old a");
        assert_eq!(names(dir.path()), ["a.pem"]);
    }

    /// A plan inside one directory is switched in one rename: files it does not
    /// replace stay the very same files, and nothing else is left beside it.
    #[test]
    fn a_directory_is_switched_at_once_keeping_what_it_does_not_replace() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("server/tls");
        fs::create_dir_all(&tls).unwrap();
        fs::write(tls.join("a.pem"), "old").unwrap();
        fs::write(tls.join("k3s-made.crt"), "k3s").unwrap();
        let inode = |p: &Path| fs::metadata(p).unwrap().ino();
        let (tls_before, kept_before) = (inode(&tls), inode(&tls.join("k3s-made.crt")));
        let mut plan = Plan::new();
        plan.add_public(tls.join("a.pem"), "new");
        plan.add_secret(tls.join("etcd/b.key"), "key");
        let journal = journal_for(
            &plan
                .files()
                .iter()
                .map(|f| f.path.as_path())
                .collect::<Vec<_>>(),
            dir.path(),
        )
        .unwrap();
        assert!(journal.swap.is_some(), "{journal:?}");
        let lock = lock(dir.path());
        plan.apply(&lock).unwrap();
        drop(lock);
        assert_ne!(inode(&tls), tls_before, "a new directory");
        assert_eq!(
            inode(&tls.join("k3s-made.crt")),
            kept_before,
            "the same file"
        );
        assert_eq!(fs::read(tls.join("a.pem")).unwrap(), b"new");
        assert_eq!(mode(&tls.join("etcd")), 0o700);
        assert_eq!(mode(&tls.join("etcd/b.key")), 0o600);
        assert_eq!(names(&tls), ["a.pem", "etcd", "k3s-made.crt"]);
        assert_eq!(names(&dir.path().join("server")), ["tls"]);
        assert_eq!(names(dir.path()), ["server"]);
    }

    /// Issue 10 case 2: killed after the exchange but before the commit point,
    /// the next run exchanges the directories back.
    #[test]
    fn the_next_run_undoes_an_interrupted_switch() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        fs::create_dir(&tls).unwrap();
        fs::write(tls.join("a.pem"), "old").unwrap();
        let st = rustix::fs::stat(&tls).unwrap();
        let journal = Journal {
            dirs: Vec::new(),
            entries: Vec::new(),
            swap: Some(Swap {
                new: sibling(&tls, "new"),
                dir: tls.clone(),
                old_id: Some((st.st_dev, st.st_ino)),
            }),
        };
        assert_eq!(Journal::decode(&journal.encode()).as_ref(), Some(&journal));
        {
            let lock = lock(dir.path());
            write_journal(lock.fd().unwrap(), dir.path(), &journal).unwrap();
            let new = &journal.swap.as_ref().unwrap().new;
            fs::create_dir(new).unwrap();
            fs::write(new.join("a.pem"), "new").unwrap();
            let parent = open_dir(dir.path()).unwrap();
            rustix::fs::renameat_with(
                &parent,
                new.file_name().unwrap(),
                &parent,
                "tls",
                RenameFlags::EXCHANGE,
            )
            .unwrap();
            assert_eq!(fs::read(tls.join("a.pem")).unwrap(), b"new");
        }
        let lock = lock(dir.path());
        assert_eq!(lock.recovered().len(), 1, "{:?}", lock.recovered());
        drop(lock);
        assert_eq!(fs::read(tls.join("a.pem")).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["tls"]);
    }

    /// Issue 10 case 2: a container's tools all run as PID 1, and a PID-based
    /// temporary name made every later run fail with "File exists".
    #[test]
    fn temporary_names_never_repeat() {
        let target = Path::new("/x/ca.key");
        let names: std::collections::HashSet<PathBuf> =
            (0..1000).map(|_| sibling(target, "tmp")).collect();
        assert_eq!(names.len(), 1000);
    }
}
