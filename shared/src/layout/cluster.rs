//! The names a cluster is reached by, and the certificates a distribution
//! issues under them: what pre-flight issues and verifies.

use std::net::IpAddr;

use crate::pki::constraints::Usage;
use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::names::San;

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

/// The flags that add to a layout's cluster names, as given: k3s's
/// `--tls-san`, `--cluster-domain`, `--service-cidr`, `--node-name` and
/// `--node-ip`.
#[derive(Clone, Debug, Default)]
pub struct ClusterFlags {
    /// `--tls-san`.
    pub tls_sans: Vec<String>,
    /// `--cluster-domain`.
    pub cluster_domain: Option<String>,
    /// `--service-cidr`.
    pub service_cidr: Option<String>,
    /// `--node-name`.
    pub node_names: Vec<String>,
    /// `--node-ip`.
    pub node_ips: Vec<IpAddr>,
}

impl ClusterFlags {
    /// `layout`'s cluster names with these flags applied (see
    /// [`ClusterNames::with_flags`] and [`ClusterNames::with_nodes`]).
    pub fn names(self, layout: &super::Layout) -> Result<ClusterNames> {
        layout
            .cluster_names()
            .with_flags(
                self.tls_sans,
                self.cluster_domain,
                self.service_cidr.as_deref(),
            )?
            .with_nodes(layout, self.node_names, self.node_ips)
    }
}

impl ClusterNames {
    /// k3s's defaults: no extra names, `cluster.local`, `10.43.0.0/16`.
    pub fn k3s_default() -> Self {
        ClusterNames {
            tls_sans: Vec::new(),
            cluster_domain: "cluster.local".into(),
            service_ips: vec![super::k3s::DEFAULT_SERVICE_IP],
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
        layout: &super::Layout,
        node_names: Vec<String>,
        node_ips: Vec<IpAddr>,
    ) -> Result<Self> {
        let given = !node_names.is_empty() || !node_ips.is_empty();
        if given && !layout.node_names {
            return Err(Error::usage(format!(
                "--node-name and --node-ip are read for k3s and RKE2; {}'s pre-flight \
                 checks its node certificates with localhost as the node name",
                layout.name
            )));
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
                first_host(cidr.trim()).ok_or_else(|| {
                    let flag = Location::Flag {
                        name: "--service-cidr",
                        value: None,
                    };
                    let problem = format!("\"{cidr}\" is not a CIDR such as 10.43.0.0/16");
                    Error::at(flag, Kind::Usage(problem))
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
