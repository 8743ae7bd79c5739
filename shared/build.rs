//! Captures the git commit the tools are built from, for `--version`.
//!
//! Sets `K3S_PKI_GIT_COMMIT` (short hash) when the source is a git checkout and
//! git runs; otherwise sets nothing (a source tarball, no git, a repository owned
//! by another user). Never fails the build: every problem means "no commit".

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    // Without any rerun-if-changed line cargo reruns this script whenever any file
    // of the package changes; with this one it reruns only for the lines below.
    println!("cargo:rerun-if-changed=build.rs");
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return;
    };
    let Some(commit) = git(&dir, &["rev-parse", "--short", "HEAD"]) else {
        return;
    };
    println!("cargo:rustc-env=K3S_PKI_GIT_COMMIT={commit}");
    // A commit or a checkout moves HEAD (detached) or the branch's ref (loose, or
    // packed by `git gc`). --git-path resolves them in linked worktrees too, where
    // HEAD is per worktree and refs live in the main repository. Only existing
    // files are watched: cargo reruns the script every build for a missing one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(
        git(&dir, &["rev-parse", "--symbolic-full-name", "HEAD"])
            .filter(|branch| branch.starts_with("refs/")),
    );
    for name in watched {
        if let Some(path) = git(&dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// The trimmed stdout of a successful, non-empty git command run in `dir`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}
