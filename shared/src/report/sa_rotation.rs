//! The report of a staged service-account key rotation ([`SaRotationRun`]):
//! what was written, every key in order with what it does, and the procedure
//! that takes them into the cluster.

use crate::pki::text::shown;
use std::io::{self, Write};

use super::procedure;
use crate::runs::sa_rotation::{Kept, SaRotationRun};
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut impl Write, run: &SaRotationRun, outcome: &Outcome<'_>) -> io::Result<()> {
    writeln!(
        out,
        "Staged service-account key rotation, {} layout ({}):",
        run.layout.name,
        outcome.verb()
    )?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(out, "Keys (SHA-256 of the SubjectPublicKeyInfo), in order:")?;
    writeln!(
        out,
        "  new   {}  {}  signs new tokens",
        run.new_algorithm, run.new_fingerprint
    )?;
    for kept in &run.kept {
        let note = match kept.role {
            Kept::SignsToday => "signs today".to_string(),
            Kept::VerifiesIssued => "verifies tokens already issued".to_string(),
            Kept::Carried => format!("from {} block #{}", shown(&run.current), kept.key.block),
        };
        writeln!(
            out,
            "  kept  {:<8}  {}  {note}",
            kept.key.algorithm.to_string(),
            kept.key.fingerprint(),
        )?;
    }
    for key in &run.dropped {
        writeln!(
            out,
            "  drop  {:<8}  {}  tokens signed with it stop verifying",
            key.algorithm.to_string(),
            key.fingerprint()
        )?;
    }
    writeln!(out)?;
    procedure::write(out, &run.procedure)
}
