//! Findings as a table: file, verdict, reason, then the count of failures.

use crate::pki::text::one_line;
use std::io::{self, Write};

use crate::checks::finding::{Finding, Verdict};

/// One line per finding, files padded to the widest, then how many failed.
pub fn write(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    let width = findings
        .iter()
        .map(|f| one_line(&f.file).chars().count())
        .max()
        .unwrap_or(0);
    for f in findings {
        writeln!(
            out,
            "{:<width$}  {:<6}  {}",
            one_line(&f.file),
            f.verdict.as_str(),
            one_line(&f.reason)
        )?;
    }
    let failed = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    writeln!(out)?;
    if failed == 0 {
        writeln!(out, "no failures")
    } else {
        writeln!(out, "{failed} failure(s)")
    }
}
