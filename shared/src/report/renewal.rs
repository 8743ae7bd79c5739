//! The report of a staged CA renewal ([`RenewalRun`]): each CA's end before
//! and after, what was written, the join token or pin, and the procedure.

use std::io::{self, Write};

use super::procedure;
use super::rotation::{join_tokens, notes};
use crate::layout::rotation::RenewalStage;
use crate::pki::cert::format_time;
use crate::pki::keys::sha256_hex;
use crate::pki::text::{one_line, shown};
use crate::runs::rotation::renewal::{RenewalRun, RenewalState};
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut impl Write, run: &RenewalRun, outcome: &Outcome<'_>) -> io::Result<()> {
    let stage = match run.stage {
        Some(RenewalStage::AddRenewed) => ", stage 1 of 2",
        Some(RenewalStage::RenewedFirst) => ", stage 2 of 2",
        Some(RenewalStage::Expired) => ", one stage: a current CA has expired, load with --force",
        None => "",
    };
    writeln!(
        out,
        "Staged renewal of the CAs of {}, {} layout, same keys, into {} ({}{stage}):",
        shown(&run.paths.data_dir),
        run.layout.name,
        shown(&run.paths.staged_dir),
        outcome.verb()
    )?;
    for renewed in &run.renewed {
        let cert = &renewed.renewed;
        if renewed.state == RenewalState::Kept {
            writeln!(
                out,
                "  {:<22} \"{}\" kept: it ends {}, no earlier than a renewal would; not staged",
                run.layout.cert_file(renewed.ca),
                one_line(&cert.subject_cn()),
                format_time(cert.not_after())
            )?;
            continue;
        }
        let key = der::Encode::to_der(cert.public_key())
            .map(|der| sha256_hex(&der))
            .unwrap_or_default();
        let what = match renewed.state {
            RenewalState::Renewed => "renewed",
            RenewalState::MovedFirst => "renewed earlier, now first",
            RenewalState::AlreadyAdded => "renewed earlier, already live: not staged",
            RenewalState::Kept => "kept",
        };
        writeln!(
            out,
            "  {:<22} \"{}\" {what}: until {} (was {}), {}",
            run.layout.cert_file(renewed.ca),
            one_line(&cert.subject_cn()),
            format_time(cert.not_after()),
            format_time(renewed.current.not_after()),
            match &renewed.issuer {
                Some(issuer) => format!("signed by \"{}\"", one_line(issuer)),
                None => "self-signed".to_string(),
            }
        )?;
        writeln!(
            out,
            "  {:<22} same subject and extensions; key SHA-256 {key}",
            ""
        )?;
        for issuer in &renewed.issuers_renewed {
            writeln!(
                out,
                "  {:<22} with its issuer \"{}\" renewed: until {}",
                "",
                one_line(&issuer.subject_cn()),
                format_time(issuer.not_after())
            )?;
        }
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    notes(out, &run.notes)?;
    if let Some(ca_hash) = &run.ca_hash {
        writeln!(out)?;
        join_tokens(out, ca_hash, &run.tokens)?;
    }
    if let Some(pin) = &run.key_pin {
        writeln!(out)?;
        writeln!(
            out,
            "Discovery hash, unchanged (the key is the same): --discovery-token-ca-cert-hash {pin}"
        )?;
    }
    writeln!(out)?;
    procedure::write(out, &run.procedure)
}
