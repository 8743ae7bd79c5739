//! Plan, then apply: a run first builds every output file in memory, then one
//! writer puts them on disk so that either every file lands or none does, even
//! when the process is interrupted or killed (see the `commit` module).
//! Dry runs and manifests read the same plan.

use crate::pki::text::shown;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::pki::error::{Error, Kind, Result};
use crate::pki::pem::PemFile;
use crate::store::lock::{TargetLock, check_interrupted};
use crate::store::record::{self, RecordRequest};
use crate::store::{commit, journal};

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
            shown(&self.path),
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
    /// The planned paths, so adding is not a scan of every file (sign-csr
    /// plans tens of thousands).
    paths: std::collections::HashSet<PathBuf>,
    /// A directory nothing may be written under, however the paths resolve.
    forbidden: Option<PathBuf>,
    /// The files the run reads, each with its role: none may be written.
    inputs: Vec<(PathBuf, &'static str)>,
    /// Files the run reads that it may also write (a brought CA written back
    /// as it came), and passphrase files: named in a record only.
    used: Vec<(PathBuf, &'static str, bool)>,
    /// The ceremony record to write with the files, if asked.
    record: Option<RecordRequest>,
    /// Files of the run that are not carried with the tree (see
    /// [`Self::stays_behind`]).
    behind: std::collections::HashSet<PathBuf>,
    /// The record's files once written: the outcome lists them.
    record_files: std::cell::OnceCell<Vec<PlannedFile>>,
    /// Files whose contents come late (see [`Self::add_secret_late`]), until made.
    late: std::cell::RefCell<Vec<LateFile>>,
    /// Their paths, known from the start.
    late_paths: Vec<PathBuf>,
    /// The late files once made.
    late_files: std::cell::OnceCell<Vec<PlannedFile>>,
}

/// A secret file whose contents are made only when needed.
struct LateFile {
    path: PathBuf,
    make: Box<dyn FnOnce() -> Result<Vec<u8>>>,
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

    /// Adds a secret file whose contents `make` returns when they are first
    /// needed: a key file that waits for its key's search (`PendingKeys`).
    /// Applying the plan writes and fsyncs every other file first, so the
    /// commit's disk work runs while the search does; a dry run, a record or
    /// [`Self::files_made`] make it before anything else is done.
    /// A path planned already is refused (a bug in the planner).
    pub fn add_secret_late(
        &mut self,
        path: PathBuf,
        make: impl FnOnce() -> Result<Vec<u8>> + 'static,
    ) -> Result<()> {
        if self.late_files.get().is_some() {
            return Err(Error::at(
                &path,
                Kind::Bug("planned late after the late files were made"),
            ));
        }
        if !self.paths.insert(path.clone()) {
            return Err(Error::at(&path, Kind::Bug("planned twice, once late")));
        }
        self.late_paths.push(path.clone());
        self.late.get_mut().push(LateFile {
            path,
            make: Box::new(make),
        });
        Ok(())
    }

    /// Makes the late files (waiting for what they wait for), once; their
    /// contents from then on.
    fn make_late(&self) -> Result<&[PlannedFile]> {
        if let Some(made) = self.late_files.get() {
            return Ok(made);
        }
        if self.late_paths.is_empty() {
            return Ok(&[]);
        }
        let late = std::mem::take(&mut *self.late.borrow_mut());
        let made = late
            .into_iter()
            .map(|file| {
                Ok(PlannedFile {
                    contents: Zeroizing::new((file.make)()?),
                    path: file.path,
                    mode: SECRET_MODE,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.late_files.get_or_init(|| made))
    }

    fn add(&mut self, path: PathBuf, contents: Vec<u8>, mode: u32) {
        debug_assert!(
            !self.late_paths.contains(&path),
            "a late file planned again"
        );
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

    /// Records that the run reads `path` as `role` ("the CA certificate"):
    /// applying the plan, even dry, is refused when one of its files is that
    /// file (see [`Self::check_inputs`]).
    pub fn reads(&mut self, path: PathBuf, role: &'static str) {
        self.inputs.push((path, role));
    }

    /// Records that the run reads the passphrase file `path`: guarded as
    /// [`Self::reads`] guards, and named in a record but never hashed.
    pub fn reads_passphrase(&mut self, path: PathBuf) {
        self.inputs.push((path.clone(), "the passphrase file"));
        self.used.push((path, "the passphrase file", true));
    }

    /// Records that the run reads `path` as `role` for a ceremony record only:
    /// a file it may also write back (a brought CA kept as it came).
    pub fn uses(&mut self, path: PathBuf, role: &'static str) {
        self.used.push((path, role, false));
    }

    /// Marks the planned file `path` as one that stays behind when the tree
    /// is carried to the cluster (a root or intermediate key, for the
    /// vault): its record names it with its checksum, but leaves it out of
    /// the checksums to carry and does not require it in a carried tree.
    pub fn stays_behind(&mut self, path: PathBuf) {
        self.behind.insert(path);
    }

    /// Asks for a ceremony record of this plan, committed with its files
    /// (see [`Self::write`]).
    pub fn record_to(&mut self, request: Option<RecordRequest>) {
        self.record = request;
    }

    /// Refuses the plan when one of its files is one of the files the run
    /// reads ([`Self::reads`]): compared by device and inode after every
    /// symbolic link is followed, so a path spelled another way, a symbolic
    /// link or a hard link is caught too. Inputs that do not exist are skipped.
    pub fn check_inputs(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        if self.inputs.is_empty() {
            return Ok(());
        }
        let mut read = std::collections::HashMap::new();
        for (path, role) in &self.inputs {
            if let Ok(meta) = fs::metadata(path) {
                read.entry((meta.dev(), meta.ino())).or_insert(*role);
            }
        }
        let planned = self.files.iter().map(|f| &f.path).chain(&self.late_paths);
        for path in planned {
            let Ok(meta) = fs::metadata(path) else {
                continue;
            };
            if let Some(role) = read.get(&(meta.dev(), meta.ino())) {
                return Err(Error::new(Kind::Inputs(format!(
                    "{} is {role} this run reads: nothing was written",
                    path.display()
                ))));
            }
        }
        Ok(())
    }

    /// The planned files whose contents are known (not the late ones, see
    /// [`Self::add_secret_late`]).
    pub fn files(&self) -> &[PlannedFile] {
        &self.files
    }

    /// Every planned file, the late ones made first (waiting for them).
    pub fn files_made(&self) -> Result<impl Iterator<Item = &PlannedFile>> {
        Ok(self.files.iter().chain(self.make_late()?))
    }

    /// The planned contents of `path`, parsed as PEM: what a consumer will read
    /// once the plan is applied. A late file is made first.
    pub fn planned_pem(&self, path: &Path) -> Result<PemFile> {
        let file = match self.files.iter().find(|f| f.path == path) {
            Some(file) => file,
            None => self
                .make_late()?
                .iter()
                .find(|f| f.path == path)
                .ok_or_else(|| Error::at(path, Kind::Bug("not part of this run's plan")))?,
        };
        PemFile::parse(path, file.contents.to_vec())
    }

    /// What applying would do to each file, without writing anything.
    fn changes(&self) -> Result<Vec<(&PlannedFile, Change)>> {
        Ok(self.files_made()?.map(|f| (f, change_for(f))).collect())
    }

    /// Applies the plan under `lock`, or with `dry_run` only works out what
    /// applying would do.
    ///
    /// With a record asked for ([`Self::record_to`]) and something to write,
    /// the record, its text form and its checksums are built before anything
    /// is written (an input that cannot be hashed refuses the run), and
    /// committed with the files, all or nothing. Where the files alone would
    /// be switched in by one directory rename and the record lies outside
    /// that directory, the record is instead a second commit right after,
    /// under the same lock: a reader of the tree (k3s starting after a power
    /// loss) must never see half of it. A dry run, or a run that changes
    /// nothing, writes no record and says so.
    pub fn write(&self, lock: &TargetLock, dry_run: bool) -> Result<Outcome<'_>> {
        check_interrupted()?;
        self.check_inputs()?;
        if dry_run {
            let record = self.record.as_ref().map(|_| RecordNote::DryRun);
            return Ok(Outcome {
                dry_run,
                changes: self.changes()?,
                record,
            });
        }
        let Some(request) = &self.record else {
            let changes = self.apply(lock)?;
            return Ok(Outcome {
                dry_run,
                changes,
                record: None,
            });
        };
        let mut changes = self.changes()?;
        let run = changed(&changes);
        if run.is_empty() {
            return Ok(Outcome {
                dry_run,
                changes,
                record: Some(RecordNote::NothingWritten),
            });
        }
        let plan = self.record_plan(request)?;
        let record_changes = plan.changes()?;
        let mut together = run.clone();
        together.extend(changed(&record_changes));
        if one_commit(&run, &together, lock) {
            commit::commit(lock, &together, None, self.forbidden.as_deref())?;
        } else {
            commit::commit(lock, &run, None, self.forbidden.as_deref())?;
            let record_todo = changed(&record_changes);
            if !record_todo.is_empty() {
                commit::commit(lock, &record_todo, None, plan.forbidden.as_deref())
                    .map_err(|e| Error::new(Kind::RecordNotWritten(Box::new(e))))?;
            }
        }
        let kinds: Vec<Change> = record_changes.iter().map(|(_, c)| *c).collect();
        let _ = self.record_files.set(plan.files);
        let files = self.record_files.get().map_or(&[][..], Vec::as_slice);
        changes.extend(files.iter().zip(kinds));
        Ok(Outcome {
            dry_run,
            changes,
            record: Some(RecordNote::Written),
        })
    }

    /// The plan of the record's three files: refused when one of them is a
    /// file of the run, or one it reads.
    fn record_plan(&self, request: &RecordRequest) -> Result<Plan> {
        let tree: Vec<record::TreeFile<'_>> = self
            .files_made()?
            .map(|f| record::TreeFile {
                path: &f.path,
                contents: &f.contents,
                mode: f.mode,
                written: true,
                carried: !self.behind.contains(&f.path),
            })
            .collect();
        let guarded = self.inputs.iter().map(|(p, role)| (p, *role, false));
        let used = self
            .used
            .iter()
            .map(|(p, role, secret)| (p, *role, *secret));
        let passphrases: Vec<&PathBuf> = self
            .used
            .iter()
            .filter(|(_, _, secret)| *secret)
            .map(|(p, _, _)| p)
            .collect();
        let read: Vec<record::ReadFile<'_>> = guarded
            .filter(|(p, _, _)| !passphrases.contains(p))
            .chain(used)
            .map(|(path, role, passphrase)| record::ReadFile {
                path,
                role,
                passphrase,
            })
            .collect();
        let [json, text, sums] = request.files();
        // Refused now, not once the run's files are written.
        if let Some(above) = json.ancestors().skip(1).find(|dir| dir.exists()) {
            if !above.is_dir() {
                return Err(Error::at(
                    above,
                    Kind::Inputs("not a directory: the record cannot go under it".into()),
                ));
            }
        }
        let made = record::build(request, &tree, &read, crate::pki::clock::now()?)?;
        let mut plan = Plan::new();
        plan.forbidden = self.forbidden.clone();
        plan.inputs = self.inputs.clone();
        for (path, role, _) in &self.used {
            plan.inputs.push((path.clone(), role));
        }
        for path in self.files.iter().map(|f| &f.path).chain(&self.late_paths) {
            plan.inputs.push((path.clone(), "a file"));
        }
        plan.add_public(json, made.to_json()?);
        plan.add_public(text, made.to_text(&request.path));
        plan.add_public(sums, made.sha256sums());
        plan.check_inputs()?;
        for file in &plan.files {
            if self.paths.contains(&file.path) {
                return Err(Error::at(
                    &file.path,
                    Kind::Inputs("the record would replace a file of the run: name another".into()),
                ));
            }
        }
        Ok(plan)
    }

    /// Writes every file, or none: see the module documentation. Late files
    /// not made yet are made during the commit, once every other file is
    /// durable, and always written (a new key is never what a file holds).
    pub fn apply(&self, lock: &TargetLock) -> Result<Vec<(&PlannedFile, Change)>> {
        let known = self
            .files
            .iter()
            .chain(self.late_files.get().into_iter().flatten());
        let mut changes: Vec<_> = known.map(|f| (f, change_for(f))).collect();
        let todo = changed(&changes);
        let pending = self.late_files.get().is_none() && !self.late_paths.is_empty();
        if todo.is_empty() && !pending {
            return Ok(changes);
        }
        let late_changes: Vec<Change> = self
            .late_paths
            .iter()
            .map(|path| match fs::symlink_metadata(path) {
                Ok(_) => Change::Replace,
                Err(_) => Change::Create,
            })
            .collect();
        let make = || self.make_late();
        let late = pending.then_some(commit::Late {
            paths: &self.late_paths,
            make: &make,
        });
        commit::commit(lock, &todo, late.as_ref(), self.forbidden.as_deref())?;
        if pending {
            changes.extend(self.make_late()?.iter().zip(late_changes));
        }
        Ok(changes)
    }
}

/// What a run did, or would do with `--dry-run`, to each planned file.
pub struct Outcome<'a> {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Each file and its change (the record's files last).
    pub changes: Vec<(&'a PlannedFile, Change)>,
    /// What came of a record asked for; `None` when none was.
    pub record: Option<RecordNote>,
}

/// What came of a ceremony record asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordNote {
    /// Written after the files: listed with them.
    Written,
    /// A dry run writes no record.
    DryRun,
    /// Every file was already as planned: nothing was written, so no record.
    NothingWritten,
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
                shown(&file.path)
            )?;
        }
        match self.record {
            Some(RecordNote::DryRun) => writeln!(f, "  no record: a dry run writes nothing"),
            Some(RecordNote::NothingWritten) => {
                writeln!(f, "  no record: nothing was written")
            }
            Some(RecordNote::Written) | None => Ok(()),
        }
    }
}

