//! `sign-csr --profile sub-ca`'s report: the subordinate CA signed, its
//! profile, and what goes back to the cluster's machine.

use std::io::{self, Write};

use crate::layout::custom_tree::{INTERMEDIATE_PEM, ROOT_PEM};
use crate::pki::cert::format_time;
use crate::pki::text::{one_line, shown};
use crate::runs::sub_ca::SubCaRun;
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut dyn Write, run: &SubCaRun, outcome: &Outcome<'_>) -> io::Result<()> {
    let verb = if outcome.dry_run {
        "would sign"
    } else {
        "signed"
    };
    // The subject comes from the requester: escaped, so it cannot forge a line.
    writeln!(
        out,
        "{verb} subordinate CA {} under {}, until {}, checked to serve {}:",
        one_line(&run.subject),
        one_line(&run.issuer),
        format_time(run.not_after),
        run.who
    )?;
    for line in &run.profile {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(
        out,
        "Carry {} back as {} and the root certificate ({}, or the last certificate of it) as \
         {}; the CA key stays here.",
        shown(&run.out),
        INTERMEDIATE_PEM,
        shown(&run.ca_cert),
        ROOT_PEM
    )?;
    Ok(())
}
