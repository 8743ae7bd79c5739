//! `ca-check tree`: a custom CA tree as `gen-custom-ca` writes it, or as the
//! upstream script or openssl by hand left it, in any layout (k3s/RKE2's
//! `server/tls`, kubeadm's and k0s's `pki`). Files, bundle order, every link
//! of the chain, key pairs and modes, the service-account keys, and the
//! pre-flight `gen-custom-ca` runs: every certificate the distribution issues,
//! verified for a client that trusts only `root-ca.pem` (or, for self-signed
//! CAs, only the CA itself).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::SystemTime;

use crate::checks::finding::{Checked, Finding, OrFail as _, Verdict, finding, settle};
use crate::checks::preflight::{self, PathCert, SigningCa};
use crate::checks::recover;
use crate::layout::custom_tree as files;
use crate::layout::service_key::ServiceKeyFile;
use crate::layout::{CaFiles, CaSlot, ClusterFlags, ClusterNames, DataDir, Layout, SaSlot};
use crate::pki::cert::{Certificate, read_bundle};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::keys::{ENCRYPTED_PKCS8_LABEL, PrivateKey};
use crate::pki::pem::PemFile;
use crate::pki::verify::check_issued_by;

/// One CA of the layout as found in the tree, with its key when it matches.
struct FoundCa {
    slot: CaSlot,
    cert: Certificate,
    key: Option<PrivateKey>,
    /// The file its certificate was read from.
    source: String,
}

/// The tree in `cert_dir` laid out as `data_dir`'s product lays it out, for a
/// cluster reached by the names `flags` add, at `now`.
pub fn check(
    data_dir: &DataDir,
    cert_dir: &Path,
    flags: ClusterFlags,
    now: SystemTime,
) -> Result<Vec<Finding>> {
    recover(data_dir, None)?;
    let layout = data_dir.layout();
    check_custom_tree(cert_dir, layout, &flags.names(layout)?, now)
}

/// Checks the tree in `cert_dir` laid out as `layout`. An error means the
/// check could not run (no such directory); everything wrong inside the tree
/// is a finding.
pub fn check_custom_tree(
    cert_dir: &Path,
    layout: &Layout,
    cluster: &ClusterNames,
    now: SystemTime,
) -> Result<Vec<Finding>> {
    if !cert_dir.is_dir() {
        return Err(Error::at(
            cert_dir,
            Kind::Inputs(format!(
                "not a directory: give the {} certificate directory ({})",
                layout.name(),
                layout.cert_dir
            )),
        ));
    }
    let mut findings = Vec::new();
    // A shared root, unless the layout allows self-signed CAs and none is here.
    let self_signed = layout.self_signed_cas && !cert_dir.join(files::ROOT_PEM).exists();
    let anchors = if self_signed {
        None
    } else {
        read_anchors(cert_dir, now, &mut findings)
    };
    let to_root: Vec<&Certificate> = anchors
        .as_ref()
        .map(|(root, chain)| chain.iter().chain(std::iter::once(root)).collect())
        .unwrap_or_default();
    let mut found = Vec::new();
    for slot in layout.cas {
        if let Some(ca) = check_ca(cert_dir, layout, slot, &to_root, now, &mut findings) {
            found.push(ca);
        }
    }
    findings.push(settle(service_account_finding(
        cert_dir,
        layout.service_account,
    )));
    if !self_signed && anchors.is_none() {
        return Ok(findings);
    }
    findings.extend(preflight_findings(
        layout,
        cluster,
        anchors.as_ref(),
        &found,
        now,
    )?);
    Ok(findings)
}

