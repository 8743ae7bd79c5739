//! The offline root's half of a ceremony: sign a subordinate CA's request
//! (`sign-csr --profile sub-ca`) with a CA profile chosen by flags (path
//! length, permitted names, extended key usage, validity), refusing a profile
//! that could not serve the distribution named.
//!
//! Whether it could is decided by the pre-flight every tree passes
//! ([`preflight::run_sub_ca`]): a twin of the certificate, same profile and
//! issuer, is issued in memory to a key this run holds, the distribution's
//! CAs are issued under it, and every certificate the distribution issues is
//! verified as a client that trusts only the root does. So the root refuses
//! exactly what `gen-custom-ca` would refuse when the certificate comes back.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::checks::preflight::{self, PathCert};
use crate::layout::custom_tree::INTERMEDIATE;
use crate::layout::kubeadm::with_suffix;
use crate::layout::{ClusterFlags, Layout, Product};
use crate::pki::cert::{Certificate, read_bundle};
use crate::pki::constraints::Usage;
use crate::pki::csr::Csr;
use crate::pki::error::{CsrProblem, Error, Kind, Result};
use crate::pki::issue::{IssueRequest, Issuer, Permitted, Profile, issue};
use crate::pki::keys::pkcs11::Tokens;
use crate::pki::keys::{
    KeyAlgorithm, PassphraseSource, Passphrases, PrivateKey, SigningKey, check_ca_key_size,
};
use crate::pki::names::{SanPattern, dns_name_problem};
use crate::runs::sign_csr::{SigningCa, Validity};
use crate::store::lock::TargetLock;
use crate::store::plan::Plan;

