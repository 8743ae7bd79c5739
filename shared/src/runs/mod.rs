//! Runs turn options into a [`crate::store::plan::Plan`] and what to tell the
//! user: custom trees, CA rotations, service-account key rotations, CSR signing.

use std::path::{Path, PathBuf};

use crate::layout::DataDir;
use crate::pki::error::Result;
use crate::store::lock::{TargetLock, lock_target};
use crate::store::staging;

pub mod csr_policy;
pub mod custom_ca;
pub mod intermediate_request;
pub mod k8s_csr;
pub mod rotation;
pub mod sa_rotation;
pub mod sign_csr;
pub mod sub_ca;
pub mod user_kubeconfig;

/// The staging dir of a run: `asked`, or `default` when none (or an empty
/// one) was given; refused before the lock creates it when it would put
/// files under the live cert dir.
fn staging_dir(data_dir: &DataDir, asked: Option<PathBuf>, default: PathBuf) -> Result<PathBuf> {
    let dir = asked
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(default);
    staging::cert_dir(&dir, &data_dir.tls_dir())?;
    Ok(dir)
}

/// Runs `body` under the lock of `target`, taken after finishing the commits
/// interrupted wherever the tools write for `data_dir`, and says on stderr what
/// was recovered. The lock is held from the first check until `body` returns,
/// having printed its report: what a run checked is what it writes, and what
/// it prints is what is on disk.
fn locked<T>(
    tool: &str,
    data_dir: &DataDir,
    target: &Path,
    dry_run: bool,
    body: impl FnOnce(&TargetLock) -> Result<T>,
) -> Result<T> {
    let written = data_dir.written_dirs();
    let lock = lock_target(written.iter().map(PathBuf::as_path), target, tool, dry_run)?;
    lock.report_recovered(tool);
    body(&lock)
}
