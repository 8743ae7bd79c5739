//! `ca-check record`: a carried tree against the ceremony record of the run
//! that wrote it ([`crate::store::record`]): every file present with its
//! SHA-256 and mode, and nothing else in the directories the record covers.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::checks::finding::{Finding, Verdict, finding};
use crate::pki::error::{Error, Result};
use crate::pki::input::file_kind;
use crate::pki::keys::sha256_hex;
use crate::store::lock::OWN_PREFIX;
use crate::store::record::{MAX_RECORD_BYTES, Record};

/// At most this many extra entries are named, one finding each; the rest
/// are counted in one more.
const MAX_EXTRA_FINDINGS: usize = 1000;

/// Checks the tree at `dir` (default: the one the record names) against the
/// record at `record`: one finding per recorded file, one per extra entry. An
/// unreadable record is an error (the check could not run).
pub fn check(record: &Path, dir: Option<&Path>) -> Result<Vec<Finding>> {
    let made = Record::read(record)?;
    let tree = dir.map_or_else(|| PathBuf::from(&made.tree), Path::to_path_buf);
    if !tree.is_dir() {
        return Err(Error::usage(format!(
            "{}: not a directory (the tree the record describes)",
            tree.display()
        )));
    }
    let mut findings: Vec<Finding> = made.files.iter().map(|f| file(&tree, f)).collect();
    let recorded: BTreeSet<PathBuf> = made.files.iter().map(|f| PathBuf::from(&f.path)).collect();
    // The directories files were written in, and every directory above them
    // inside the tree: the latter may hold the former, nothing else is asked.
    let covered: BTreeSet<PathBuf> = recorded
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let holding: BTreeSet<PathBuf> = covered
        .iter()
        .flat_map(|d| d.ancestors().map(Path::to_path_buf))
        .collect();
    let mut extra = 0usize;
    for dir in &covered {
        let Ok(entries) = std::fs::read_dir(tree.join(dir)) else {
            // Its files are reported missing.
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let relative = dir.join(&name);
            let own = name.to_string_lossy().starts_with(OWN_PREFIX)
                || (dir.as_os_str().is_empty() && is_companion(&made, &name, &tree, record));
            if own || recorded.contains(&relative) || holding.contains(&relative) {
                continue;
            }
            extra += 1;
            if extra <= MAX_EXTRA_FINDINGS {
                let what = match entry.file_type() {
                    Ok(t) if t.is_dir() => "an extra directory",
                    _ => "an extra file",
                };
                findings.push(finding(
                    relative.display().to_string(),
                    Verdict::Fail,
                    format!("not in the record: {what}"),
                ));
            }
        }
    }
    if let Some(disagrees) = sums_beside(&made, record) {
        findings.push(disagrees);
    }
    if extra > MAX_EXTRA_FINDINGS {
        findings.push(finding(
            tree.display().to_string(),
            Verdict::Fail,
            format!("{} more extra entries", extra - MAX_EXTRA_FINDINGS),
        ));
    }
    Ok(findings)
}

/// A FAIL when the `SHA256SUMS` beside the record does not list exactly
/// what the record says (one was edited without the other); nothing when
/// they agree or it is not there.
fn sums_beside(made: &Record, record: &Path) -> Option<Finding> {
    let sums = record.with_extension("SHA256SUMS");
    let listed = crate::pki::input::read_up_to(&sums, MAX_RECORD_BYTES).ok()?;
    (listed != made.sha256sums()).then(|| {
        finding(
            sums.display().to_string(),
            Verdict::Fail,
            "differs from the record beside it: one of them was changed",
        )
    })
}

