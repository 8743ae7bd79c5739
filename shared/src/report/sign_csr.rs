//! `sign-csr`'s report: each certificate signed, with its CA, subject, usages,
//! end and names, then the files; or, when CSRs were refused, each refusal.

use std::io::{self, Write};

use crate::pki::cert::format_time;
use crate::pki::text::one_line;
use crate::runs::sign_csr::{Basis, SignRun, Signing};
use crate::store::plan::Outcome;

/// Writes the report of `signing`, whose plan had `outcome`.
pub fn write(out: &mut dyn Write, signing: &Signing, outcome: &Outcome<'_>) -> io::Result<()> {
    let run = &signing.run;
    let verb = if outcome.dry_run {
        "would sign"
    } else {
        "signed"
    };
    // Paths, subjects and names come from the requester: each line is
    // escaped so that none can forge another or drive the terminal.
    let mut line = |text: String| writeln!(out, "{}", one_line(&text));
    line(format!(
        "{verb} {} CSR(s) in {} ({}):",
        run.signed.len(),
        signing.dir.display(),
        basis(&signing.basis)
    ))?;
    for signed in &run.signed {
        let usages: Vec<&str> = signed.usages.iter().map(|u| u.name()).collect();
        line(format!(
            "  {} -> {}",
            signed.csr.display(),
            signed.out.display()
        ))?;
        line(format!(
            "    CA {}, subject \"{}\", {}, expires {}",
            signed.ca,
            signed.subject,
            usages.join("+"),
            format_time(signed.not_after)
        ))?;
        if !signed.sans.is_empty() {
            let sans: Vec<String> = signed.sans.iter().map(ToString::to_string).collect();
            line(format!("    SANs {}", sans.join(", ")))?;
        }
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    if !run.next_steps.is_empty() && !run.signed.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Then load each into the cluster (kubectl with its admin kubeconfig):"
        )?;
        for step in &run.next_steps {
            writeln!(out, "  {}", one_line(step))?;
        }
    }
    Ok(())
}

/// What `tool` says on stderr of the objects `run` declined, which it did
/// not write (the others it wrote): each, then how many.
pub fn declined(tool: &str, run: &SignRun) -> Option<String> {
    if run.declined.is_empty() {
        return None;
    }
    let mut text = String::new();
    for declined in &run.declined {
        text.push_str(&format!("{tool}: {declined}\n"));
    }
    text.push_str(&format!(
        "{tool}: {} of {} CSR objects refused and not written\n",
        run.declined.len(),
        run.declined.len() + run.signed.len()
    ));
    Some(text)
}

/// What the CSRs were signed against, for the report's first line.
fn basis(basis: &Basis) -> String {
    match basis {
        Basis::Kubeadm(names) => {
            let mut context = format!(
                "node name {}, DNS domain {}, service IP {}",
                names.node_name, names.dns_domain, names.service_ip
            );
            if let Some(address) = names.advertise_address {
                context.push_str(&format!(", advertise address {address}"));
            }
            context
        }
        Basis::Profile(profile) => format!("profile {}", profile.name()),
        Basis::Objects => "Kubernetes CSR objects, each by its signerName".into(),
    }
}

/// When `run` refused CSRs (and so writes nothing), what `tool` says on
/// stderr: each refusal, then how many of the CSRs were refused.
pub fn refusal(tool: &str, run: &SignRun) -> Option<String> {
    if run.refused.is_empty() {
        return None;
    }
    let mut text = String::new();
    for refusal in &run.refused {
        text.push_str(&format!("{tool}: error: {refusal}\n"));
    }
    text.push_str(&format!(
        "{tool}: nothing was written: {} of {} CSRs refused\n",
        run.refused.len(),
        run.refused.len() + run.signed.len()
    ));
    Some(text)
}
