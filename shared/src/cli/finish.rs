//! The end every writing tool shares, once its run is planned: warnings,
//! refusals, the write (or, dry, what it would do), then the report.

use crate::pki::text::one_line;
use std::io::{self, Write};

use crate::pki::error::{Result, stdout_result};
use crate::store::lock::TargetLock;
use crate::store::plan::{Outcome, Plan};

/// A planned run, as [`finish`] ends it.
pub struct Planned<'a> {
    /// Every file the run writes.
    pub plan: &'a Plan,
    /// What the user should know, said first, one `<tool>: warning:` line each.
    pub warnings: &'a [String],
    /// What to say on stderr instead of writing, when the run refused some of
    /// its inputs (each refusal and what came of it), already rendered.
    pub refusal: Option<String>,
}

/// Ends `planned` while the caller holds `lock`, the lock of what it writes:
/// says its warnings on stderr; when it refused inputs, says so and writes
/// nothing (`Ok(false)`: exit 1); else writes the plan (with `dry_run`, only
/// works out what writing would do) and prints on stdout the report `report`
/// makes of the outcome.
pub fn finish(
    tool: &str,
    lock: &TargetLock,
    planned: Planned<'_>,
    dry_run: bool,
    report: impl FnOnce(&mut dyn Write, &Outcome<'_>) -> io::Result<()>,
) -> Result<bool> {
    for warning in planned.warnings {
        eprintln!("{tool}: warning: {}", one_line(warning));
    }
    if let Some(refusal) = planned.refusal {
        eprint!("{refusal}");
        return Ok(false);
    }
    let outcome = planned.plan.write(lock, dry_run)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    stdout_result(report(&mut out, &outcome).and_then(|()| out.flush()))?;
    Ok(true)
}
