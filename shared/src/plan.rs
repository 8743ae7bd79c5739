//! Plan, then apply: a run first builds every output file in memory, then one
//! writer puts them on disk so that either every file lands or none does.
//!
//! Applying writes each file to a temporary file beside its target (same
//! directory, so `rename` is atomic), keeps a hard link to any file it replaces,
//! and renames everything into place. On any failure it removes its temporary
//! files, puts replaced files back and removes the directories it created.
//! Dry runs and manifests read the same plan.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
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
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
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
        self.files.retain(|f| f.path != path);
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

    /// Applies the plan, or with `dry_run` only works out what applying would do.
    pub fn write(&self, dry_run: bool) -> Result<Outcome<'_>> {
        let changes = if dry_run {
            self.changes()
        } else {
            self.apply()?
        };
        Ok(Outcome { dry_run, changes })
    }

    /// Writes every file, or none: see the module documentation.
    pub fn apply(&self) -> Result<Vec<(&PlannedFile, Change)>> {
        let changes = self.changes();
        let mut txn = Transaction::default();
        let outcome = txn.stage(&changes).and_then(|()| txn.commit());
        if outcome.is_err() {
            txn.roll_back();
        } else {
            txn.finish();
        }
        outcome.map(|()| changes)
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

/// The on-disk state of one apply, kept so that a failure can be undone.
#[derive(Default)]
struct Transaction {
    created_dirs: Vec<PathBuf>,
    /// (temporary file, target) not yet renamed.
    staged: Vec<(PathBuf, PathBuf)>,
    /// (target, hard link to the file it replaced, if any) already renamed.
    committed: Vec<(PathBuf, Option<PathBuf>)>,
    /// Hard links to replaced files, to remove once everything landed.
    backups: Vec<PathBuf>,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

impl Transaction {
    fn stage(&mut self, changes: &[(&PlannedFile, Change)]) -> Result<()> {
        for (file, change) in changes {
            if *change == Change::Unchanged {
                continue;
            }
            if let Some(dir) = file.path.parent() {
                self.create_dirs(dir)?;
            }
            let temp = sibling(&file.path, "tmp");
            self.write_temp(&temp, file)?;
            self.staged.push((temp, file.path.clone()));
        }
        Ok(())
    }

    fn create_dirs(&mut self, dir: &Path) -> Result<()> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if fs::symlink_metadata(dir).is_ok() {
            const ENOTDIR: i32 = 20;
            let not_a_dir = std::io::Error::from_raw_os_error(ENOTDIR);
            return Err(Error::io(dir, "creating directory", not_a_dir));
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        fs::DirBuilder::new()
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| Error::io(dir, "creating directory", e))?;
        self.created_dirs.push(dir.to_path_buf());
        Ok(())
    }

    fn write_temp(&mut self, temp: &Path, file: &PlannedFile) -> Result<()> {
        let target = &file.path;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(SECRET_MODE)
            .open(temp)
            .map_err(|e| Error::io(target, "writing", e))?;
        // Registered before writing, so a failure below still removes it.
        self.staged.push((temp.to_path_buf(), PathBuf::new()));
        let written = out
            .write_all(&file.contents)
            .and_then(|()| out.set_permissions(fs::Permissions::from_mode(file.mode)))
            .and_then(|()| out.sync_all());
        self.staged.pop();
        if let Err(e) = written {
            let _ = fs::remove_file(temp);
            return Err(Error::io(target, "writing", e));
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        while let Some((temp, target)) = self.staged.first().cloned() {
            let backup = if fs::symlink_metadata(&target).is_ok() {
                let link = sibling(&target, "old");
                fs::hard_link(&target, &link)
                    .map_err(|e| Error::io(&target, "keeping a copy of", e))?;
                self.backups.push(link.clone());
                Some(link)
            } else {
                None
            };
            fs::rename(&temp, &target).map_err(|e| Error::io(&target, "replacing", e))?;
            self.staged.remove(0);
            self.committed.push((target, backup));
        }
        for dir in self.committed.iter().filter_map(|(t, _)| t.parent()) {
            if let Ok(handle) = fs::File::open(dir) {
                let _ = handle.sync_all();
            }
        }
        Ok(())
    }

    /// Best effort: every step is attempted even if an earlier one fails.
    fn roll_back(&mut self) {
        for (temp, _) in self.staged.drain(..) {
            let _ = fs::remove_file(temp);
        }
        for (target, backup) in self.committed.drain(..).rev() {
            match backup {
                Some(link) => {
                    let _ = fs::rename(&link, &target);
                }
                None => {
                    let _ = fs::remove_file(&target);
                }
            }
        }
        for link in self.backups.drain(..) {
            let _ = fs::remove_file(link);
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = fs::remove_dir(dir);
        }
    }

    fn finish(&mut self) {
        for link in self.backups.drain(..) {
            let _ = fs::remove_file(link);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn applies_every_file_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = Plan::new();
        plan.add_public(dir.path().join("a/b/cert.pem"), "cert");
        plan.add_secret(dir.path().join("a/key.pem"), "key");
        let changes = plan.apply().unwrap();
        assert!(changes.iter().all(|(_, c)| *c == Change::Create));
        assert_eq!(fs::read(dir.path().join("a/b/cert.pem")).unwrap(), b"cert");
        assert_eq!(mode(&dir.path().join("a/key.pem")), 0o600);
        assert_eq!(mode(&dir.path().join("a/b/cert.pem")), 0o644);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let again = plan.apply().unwrap();
        assert!(again.iter().all(|(_, c)| *c == Change::Unchanged));
        assert_eq!(
            fs::read_dir(dir.path().join("a")).unwrap().count(),
            2,
            "no temp files left"
        );
    }

    #[test]
    fn a_failure_leaves_everything_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing.pem");
        fs::write(&existing, "old").unwrap();
        // A directory where the last file must go makes the final rename fail,
        // after the other files were already renamed into place.
        fs::create_dir(dir.path().join("blocker")).unwrap();
        fs::write(dir.path().join("blocker/inner"), "x").unwrap();
        let mut plan = Plan::new();
        plan.add_public(existing.clone(), "new");
        plan.add_secret(dir.path().join("new/key.pem"), "key");
        plan.add_public(dir.path().join("blocker"), "cannot replace a directory");
        let err = plan.apply().unwrap_err().to_string();
        assert!(err.contains("blocker"), "{err}");
        assert_eq!(fs::read(&existing).unwrap(), b"old");
        assert!(!dir.path().join("new").exists());
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["blocker", "existing.pem"]);
    }
}
