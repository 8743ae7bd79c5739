//! What `k3s certificate rotate-ca --path=<staging>` checks, file by file,
//! plus what continuity needs beyond those checks.

use std::path::Path;
use std::time::SystemTime;

use crate::checks::finding::{Checked, Finding, OrFail as _, Verdict, finding, settle};
use crate::checks::{TOOL, recover};
use crate::layout::service_key::ServiceKeyFile;
use crate::layout::{CaSlot, DataDir, Layout, k3s};
use crate::pki::cert::{Certificate, bundle_in};
use crate::pki::error::Result;
use crate::pki::keys::PrivateKey;
use crate::pki::pem::PemFile;
use crate::pki::verify::go_verify;

/// Every file `rotate-ca` may take from `<staging>/tls`.
fn rotatable_files(layout: &Layout) -> Vec<String> {
    let mut names: Vec<String> = layout
        .cas
        .iter()
        .flat_map(|ca| [layout.cert_file(ca), layout.key_file(ca)])
        .collect();
    names.push(layout.service_account.key_file().into());
    names
}

fn is_missing_or_empty(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.len() == 0)
}

/// `staging_dir` against the current CAs of `data_dir` (k3s and RKE2 only),
/// as `rotate-ca --path=<staging_dir>` will judge it, at `now`.
pub fn check(data_dir: &DataDir, staging_dir: &Path, now: SystemTime) -> Result<Vec<Finding>> {
    recover(data_dir, Some(staging_dir))?;
    k3s::require(data_dir.layout(), TOOL)?;
    Ok(check_staged(
        data_dir.layout(),
        staging_dir,
        &data_dir.tls_dir(),
        now,
    ))
}

/// Checks a staging directory against the current tls directory as
/// `k3s certificate rotate-ca` does, file by file, for `layout`'s files.
pub fn check_staged(
    layout: &Layout,
    staging_dir: &Path,
    current_tls: &Path,
    now: SystemTime,
) -> Vec<Finding> {
    if !staging_dir.is_dir() {
        let what = if staging_dir.exists() {
            "not a directory"
        } else {
            "does not exist"
        };
        return vec![finding(
            staging_dir.display().to_string(),
            Verdict::Fail,
            format!("{what}: give the path you will pass to rotate-ca --path"),
        )];
    }
    let staged_tls = staging_dir.join("tls");
    let misplaced: Vec<String> = rotatable_files(layout)
        .into_iter()
        .filter(|name| !is_missing_or_empty(&staging_dir.join(name)))
        .collect();
    let nothing_in_tls = rotatable_files(layout)
        .iter()
        .all(|name| is_missing_or_empty(&staged_tls.join(name)));
    if !misplaced.is_empty() && nothing_in_tls {
        // `<staging>/tls` given for `<staging>`: the files are where k3s reads
        // them, only the path is one level too deep.
        if staging_dir.file_name().is_some_and(|name| name == "tls") {
            let parent = staging_dir.parent().unwrap_or(staging_dir);
            return vec![finding(
                staging_dir.display().to_string(),
                Verdict::Fail,
                format!(
                    "holds the CA files itself: pass its parent, {}, to ca-check staged and \
                     to rotate-ca --path (k3s reads <path>/tls)",
                    parent.display()
                ),
            )];
        }
        return vec![finding(
            misplaced.join(", "),
            Verdict::Fail,
            format!(
                "these files are directly in {} but k3s reads {}: nothing would be rotated; \
                 move them into tls/",
                staging_dir.display(),
                staged_tls.display()
            ),
        )];
    }
    let mut findings = Vec::new();
    for ca in layout.cas {
        findings.extend(check_staged_ca(layout, ca, &staged_tls, current_tls, now));
    }
    findings.push(settle(check_staged_service_key(
        layout.service_account.key_file(),
        &staged_tls,
        current_tls,
    )));
    findings.extend(partial_staging(layout, &staged_tls));
    findings
}

