//! Pre-flight: before a tree is written (or when one is checked), issue in
//! memory each kind of certificate the distribution issues from each of its CAs,
//! and verify each as a client that trusts only the root (see [`constraints`]).
//! Every finding names the input file, the constraint, and the certificates and
//! names it would break.
//!
//! [`constraints`]: crate::constraints

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use crate::cert::{Certificate, format_time};
use crate::constraints::{Usage, Violation, check_path, rejected_names};
use crate::error::{Error, Result};
use crate::issue::{IssueRequest, Profile, San, Signer, days_after, issue, subject_name};
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::topology::Product;

/// How long the leaf certificates k3s and kubeadm issue live.
pub const LEAF_VALIDITY_DAYS: u32 = 365;

/// One kind of certificate a distribution issues from one of its CAs.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    /// The CA file stem it is issued from (`server-ca`, `etcd/peer-ca`).
    pub ca: String,
    /// What it is, for messages (`kube-apiserver serving`).
    pub name: &'static str,
    /// Subject CN.
    pub common_name: String,
    /// Subject O values.
    pub organizations: Vec<&'static str>,
    /// The usages its consumers check it for.
    pub usages: Vec<Usage>,
    /// Its subject alternative names.
    pub sans: Vec<San>,
}

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
    /// Its key.
    pub key: &'a PrivateKey,
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
            Err(Error::Preflight {
                findings: self.errors.iter().map(Issue::to_string).collect(),
            })
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
                Signer::Ca {
                    cert: ca.cert,
                    key: ca.key,
                },
            )?;
            let path: Vec<&Certificate> = std::iter::once(&leaf).chain(above.clone()).collect();
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
    let errors = broken
        .into_iter()
        .map(|((source, violation), mut leaves)| {
            leaves.dedup();
            Issue {
                source,
                message: format!("{violation}; {}", leaves.join("; ")),
            }
        })
        .collect();
    Ok(Report { errors, warnings })
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

/// The names a cluster is reached by, beyond the fixed ones.
#[derive(Clone, Debug)]
pub struct ClusterNames {
    /// `--tls-san` values: DNS names or IP addresses.
    pub tls_sans: Vec<String>,
    /// `--cluster-domain` (k3s default `cluster.local`).
    pub cluster_domain: String,
    /// The first address of each service CIDR (`10.43.0.1` for k3s's default).
    pub service_ips: Vec<IpAddr>,
    /// `--node-name` of the nodes, when given: unknown offline otherwise.
    pub node_names: Vec<String>,
    /// `--node-ip` of the nodes, when given.
    pub node_ips: Vec<IpAddr>,
}

impl ClusterNames {
    /// k3s's defaults: no extra names, `cluster.local`, `10.43.0.0/16`.
    pub fn k3s_default() -> Self {
        ClusterNames {
            tls_sans: Vec::new(),
            cluster_domain: "cluster.local".into(),
            service_ips: vec![crate::layout::K3S_DEFAULT_SERVICE_IP],
            node_names: Vec::new(),
            node_ips: Vec::new(),
        }
    }

    /// These names with what the flags `--tls-san`, `--cluster-domain` and
    /// `--service-cidr` change.
    pub fn with_flags(
        self,
        tls_sans: Vec<String>,
        cluster_domain: Option<String>,
        service_cidr: Option<&str>,
    ) -> Result<Self> {
        let mut names = self;
        names.tls_sans = tls_sans;
        if let Some(domain) = cluster_domain {
            names.cluster_domain = domain;
        }
        if let Some(cidrs) = service_cidr {
            names.service_ips = Self::service_ips_of(cidrs)?;
        }
        Ok(names)
    }

