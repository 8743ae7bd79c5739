//! Plan, then apply: a run first builds every output file in memory, then one
//! writer puts them on disk so that either every file lands or none does, even
//! when the process is interrupted or killed.
//!
//! Applying, under the target directory's [`TargetLock`]:
//! 1. a journal naming every directory to create and every target, with its
//!    temporary file and its backup (a hard link to the file it replaces), is
//!    written beside the lock and fsynced; temporary and backup names carry a
//!    random part, so they never collide with a file left by another run;
//! 2. the directories are created (0700 whatever the umask), each temporary file
//!    is written, then their filesystems synced (one `syncfs` per directory),
//!    then each target is linked to its backup and the temporary file renamed
//!    over it; the directories are fsynced;
//! 3. the journal is renamed to its "done" name: the commit point; then the
//!    backups and the journal are removed.
//!
//! On any failure, or SIGINT/SIGTERM/SIGHUP before the commit point, every
//! backup is renamed back, created files and directories are removed, and the
//! journal goes. A backup that cannot be put back is kept and named in the
//! error, and so is the journal, for the next run to retry. After SIGKILL or a
//! power loss, the next run that takes the lock reads the journal and rolls the
//! commit back (before the commit point) or finishes it (after).
//!
//! Every directory is opened once and worked in by name (`openat`, `renameat`,
//! `linkat`, `O_NOFOLLOW`), and a plan that must not write under the live tls
//! directory checks each opened directory's ancestry by device and inode: a
//! symbolic link anywhere on the way cannot redirect a write into it.
//! Dry runs and manifests read the same plan.

use std::fs;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::lock::{OWN_PREFIX, TargetLock, check_interrupted};
use crate::pem_file::PemFile;

/// Mode of private key files: what k3s itself uses.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of certificate files.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories the writer creates (they hold keys).
pub const DIR_MODE: u32 = 0o700;

/// One file of a plan.
pub struct PlannedFile {
    /// Where it goes.
    pub path: PathBuf,
    /// Its full contents (wiped from memory on drop: they may be a key).
    pub contents: Zeroizing<Vec<u8>>,
    /// Its permission bits.
    pub mode: u32,
}

impl std::fmt::Debug for PlannedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Contents may be a private key: never print them.
        write!(
            f,
            "{} ({:o}, {} bytes)",
            self.path.display(),
            self.mode,
            self.contents.len()
        )
    }
}

/// What applying a plan does to one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The file does not exist yet.
    Create,
    /// The file exists with other contents or mode.
    Replace,
    /// The file already holds exactly these bytes and mode; it is not touched.
    Unchanged,
}

impl Change {
    /// A short word for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Replace => "replace",
            Change::Unchanged => "unchanged",
        }
    }
}

/// Every output file of a run, in the order it was planned.
#[derive(Default)]
pub struct Plan {
    files: Vec<PlannedFile>,
    /// The paths of `files`: a plan of ten thousand certificates (sign-csr)
    /// must not compare every new path with every planned one.
    paths: std::collections::HashSet<PathBuf>,
    /// A directory nothing may be written under, however the paths resolve.
    forbidden: Option<PathBuf>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses, when applying, every write that would land under `dir` (the live
    /// tls directory), whatever symbolic links lie on the way.
    pub fn forbid_under(&mut self, dir: PathBuf) {
        self.forbidden = Some(dir);
    }

    /// Adds a public file (certificate, bundle), mode 0644.
    pub fn add_public(&mut self, path: PathBuf, contents: impl Into<Vec<u8>>) {
        self.add(path, contents.into(), PUBLIC_MODE);
    }

    /// Adds a secret file (private key), mode 0600.
    pub fn add_secret(&mut self, path: PathBuf, contents: impl Into<Vec<u8>>) {
        self.add(path, contents.into(), SECRET_MODE);
    }

    fn add(&mut self, path: PathBuf, contents: Vec<u8>, mode: u32) {
        // A later entry for the same path replaces the earlier one.
        if !self.paths.insert(path.clone()) {
            self.files.retain(|f| f.path != path);
        }
        self.files.push(PlannedFile {
            path,
            contents: Zeroizing::new(contents),
            mode,
        });
    }

    /// The planned files.
    pub fn files(&self) -> &[PlannedFile] {
        &self.files
    }

    /// The planned contents of `path`, parsed as PEM: what a consumer will read
    /// once the plan is applied.
    pub fn planned_pem(&self, path: &Path) -> Result<PemFile> {
        let file = self
            .files
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| Error::Inputs {
                path: path.to_path_buf(),
                problem: "not part of this run's plan".into(),
            })?;
        PemFile::parse(path, file.contents.to_vec())
    }

    /// What applying would do to each file, without writing anything.
    pub fn changes(&self) -> Vec<(&PlannedFile, Change)> {
        self.files.iter().map(|f| (f, change_for(f))).collect()
    }

