//! The report of a staged CA rotation ([`RotationRun`]): what was rotated,
//! what was written, what to know, and the procedure that takes it into the
//! cluster.

use std::io::{self, Write};

use super::procedure;
use crate::layout::SERVICE_ACCOUNT_KEY;
use crate::layout::k3s::token::token_prefix;
use crate::pki::cert::format_time;
use crate::pki::text::{one_line, shown};
use crate::runs::rotation::manual::ManualRun;
use crate::runs::rotation::rotate_ca::{RotateCaRun, TokenUpdate};
use crate::runs::rotation::{RotationRun, SchemeRun};
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut impl Write, run: &RotationRun, outcome: &Outcome<'_>) -> io::Result<()> {
    match &run.scheme {
        SchemeRun::RotateCa(staged) => rotate_ca(out, run, staged, outcome)?,
        SchemeRun::Manual(staged) => manual(out, run, staged, outcome)?,
    }
    writeln!(out)?;
    procedure::write(out, &run.procedure)
}

/// k3s: the new roots and intermediates, and the join tokens that follow.
fn rotate_ca(
    out: &mut impl Write,
    run: &RotationRun,
    staged: &RotateCaRun,
    outcome: &Outcome<'_>,
) -> io::Result<()> {
    let layout = run.layout;
    writeln!(
        out,
        "Staged rotation of {}'s self-signed CAs in {} ({}):",
        layout.name,
        shown(&run.paths.staged_dir),
        outcome.verb()
    )?;
    for rotated in &staged.rotated {
        writeln!(
            out,
            "  {:<22} old root \"{}\" cross-signs new root \"{}\"; new intermediate \"{}\"",
            layout.cert_file(rotated.ca),
            one_line(&rotated.old_root.subject_cn()),
            one_line(&rotated.new_root.subject_cn()),
            one_line(&rotated.intermediate.subject_cn())
        )?;
    }
    writeln!(
        out,
        "  {:<22} new {SERVICE_ACCOUNT_KEY} key first, {} current key(s) kept",
        layout.service_account.key_file(),
        staged.service_keys_kept
    )?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    notes(out, &run.notes)?;
    writeln!(out)?;
    join_tokens(out, &staged.ca_hash, &staged.tokens)
}

/// The join-token CA hash of a staged `server-ca.crt`, and each token file
/// with it in place.
pub(super) fn join_tokens(
    out: &mut impl Write,
    ca_hash: &str,
    tokens: &[TokenUpdate],
) -> io::Result<()> {
    writeln!(
        out,
        "Join token CA hash of the new server-ca.crt (what k3s will compute):"
    )?;
    let prefix = token_prefix(ca_hash);
    writeln!(out, "  {prefix}")?;
    writeln!(
        out,
        "Updated tokens, valid once the staged files are loaded:"
    )?;
    let generic = format!("{prefix}<user>:<password>");
    for update in tokens {
        match update {
            TokenUpdate::Updated { path, token } => writeln!(out, "  {}: {token}", shown(path))?,
            TokenUpdate::Missing { path } => {
                writeln!(out, "  {} is missing: tokens are {generic}", shown(path))?;
            }
            TokenUpdate::Unusable(error) => writeln!(out, "  {error}: tokens are {generic}")?,
        }
    }
    Ok(())
}

/// kubeadm, k0s: the new CAs and what each staged file is for.
fn manual(
    out: &mut impl Write,
    run: &RotationRun,
    staged: &ManualRun,
    outcome: &Outcome<'_>,
) -> io::Result<()> {
    writeln!(
        out,
        "Staged rotation of the CAs of {}, {} layout, from {} into {} ({}):",
        shown(&run.paths.data_dir),
        run.layout.name,
        shown(&run.paths.live_dir),
        shown(&run.paths.staged_dir),
        outcome.verb()
    )?;
    for rotated in &staged.rotated {
        writeln!(
            out,
            "  {:<16} \"{}\" (until {}) is replaced by a new {} \"{}\" (until {}), \
             also cross-signed by the old one",
            rotated.ca.stem,
            one_line(&rotated.old.subject_cn()),
            format_time(rotated.old.not_after()),
            rotated.algorithm,
            one_line(&rotated.new.subject_cn()),
            format_time(rotated.new.not_after()),
        )?;
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(out, "What each staged file is for:")?;
    for file in staged.rotated.iter().flat_map(|r| &r.files) {
        writeln!(out, "  {}", shown(&file.path))?;
        writeln!(out, "      {}", file.purpose)?;
    }
    notes(out, &run.notes)
}

/// `note:` lines after a blank line, if there are any.
pub(super) fn notes(out: &mut impl Write, notes: &[String]) -> io::Result<()> {
    if !notes.is_empty() {
        writeln!(out)?;
        for note in notes {
            writeln!(out, "note: {}", one_line(note))?;
        }
    }
    Ok(())
}