    /// These names with the nodes' names and addresses (k3s `--node-name` and
    /// `--node-ip`), which k3s puts in its serving, etcd and kubelet serving
    /// certificates; k3s lowercases node names. Refused for the other
    /// products, whose pre-flight stands `localhost` in for node names.
    pub fn with_nodes(
        self,
        product: Product,
        node_names: Vec<String>,
        node_ips: Vec<IpAddr>,
    ) -> Result<Self> {
        let given = !node_names.is_empty() || !node_ips.is_empty();
        if given && !product.has_k3s_layout() {
            return Err(Error::Usage {
                problem: format!(
                    "--node-name and --node-ip are read for k3s and RKE2; {}'s pre-flight \
                     checks its node certificates with localhost as the node name",
                    product.name()
                ),
            });
        }
        Ok(ClusterNames {
            node_names: node_names.iter().map(|n| n.to_lowercase()).collect(),
            node_ips,
            ..self
        })
    }

    /// The service IP of each CIDR of a `--service-cidr` value (comma-separated
    /// for dual-stack): the network address plus one.
    pub fn service_ips_of(cidrs: &str) -> Result<Vec<IpAddr>> {
        cidrs
            .split(',')
            .map(|cidr| {
                first_host(cidr.trim()).ok_or_else(|| Error::Usage {
                    problem: format!(
                        "--service-cidr: \"{cidr}\" is not a CIDR such as 10.43.0.0/16"
                    ),
                })
            })
            .collect()
    }

    /// k3s's `config.SANs`: every `--tls-san`, then 127.0.0.1, ::1, localhost,
    /// the node names and addresses (when given: they are not known offline)
    /// and the service IPs.
    pub fn config_sans(&self) -> Vec<San> {
        let mut sans: Vec<San> = self.tls_sans.iter().map(|name| San::parse(name)).collect();
        sans.push(San::Ip(IpAddr::from([127, 0, 0, 1])));
        sans.push(San::Ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)));
        sans.push(San::Dns("localhost".into()));
        sans.extend(self.node_sans());
        sans.extend(self.service_ips.iter().copied().map(San::Ip));
        sans
    }

    /// The node names and addresses given, as names a certificate carries.
    pub fn node_sans(&self) -> Vec<San> {
        let names = self.node_names.iter().map(|name| San::Dns(name.clone()));
        names
            .chain(self.node_ips.iter().copied().map(San::Ip))
            .collect()
    }

    /// The names of the apiserver and supervisor serving certificates: the
    /// in-cluster service names, then `config.SANs`.
    pub fn serving_sans(&self) -> Vec<San> {
        let mut sans = kubernetes_service_sans(&self.cluster_domain);
        sans.extend(self.config_sans());
        sans
    }
}

/// The in-cluster names of the `kubernetes` service, in this order:
/// `kubernetes`, `kubernetes.default`, `kubernetes.default.svc`,
/// `kubernetes.default.svc.<domain>`.
pub fn kubernetes_service_sans(domain: &str) -> Vec<San> {
    [
        "kubernetes".to_string(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        format!("kubernetes.default.svc.{domain}"),
    ]
    .into_iter()
    .map(San::Dns)
    .collect()
}

fn first_host(cidr: &str) -> Option<IpAddr> {
    let (address, prefix) = cidr.split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            Some(IpAddr::from(std::net::Ipv4Addr::from(
                (u32::from(v4) & mask).checked_add(1)?,
            )))
        }
        IpAddr::V6(v6) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            Some(IpAddr::from(std::net::Ipv6Addr::from(
                (u128::from(v6) & mask).checked_add(1)?,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_ip_is_the_first_host_of_each_cidr() {
        let ips = ClusterNames::service_ips_of("10.43.0.0/16, 2001:cafe:43::/112").unwrap();
        assert_eq!(ips[0].to_string(), "10.43.0.1");
        assert_eq!(ips[1].to_string(), "2001:cafe:43::1");
        assert!(ClusterNames::service_ips_of("10.43.0.0").is_err());
        assert!(ClusterNames::service_ips_of("10.43.0.0/33").is_err());
    }
}
