//! Writing a run's files: a [`plan::Plan`] of every output, committed all or
//! nothing under a [`lock::TargetLock`], with the journal that lets the next
//! run finish or undo a commit that was killed. Knows files and directories,
//! not distributions.
//!
//! - [`plan`]: the files of a run, and what applying them would change;
//! - `commit`: the directory switch or file-by-file commit, up to its commit
//!   point; `journal`: what a commit may touch, written before it starts;
//!   `recover`: rolling back before the commit point, finishing after it, and
//!   both for a run that was killed; `fs`: directories opened once, our own
//!   names, the check that keeps writes out of the live tls directory;
//! - [`lock`]: one writer per directory, and signals turned into roll-backs;
//! - [`record`]: the ceremony record of a run, committed with its files (or
//!   right after them, where that keeps a directory switch);
//! - [`staging`]: staging directories never inside the live one;
//! - [`replace_public_file`]: one file replaced at once (a report for a
//!   collector that may read it at any moment).

mod commit;
mod fs;
mod journal;
pub mod lock;
pub mod plan;
pub mod record;
mod recover;
pub mod staging;

use std::path::Path;

use crate::pki::error::{Error, Result};

/// Replaces `path` with `contents` (mode 0644) at once, as a run commits its
/// files: a reader that opens it meanwhile (node_exporter's textfile
/// collector) gets the old contents or the new, never a part. The directory
/// must exist (a mistyped one is named, not created), and nothing is written
/// under `forbidden` (the directory a check reads).
pub fn replace_public_file(
    path: &Path,
    contents: Vec<u8>,
    forbidden: &Path,
    tool: &str,
) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => return Err(Error::usage(format!("{}: not a file name", path.display()))),
    };
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "{}: the directory does not exist (it is not created)",
            dir.display()
        )));
    }
    let inside = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a.starts_with(b),
        _ => false,
    };
    if inside(dir, forbidden) {
        return Err(Error::usage(format!(
            "{}: inside {}, which is being checked: write it elsewhere",
            path.display(),
            forbidden.display()
        )));
    }
    let mut plan = plan::Plan::new();
    plan.forbid_under(forbidden.to_path_buf());
    plan.add_public(path.to_path_buf(), contents);
    let lock = lock::lock_target([dir], dir, tool, false)?;
    plan.apply(&lock)?;
    Ok(())
}