    /// Applies the plan under `lock`, or with `dry_run` only works out what
    /// applying would do.
    pub fn write(&self, lock: &TargetLock, dry_run: bool) -> Result<Outcome<'_>> {
        check_interrupted()?;
        let changes = if dry_run {
            self.changes()
        } else {
            self.apply(lock)?
        };
        Ok(Outcome { dry_run, changes })
    }

    /// Writes every file, or none: see the module documentation.
    pub fn apply(&self, lock: &TargetLock) -> Result<Vec<(&PlannedFile, Change)>> {
        let changes = self.changes();
        let todo: Vec<&PlannedFile> = changes
            .iter()
            .filter(|(_, c)| *c != Change::Unchanged)
            .map(|(f, _)| *f)
            .collect();
        if todo.is_empty() {
            return Ok(changes);
        }
        let lock_dir = lock.fd().ok_or_else(|| {
            Error::io(
                lock.dir(),
                "locking",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        let journal = journal_for(&todo)?;
        let forbidden = self.forbidden.as_deref().and_then(|dir| {
            rustix::fs::stat(dir)
                .ok()
                .map(|st| (dir, (st.st_dev, st.st_ino)))
        });
        write_journal(lock_dir, lock.dir(), &journal)?;
        match commit(lock_dir, lock.dir(), &journal, &todo, forbidden) {
            Ok(()) => {
                finish(lock_dir, &journal);
                Ok(changes)
            }
            Err(cause) => match roll_back(lock_dir, &journal) {
                Ok(()) => Err(cause),
                Err(kept) => Err(Error::RollBackFailed {
                    kept,
                    cause: Box::new(cause),
                }),
            },
        }
    }
}

/// What a run did, or would do with `--dry-run`, to each planned file.
pub struct Outcome<'a> {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Each file and its change.
    pub changes: Vec<(&'a PlannedFile, Change)>,
}

impl Outcome<'_> {
    /// "wrote", or "would write" for a dry run.
    pub fn verb(&self) -> &'static str {
        if self.dry_run { "would write" } else { "wrote" }
    }
}

/// One line per file: change, mode, path.
impl std::fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (file, change) in &self.changes {
            writeln!(
                f,
                "  {:<9} {:o}  {}",
                change.as_str(),
                file.mode,
                file.path.display()
            )?;
        }
        Ok(())
    }
}

fn change_for(file: &PlannedFile) -> Change {
    match fs::symlink_metadata(&file.path) {
        Err(_) => Change::Create,
        Ok(meta) => {
            let same_mode = meta.permissions().mode() & 0o7777 == file.mode;
            let same_bytes = meta.is_file()
                && crate::input::read(&file.path)
                    .map(|old| Zeroizing::new(old).as_slice() == file.contents.as_slice())
                    .unwrap_or(false);
            if same_mode && same_bytes {
                Change::Unchanged
            } else {
                Change::Replace
            }
        }
    }
}