/// What `sign-csr --profile sub-ca`'s flags ask for, unchecked.
#[derive(Debug, Default)]
pub struct SubCaFlags {
    /// `--product`: the distribution the CA must serve.
    pub product: Option<String>,
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--ca-key`.
    pub ca_key: Option<PathBuf>,
    /// `--ca DIR/STEM`.
    pub ca: Option<PathBuf>,
    /// `--csr`: one request.
    pub csr: Option<PathBuf>,
    /// `--out`: the certificate file (default: the request's name, `.pem`).
    pub out: Option<PathBuf>,
    /// `--days`.
    pub days: Option<u32>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
    /// `--pkcs11-module`, for a root key in a token (`--ca-key pkcs11:...`).
    pub pkcs11_module: Option<PathBuf>,
    /// `--pin-file`.
    pub pin_file: Option<PathBuf>,
    /// `--path-len`.
    pub path_len: Option<u8>,
    /// `--permit`, each: a DNS name or an IP network.
    pub permit: Vec<String>,
    /// `--eku`, each: `serverAuth`, `clientAuth`, or both comma-separated.
    pub eku: Vec<String>,
    /// The names the cluster is reached by.
    pub cluster: ClusterFlags,
}

/// A planned subordinate CA and what to tell the operator.
pub struct SubCaRun {
    /// The certificate.
    pub plan: Plan,
    /// The request.
    pub csr: PathBuf,
    /// The certificate file.
    pub out: PathBuf,
    /// The signing CA's certificate file (returned with the certificate).
    pub ca_cert: PathBuf,
    /// The new CA's subject, RFC 4514.
    pub subject: String,
    /// Its issuer, RFC 4514.
    pub issuer: String,
    /// Its end.
    pub not_after: SystemTime,
    /// The profile, one extension a line.
    pub profile: Vec<String>,
    /// The distribution it was checked against.
    pub who: &'static str,
    /// Capped lifetimes, pre-flight warnings.
    pub warnings: Vec<String>,
}

/// The directory the certificate goes to (what the run locks) and the file.
fn out_path(csr: &Path, out: Option<PathBuf>) -> PathBuf {
    out.unwrap_or_else(|| csr.with_extension("pem"))
}

/// Checks `flags`, locks the certificate's directory, reads the CA and the
/// request and plans the certificate; refused when the profile could not
/// serve the distribution.
pub fn lock_and_plan(
    tool: &str,
    flags: SubCaFlags,
    now: SystemTime,
    dry_run: bool,
) -> Result<(TargetLock, SubCaRun)> {
    let product = flags.product.as_deref().ok_or_else(|| {
        Error::usage(
            "--profile sub-ca needs --product (k3s, rke2, kubeadm or k0s): the distribution the \
             CA must serve, whose pre-flight judges the profile",
        )
    })?;
    let layout = Product::new(product)?.layout();
    let cluster = flags.cluster.names(layout)?;
    let days = match flags.days {
        Some(0) => return Err(Error::usage("--days must be at least 1")),
        days => days.unwrap_or(INTERMEDIATE.validity_days),
    };
    let profile = Profile::Ca {
        path_len: flags.path_len,
        permitted: flags
            .permit
            .iter()
            .map(|text| permitted(text))
            .collect::<Result<_>>()?,
        usages: usages(&flags.eku)?,
    };
    let (cert_path, key_path) = match (flags.ca, flags.ca_cert, flags.ca_key) {
        (Some(stem), None, None) => (with_suffix(stem.clone(), ".crt"), with_suffix(stem, ".key")),
        (None, Some(cert), Some(key)) => (cert, key),
        _ => {
            return Err(Error::usage(
                "--profile sub-ca signs with one CA: --ca DIR/STEM, or --ca-cert and --ca-key",
            ));
        }
    };
    let csr_path = flags.csr.ok_or_else(|| {
        Error::usage("--profile sub-ca needs --csr: the subordinate CA's request")
    })?;
    let out = out_path(&csr_path, flags.out);
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let lock = TargetLock::acquire(&dir, tool, dry_run)?;
    lock.report_recovered(tool);
    let passphrases = Passphrases::new(PassphraseSource::from_flag(flags.password_file.clone()));
    let tokens = Tokens::new(flags.pkcs11_module.clone(), flags.pin_file.clone());
    let ca = SigningCa::load(
        &cert_path.display().to_string(),
        &cert_path,
        &key_path,
        &passphrases,
        &tokens,
        now,
    )?;
    let csr = Csr::read_ca(&csr_path)?;
    if csr.subject.is_empty() {
        return Err(Error::at(&csr_path, Kind::Csr(CsrProblem::EmptySubject)));
    }
    check_ca_key_size(&csr.public_key)
        .map_err(|problem| Error::at(&csr_path, Kind::Key(problem)))?;
    let (validity, capped) = Validity::of(&ca, now, days);
    let mut warnings: Vec<String> = capped.into_iter().collect();
    warnings.extend(single_labels(&profile));

    let above = read_bundle(&cert_path)?;
    let source = format!("the sub-ca profile for {}", csr_path.display());
    warnings.extend(check_profile(
        layout, &cluster, &ca, &above, &cert_path, &csr, &profile, validity, &source, now,
    )?);

    let cert = issue_sub_ca(&csr, csr.public_key.clone(), &profile, validity, &ca)?;
    let mut plan = Plan::new();
    plan.add_public(out.clone(), cert.to_pem().into_bytes());
    plan.reads(cert_path.clone(), "the CA certificate");
    plan.reads(key_path, "the CA key");
    plan.reads(csr_path.clone(), "a CSR");
    if let Some(file) = flags.password_file {
        plan.reads(file, "the passphrase file");
    }
    Ok((
        lock,
        SubCaRun {
            plan,
            csr: csr_path,
            out,
            ca_cert: cert_path,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: cert.not_after(),
            profile: describe(&profile),
            who: layout.name(),
            warnings,
        },
    ))
}

/// The pre-flight of `profile`: its twin, issued by `ca` to a key held here,
/// above the distribution's CAs, checked up to the last certificate of the
/// CA's file (the root clients trust). Its warnings, or the refusal.
#[allow(
    clippy::too_many_arguments,
    reason = "one profile, its CA and request, fully described"
)]
fn check_profile(
    layout: &Layout,
    cluster: &crate::layout::ClusterNames,
    ca: &SigningCa,
    bundle: &[Certificate],
    cert_path: &Path,
    csr: &Csr,
    profile: &Profile,
    validity: Validity,
    source: &str,
    now: SystemTime,
) -> Result<Vec<String>> {
    let twin_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    let twin = issue_sub_ca(csr, twin_key.public_key_info()?, profile, validity, ca)?;
    let at = |i: usize| match i {
        0 => cert_path.display().to_string(),
        i => format!("{} (certificate #{})", cert_path.display(), i + 1),
    };
    // [signing CA, ..., root]: the last is what clients trust; the signing
    // CA is that root when the file holds one certificate.
    let (anchor, chain) = match bundle.split_last() {
        Some((root, between)) => (
            PathCert {
                cert: root,
                source: at(bundle.len() - 1),
            },
            between
                .iter()
                .enumerate()
                .map(|(i, cert)| PathCert {
                    cert,
                    source: at(i),
                })
                .collect(),
        ),
        None => return Err(Error::bug("a CA file read without a certificate")),
    };
    let report = preflight::run_sub_ca(
        layout,
        cluster,
        PathCert {
            cert: &twin,
            source: source.to_string(),
        },
        &twin_key,
        chain,
        &anchor,
        now,
    )?;
    if report.errors.is_empty() {
        return Ok(report.warnings.iter().map(ToString::to_string).collect());
    }
    Err(Error::new(Kind::SubCaProfile {
        who: layout.name(),
        findings: report.errors.iter().map(ToString::to_string).collect(),
    }))
}

/// The certificate `profile` makes for `csr`'s subject, on `public_key`
/// (the request's, or the twin's), signed by `ca`.
fn issue_sub_ca(
    csr: &Csr,
    public_key: x509_cert::spki::SubjectPublicKeyInfoOwned,
    profile: &Profile,
    validity: Validity,
    ca: &SigningCa,
) -> Result<Certificate> {
    issue(
        &IssueRequest {
            subject: csr.subject.clone(),
            public_key,
            profile: profile.clone(),
            not_before: validity.not_before,
            not_after: validity.not_after,
        },
        Issuer::Ca {
            cert: &ca.cert,
            key: ca.key(),
        },
    )
}

/// A `--permit` value: a DNS name (and every name under it), an address, or
/// a network.
fn permitted(text: &str) -> Result<Permitted> {
    let bad = |why: String| Error::usage(format!("--permit {why}"));
    match SanPattern::parse(text).map_err(bad)? {
        SanPattern::Network { base, prefix } => Ok(Permitted::Ip { base, prefix }),
        SanPattern::Exact(crate::pki::names::San::Ip(base)) => Ok(Permitted::Ip {
            base,
            prefix: if base.is_ipv4() { 32 } else { 128 },
        }),
        SanPattern::Exact(crate::pki::names::San::Dns(name)) => match dns_name_problem(&name) {
            None => Ok(Permitted::Dns(name)),
            Some(why) => Err(bad(format!("{text:?}: {why}"))),
        },
        SanPattern::Subdomains(_) => Err(bad(format!(
            "{text:?}: give the domain without *. (a DNS constraint covers every name under it)"
        ))),
    }
}

/// A DNS constraint of one label (`kubernetes`, `localhost`, which k3s and
/// kubeadm serve) is valid RFC 5280 and Go honours it, but linters such as
/// pkilint call it invalid syntax: said, so a PKI's lint run is no surprise.
fn single_labels(profile: &Profile) -> Option<String> {
    let Profile::Ca { permitted, .. } = profile else {
        return None;
    };
    let single: Vec<&str> = permitted
        .iter()
        .filter_map(|p| match p {
            Permitted::Dns(name) if !name.contains('.') => Some(name.as_str()),
            _ => None,
        })
        .collect();
    (!single.is_empty()).then(|| {
        format!(
            "--permit {}: a DNS constraint of one label is valid (RFC 5280) and Go honours it, \
             but linters such as pkilint report it as invalid domain syntax",
            single.join(", ")
        )
    })
}

/// The `--eku` values as usages: none means no extension.
fn usages(values: &[String]) -> Result<Vec<der::asn1::ObjectIdentifier>> {
    let mut usages: Vec<Usage> = Vec::new();
    for name in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        let usage = [Usage::ServerAuth, Usage::ClientAuth]
            .into_iter()
            .find(|u| u.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::usage(format!(
                    "--eku {name:?}: use serverAuth, clientAuth or both"
                ))
            })?;
        if !usages.contains(&usage) {
            usages.push(usage);
        }
    }
    Ok(usages.into_iter().map(Usage::oid).collect())
}

/// The profile as the report lists it.
fn describe(profile: &Profile) -> Vec<String> {
    let Profile::Ca {
        path_len,
        permitted,
        usages,
    } = profile
    else {
        return Vec::new();
    };
    let mut lines = vec![match path_len {
        Some(n) => format!("basicConstraints: critical, CA:TRUE, pathlen:{n}"),
        None => "basicConstraints: critical, CA:TRUE".to_string(),
    }];
    lines.push("keyUsage: critical, digitalSignature, keyCertSign".to_string());
    if !permitted.is_empty() {
        let names: Vec<String> = permitted.iter().map(ToString::to_string).collect();
        lines.push(format!(
            "nameConstraints: critical, permitted {}",
            names.join(", ")
        ));
    }
    if !usages.is_empty() {
        let names: Vec<&str> = usages
            .iter()
            .filter_map(|oid| {
                [Usage::ServerAuth, Usage::ClientAuth]
                    .into_iter()
                    .find(|u| u.oid() == *oid)
                    .map(Usage::name)
            })
            .collect();
        lines.push(format!("extendedKeyUsage: {}", names.join(", ")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--permit` takes a domain, an address (a /32 or /128) or a network;
    /// a wildcard is refused, since a DNS constraint already covers the
    /// names under it.
    #[test]
    fn permit_values_become_subtrees() {
        assert_eq!(
            permitted("corp.example").unwrap(),
            Permitted::Dns("corp.example".into())
        );
        assert_eq!(permitted("10.0.0.1").unwrap().to_string(), "IP 10.0.0.1/32");
        assert_eq!(permitted("fd00::/64").unwrap().to_string(), "IP fd00::/64");
        let refused = permitted("*.corp.example").unwrap_err().to_string();
        assert!(refused.contains("without *."), "{refused}");
        let refused = usages(&["serverAuth,codeSigning".into()])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("codeSigning"), "{refused}");
        assert_eq!(
            usages(&["clientauth".into()]).unwrap(),
            [Usage::ClientAuth.oid()]
        );
    }

    /// The checklist `--request-intermediate` prints is the pre-flight's own:
    /// for every layout, a profile at exactly its limits (the smallest path
    /// length, the usages, every name and no more) passes, and one step short
    /// on any of them fails.
    #[test]
    fn the_printed_needs_are_exactly_what_the_pre_flight_accepts() {
        use crate::checks::preflight::{run_sub_ca, sub_ca_needs};
        use crate::pki::issue::{CaRequest, days_after, issue_ca};
        use crate::pki::names::{San, subject_name};
        let now = SystemTime::now();
        let root_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let root = issue_ca(
            &CaRequest {
                common_name: "root",
                key: &root_key,
                not_before: now,
                not_after: days_after(now, 7300),
            },
            Issuer::SelfSigned(&root_key),
        )
        .unwrap();
        for product in [Product::K3s, Product::Kubeadm, Product::K0s] {
            let layout = product.layout();
            let cluster = layout.cluster_names();
            let needs = sub_ca_needs(layout, &cluster);
            let exact: Vec<Permitted> = needs
                .names
                .iter()
                .map(|name| match name {
                    San::Dns(name) => Permitted::Dns(name.clone()),
                    San::Ip(ip) => permitted(&ip.to_string()).unwrap(),
                })
                .collect();
            let passes = |path_len: u8, permitted: &[Permitted], usages: &[Usage]| {
                let twin_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
                let twin = issue(
                    &IssueRequest {
                        subject: subject_name("twin", &[]).unwrap(),
                        public_key: twin_key.public_key_info().unwrap(),
                        profile: Profile::Ca {
                            path_len: Some(path_len),
                            permitted: permitted.to_vec(),
                            usages: usages.iter().map(|u| u.oid()).collect(),
                        },
                        not_before: now,
                        not_after: days_after(now, 3700),
                    },
                    Issuer::Ca {
                        cert: &root,
                        key: &root_key,
                    },
                )
                .unwrap();
                let anchor = PathCert {
                    cert: &root,
                    source: "root".into(),
                };
                let twin = PathCert {
                    cert: &twin,
                    source: "twin".into(),
                };
                run_sub_ca(layout, &cluster, twin, &twin_key, Vec::new(), &anchor, now)
                    .unwrap()
                    .errors
                    .is_empty()
            };
            let who = layout.name();
            assert!(
                passes(needs.path_len, &exact, &needs.usages),
                "{who}: at the limits"
            );
            assert!(
                !passes(needs.path_len - 1, &exact, &needs.usages),
                "{who}: path length"
            );
            assert!(
                !passes(needs.path_len, &exact[1..], &needs.usages),
                "{who}: a name short"
            );
            assert!(
                !passes(needs.path_len, &exact, &needs.usages[1..]),
                "{who}: a usage short"
            );
        }
    }
}
