//! Pre-flight: before a tree is written (or when one is checked), issue in
//! memory each kind of certificate the distribution issues from each of its CAs,
//! and verify each as a client that trusts only the root (see [`constraints`]).
//! Every finding names the input file, the constraint, and the certificates and
//! names it would break.
//!
//! [`constraints`]: crate::pki::constraints

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::layout::{ClusterNames, LEAF_VALIDITY_DAYS, Layout, LeafSpec};
use crate::pki::cert::{Certificate, format_time};
use crate::pki::constraints::{Usage, Violation, check_path, rejected_names};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{IssueRequest, Issuer, Profile, days_after, issue};
use crate::pki::keys::{KeyAlgorithm, PrivateKey, SigningKey};
use crate::pki::names::{San, subject_name};
use crate::pki::verify::{GoRefusal, MAX_SIGNATURE_CHECKS, go_verify, unhandled_critical};

/// One certificate of the path above the CAs that sign, and where it came from.
pub struct PathCert<'a> {
    /// The certificate.
    pub cert: &'a Certificate,
    /// The file it is in, as the user knows it (`intermediate-ca.pem (certificate #2)`).
    pub source: String,
}

/// A CA that signs leaves, with its key.
pub struct SigningCa<'a> {
    /// Its file stem (`server-ca`).
    pub stem: String,
    /// Its certificate.
    pub cert: &'a Certificate,
    /// Its key, in memory or not.
    pub key: &'a dyn SigningKey,
    /// The file it is in, or "the generated server-ca".
    pub source: String,
}

/// One finding: the file that holds the constraint, and what it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// The input file (or "the generated X").
    pub source: String,
    /// The constraint and the certificates and names it breaks.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// What pre-flight found: errors break clients now; warnings later.
#[derive(Debug)]
pub struct Report {
    /// Findings that make clients reject certificates.
    pub errors: Vec<Issue>,
    /// Findings that will make them reject certificates later.
    pub warnings: Vec<Issue>,
}

impl Report {
    /// The report as a refusal when it has errors; else its warnings, as text.
    pub fn into_result(self) -> Result<Vec<String>> {
        if self.errors.is_empty() {
            Ok(self.warnings.iter().map(Issue::to_string).collect())
        } else {
            Err(Error::new(Kind::Preflight(
                self.errors.iter().map(Issue::to_string).collect(),
            )))
        }
    }
}