/// Whether the run's changed files (`run`) and its record's (`together`:
/// both) can be one commit: unless that would cost the run's files the
/// directory switch they would have alone (the record lying outside the
/// switched directory), in which case the record is a second commit.
fn one_commit(run: &[&PlannedFile], together: &[&PlannedFile], lock: &TargetLock) -> bool {
    let root = |files: &[&PlannedFile]| {
        let paths: Vec<PathBuf> = files
            .iter()
            .filter_map(|f| std::path::absolute(&f.path).ok())
            .collect();
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        journal::swap_root(&paths, lock.dir())
    };
    match root(run) {
        None => true,
        alone => root(together) == alone,
    }
}

/// The files of `list` that change.
fn changed<'a>(list: &[(&'a PlannedFile, Change)]) -> Vec<&'a PlannedFile> {
    list.iter()
        .filter(|(_, c)| *c != Change::Unchanged)
        .map(|(f, _)| *f)
        .collect()
}

fn change_for(file: &PlannedFile) -> Change {
    match fs::symlink_metadata(&file.path) {
        Err(_) => Change::Create,
        Ok(meta) => {
            let same_mode = meta.permissions().mode() & 0o7777 == file.mode;
            let same_bytes = meta.is_file()
                && crate::pki::input::read(&file.path)
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