/// The root (`root-ca.pem`) and the chain between it and the CAs
/// (`intermediate-ca.pem`: the issuing CA, the CAs above it, maybe the root),
/// with their findings; `None` when they cannot be read.
fn read_anchors(
    cert_dir: &Path,
    now: SystemTime,
    findings: &mut Vec<Finding>,
) -> Option<(Certificate, Vec<Certificate>)> {
    let root = read_certs(cert_dir, files::ROOT_PEM, findings).map(|mut roots| {
        if roots.len() > 1 {
            // As gen-custom-ca refuses it: the file is the cluster's trust anchor.
            findings.push(finding(
                files::ROOT_PEM,
                Verdict::Fail,
                format!(
                    "holds {} certificates: it must hold the root alone (the first, \"{}\", is \
                     taken as the root, and every client given the file trusts all of them)",
                    roots.len(),
                    roots[0].subject_cn()
                ),
            ));
        }
        roots.swap_remove(0)
    });
    let chain = read_certs(cert_dir, files::INTERMEDIATE_PEM, findings);
    let (root, mut chain) = (root?, chain?);
    if chain.last() == Some(&root) {
        chain.pop();
    }
    if chain.is_empty() {
        findings.push(finding(
            files::INTERMEDIATE_PEM,
            Verdict::Fail,
            "holds only the root: the issuing CA of the cluster's CAs must come first",
        ));
        return None;
    }
    findings.push(ca_finding(files::ROOT_PEM, &root, &root, now));
    for (i, cert) in chain.iter().enumerate() {
        let issuer = chain.get(i + 1).unwrap_or(&root);
        findings.push(ca_finding(&chain_name(i), cert, issuer, now));
    }
    let to_root: Vec<&Certificate> = chain.iter().chain(std::iter::once(&root)).collect();
    check_bundle_order(cert_dir, files::ROOT_CRT, &[&root], findings);
    check_bundle_order(cert_dir, files::INTERMEDIATE_CRT, &to_root, findings);
    for (name, cert) in [
        (files::ROOT_KEY, &root),
        (files::INTERMEDIATE_KEY, &chain[0]),
    ] {
        if cert_dir.join(name).exists() {
            findings.push(vault_key_finding(cert_dir, name, cert));
        } else {
            findings.push(finding(
                name,
                Verdict::Ok,
                "not here (kept in safe storage, as it should be)",
            ));
        }
    }
    Some((root, chain))
}

/// `intermediate-ca.pem`, or its certificate #n for the CAs above the first.
fn chain_name(index: usize) -> String {
    match index {
        0 => files::INTERMEDIATE_PEM.to_string(),
        i => format!("{} (certificate #{})", files::INTERMEDIATE_PEM, i + 1),
    }
}

fn read_certs(dir: &Path, name: &str, findings: &mut Vec<Finding>) -> Option<Vec<Certificate>> {
    read_in(dir, name, read_bundle)
        .map_err(|fail| findings.push(fail))
        .ok()
}

/// `read` of the file `name` in `dir`, or the FAIL finding about it, whose
/// message names the file relative to `dir` as the findings do.
fn read_in<T>(dir: &Path, name: &str, read: impl FnOnce(&Path) -> Result<T>) -> Checked<T> {
    let prefix = format!("{}/", dir.display());
    read(&dir.join(name))
        .map_err(|e| {
            let message = e.to_string();
            message
                .strip_prefix(&prefix)
                .unwrap_or(&message)
                .to_string()
        })
        .or_fail(name)
}

/// One CA of the layout: its certificate file(s) as the layout writes them,
/// its link to the chain (or itself when self-signed), and its key.
fn check_ca(
    cert_dir: &Path,
    layout: &Layout,
    slot: &CaSlot,
    to_root: &[&Certificate],
    now: SystemTime,
    findings: &mut Vec<Finding>,
) -> Option<FoundCa> {
    let stem = &slot.stem;
    let (source, cert) = match layout.ca_files {
        CaFiles::Bundle => {
            let name = format!("{stem}.pem");
            let cert = read_certs(cert_dir, &name, findings)?.swap_remove(0);
            let mut expected = vec![&cert];
            expected.extend(to_root);
            check_bundle_order(cert_dir, &layout.cert_file(slot), &expected, findings);
            (name, cert)
        }
        CaFiles::Single { more_refused } => {
            let name = layout.cert_file(slot);
            let mut certs = read_certs(cert_dir, &name, findings)?;
            if certs.len() != 1 {
                findings.push(finding(
                    &name,
                    Verdict::Fail,
                    format!(
                        "holds {} certificates: {} reads only the first{more_refused}; put the chain in {stem}-chain.crt",
                        certs.len(),
                        layout.name(),
                    ),
                ));
            }
            let cert = certs.swap_remove(0);
            if !to_root.is_empty() {
                check_bundle_order(cert_dir, &format!("{stem}-chain.crt"), to_root, findings);
            }
            (name, cert)
        }
    };
    let issuer = to_root.first().copied().unwrap_or(&cert);
    findings.push(ca_finding(&source, &cert, issuer, now));
    let (key_finding, key) = leaf_key_finding(cert_dir, &layout.key_file(slot), &cert);
    findings.push(key_finding);
    Some(FoundCa {
        slot: *slot,
        cert,
        key,
        source,
    })
}

