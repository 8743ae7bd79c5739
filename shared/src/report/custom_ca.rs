//! `gen-custom-ca`'s report: where each CA came from, the files, how nodes
//! join, what to keep in a vault and, for a staging tree, how to load it.
//! What differs per distribution follows the run (its [`Join`], its
//! [`ServiceAccount`], its [`Staging`], its layout), never a test of the product.

use std::io::{self, Write};

use crate::layout::SERVICE_ACCOUNT_KEY;
use crate::layout::k3s::token::token_prefix;
use crate::layout::{CaName, Layout};
use crate::pki::keys::KeyAlgorithm;
use crate::pki::text::{one_line, shell_quote, shown};
use crate::runs::custom_ca::{CustomCaRun, Join, Origin, ServiceAccount, Staging};
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut dyn Write, run: &CustomCaRun, outcome: &Outcome<'_>) -> io::Result<()> {
    let layout = run.layout;
    writeln!(
        out,
        "{} custom CA tree in {} ({} layout, {}):",
        layout.name(),
        shown(&run.tls_dir),
        layout.name(),
        outcome.verb()
    )?;
    write_sources(out, run)?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    write_join(out, &run.join)?;
    if !run.chain_files.is_empty() {
        write_chain_files(out, run)?;
    }
    if let Some(path) = &run.root_key_out {
        writeln!(out)?;
        writeln!(
            out,
            "The root key was written to {} only, never into {}: keep it offline.",
            shown(path),
            shown(&run.tls_dir)
        )?;
    }
    if !run.vault_files.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Make a secure copy of these files and remove them from cluster members:"
        )?;
        for path in &run.vault_files {
            writeln!(out, "  {}", shown(path))?;
        }
    }
    for (what, uri) in &run.in_token {
        writeln!(out)?;
        writeln!(
            out,
            "The {what} CA's key stays in the token {}: no file written holds it.",
            crate::pki::error::one_line(uri)
        )?;
    }
    if let Some(path) = &run.service_key_carried {
        writeln!(out)?;
        writeln!(
            out,
            "{} carries the live keys of {} after the new one, as rotate-ca requires.",
            layout.service_account.key_file(),
            shown(path)
        )?;
    }
    if let Some(staging) = &run.staging {
        write_staging(out, staging)?;
    }
    Ok(())
}

/// One line per part of the tree: where it came from and its key type.
fn write_sources(out: &mut dyn Write, run: &CustomCaRun) -> io::Result<()> {
    let origin = |(o, algorithm): &(Origin, KeyAlgorithm)| match o {
        Origin::Generated => format!("generated, {algorithm}"),
        Origin::Reused(path) => format!("reused from {}, {algorithm}", shown(path)),
    };
    match (&run.root, &run.intermediate) {
        (Some(root), Some(intermediate)) => {
            line(out, "root CA", &origin(root))?;
            line(out, "intermediate CA", &origin(intermediate))?;
        }
        _ => line(
            out,
            "root CA",
            "none: each CA below is self-signed (--self-signed-cas)",
        )?,
    }
    if run.chain_above_intermediate > 0 {
        line(
            out,
            "chain",
            &format!(
                "{} CA(s) between the intermediate and the root, in every chain",
                run.chain_above_intermediate
            ),
        )?;
    }
    line(
        out,
        run.layout.cas_title,
        &format!("{} (generated, {})", ca_names(run.layout), run.leaf_ca),
    )?;
    match &run.service_account {
        ServiceAccount::KeyFile { file, kept } => line(
            out,
            file,
            &format!("new {SERVICE_ACCOUNT_KEY} key first, {kept} existing key(s) kept"),
        ),
        ServiceAccount::Pair {
            key,
            public,
            reused,
        } => {
            let signing = match reused {
                Some(path) => format!("the signing key reused from {}", shown(path)),
                None => format!("a new {SERVICE_ACCOUNT_KEY} signing key"),
            };
            line(
                out,
                &format!("{key}, {public}"),
                &format!("{signing}, {public} its public key"),
            )
        }
    }
}

/// `  <what>:` padded to the column the values start in, then `value`.
fn line(out: &mut dyn Write, what: &str, value: &str) -> io::Result<()> {
    writeln!(out, "  {:<17}{value}", format!("{what}:"))
}

/// The layout's CAs by file stem, with the CN when it is fixed.
fn ca_names(layout: &Layout) -> String {
    let names: Vec<String> = layout
        .cas
        .iter()
        .map(|ca| match ca.name {
            CaName::Stamped(_) => ca.stem.to_string(),
            CaName::Fixed(cn) => format!("{} (CN {cn})", ca.stem),
        })
        .collect();
    names.join(", ")
}