/// Whether `name`, at the top of the tree, is the record itself or one of
/// its companions, should they have been written into the tree.
fn is_companion(made: &Record, name: &std::ffi::OsStr, tree: &Path, record: &Path) -> bool {
    let record = std::path::absolute(record).unwrap_or_else(|_| record.to_path_buf());
    let same_dir = match (record.parent().map(Path::canonicalize), tree.canonicalize()) {
        (Some(Ok(a)), Ok(b)) => a == b,
        (Some(Err(_)) | None, _) | (_, Err(_)) => false,
    };
    same_dir
        && made
            .companions
            .iter()
            .any(|c| *c == *name.to_string_lossy())
}

/// The finding on one recorded file.
fn file(tree: &Path, entry: &crate::store::record::FileEntry) -> Finding {
    let path = tree.join(&entry.path);
    let fail = |reason: String| finding(&entry.path, Verdict::Fail, reason);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !entry.carried => {
            return finding(
                &entry.path,
                Verdict::Ok,
                "not carried: it stays behind (a vault file)",
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fail("missing".into()),
        Err(e) => return fail(format!("unreadable: {e}")),
    };
    if !meta.is_file() {
        let kind = file_kind(rustix::fs::FileType::from_raw_mode(
            meta.permissions().mode(),
        ));
        return fail(format!("{kind}, the record says a regular file"));
    }
    let sha256 = match crate::pki::input::read_up_to(&path, MAX_RECORD_BYTES) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(e) => return fail(e.to_string()),
    };
    let mode = format!("{:04o}", meta.permissions().mode() & 0o7777);
    let mut problems = Vec::new();
    if sha256 != entry.sha256 {
        problems.push(format!(
            "changed: its SHA-256 is {sha256}, the record says {}",
            entry.sha256
        ));
    }
    if mode != entry.mode {
        problems.push(format!("mode {mode}, the record says {}", entry.mode));
    }
    if problems.is_empty() {
        finding(&entry.path, Verdict::Ok, "as recorded (SHA-256 and mode)")
    } else {
        fail(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lock::lock_target;
    use crate::store::plan::Plan;
    use crate::store::record::RecordRequest;

    /// A tree of a certificate and a key, written with a record beside it.
    fn written() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("server/tls");
        let record = dir.path().join("ceremony.json");
        let mut plan = Plan::new();
        plan.add_public(tls.join("ca.crt"), b"certificate".to_vec());
        plan.add_secret(tls.join("ca.key"), b"key".to_vec());
        plan.record_to(Some(
            RecordRequest::new(record.clone(), None, "test", "1", None).unwrap(),
        ));
        let lock = lock_target([dir.path()], dir.path(), "test", false).unwrap();
        plan.write(&lock, false).unwrap();
        (dir, tls, record)
    }

    fn reasons(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{} {} {}", f.file, f.verdict.as_str(), f.reason))
            .collect()
    }

    #[test]
    fn record_check_passes_the_written_tree_and_names_each_change() {
        let (_dir, tls, record) = written();
        assert_eq!(
            reasons(&check(&record, None).unwrap()),
            [
                "ca.crt OK as recorded (SHA-256 and mode)",
                "ca.key OK as recorded (SHA-256 and mode)"
            ]
        );
        std::fs::write(tls.join("ca.crt"), b"certificatE").unwrap();
        std::fs::set_permissions(tls.join("ca.key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        std::fs::write(tls.join("stray.pem"), b"").unwrap();
        let found = reasons(&check(&record, None).unwrap());
        assert!(
            found[0].starts_with("ca.crt FAIL changed: its SHA-256 is "),
            "{found:?}"
        );
        assert_eq!(found[1], "ca.key FAIL mode 0644, the record says 0600");
        assert_eq!(found[2], "stray.pem FAIL not in the record: an extra file");
        std::fs::remove_file(tls.join("ca.key")).unwrap();
        let found = reasons(&check(&record, Some(&tls)).unwrap());
        assert_eq!(found[1], "ca.key FAIL missing");
        // The checksums beside the record, edited alone, are named.
        let sums = record.with_extension("SHA256SUMS");
        let mut listed = std::fs::read_to_string(&sums).unwrap();
        listed.push_str(&format!("{}  extra.pem\n", "0".repeat(64)));
        std::fs::write(&sums, listed).unwrap();
        let found = reasons(&check(&record, Some(&tls)).unwrap());
        assert_eq!(
            found.last().unwrap(),
            &format!(
                "{} FAIL differs from the record beside it: one of them was changed",
                sums.display()
            )
        );
    }

    #[test]
    fn record_is_not_written_when_the_run_writes_nothing_or_over_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tls/ca.crt");
        let record = dir.path().join("r.json");
        let request = RecordRequest::new(record.clone(), None, "test", "1", None).unwrap();
        let lock = lock_target([dir.path()], dir.path(), "test", false).unwrap();
        let plan = |record: &Path| {
            let mut plan = Plan::new();
            plan.add_public(file.clone(), b"certificate".to_vec());
            let request = RecordRequest::new(record.to_path_buf(), None, "test", "1", None);
            plan.record_to(Some(request.unwrap()));
            plan
        };
        // Dry: nothing, said so.
        let dry = plan(&record);
        let outcome = dry.write(&lock, true).unwrap();
        assert!(
            outcome
                .to_string()
                .contains("no record: a dry run writes nothing")
        );
        assert!(!record.exists());
        // Written: the record's three files follow the run's.
        let first = plan(&record);
        let outcome = first.write(&lock, false).unwrap();
        assert_eq!(outcome.changes.len(), 4);
        assert!(request.files().iter().all(|f| f.is_file()));
        // Again, every file as planned: nothing written, no new record.
        std::fs::remove_file(&record).unwrap();
        let again = plan(&record);
        let outcome = again.write(&lock, false).unwrap();
        assert!(
            outcome
                .to_string()
                .contains("no record: nothing was written")
        );
        assert!(!record.exists());
        // A record over the run's own file is refused before anything is written.
        std::fs::remove_file(&file).unwrap();
        let mut over_file = Plan::new();
        over_file.add_public(dir.path().join("tls/ca.json"), b"x".to_vec());
        let request = RecordRequest::new(dir.path().join("tls/ca.json"), None, "t", "1", None);
        over_file.record_to(Some(request.unwrap()));
        let Err(error) = over_file.write(&lock, false) else {
            panic!("a record over the run's own file was written");
        };
        let error = error.to_string();
        assert!(
            error.contains("the record would replace a file of the run"),
            "{error}"
        );
        assert!(!dir.path().join("tls/ca.json").exists());
        // Under a file: refused before the run's files are written.
        std::fs::write(dir.path().join("plain"), b"").unwrap();
        let under_file = plan(&dir.path().join("plain/nested.json"));
        let Err(error) = under_file.write(&lock, false) else {
            panic!("a record under a file was accepted");
        };
        assert!(error.to_string().contains("not a directory"), "{error}");
        assert!(!file.exists(), "the run's file was written");
    }

    /// The record beside a tree must not cost the tree its directory switch:
    /// a reader sees the old tls dir or the new one, never a mix.
    #[test]
    fn record_outside_a_switched_directory_keeps_the_switch() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("server/tls");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("old.crt"), b"old").unwrap();
        let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let before = inode(&tls);
        let mut plan = Plan::new();
        plan.add_public(tls.join("ca.crt"), b"certificate".to_vec());
        let record = dir.path().join("ceremony.json");
        let request = RecordRequest::new(record.clone(), None, "test", "1", None).unwrap();
        plan.record_to(Some(request));
        let lock = lock_target([dir.path()], dir.path(), "test", false).unwrap();
        plan.write(&lock, false).unwrap();
        assert_ne!(inode(&tls), before, "the tls dir was written file by file");
        assert!(record.is_file() && tls.join("ca.crt").is_file());
    }

    #[test]
    fn record_that_cannot_be_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check(&dir.path().join("none.json"), None).is_err());
    }
}