/// The service-account keys: k3s's `service.key` (every block a key), or
/// kubeadm's and k0s's `sa.key` with `sa.pub` starting with its public key.
fn service_account_finding(cert_dir: &Path, slot: SaSlot) -> Checked {
    Ok(match slot {
        SaSlot::KeyFile(name) => {
            let file = read_in(cert_dir, name, ServiceKeyFile::read)?;
            mode_finding(cert_dir, name, format!("{} key(s)", file.keys.len()))
        }
        SaSlot::Pair { key, public } => {
            let signing = read_in(cert_dir, key, ServiceKeyFile::read)?;
            let verify = read_in(cert_dir, public, ServiceKeyFile::read_verify_keys)?;
            let signs = signing.signing_key().map(|k| &k.public_key_der);
            if signs.is_some() && verify.keys.first().map(|k| &k.public_key_der) == signs {
                mode_finding(
                    cert_dir,
                    key,
                    format!(
                        "{public} starts with its public key ({} key(s))",
                        verify.keys.len()
                    ),
                )
            } else {
                finding(
                    public,
                    Verdict::Fail,
                    format!(
                        "does not start with the public key of {key}: tokens it signs would not verify"
                    ),
                )
            }
        }
    })
}

/// The pre-flight of `gen-custom-ca`, as findings: FAIL for what clients that
/// trust only the root reject today, WARN for what they will reject later.
fn preflight_findings(
    layout: &Layout,
    cluster: &ClusterNames,
    anchors: Option<&(Certificate, Vec<Certificate>)>,
    found: &[FoundCa],
    now: SystemTime,
) -> Result<Vec<Finding>> {
    let signing: Vec<SigningCa<'_>> = found
        .iter()
        .filter_map(|ca| {
            Some(SigningCa {
                stem: ca.slot.stem.to_string(),
                cert: &ca.cert,
                key: ca.key.as_ref()?,
                source: ca.source.clone(),
            })
        })
        .collect();
    let leaves = layout.leaves(cluster);
    // Without a root the CAs are self-signed: each is the anchor its clients trust.
    let root = anchors.map(|(root, _)| PathCert {
        cert: root,
        source: files::ROOT_PEM.into(),
    });
    let path: Vec<PathCert<'_>> = anchors
        .map(|(_, chain)| {
            chain
                .iter()
                .enumerate()
                .map(|(i, cert)| PathCert {
                    cert,
                    source: chain_name(i),
                })
                .collect()
        })
        .unwrap_or_default();
    let report = preflight::run(layout.name(), root.as_ref(), &path, &signing, &leaves, now)?;
    let mut findings: Vec<Finding> = report
        .errors
        .into_iter()
        .map(|issue| finding(issue.source, Verdict::Fail, issue.message))
        .collect();
    findings.extend(
        report
            .warnings
            .into_iter()
            .map(|issue| finding(issue.source, Verdict::Warn, issue.message)),
    );
    if findings.is_empty() {
        findings.push(finding(
            if anchors.is_some() {
                files::ROOT_PEM
            } else {
                "CAs"
            },
            Verdict::Ok,
            format!(
                "every certificate {} issues verifies for a client that trusts only {}",
                layout.name(),
                if anchors.is_some() {
                    "this root"
                } else {
                    "its CA"
                }
            ),
        ));
    }
    Ok(findings)
}

