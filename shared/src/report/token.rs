//! The join-token report as text: the hash, then what each token file
//! carries, then each token configured on the node. No token, and no part of
//! one after its CA hash, is ever printed: a stale one is named by its file,
//! line and key, with the hash to put there.

use crate::pki::text::{one_line, shown};
use std::io::{self, Write};

use crate::checks::token::{Judged, Place, TokenReport, TokenState};

/// The join CA's hash, then one line per token file, then one per token
/// configured on the node and per file that could not be read.
pub fn write(out: &mut impl Write, report: &TokenReport) -> io::Result<()> {
    writeln!(out, "k3s CA hash of {}:", shown(&report.join_ca))?;
    writeln!(out, "  {}", report.hash)?;
    for (path, state) in &report.tokens {
        match state {
            TokenState::Missing => writeln!(out, "{}: missing", shown(path))?,
            TokenState::Current => writeln!(out, "{}: carries it (current)", shown(path))?,
            TokenState::Stale(token) => writeln!(
                out,
                "{}: STALE: carries {}; agents joining with it will refuse this server CA. \
                 k3s rewrites this file with the current hash when the server restarts",
                shown(path),
                token.ca_hash(),
            )?,
            TokenState::Unusable(error) => writeln!(out, "{error}")?,
        }
    }
    writeln!(out)?;
    if report.configured.is_empty() && report.problems.is_empty() {
        writeln!(
            out,
            "No token configured on this node (config.yaml, its drop-ins, the service's \
             environment files and unit)."
        )?;
        return Ok(());
    }
    writeln!(out, "Tokens configured on this node:")?;
    for token in &report.configured {
        write!(out, "{}: ", place(&token.place))?;
        match &token.state {
            Judged::Current => writeln!(out, "carries it (current)")?,
            Judged::Stale(carried) => writeln!(
                out,
                "STALE: carries {carried}; agents joining with it will refuse this server CA. \
                 Put the current hash there, the rest unchanged: K10{}::<user>:<password>",
                report.hash
            )?,
            Judged::NoHash => writeln!(
                out,
                "carries no CA hash (a bare password, no K10 prefix): nothing to check \
                 against the CA, and not stale"
            )?,
            Judged::Overridden(by, line) => writeln!(
                out,
                "not used: {}:{line} sets it later (k3s reads config.yaml, then its drop-ins \
                 by name)",
                shown(by)
            )?,
            // The place is already said: the problem alone.
            Judged::Malformed(error) | Judged::Unusable(error) => {
                writeln!(out, "{}", one_line(&error.kind().to_string()))?;
            }
            Judged::Unread(what) => writeln!(
                out,
                "not read ({what}): check by hand that it carries the hash above"
            )?,
        }
    }
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    Ok(())
}

/// Where a configured token is, as one line.
fn place(place: &Place) -> String {
    match place {
        Place::Line { file, line, key } => {
            format!("{}:{line}: {}", shown(file), one_line(key))
        }
        Place::TokenFile {
            file,
            named_by,
            line,
            key,
        } => format!(
            "{} (named by {} at {}:{line})",
            shown(file),
            one_line(key),
            shown(named_by)
        ),
        Place::Pasted => "the token given with --token".to_string(),
    }
}
