//! One writer per target directory, and what happens on SIGINT and SIGTERM.
//!
//! A run locks the directory it writes into (`flock` on the directory itself,
//! so no lock file has to outlive the run) before its first check and keeps the
//! lock until its report is printed: what it checked is what it writes, and what
//! it prints is what is on disk. A second run waits [`LOCK_WAIT`], then refuses,
//! naming the holder, which writes `pid N (tool)` into [`HOLDER_FILE`] while it
//! holds the lock.
//!
//! Taking the lock also finishes whatever an interrupted run left there (see
//! the `commit` module): a run killed by SIGKILL or a power loss leaves its commit
//! journal, and the next run of any tool completes or undoes that commit before
//! it does anything else.
//!
//! From the moment a lock is taken, SIGINT, SIGTERM and SIGHUP only set a flag;
//! the writer checks it between steps, rolls back and returns
//! [`Kind::Interrupted`], so the process exits with everything as it was.

use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags};

use super::{fs, journal, recover};
use crate::pki::error::{Error, Kind, Result};

/// How long a second run waits for the lock before refusing.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Written while the lock is held: who holds it.
pub const HOLDER_FILE: &str = ".k3s-pki.lock";

/// Every name the tools create for themselves starts with this.
pub const OWN_PREFIX: &str = ".k3s-pki";

use crate::pki::interrupt::catch_signals;
pub use crate::pki::interrupt::check_interrupted;

/// The lock of one target directory, released on drop.
pub struct TargetLock {
    dir: PathBuf,
    /// The open directory; `None` for a dry run on a directory that does not exist.
    fd: Option<OwnedFd>,
    /// Directories created to have something to lock, removed on drop if still empty.
    created: Vec<PathBuf>,
    recovered: Vec<String>,
}

impl TargetLock {
    /// Locks `dir` for `tool`, creating it (mode 0700) unless `dry_run`, and
    /// recovers any commit interrupted there.
    pub fn acquire(dir: &Path, tool: &str, dry_run: bool) -> Result<Self> {
        catch_signals()?;
        let mut lock = TargetLock {
            dir: dir.to_path_buf(),
            fd: None,
            created: Vec::new(),
            recovered: Vec::new(),
        };
        let started = Instant::now();
        let fd = loop {
            if !dir.is_dir() {
                if dry_run {
                    return Ok(lock);
                }
                lock.created.extend(fs::create_dirs(dir)?);
            }
            let fd = fs::open_dir(dir)?;
            loop {
                match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                    Ok(()) => break,
                    Err(rustix::io::Errno::WOULDBLOCK) if started.elapsed() < LOCK_WAIT => {
                        std::thread::sleep(Duration::from_millis(50));
                        check_interrupted()?;
                    }
                    Err(rustix::io::Errno::WOULDBLOCK) => {
                        let holder = crate::pki::input::read(&dir.join(HOLDER_FILE))
                            .map(|b| {
                                String::from_utf8_lossy(&b)
                                    .trim()
                                    .escape_debug()
                                    .to_string()
                            })
                            .unwrap_or_else(|_| "holder unknown".into());
                        return Err(Error::at(dir, Kind::Locked { holder }));
                    }
                    Err(e) => return Err(Error::io(dir, "locking", e.into())),
                }
            }
            // The holder we waited for may have removed the directory it had
            // created (its run wrote nothing): then lock the one there now.
            let locked = rustix::fs::fstat(&fd).map(|st| (st.st_dev, st.st_ino));
            let current = rustix::fs::stat(dir).map(|st| (st.st_dev, st.st_ino));
            if locked.is_ok() && locked == current {
                break fd;
            }
        };
        let holder = rustix::fs::openat(
            &fd,
            HOLDER_FILE,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::io(&dir.join(HOLDER_FILE), "writing", e.into()))?;
        let pid = rustix::process::getpid().as_raw_nonzero();
        // Who holds the lock is a courtesy for the message of a waiting run.
        let _ = writeln!(std::fs::File::from(holder), "pid {pid} ({tool})");
        lock.fd = Some(fd);
        lock.recovered = recover::recover(&lock)?;
        Ok(lock)
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The open locked directory, if it exists.
    pub(crate) fn fd(&self) -> Option<&OwnedFd> {
        self.fd.as_ref()
    }

    /// What was done to finish commits interrupted in this directory, for the report.
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    /// Says on stderr what was recovered, one `<tool>: note:` line each.
    pub fn report_recovered(&self, tool: &str) {
        report_notes(tool, &self.recovered);
    }
}

impl Drop for TargetLock {
    fn drop(&mut self) {
        if let Some(fd) = &self.fd {
            let _ = rustix::fs::unlinkat(fd, HOLDER_FILE, rustix::fs::AtFlags::empty());
        }
        // Directories made only to be locked are not left behind by a run that
        // wrote nothing into them.
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Says on stderr what was recovered, one `<tool>: note:` line each.
pub fn report_notes(tool: &str, notes: &[String]) {
    for note in notes {
        eprintln!("{tool}: note: {note}");
    }
}

/// Recovers interrupted commits in each of `dirs` (every directory the tools
/// write into for one data dir: the data dir itself, the default staging
/// dirs, ...), waiting for a running writer to finish first; returns what was
/// done.
pub fn recover_in<'a>(dirs: impl IntoIterator<Item = &'a Path>, tool: &str) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for dir in dirs {
        if journal::has_journal(dir) {
            notes.extend_from_slice(TargetLock::acquire(dir, tool, true)?.recovered());
        }
    }
    Ok(notes)
}

/// What a writing tool does first: finishes commits interrupted anywhere in
/// `written` (where it or its siblings write), then locks `target` (see
/// [`TargetLock::acquire`]). The lock's [`TargetLock::recovered`] says what was
/// recovered.
pub fn lock_target<'a>(
    written: impl IntoIterator<Item = &'a Path>,
    target: &Path,
    tool: &str,
    dry_run: bool,
) -> Result<TargetLock> {
    let mut notes = recover_in(written, tool)?;
    let mut lock = TargetLock::acquire(target, tool, dry_run)?;
    notes.append(&mut lock.recovered);
    lock.recovered = notes;
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 3: runs on one directory did not wait for each other.
    #[test]
    fn a_second_run_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = TargetLock::acquire(dir.path(), "first-tool", false).unwrap();
        let started = Instant::now();
        let err = TargetLock::acquire(dir.path(), "second-tool", false)
            .err()
            .unwrap()
            .to_string();
        assert!(started.elapsed() >= LOCK_WAIT);
        let pid = rustix::process::getpid().as_raw_nonzero();
        assert!(err.contains(&format!("pid {pid} (first-tool)")), "{err}");
        drop(first);
        assert!(TargetLock::acquire(dir.path(), "second-tool", false).is_ok());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