fn ca_finding(name: &str, cert: &Certificate, issuer: &Certificate, now: SystemTime) -> Finding {
    if let Err(e) = cert.require_usable_ca(Path::new(name), now) {
        return finding(name, Verdict::Fail, e.to_string());
    }
    match check_issued_by(cert, issuer) {
        Ok(()) if cert == issuer => finding(
            name,
            Verdict::Ok,
            format!("self-signed root \"{}\"", cert.subject_cn()),
        ),
        Ok(()) => finding(
            name,
            Verdict::Ok,
            format!(
                "\"{}\" issued by \"{}\"",
                cert.subject_cn(),
                issuer.subject_cn()
            ),
        ),
        Err(problem) => finding(
            name,
            Verdict::Fail,
            format!(
                "\"{}\" does not chain to \"{}\": {problem}",
                cert.subject_cn(),
                issuer.subject_cn()
            ),
        ),
    }
}

fn check_bundle_order(
    tls_dir: &Path,
    name: &str,
    expected: &[&Certificate],
    findings: &mut Vec<Finding>,
) {
    let Some(certs) = read_certs(tls_dir, name, findings) else {
        return;
    };
    let names = |certs: &mut dyn Iterator<Item = &Certificate>| {
        certs
            .map(|c| format!("\"{}\"", c.subject_cn()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let in_order =
        certs.len() == expected.len() && certs.iter().zip(expected).all(|(a, b)| a == *b);
    findings.push(if in_order {
        finding(
            name,
            Verdict::Ok,
            format!("bundle in order: {}", names(&mut expected.iter().copied())),
        )
    } else {
        finding(
            name,
            Verdict::Fail,
            format!(
                "expected [{}], found [{}]",
                names(&mut expected.iter().copied()),
                names(&mut certs.iter())
            ),
        )
    });
}

/// A leaf CA key: k3s reads it, so it must be in the clear, match, and be 0600.
/// Returns the key too, for pre-flight to sign with.
fn leaf_key_finding(
    tls_dir: &Path,
    name: &str,
    cert: &Certificate,
) -> (Finding, Option<PrivateKey>) {
    match read_in(tls_dir, name, PrivateKey::read_first) {
        Ok(key) if key.matches(cert.public_key()).unwrap_or(false) => (
            mode_finding(tls_dir, name, format!("matches \"{}\"", cert.subject_cn())),
            Some(key),
        ),
        Ok(_) => (
            finding(
                name,
                Verdict::Fail,
                format!("does not match the certificate \"{}\"", cert.subject_cn()),
            ),
            None,
        ),
        Err(fail) => (fail, None),
    }
}

/// A root or intermediate key found in the tree: it may be encrypted (k3s never
/// reads it), which this check cannot open; otherwise it must match.
fn vault_key_finding(tls_dir: &Path, name: &str, cert: &Certificate) -> Finding {
    let encrypted = PemFile::read(&tls_dir.join(name)).is_ok_and(|file| {
        file.blocks
            .first()
            .is_some_and(|b| b.label == ENCRYPTED_PKCS8_LABEL || b.is_encrypted())
    });
    if encrypted {
        return mode_finding(tls_dir, name, "encrypted (not opened)".into());
    }
    leaf_key_finding(tls_dir, name, cert).0
}

fn mode_finding(tls_dir: &Path, name: &str, what: String) -> Finding {
    match std::fs::metadata(tls_dir.join(name)).map(|m| m.permissions().mode() & 0o777) {
        Ok(mode) if mode & 0o077 == 0 => {
            finding(name, Verdict::Ok, format!("{what}; mode {mode:o}"))
        }
        Ok(mode) => finding(
            name,
            Verdict::Fail,
            format!("{what}, but mode {mode:o} lets others read a private key (chmod 600)"),
        ),
        Err(e) => finding(name, Verdict::Fail, format!("cannot stat: {e}")),
    }
}