/// What a commit of `todo` will do, recorded before it starts; targets that
/// are directories are refused before anything is written.
fn journal_for(todo: &[&PlannedFile]) -> Result<Journal> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut entries = Vec::new();
    for file in todo {
        let target =
            std::path::absolute(&file.path).map_err(|e| Error::io(&file.path, "resolving", e))?;
        let existing = fs::symlink_metadata(&target).ok();
        if existing.as_ref().is_some_and(fs::Metadata::is_dir) {
            return Err(Error::NotAFile {
                path: file.path.clone(),
                kind: "a directory",
            });
        }
        if let Some(parent) = target.parent() {
            for dir in missing_dirs(parent)? {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        entries.push(Entry {
            temp: sibling(&target, "tmp"),
            backup: existing.map(|_| sibling(&target, "old")),
            target,
        });
    }
    dirs.sort_by_key(|d| d.components().count());
    Ok(Journal { dirs, entries })
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

/// Everything a commit may change, absolute paths.
#[derive(Debug, PartialEq)]
struct Journal {
    /// Directories it creates, shallowest first.
    dirs: Vec<PathBuf>,
    entries: Vec<Entry>,
}

impl Journal {
    /// One line per directory and target, paths in hex (they need not be UTF-8),
    /// and an end line so a torn journal is recognised.
    fn encode(&self) -> Vec<u8> {
        let hex = |p: &Path| crate::keys::hex(p.as_os_str().as_bytes());
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
        text.push_str("end\n");
        text.into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Journal> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        (lines.next()? == JOURNAL_HEADER).then_some(())?;
        let path = |h: &str| -> Option<PathBuf> {
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            let path = PathBuf::from(std::ffi::OsString::from_vec(bytes));
            path.is_absolute().then_some(path)
        };
        let mut journal = Journal {
            dirs: Vec::new(),
            entries: Vec::new(),
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
                    // Only our own siblings of the target are ever touched.
                    let ours = |p: &Path| {
                        p.parent() == entry.target.parent()
                            && p.file_name()
                                .is_some_and(|n| n.as_bytes().windows(9).any(|w| w == b".k3s-pki-"))
                    };
                    if !ours(&entry.temp) || !entry.backup.as_deref().is_none_or(ours) {
                        return None;
                    }
                    journal.entries.push(entry);
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
/// returns the ones created, shallowest first.
pub(crate) fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let missing = missing_dirs(dir)?;
    for path in &missing {
        make_dir(path, None)?;
    }
    Ok(missing)
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

/// The directory `path` split into its parent, opened, and its name.
fn open_parent(path: &Path) -> Result<(OwnedFd, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            "opening",
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        )
    })?;
    let parent = path.parent().unwrap_or(Path::new("."));
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
            return Err(Error::Inputs {
                path: path.to_path_buf(),
                problem: format!(
                    "resolves into the live tls directory {} (through a symbolic link?): \
                     refusing to write there",
                    forbidden_path.display()
                ),
            });
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
/// masked by the umask.
fn make_dir(path: &Path, forbidden: Forbidden<'_>) -> Result<()> {
    let (parent, name) = open_parent(path)?;
    refuse_forbidden(&parent, path, forbidden)?;
    let io = |e: rustix::io::Errno| Error::io(path, "creating directory", e.into());
    rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(DIR_MODE)).map_err(io)?;
    let dir = rustix::fs::openat(
        &parent,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(DIR_MODE)).map_err(io)?;
    rustix::fs::fsync(&parent).map_err(io)
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
fn commit(
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
    let mut dirs: Vec<(PathBuf, OwnedFd)> = Vec::new();
    for (entry, file) in journal.entries.iter().zip(files) {
        let (parent, _) = open_parent(&entry.target)?;
        refuse_forbidden(&parent, &file.path, forbidden)?;
        write_temp(&parent, entry.temp.file_name().unwrap_or_default(), file)?;
        check_interrupted()?;
        if let Some(parent_path) = entry.target.parent() {
            if !dirs.iter().any(|(p, _)| p == parent_path) {
                dirs.push((parent_path.to_path_buf(), parent));
            }
        }
    }
    // Every temporary file is on disk before the first rename: one syncfs per
    // directory (its whole filesystem) instead of an fsync per file, which
    // made writing ten thousand certificates take seconds.
    for (path, dir) in &dirs {
        rustix::fs::syncfs(dir).map_err(|e| Error::io(path, "syncing", e.into()))?;
        check_interrupted()?;
    }
    for (entry, file) in journal.entries.iter().zip(files) {
        let (parent, name) = open_parent(&entry.target)?;
        refuse_forbidden(&parent, &file.path, forbidden)?;
        let temp_name = entry.temp.file_name().unwrap_or_default();
        if let Some(backup) = &entry.backup {
            let backup_name = backup.file_name().unwrap_or_default();
            rustix::fs::linkat(&parent, name, &parent, backup_name, AtFlags::empty())
                .map_err(|e| Error::io(&file.path, "keeping a copy of", e.into()))?;
        }
        rustix::fs::renameat(&parent, temp_name, &parent, name)
            .map_err(|e| Error::io(&file.path, "replacing", e.into()))?;
        check_interrupted()?;
    }
    for (path, dir) in &dirs {
        rustix::fs::fsync(dir).map_err(|e| Error::io(path, "syncing", e.into()))?;
        check_interrupted()?;
    }
    let done = lock_path.join(JOURNAL_DONE);
    rustix::fs::renameat(lock_dir, JOURNAL, lock_dir, JOURNAL_DONE)
        .map_err(|e| Error::io(&done, "writing", e.into()))?;
    rustix::fs::fsync(lock_dir).map_err(|e| Error::io(&done, "syncing", e.into()))?;
    check_interrupted()
}

/// Creates the temporary file (never following a link, never reusing a name),
/// writes it and sets its mode; [`commit`] syncs all of them at once.
fn write_temp(dir: &OwnedFd, name: &std::ffi::OsStr, file: &PlannedFile) -> Result<()> {
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
        .map_err(|e| Error::io(target, "writing", e))
}

/// Whether `name` exists in `dir` (without following a link).
fn exists_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
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
                if exists_at(&dir, backup_name)
                    && rustix::fs::renameat(&dir, backup_name, &dir, name).is_err()
                {
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

/// After the commit point: removes the backups, any temporary file, and the journal.
fn finish(lock_dir: &OwnedFd, journal: &Journal) {
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
        let bytes = crate::input::read(&path)?;
        let journal = Journal::decode(&bytes).ok_or_else(|| Error::Journal {
            path: path.clone(),
            problem: "not a journal this tool wrote (damaged?); remove it once the files it names are checked".into(),
        })?;
        let files = journal.entries.len();
        if completed {
            finish(lock_dir, &journal);
            notes.push(format!(
                "{}: a run was interrupted after its commit point; finished it ({files} file(s) written)",
                lock.dir().display()
            ));
        } else {
            roll_back(lock_dir, &journal).map_err(|kept| Error::RollBackFailed {
                kept,
                cause: Box::new(Error::Journal {
                    path: path.clone(),
                    problem: "an interrupted commit".into(),
                }),
            })?;
            notes.push(format!(
                "{}: a run was interrupted during its commit; rolled it back ({files} file(s) are as they were before it)",
                lock.dir().display()
            ));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let err = Error::RollBackFailed {
            kept,
            cause: Box::new(Error::Interrupted { signal: "SIGTERM" }),
        }
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
