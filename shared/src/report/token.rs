//! The join-token report as text: the hash, then what each token file carries.

use crate::pki::text::shown;
use std::io::{self, Write};

use crate::checks::token::{TokenReport, TokenState};

/// The join CA's hash, then one line per token file; a stale one with the
/// token that carries the current hash, to paste.
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
                 The token with the current hash is {}",
                shown(path),
                token.ca_hash(),
                token.with_ca_hash(&report.hash)
            )?,
            TokenState::Unusable(error) => writeln!(out, "{error}")?,
        }
    }
    Ok(())
}
