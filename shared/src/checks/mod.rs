//! Checks turn files into findings: the pre-flight every run shares, a staging
//! dir as `rotate-ca` judges it, a custom tree, what expires, the join tokens,
//! a carried tree against its ceremony record.
//!
//! Each `check` function is one `ca-check` subcommand on a data directory:
//! it finishes interrupted commits first, refuses a layout the check does not
//! apply to, and returns a typed report for [`crate::report`] to render.

use std::path::{Path, PathBuf};

use crate::layout::DataDir;
use crate::pki::error::Result;
use crate::store::lock::{recover_in, report_notes};

pub mod ca_outlook;
pub mod expiry;
pub mod finding;
pub mod preflight;
pub mod record;
pub mod serving;
pub mod staged;
pub mod token;
pub mod tree;

/// The tool that runs these checks: its notes and lock name it.
pub const TOOL: &str = "ca-check";

/// Finishes or undoes what interrupted commits left in `data_dir`'s
/// directories and in `also` (a staging dir about to be checked), saying so
/// on stderr: a check judges what is on disk, not half a commit.
fn recover(data_dir: &DataDir, also: Option<&Path>) -> Result<()> {
    let written = data_dir.written_dirs();
    let dirs = written.iter().map(PathBuf::as_path).chain(also);
    report_notes(TOOL, &recover_in(dirs, TOOL)?);
    Ok(())
}
