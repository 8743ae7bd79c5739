//! Writing a run's files: a [`plan::Plan`] of every output, committed all or
//! nothing under a [`lock::TargetLock`], with the journal that lets the next
//! run finish or undo a commit that was killed. Knows files and directories,
//! not distributions.

pub mod commit;
pub mod lock;
pub mod plan;
pub mod staging;