/// A staging dir that holds some CAs but not all, or one file of a CA without
/// the other, is accepted by rotate-ca but rotates only part of the cluster
/// (a half-written staging dir looks like this): say what will and will not rotate.
fn partial_staging(layout: &Layout, staged_tls: &Path) -> Option<Finding> {
    let staged = |name: String| !is_missing_or_empty(&staged_tls.join(name));
    let (mut full, mut half, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for ca in layout.cas {
        match (staged(layout.cert_file(ca)), staged(layout.key_file(ca))) {
            (true, true) => full.push(ca.stem.to_string()),
            (false, false) => none.push(ca.stem.to_string()),
            (crt, _) => half.push(format!(
                "{} (only its {} is staged)",
                ca.stem,
                if crt { ".crt" } else { ".key" }
            )),
        }
    }
    if half.is_empty() && (full.is_empty() || none.is_empty()) {
        return None;
    }
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    Some(finding(
        "tls/",
        Verdict::Warn,
        format!(
            "partly staged (an interrupted or hand-made staging dir?): will rotate: {}; \
             half staged: {}; will NOT rotate (current CA kept): {}",
            list(&full),
            list(&half),
            list(&none)
        ),
    ))
}

/// What Go's crypto/x509 refuses in a certificate our DER parser accepts: k3s
/// parses every current and staged certificate with Go. (A negative serial
/// number is refused by `Certificate::from_der` itself, for every input.)
fn go_parse_problem(cert: &Certificate) -> Option<String> {
    let x509 = cert.x509();
    let tbs = x509.tbs_certificate();
    if tbs.signature() != x509.signature_algorithm() {
        return Some("its inner and outer signature algorithms differ, which Go refuses".into());
    }
    let extensions = tbs.extensions().map(Vec::as_slice).unwrap_or_default();
    for (i, ext) in extensions.iter().enumerate() {
        if extensions[..i].iter().any(|e| e.extn_id == ext.extn_id) {
            return Some(format!(
                "it carries extension {} twice, which Go refuses",
                ext.extn_id
            ));
        }
    }
    let spki = cert.public_key();
    let der = der::Encode::to_der(spki).ok()?;
    let (rsa_oid, ec_oid) = (
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
    );
    let p256_oid = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    let is_p256 = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        == Some(p256_oid);
    use p256::pkcs8::DecodePublicKey as _;
    let unusable = (spki.algorithm.oid == rsa_oid
        && rsa::RsaPublicKey::from_public_key_der(&der).is_err())
        || (spki.algorithm.oid == ec_oid
            && is_p256
            && p256::PublicKey::from_public_key_der(&der).is_err());
    unusable.then(|| "its public key is malformed (Go cannot parse it)".into())
}

/// A bundle read as k3s reads it: our parser, then what Go refuses on top.
fn read_bundle_as_go(path: &Path) -> Result<Vec<Certificate>, String> {
    let certs = PemFile::read(path)
        .and_then(|f| bundle_in(&f))
        .map_err(|e| e.to_string())?;
    for (i, cert) in certs.iter().enumerate() {
        if let Some(problem) = go_parse_problem(cert) {
            return Err(format!(
                "{}: certificate #{} (\"{}\"): {problem}",
                path.display(),
                i + 1,
                cert.subject_cn()
            ));
        }
    }
    Ok(certs)
}

/// rotate-ca decides each file on its own: a missing or empty file is reused.
/// The key check pairs the staged (or else current) bundle with the staged (or
/// else current) key, and is skipped only when both are reused.
fn check_staged_ca(
    layout: &Layout,
    ca: &CaSlot,
    staged_tls: &Path,
    current_tls: &Path,
    now: SystemTime,
) -> Vec<Finding> {
    let (crt_name, key_name) = (layout.cert_file(ca), layout.key_file(ca));
    let (crt, key) = (staged_tls.join(&crt_name), staged_tls.join(&key_name));
    let (crt_staged, key_staged) = (!is_missing_or_empty(&crt), !is_missing_or_empty(&key));
    let read_bundle = read_bundle_as_go;
    let current = match read_bundle(&current_tls.join(&crt_name))
        .map_err(|e| format!("current bundle unreadable: {e}"))
        .or_fail(&crt_name)
    {
        Ok(certs) => certs,
        Err(fail) => return vec![fail],
    };
    let reused = |name: &str| {
        finding(
            name,
            Verdict::Reused,
            "not staged: the current file is kept",
        )
    };
    let mut out = Vec::new();
    let bundle = if crt_staged {
        match read_bundle(&crt) {
            Ok(staged) => {
                out.push(bundle_finding(&crt_name, &staged, &current, now));
                staged
            }
            Err(e) => {
                out.push(finding(&crt_name, Verdict::Fail, e));
                out.push(finding(
                    &key_name,
                    Verdict::Fail,
                    format!("cannot be checked: {crt_name} is unreadable"),
                ));
                return out;
            }
        }
    } else {
        out.push(reused(&crt_name));
        current
    };
    if !crt_staged && !key_staged {
        out.push(reused(&key_name));
        return out;
    }
    let (key_path, key_origin) = if key_staged {
        (key, "its")
    } else {
        (current_tls.join(&key_name), "the CURRENT key file's")
    };
    let mut checked = settle(key_finding(&key_name, &key_path, &bundle, key_origin));
    if !key_staged && checked.verdict != Verdict::Fail {
        checked.verdict = Verdict::Reused;
    }
    out.push(checked);
    out
}

/// The bundle rule: more than one certificate, and the first chains to the
/// current roots with the current and staged certificates as intermediates.
pub(crate) fn bundle_finding(
    name: &str,
    staged: &[Certificate],
    current: &[Certificate],
    now: SystemTime,
) -> Finding {
    if staged.len() < 2 {
        return finding(
            name,
            Verdict::Fail,
            "holds a single certificate; rotate-ca needs the new CA followed by the certificates \
             that chain it to the current root",
        );
    }
    let is_root = |c: &&Certificate| c.is_k3s_root();
    let roots: Vec<&Certificate> = current.iter().filter(is_root).collect();
    let mut intermediates: Vec<&Certificate> = current.iter().filter(|c| !is_root(c)).collect();
    intermediates.extend(
        staged[1..]
            .iter()
            .filter(|c| c.authority_key_id().is_some()),
    );
    let first = &staged[0];
    let verdict = go_verify(first, &roots, &intermediates, now);
    let Some(chain) = verdict.as_ref().ok().and_then(|chains| chains.first()) else {
        let why = verdict.err().map(|e| format!(": {e}")).unwrap_or_default();
        let root_names: Vec<String> = roots
            .iter()
            .map(|r| format!("\"{}\"", r.subject_cn()))
            .collect();
        return finding(
            name,
            Verdict::Fail,
            format!(
                "its first certificate \"{}\" does not chain to the current root ({}){why}",
                first.subject_cn(),
                root_names.join(", ")
            ),
        );
    };
    let path: Vec<String> = chain
        .iter()
        .map(|c| format!("\"{}\"", c.subject_cn()))
        .collect();
    let mut warnings = Vec::new();
    if !current
        .iter()
        .filter(is_root)
        .all(|old| staged.contains(old))
    {
        warnings.push(
            "the current root is not in the new bundle: certificates it issued stop verifying",
        );
    }
    if staged.iter().any(|c| c.extended_key_usage().is_some()) {
        warnings
            .push("a CA certificate carries extendedKeyUsage, which Go applies to the whole chain");
    }
    let verdict = if warnings.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Warn
    };
    let mut reason = format!("chains to the current root: {}", path.join(" -> "));
    for warning in warnings {
        reason.push_str("; ");
        reason.push_str(warning);
    }
    finding(name, verdict, reason)
}

