//! `ca-check tree`: a custom CA tree as `gen-custom-ca` writes it, or as the
//! upstream script or openssl by hand left it. Files, bundle order, every link
//! of the chain, key pairs and modes, and the pre-flight `gen-custom-ca` runs:
//! every certificate k3s issues, verified for a client that trusts only
//! `root-ca.pem`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::SystemTime;

use crate::cert::{Certificate, bundle_in};
use crate::checks::{Finding, Verdict, finding};
use crate::error::{Error, Result};
use crate::keys::{ENCRYPTED_PKCS8_LABEL, PrivateKey};
use crate::pem_file::PemFile;
use crate::preflight::{self, ClusterNames, PathCert, SigningCa};
use crate::service_key::ServiceKeyFile;
use crate::topology::{LeafCa, Product, SERVICE_KEY_FILE, custom_files as files, k3s_leaves};
use crate::verify::check_issued_by;

/// Checks the tree in `tls_dir`. An error means the check could not run (no
/// such directory); everything wrong inside the tree is a finding.
pub fn check_custom_tree(
    tls_dir: &Path,
    product: &Product,
    cluster: &ClusterNames,
    now: SystemTime,
) -> Result<Vec<Finding>> {
    if !tls_dir.is_dir() {
        return Err(Error::Inputs {
            path: tls_dir.to_path_buf(),
            problem: "not a directory: give the tls directory that holds root-ca.pem".into(),
        });
    }
    let mut findings = Vec::new();
    let mut read = |name: &str| -> Option<Vec<Certificate>> {
        match PemFile::read(&tls_dir.join(name)).and_then(|f| bundle_in(&f)) {
            Ok(certs) => Some(certs),
            Err(e) => {
                findings.push(finding(
                    name,
                    Verdict::Fail,
                    relative_message(&e.to_string(), tls_dir),
                ));
                None
            }
        }
    };
    let root = read(files::ROOT_PEM).map(|mut c| c.swap_remove(0));
    let intermediate = read(files::INTERMEDIATE_PEM);
    let leaves: Vec<(LeafCa, Option<Certificate>)> = LeafCa::ALL
        .iter()
        .map(|&ca| {
            (
                ca,
                read(&format!("{}.pem", ca.file_stem())).map(|mut c| c.swap_remove(0)),
            )
        })
        .collect();
    let (Some(root), Some(mut chain)) = (root, intermediate) else {
        return Ok(findings);
    };
    // intermediate-ca.pem: the issuing CA, the CAs above it, maybe the root.
    if chain.last() == Some(&root) {
        chain.pop();
    }
    if chain.is_empty() {
        findings.push(finding(
            files::INTERMEDIATE_PEM,
            Verdict::Fail,
            "holds only the root: the issuing CA of the leaf CAs must come first",
        ));
        return Ok(findings);
    }
    findings.push(ca_finding(files::ROOT_PEM, &root, &root, now));
    for (i, cert) in chain.iter().enumerate() {
        let issuer = chain.get(i + 1).unwrap_or(&root);
        let name = match i {
            0 => files::INTERMEDIATE_PEM.to_string(),
            _ => format!("{} (certificate #{})", files::INTERMEDIATE_PEM, i + 1),
        };
        findings.push(ca_finding(&name, cert, issuer, now));
    }
    let to_root: Vec<&Certificate> = chain.iter().chain(std::iter::once(&root)).collect();
    check_bundle_order(tls_dir, files::ROOT_CRT, &[&root], &mut findings);
    check_bundle_order(tls_dir, files::INTERMEDIATE_CRT, &to_root, &mut findings);
    for (name, cert) in [
        (files::ROOT_KEY, &root),
        (files::INTERMEDIATE_KEY, &chain[0]),
    ] {
        if tls_dir.join(name).exists() {
            findings.push(vault_key_finding(tls_dir, name, cert));
        } else {
            findings.push(finding(
                name,
                Verdict::Ok,
                "not here (kept in safe storage, as it should be)",
            ));
        }
    }
    let mut signing = Vec::new();
    for (ca, leaf) in &leaves {
        let Some(leaf) = leaf else { continue };
        let pem_name = format!("{}.pem", ca.file_stem());
        findings.push(ca_finding(&pem_name, leaf, &chain[0], now));
        let mut expected = vec![leaf];
        expected.extend(&to_root);
        check_bundle_order(tls_dir, &ca.cert_file(), &expected, &mut findings);
        let (key_finding, key) = leaf_key_finding(tls_dir, &ca.key_file(), leaf);
        findings.push(key_finding);
        if let Some(key) = key {
            signing.push((*ca, leaf, key, pem_name));
        }
    }
    findings.push(
        match ServiceKeyFile::read(&tls_dir.join(SERVICE_KEY_FILE)) {
            Ok(file) => mode_finding(
                tls_dir,
                SERVICE_KEY_FILE,
                format!("{} key(s)", file.keys.len()),
            ),
            Err(e) => finding(
                SERVICE_KEY_FILE,
                Verdict::Fail,
                relative_message(&e.to_string(), tls_dir),
            ),
        },
    );
    findings.extend(preflight_findings(
        &root, &chain, &signing, product, cluster, now,
    )?);
    Ok(findings)
}

/// The pre-flight of `gen-custom-ca`, as findings: FAIL for what clients that
/// trust only `root-ca.pem` reject today, WARN for what they will reject later.
fn preflight_findings(
    root: &Certificate,
    chain: &[Certificate],
    signing: &[(LeafCa, &Certificate, PrivateKey, String)],
    product: &Product,
    cluster: &ClusterNames,
    now: SystemTime,
) -> Result<Vec<Finding>> {
    let path: Vec<PathCert<'_>> = chain
        .iter()
        .enumerate()
        .map(|(i, cert)| PathCert {
            cert,
            source: match i {
                0 => files::INTERMEDIATE_PEM.to_string(),
                _ => format!("{} (certificate #{})", files::INTERMEDIATE_PEM, i + 1),
            },
        })
        .collect();
    let cas: Vec<SigningCa<'_>> = signing
        .iter()
        .map(|(ca, cert, key, source)| SigningCa {
            stem: ca.file_stem(),
            cert,
            key,
            source: source.clone(),
        })
        .collect();
    let report = preflight::run(
        product.name(),
        &PathCert {
            cert: root,
            source: files::ROOT_PEM.into(),
        },
        &path,
        &cas,
        &k3s_leaves(product, cluster),
        now,
    )?;
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
            files::ROOT_PEM,
            Verdict::Ok,
            "every certificate k3s issues verifies for a client that trusts only this root",
        ));
    }
    Ok(findings)
}

fn relative_message(message: &str, dir: &Path) -> String {
    let prefix = format!("{}/", dir.display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
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
    let certs = match PemFile::read(&tls_dir.join(name)).and_then(|f| bundle_in(&f)) {
        Ok(certs) => certs,
        Err(e) => {
            findings.push(finding(
                name,
                Verdict::Fail,
                relative_message(&e.to_string(), tls_dir),
            ));
            return;
        }
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
    match PrivateKey::read_first(&tls_dir.join(name)) {
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
        Err(e) => (
            finding(
                name,
                Verdict::Fail,
                relative_message(&e.to_string(), tls_dir),
            ),
            None,
        ),
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
