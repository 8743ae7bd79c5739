//! `gen-custom-ca --request-intermediate`'s report: the files, the checklist
//! for the PKI team, and how to finish.

use std::io::{self, Write};

use crate::layout::custom_tree::{INTERMEDIATE_PEM, ROOT_PEM};
use crate::pki::text::{one_line, shown};
use crate::runs::intermediate_request::RequestRun;
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut dyn Write, run: &RequestRun, outcome: &Outcome<'_>) -> io::Result<()> {
    writeln!(
        out,
        "Issuing CA request for {} ({}):",
        one_line(&run.subject),
        outcome.verb()
    )?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    let kept = if run.encrypted {
        "encrypted; keep the passphrase"
    } else {
        "keep it here"
    };
    writeln!(
        out,
        "The key stays on this machine ({}: {kept}); hand {} to your PKI.",
        shown(&run.key),
        shown(&run.csr)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "The signed certificate must meet these requirements to serve {}:",
        run.needs.who
    )?;
    for line in run.needs.lines() {
        writeln!(out, "  - {line}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "To finish: put the signed certificate as {} and the root as {} (a chain between \
         them after the certificate in {}), then run gen-custom-ca again with the same \
         --data-dir; it checks the certificate against the pending key and the requirements \
         above before writing anything.",
        shown(run.data_dir.join(INTERMEDIATE_PEM)),
        shown(run.data_dir.join(ROOT_PEM)),
        INTERMEDIATE_PEM
    )?;
    Ok(())
}
