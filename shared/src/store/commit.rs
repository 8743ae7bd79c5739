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
//! of one fsync per file; either way nothing is renamed into place before its
//! contents are on disk.
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

use std::collections::{HashMap, HashSet, hash_map};
use std::fs;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};

use crate::pki::error::{Error, Kind, Result};
use crate::store::lock::{OWN_PREFIX, TargetLock, check_interrupted};
use crate::store::plan::{DIR_MODE, PlannedFile, SECRET_MODE};

/// Writes `files` all or none under `lock` (see the module documentation);
/// nothing is ever written under `forbidden`.
pub(crate) fn commit(
    lock: &TargetLock,
    files: &[&PlannedFile],
    forbidden: Option<&Path>,
) -> Result<()> {
    let lock_dir = lock
        .fd()
        .ok_or_else(|| Error::at(lock.dir(), Kind::Bug("committing without holding its lock")))?;
    let journal = journal_for(files, lock.dir())?;
    let forbidden = forbidden.and_then(|dir| {
        rustix::fs::stat(dir)
            .ok()
            .map(|st| (dir, (st.st_dev, st.st_ino)))
    });
    write_journal(lock_dir, lock.dir(), &journal)?;
    let committed = match &journal.swap {
        Some(swap) => commit_swap(lock_dir, lock.dir(), &journal, swap, files, forbidden),
        None => commit_files(lock_dir, lock.dir(), &journal, files, forbidden),
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

/// What a commit of `todo` will do, recorded before it starts; targets that
/// are directories are refused before anything is written.
fn journal_for(todo: &[&PlannedFile], lock_dir: &Path) -> Result<Journal> {
    // (absolute target, whether something is there now)
    let mut targets = Vec::new();
    for file in todo {
        let target =
            std::path::absolute(&file.path).map_err(|e| Error::io(&file.path, "resolving", e))?;
        let existing = fs::symlink_metadata(&target).ok();
        if existing.as_ref().is_some_and(fs::Metadata::is_dir) {
            return Err(Error::at(&file.path, Kind::NotAFile("a directory")));
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
fn swap_root(targets: &[&Path], lock_dir: &Path) -> Option<PathBuf> {
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

/// The journal beside the lock: written before the first change, removed after
/// the last.
const JOURNAL: &str = ".k3s-pki-journal";
/// The journal while it is being written: nothing has happened yet.
const JOURNAL_NEW: &str = ".k3s-pki-journal.new";
/// The journal after the commit point: only cleaning up is left.
const JOURNAL_DONE: &str = ".k3s-pki-journal.done";
const JOURNAL_HEADER: &str = "k3s-pki commit journal 1";

/// One target of a commit.
#[derive(Debug, PartialEq)]
struct Entry {
    target: PathBuf,
    temp: PathBuf,
    /// Where the replaced file is kept until the commit point; `None` when the
    /// target did not exist.
    backup: Option<PathBuf>,
}

/// A directory committed at once: built as `new` beside `dir` (hard links to
/// every entry of `dir`, then the planned files written in) and exchanged with
/// it by one rename. A reader sees the old directory or the new one, never a
/// mix, even after a power loss.
#[derive(Debug, PartialEq)]
struct Swap {
    dir: PathBuf,
    new: PathBuf,
    /// (device, inode) of `dir` before the commit; `None` when it did not exist.
    /// After the exchange, `new` is this directory: that is how recovery tells
    /// whether the exchange happened.
    old_id: Option<(u64, u64)>,
}

/// Everything a commit may change, absolute paths.
#[derive(Debug, PartialEq)]
struct Journal {
    /// Directories it creates, shallowest first.
    dirs: Vec<PathBuf>,
    /// File by file commits (when no [`Swap`] is possible).
    entries: Vec<Entry>,
    swap: Option<Swap>,
}

impl Journal {
    /// One line per directory and target, paths in hex (they need not be UTF-8),
    /// and an end line so a torn journal is recognised.
    fn encode(&self) -> Vec<u8> {
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

    fn decode(bytes: &[u8]) -> Option<Journal> {
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

/// `.<name>.k3s-pki-<random>.<what>` beside `target`: unique across runs and
/// processes (a PID alone repeats, in containers every run is PID 1).
fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let random: u64 = rand::random();
    target.with_file_name(format!(".{name}{OWN_PREFIX}-{random:016x}.{what}"))
}

/// The ancestors of `dir`, `dir` included, that do not exist yet, shallowest first.
fn missing_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
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
fn split_parent(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
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
fn open_parent(path: &Path) -> Result<(OwnedFd, &std::ffi::OsStr)> {
    let (parent, name) = split_parent(path)?;
    Ok((open_dir(parent)?, name))
}

/// (device, inode) of the directory nothing may be written under.
type Forbidden<'a> = Option<(&'a Path, (u64, u64))>;

/// Refuses `dir` when it is, or lies under, the forbidden directory: walks up
/// through `..` of the open directory, so the real location counts, not the
/// spelling of the path.
fn refuse_forbidden(dir: &OwnedFd, path: &Path, forbidden: Forbidden<'_>) -> Result<()> {
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
/// masked by the umask. `false` when a directory was already there.
fn make_dir(path: &Path, forbidden: Forbidden<'_>) -> Result<bool> {
    let (parent, name) = open_parent(path)?;
    refuse_forbidden(&parent, path, forbidden)?;
    let io = |e: rustix::io::Errno| Error::io(path, "creating directory", e.into());
    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(DIR_MODE)) {
        Err(rustix::io::Errno::EXIST) if path.is_dir() => return Ok(false),
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
    rustix::fs::fsync(&parent).map_err(io)?;
    Ok(true)
}

/// Writes the journal under a temporary name, fsyncs it and renames it into
/// place, so a journal is either whole or absent.
fn write_journal(lock_dir: &OwnedFd, dir: &Path, journal: &Journal) -> Result<()> {
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

/// Steps 2 and 3 of the module documentation, up to the commit point; checks
/// for SIGINT/SIGTERM after every step.
fn commit_files(
    lock_dir: &OwnedFd,
    lock_path: &Path,
    journal: &Journal,
    files: &[&PlannedFile],
    forbidden: Forbidden<'_>,
) -> Result<()> {
    for dir in &journal.dirs {
        make_dir(dir, forbidden)?;
        check_interrupted()?;
    }
    let durability = Durability::for_plan(files.len());
    let mut dirs = DirHandles::new(forbidden);
    for (entry, file) in journal.entries.iter().zip(files) {
        let (parent, _) = dirs.parent_of(&entry.target, &file.path)?;
        write_temp(
            parent,
            entry.temp.file_name().unwrap_or_default(),
            file,
            durability,
        )?;
        check_interrupted()?;
    }
    dirs.make_durable(durability)?;
    for (entry, file) in journal.entries.iter().zip(files) {
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
/// into place.
#[derive(Clone, Copy, PartialEq)]
enum Durability {
    /// fsync each file as it is written: a tree of certificates and keys.
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
fn commit_swap(
    lock_dir: &OwnedFd,
    lock_path: &Path,
    journal: &Journal,
    swap: &Swap,
    files: &[&PlannedFile],
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
    let durability = Durability::for_plan(files.len());
    let mut written = DirHandles::new(None);
    written.open.insert(swap.new.clone(), new_dir);
    for file in files {
        let target =
            std::path::absolute(&file.path).map_err(|e| Error::io(&file.path, "resolving", e))?;
        let inside = swap
            .new
            .join(target.strip_prefix(&swap.dir).unwrap_or(&target));
        let dir = inside.parent().unwrap_or(&swap.new);
        // A directory already written in exists: only a new one is looked at.
        if !written.open.contains_key(dir) {
            for missing in missing_dirs(dir)? {
                make_dir(&missing, None)?;
            }
        }
        let (dir_fd, file_name) = written.parent_of(&inside, &file.path)?;
        let temp = sibling(&inside, "tmp");
        let temp_name = temp.file_name().unwrap_or_default();
        write_temp(dir_fd, temp_name, file, durability)?;
        rustix::fs::renameat(dir_fd, temp_name, dir_fd, file_name)
            .map_err(|e| Error::io(&file.path, "writing", e.into()))?;
        check_interrupted()?;
    }
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

/// The commit point of both kinds of commit: the journal renamed to its done
/// name and the rename made durable.
fn mark_done(lock_dir: &OwnedFd, lock_path: &Path) -> Result<()> {
    let done = lock_path.join(JOURNAL_DONE);
    rustix::fs::renameat(lock_dir, JOURNAL, lock_dir, JOURNAL_DONE)
        .map_err(|e| Error::io(&done, "writing", e.into()))?;
    rustix::fs::fsync(lock_dir).map_err(|e| Error::io(&done, "syncing", e.into()))?;
    check_interrupted()
}

/// Undoes a [`Swap`] that did not reach the commit point: exchanges the
/// directories back if they were exchanged (takes the new one aside if it was
/// renamed into a place that was empty), then removes the new tree. `Err` when
/// the old directory could not be put back: then `new` holds it and is kept.
fn undo_swap(swap: &Swap) -> std::result::Result<(), (PathBuf, PathBuf)> {
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

/// Creates the temporary file (never following a link, never reusing a name),
/// writes it, sets its mode and, unless `durability` defers it, fsyncs it.
fn write_temp(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    file: &PlannedFile,
    durability: Durability,
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
        .and_then(|()| match durability {
            Durability::EachFile => out.sync_all(),
            Durability::WholeFilesystem => Ok(()),
        })
        .map_err(|e| Error::io(target, "writing", e))
}

/// Whether `a` and `b` in `dir` are links to one file.
fn same_file(dir: &OwnedFd, a: &std::ffi::OsStr, b: &std::ffi::OsStr) -> bool {
    id_at(dir, a).is_some_and(|a| Some(a) == id_at(dir, b))
}

/// Whether `name` exists in `dir` (without following a link).
fn exists_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> bool {
    id_at(dir, name).is_some()
}

/// (device, inode) of `name` in `dir`, without following a link.
fn id_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> Option<(u64, u64)> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}

/// Undoes a commit that did not reach its commit point: see the module
/// documentation. Returns the (target, backup) pairs that could not be put back;
/// then the backups and the journal are kept.
fn roll_back(
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
fn finish(lock_dir: &OwnedFd, journal: &Journal) {
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

/// Whether `dir` holds a journal of an interrupted commit.
pub(crate) fn has_journal(dir: &Path) -> bool {
    [JOURNAL, JOURNAL_NEW, JOURNAL_DONE]
        .iter()
        .any(|name| fs::symlink_metadata(dir.join(name)).is_ok())
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

#[cfg(test)]
mod tests {
    use super::*;
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
            let files: Vec<_> = plan.files().iter().collect();
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
        let journal = journal_for(&plan.files().iter().collect::<Vec<_>>(), dir.path()).unwrap();
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
