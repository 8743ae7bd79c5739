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
//! - [`staging`]: staging directories never inside the live one.

mod commit;
mod fs;
mod journal;
pub mod lock;
pub mod plan;
mod recover;
pub mod staging;