/// `tls.LoadX509KeyPair`: the first key must belong to the first certificate.
/// `origin` says whose first key it is, for the message.
fn key_finding(name: &str, key: &Path, bundle: &[Certificate], origin: &str) -> Checked {
    let first_cert = &bundle[0];
    let needs_root_key = bundle.get(1).is_some_and(|c| c.subject() == c.issuer());
    let file = PemFile::read(key).or_fail(name)?;
    let first = PrivateKey::first_in(&file).or_fail(name)?;
    if !first.matches(first_cert.public_key()).unwrap_or(false) {
        return Err(finding(
            name,
            Verdict::Fail,
            format!(
                "{origin} first key does not belong to the first certificate of the bundle (\"{}\")",
                first_cert.subject_cn()
            ),
        ));
    }
    // The next rotation reads the 2nd key as the old root's: every key must parse.
    let mut keys = 0;
    for block in file
        .blocks
        .iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"))
    {
        keys += 1;
        if let Err(e) = PrivateKey::from_block(key, block) {
            return Err(finding(
                name,
                Verdict::Fail,
                format!("key #{keys} cannot be parsed, so the next rotation fails on it: {e}"),
            ));
        }
    }
    // After a default-CA rotation the 2nd certificate is the new self-signed root:
    // its key must follow, or the next rotation has nothing to cross-sign with.
    Ok(if keys < 2 && needs_root_key {
        finding(
            name,
            Verdict::Warn,
            "matches the first certificate, but holds no root key: the next rotation has nothing to cross-sign with",
        )
    } else {
        finding(
            name,
            Verdict::Ok,
            "its first key matches the first certificate",
        )
    })
}

fn check_staged_service_key(key_file: &str, staged_tls: &Path, current_tls: &Path) -> Checked {
    let staged = staged_tls.join(key_file);
    if is_missing_or_empty(&staged) {
        return Ok(finding(
            key_file,
            Verdict::Reused,
            "not staged: the current keys are kept",
        ));
    }
    let new = ServiceKeyFile::read(&staged).or_fail(key_file)?;
    let current = ServiceKeyFile::read(&current_tls.join(key_file))
        .map_err(|e| format!("current file unreadable: {e}"))
        .or_fail(key_file)?;
    let Some(signing) = current.keys.first() else {
        return Err(finding(
            key_file,
            Verdict::Fail,
            "the current file holds no key",
        ));
    };
    Ok(if new.contains(&signing.public_key_der) {
        finding(
            key_file,
            Verdict::Ok,
            format!("keeps the current signing key {}", signing.fingerprint()),
        )
    } else {
        finding(
            key_file,
            Verdict::Fail,
            format!(
                "does not contain the current signing key {}: every service-account token issued so far would stop verifying",
                signing.fingerprint()
            ),
        )
    })
}