/// How nodes join with the new CAs, per join scheme: k3s's token prefix,
/// kubeadm's discovery hashes and next commands, k0s's shared set and
/// pre-shared token.
fn write_join(out: &mut dyn Write, join: &Join) -> io::Result<()> {
    writeln!(out)?;
    match join {
        Join::K3sToken { ca_hash } => {
            writeln!(
                out,
                "Join token CA hash (what k3s computes from server-ca.crt):"
            )?;
            writeln!(out, "  {}", token_prefix(ca_hash))?;
            writeln!(
                out,
                "  tokens for this cluster are {}<user>:<password>",
                token_prefix(ca_hash)
            )?;
        }
        Join::KubeadmDiscovery {
            discovery_hashes,
            cert_dir,
        } => {
            writeln!(
                out,
                "Discovery hash of ca.crt (SHA-256 of its SubjectPublicKeyInfo), for kubeadm join:"
            )?;
            for hash in discovery_hashes {
                writeln!(out, "  --discovery-token-ca-cert-hash {hash}")?;
            }
            writeln!(out)?;
            writeln!(
                out,
                "Next, on the first control-plane node (kubeadm uses these CAs and sa.key instead of making its own):"
            )?;
            let cert_dir = match cert_dir {
                Some(dir) => format!(" --cert-dir {}", shell_quote(dir.as_os_str())),
                None => String::new(),
            };
            writeln!(out, "  kubeadm init --upload-certs{cert_dir}")?;
            writeln!(
                out,
                "then join nodes with the token it prints (--upload-certs shares the CAs and sa.key with"
            )?;
            writeln!(
                out,
                "control-plane nodes that join with --control-plane --certificate-key <key>):"
            )?;
            let hashes: Vec<String> = discovery_hashes
                .iter()
                .map(|hash| format!("--discovery-token-ca-cert-hash {hash}"))
                .collect();
            writeln!(
                out,
                "  kubeadm join <endpoint>:6443 --token <token> {}",
                hashes.join(" ")
            )?;
        }
        Join::K0sPreShared {
            ca_cert,
            shared_files,
            controller_dir,
        } => {
            writeln!(
                out,
                "Every controller needs this same set in {} before its first start",
                shown(controller_dir)
            )?;
            writeln!(
                out,
                "(k0s hands only ca.* and sa.* to joining controllers, and makes its own front-proxy-ca):"
            )?;
            writeln!(out, "  {}", shared_files.join(" "))?;
            writeln!(out)?;
            writeln!(
                out,
                "Join workers with a pre-shared token made from ca.crt:"
            )?;
            writeln!(
                out,
                "  k0s token pre-shared --role worker --cert {} --url https://<ip>:6443/",
                shell_quote(ca_cert.as_os_str())
            )?;
        }
    }
    Ok(())
}

/// Where the chain above each CA went, for layouts whose CA files hold one
/// certificate each, and who needs it.
fn write_chain_files(out: &mut dyn Write, run: &CustomCaRun) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Each .crt holds one certificate ({} reads only the first); the chain above each CA,",
        run.layout.name()
    )?;
    writeln!(
        out,
        "[intermediate, ..., root], is in its -chain.crt file. Clients that trust only"
    )?;
    writeln!(
        out,
        "root-ca.pem need it: servers must send it after their certificate (append it to"
    )?;
    writeln!(
        out,
        "the leaf file, e.g. apiserver.crt or etcd/server.crt), or such clients take it as"
    )?;
    writeln!(out, "intermediates:")?;
    for path in &run.chain_files {
        writeln!(out, "  {}", shown(path))?;
    }
    Ok(())
}

/// What `rotate-ca` will say about a staging tree, and how to load it.
fn write_staging(out: &mut dyn Write, staging: &Staging) -> io::Result<()> {
    writeln!(out)?;
    match &staging.verdict {
        Some(Ok(())) => {
            writeln!(
                out,
                "Checked against the live tls dir with rotate-ca's rules: it will be accepted."
            )?;
        }
        Some(Err(refusals)) => {
            writeln!(
                out,
                "k3s certificate rotate-ca would refuse this staging tree:"
            )?;
            for refusal in refusals {
                writeln!(out, "  {}", one_line(&refusal.to_string()))?;
            }
            writeln!(
                out,
                "(a tree from another root needs `rotate-ca --force`, which breaks every certificate the current CAs issued)"
            )?;
        }
        None => writeln!(out, "To update certificates on an existing cluster:")?,
    }
    let mut text = Vec::new();
    super::procedure::write(&mut text, &staging.procedure)?;
    out.write_all(&text)
}