/// Issues every leaf of `leaves` from its CA in `cas` and verifies it along
/// [leaf, CA, `chain`..., `anchor`] for each of its usages at `now`. Without an
/// `anchor` the CAs are self-signed (kubeadm's own topology), each its own
/// anchor; so is a CA that is the anchor itself. `who` names the distribution
/// that issues the leaves, for messages.
pub fn run(
    who: &str,
    anchor: Option<&PathCert<'_>>,
    chain: &[PathCert<'_>],
    cas: &[SigningCa<'_>],
    leaves: &[LeafSpec],
    now: SystemTime,
) -> Result<Report> {
    let leaf_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
    let public_key = leaf_key.public_key_info()?;
    let leaf_end = days_after(now, LEAF_VALIDITY_DAYS);
    // (source, violation) -> the leaves it breaks, with the names it rejects.
    let mut broken: BTreeMap<(String, Violation), Vec<String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut budget: Vec<Issue> = Vec::new();
    for ca in cas {
        let anchor = anchor.filter(|a| a.cert != ca.cert);
        let path_sources: Vec<&str> = std::iter::once("")
            .chain(std::iter::once(ca.source.as_str()))
            .chain(chain.iter().map(|c| c.source.as_str()))
            .chain(anchor.map(|a| a.source.as_str()))
            .collect();
        let above: Vec<&Certificate> = std::iter::once(ca.cert)
            .chain(chain.iter().map(|c| c.cert))
            .chain(anchor.map(|a| a.cert))
            .collect();
        for (cert, source) in above.iter().zip(&path_sources[1..]) {
            if cert.not_after() < leaf_end {
                let warning = Issue {
                    source: source.to_string(),
                    message: format!(
                        "\"{}\" expires on {}, before the {LEAF_VALIDITY_DAYS}-day \
                         certificates issued under {} today: they stop verifying then",
                        cert.subject_cn(),
                        format_time(cert.not_after()),
                        ca.stem
                    ),
                };
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
        }
        for spec in leaves.iter().filter(|l| l.ca == ca.stem) {
            let organizations: Vec<&str> = spec.organizations.to_vec();
            let leaf = issue(
                &IssueRequest {
                    subject: subject_name(&spec.common_name, &organizations)?,
                    public_key: public_key.clone(),
                    profile: Profile::Leaf {
                        usages: spec.usages.iter().map(|u| u.oid()).collect(),
                        sans: spec.sans.clone(),
                    },
                    not_before: now,
                    not_after: leaf_end,
                },
                Issuer::Ca {
                    cert: ca.cert,
                    key: ca.key,
                },
            )?;
            let path: Vec<&Certificate> = std::iter::once(&leaf).chain(above.clone()).collect();
            if let Some(issue) = go_issue(&path, &path_sources, &ca.stem, now) {
                if !budget.contains(&issue) {
                    budget.push(issue);
                }
            }
            for usage in &spec.usages {
                for finding in check_path(&path, *usage, now) {
                    // A link failure at the leaf is the signing CA's fault.
                    let at = finding.at.max(1);
                    let needs = needs(who, &finding.violation, path[at], spec);
                    broken
                        .entry((path_sources[at].to_string(), finding.violation))
                        .or_default()
                        .push(needs);
                }
            }
        }
    }
    let errors = budget
        .into_iter()
        .chain(broken.into_iter().map(|((source, violation), mut leaves)| {
            leaves.dedup();
            Issue {
                source,
                message: format!("{violation}; {}", leaves.join("; ")),
            }
        }))
        .collect();
    Ok(Report { errors, warnings })
}

/// What Go's path building refuses beyond check_path's rules: after
/// [`MAX_SIGNATURE_CHECKS`] signature checks it stops, so a longer path fails
/// for every leaf under it, however valid; and since Go 1.24 the certificate
/// policies of the path must be valid (RFC 5280 6.1, RFC 9618).
/// `path` = [leaf, issuer, ..., anchor], as Go searches it with only the anchor
/// trusted.
fn go_issue(path: &[&Certificate], sources: &[&str], stem: &str, now: SystemTime) -> Option<Issue> {
    let (leaf, above) = path.split_first()?;
    let (root, intermediates) = above.split_last()?;
    // The anchor's extensions are not read by Go; every CA below it is.
    if let Some((i, oid)) = intermediates
        .iter()
        .enumerate()
        .find_map(|(i, c)| unhandled_critical(c).map(|oid| (i, oid)))
    {
        return Some(Issue {
            source: sources.get(i + 1).copied().unwrap_or_default().to_string(),
            message: format!(
                "\"{}\" carries a critical extension Go does not handle ({oid}), so Go refuses \
                 every certificate {stem} issues",
                intermediates[i].subject_cn()
            ),
        });
    }
    match go_verify(leaf, &[*root], intermediates, now) {
        Err(GoRefusal::Budget) => {}
        Err(GoRefusal::Policies(why)) => {
            return Some(Issue {
                source: policy_source(path, sources),
                message: format!("{why}; so it refuses every certificate {stem} issues"),
            });
        }
        _ => return None,
    }
    let at = MAX_SIGNATURE_CHECKS.min(sources.len().saturating_sub(1));
    Some(Issue {
        source: sources.get(at).copied().unwrap_or_default().to_string(),
        message: format!(
            "{} certificates between {stem}'s leaves and the root: Go gives up after \
             {MAX_SIGNATURE_CHECKS} signature checks while building a chain, so it refuses \
             every certificate {stem} issues (at most {} intermediates above {stem} in a line)",
            intermediates.len(),
            MAX_SIGNATURE_CHECKS - 2
        ),
    })
}

/// The file of the certificate whose policyConstraints (or policyMappings)
/// end the path: the nearest to the leaf that carries one.
fn policy_source(path: &[&Certificate], sources: &[&str]) -> String {
    const POLICY_CONSTRAINTS: &str = "2.5.29.36";
    const POLICY_MAPPINGS: &str = "2.5.29.33";
    let at = path
        .iter()
        .position(|cert| {
            cert.x509()
                .tbs_certificate()
                .extensions()
                .is_some_and(|exts| {
                    exts.iter().any(|e| {
                        let id = e.extn_id.to_string();
                        id == POLICY_CONSTRAINTS || id == POLICY_MAPPINGS
                    })
                })
        })
        .unwrap_or(1);
    sources.get(at).copied().unwrap_or_default().to_string()
}

/// What the broken leaf needs, in words: its names for name constraints, its
/// name and CA otherwise.
fn needs(who: &str, violation: &Violation, constrained: &Certificate, spec: &LeafSpec) -> String {
    let what = format!("{who}'s {} certificate (from {})", spec.name, spec.ca);
    match violation {
        Violation::Names { .. } => {
            let rejected = constrained
                .name_constraints()
                .map(|nc| rejected_names(&nc, &spec.sans))
                .unwrap_or_default();
            let mut names: Vec<String> = Vec::new();
            for name in rejected.iter().map(San::to_string) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            format!("{what} needs {}", names.join(", "))
        }
        _ => format!("{what} is rejected"),
    }
}

/// How many CA levels every layout places under the issuing CA: its CAs
/// (k3s's five, kubeadm's and k0s's three) are issued by it directly, so its
/// pathLenConstraint must allow one CA below it.
pub const CA_LEVELS_UNDER_ISSUING_CA: u8 = 1;

/// What an issuing CA's certificate must allow for `who`'s CAs to be issued
/// under it and every certificate they issue to verify against the root:
/// what [`run`] checks on a real tree, said before the PKI signs.
#[derive(Clone, Debug)]
pub struct SubCaNeeds {
    /// The distribution (`k3s`).
    pub who: &'static str,
    /// The CAs that sit under it.
    pub ca_stems: Vec<&'static str>,
    /// The smallest pathLenConstraint that serves.
    pub path_len: u8,
    /// The usages every certificate below it is checked for.
    pub usages: Vec<Usage>,
    /// Every name the distribution's certificates carry, which nameConstraints
    /// must permit.
    pub names: Vec<San>,
}

/// The needs of `layout`'s tree serving `cluster`, from the leaves pre-flight issues.
pub fn sub_ca_needs(layout: &Layout, cluster: &ClusterNames) -> SubCaNeeds {
    let mut usages: Vec<Usage> = Vec::new();
    let mut names: Vec<San> = Vec::new();
    for leaf in layout.leaves(cluster) {
        for usage in leaf.usages {
            if !usages.contains(&usage) {
                usages.push(usage);
            }
        }
        for name in leaf.sans {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    usages.sort();
    SubCaNeeds {
        who: layout.name(),
        ca_stems: layout.cas.iter().map(|slot| slot.stem).collect(),
        path_len: CA_LEVELS_UNDER_ISSUING_CA,
        usages,
        names,
    }
}

impl SubCaNeeds {
    /// The checklist for the PKI team, one requirement a line.
    pub fn lines(&self) -> Vec<String> {
        let usages: Vec<&str> = self.usages.iter().map(|u| u.name()).collect();
        let names: Vec<String> = self.names.iter().map(San::to_string).collect();
        vec![
            "basicConstraints: critical, CA:TRUE".to_string(),
            "keyUsage: keyCertSign (cRLSign, digitalSignature allowed)".to_string(),
            format!(
                "pathLenConstraint: absent or at least {} ({}'s CAs sit under it: {})",
                self.path_len,
                self.who,
                self.ca_stems.join(", ")
            ),
            format!(
                "extendedKeyUsage: absent, or including {} (Go applies it to every certificate below)",
                usages.join(" and ")
            ),
            format!(
                "nameConstraints: absent, or permitting every name {}'s certificates carry: {}",
                self.who,
                names.join(", ")
            ),
            "validity: as long as the CAs under it should live (theirs end with it)".to_string(),
            "signed by the root (or a CA under it) that clients will trust".to_string(),
        ]
    }
}

/// Pre-flight of a subordinate CA's profile before the root signs it: `twin`
/// is the certificate the profile makes, issued in memory to `twin_key` (a
/// key this run holds, so the layout's CAs can be issued under it), above it
/// `chain` up to `anchor`. Every certificate `layout` issues for `cluster` is
/// then checked as on a real tree; the findings name `source`.
pub fn run_sub_ca(
    layout: &Layout,
    cluster: &ClusterNames,
    twin: PathCert<'_>,
    twin_key: &PrivateKey,
    chain: Vec<PathCert<'_>>,
    anchor: &PathCert<'_>,
    now: SystemTime,
) -> Result<Report> {
    let keys = PrivateKey::generate_all(&vec![KeyAlgorithm::EcdsaP256; layout.cas.len()])?;
    let end = days_after(now, layout.ca_default.validity_days).min(twin.cert.not_after());
    let mut cas = Vec::new();
    for (slot, key) in layout.cas.iter().zip(&keys) {
        let cert = crate::pki::issue::issue_ca(
            &crate::pki::issue::CaRequest {
                common_name: slot.stem,
                key,
                not_before: now,
                not_after: end,
            },
            Issuer::Ca {
                cert: twin.cert,
                key: twin_key,
            },
        )?;
        cas.push((slot.stem, cert, key));
    }
    let signing: Vec<SigningCa<'_>> = cas
        .iter()
        .map(|(stem, cert, key)| SigningCa {
            stem: stem.to_string(),
            cert,
            key: *key,
            source: format!("{} (as {stem})", twin.source),
        })
        .collect();
    let path: Vec<PathCert<'_>> = std::iter::once(twin).chain(chain).collect();
    run(
        layout.name(),
        Some(anchor),
        &path,
        &signing,
        &layout.leaves(cluster),
        now,
    )
}
