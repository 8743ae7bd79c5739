//! kubeadm's PKI as data (KUBEADM-K0S-CONTRACT.md, sections 1 and 2): its three
//! CAs and every leaf certificate it issues from them, with the subject, usages
//! and names each must carry. `sign-csr`, the pre-flight of kubeadm trees and
//! the expiry report read the same table.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use der::Encode as _;

use super::{
    AdminKubeconfig, CaFiles, CaName, CaSlot, CaSpec, ClusterNames, ExpiryScheme, JoinScheme,
    Layout, LeafSpec, RotationScheme, SaSlot, UserKubeconfigs, kubernetes_service_sans,
};
use crate::layout::rotation::ManualRotation;
use crate::pki::cert::Certificate;
use crate::pki::constraints::Usage;
use crate::pki::error::{Error, Result};
use crate::pki::keys::{KeyAlgorithm, sha256_hex};
use crate::pki::names::San;

pub(super) mod rotation;

/// `/etc/kubernetes`: kubeconfigs here, certificates in `pki/`.
pub const DEFAULT_DATA_DIR: &str = "/etc/kubernetes";
/// The certificate directory under the data dir.
pub const PKI_DIR: &str = "pki";
/// The service-account signing key under `pki/`.
const SA_KEY: &str = "sa.key";
/// The service-account verify keys under `pki/`.
const SA_PUB: &str = "sa.pub";
/// kubeadm's (and k0s's) kubernetes service IP: the first address of the
/// default `networking.serviceSubnet`, 10.96.0.0/12.
pub const DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1));

/// The renewal window of kubeadm and k0s for `--fail-due`. Neither renews
/// its leaves on a schedule of its own (kubeadm at `upgrade` or `certs renew`;
/// k0s when it restarts), so none can be copied: 30 days leaves a month to
/// plan a renewal, as the kubelet's own rotation would have long before.
pub const PKI_DUE_DAYS: u64 = 30;

/// kubeadm's layout: its three CAs under `/etc/kubernetes/pki` with the CNs
/// kubeadm writes, and the discovery hash of `ca.crt`.
pub static LAYOUT: Layout = pki_layout(
    "kubeadm",
    DEFAULT_DATA_DIR,
    &[
        slot(KubeadmCa::Cluster, "kubernetes"),
        slot(KubeadmCa::FrontProxy, "front-proxy-ca"),
        slot(KubeadmCa::Etcd, "etcd-ca"),
    ],
    "",
    JoinScheme::KubeadmDiscovery,
    |_, cluster| KubeadmNames::offline(cluster).leaves(),
    "kubeadm has no CA rotation: to change the CAs of a running cluster, follow \
     the manual rotation of CA certificates in the Kubernetes docs",
    ExpiryScheme::Kubeadm,
    &rotation::KUBEADM,
    true,
    UserKubeconfigs {
        client_ca: KubeadmCa::Cluster.stem(),
        server_trust: "ca.crt",
        admin_kubeconfig: AdminKubeconfig::InDataDir("admin.conf"),
        fallback_server: None,
        cluster_name: "kubernetes",
    },
);

/// The slot of `ca` with the CN `common_name`.
pub(super) const fn slot(ca: KubeadmCa, common_name: &'static str) -> CaSlot {
    CaSlot {
        stem: ca.stem(),
        name: CaName::Fixed(common_name),
        bundle_readers: ca.bundle_readers(),
    }
}

/// What kubeadm and k0s share: `pki/` under the data dir, kubeadm's three CA
/// stems (in `cas`, with their CNs), one certificate per `.crt`, `sa.key` +
/// `sa.pub`, RSA-2048 CAs for ten years (both make those by default), the
/// service CIDR 10.96.0.0/12, and no CA rotation of their own (`rotation`:
/// their procedures by hand).
#[allow(clippy::too_many_arguments, reason = "one layout, fully described")]
pub(super) const fn pki_layout(
    name: &'static str,
    default_data_dir: &'static str,
    cas: &'static [CaSlot],
    more_refused: &'static str,
    join: JoinScheme,
    leaves: fn(&Layout, &ClusterNames) -> Vec<LeafSpec>,
    rotation_advice: &'static str,
    expiry: ExpiryScheme,
    rotation: &'static ManualRotation,
    external_ca: bool,
    users: UserKubeconfigs,
) -> Layout {
    Layout {
        name,
        default_data_dir,
        cert_dir: PKI_DIR,
        staging_parent: "",
        cas,
        cas_title: "CAs",
        ca_files: CaFiles::Single { more_refused },
        ca_default: CaSpec {
            key: KeyAlgorithm::Rsa(2048),
            validity_days: 3650,
        },
        self_signed_cas: true,
        service_account: SaSlot::Pair {
            key: SA_KEY,
            public: SA_PUB,
        },
        join,
        join_ca: KubeadmCa::Cluster.stem(),
        default_service_ip: DEFAULT_SERVICE_IP,
        node_names: false,
        leaves,
        rotation: RotationScheme::Manual(rotation),
        rotation_advice,
        expiry,
        due_days: PKI_DUE_DAYS,
        external_ca,
        users,
    }
}

/// kubeadm's `--discovery-token-ca-cert-hash` of a CA certificate:
/// `sha256:` and the hex SHA-256 of its DER SubjectPublicKeyInfo (pubkeypin).
pub fn discovery_hash(cert: &Certificate) -> Result<String> {
    let spki = cert
        .public_key()
        .to_der()
        .map_err(|e| Error::crypto("encoding a public key", e))?;
    Ok(format!("sha256:{}", sha256_hex(&spki)))
}

/// One of kubeadm's three CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KubeadmCa {
    /// `ca`: the cluster CA (apiserver, kubelet clients, kubeconfigs).
    Cluster,
    /// `front-proxy-ca`: the aggregation layer's client CA.
    FrontProxy,
    /// `etcd/ca`: stacked etcd's CA.
    Etcd,
}

impl KubeadmCa {
    /// All three, in kubeadm's order.
    pub const ALL: [KubeadmCa; 3] = [KubeadmCa::Cluster, KubeadmCa::FrontProxy, KubeadmCa::Etcd];

    /// The file stem under `pki/`: `ca`, `front-proxy-ca`, `etcd/ca`.
    pub const fn stem(self) -> &'static str {
        match self {
            KubeadmCa::Cluster => "ca",
            KubeadmCa::FrontProxy => "front-proxy-ca",
            KubeadmCa::Etcd => "etcd/ca",
        }
    }

    /// What trusts this CA through a flag or field that takes a bundle, so
    /// reads an old+new bundle during a rotation (contract section 7).
    pub const fn bundle_readers(self) -> &'static str {
        match self {
            KubeadmCa::Cluster => {
                "kube-apiserver --client-ca-file, kube-controller-manager --root-ca-file, \
                 kube-scheduler --client-ca-file, kubelet clientCAFile, kubeconfig \
                 certificate-authority-data, the cluster-info ConfigMap"
            }
            KubeadmCa::FrontProxy => "--requestheader-client-ca-file of every component",
            KubeadmCa::Etcd => {
                "etcd --trusted-ca-file and --peer-trusted-ca-file, kube-apiserver --etcd-cafile"
            }
        }
    }

    /// `<data dir>/pki/<stem>.crt`.
    pub fn cert_path(self, data_dir: &Path) -> PathBuf {
        data_dir.join(PKI_DIR).join(format!("{}.crt", self.stem()))
    }

    /// `<data dir>/pki/<stem>.key`.
    pub fn key_path(self, data_dir: &Path) -> PathBuf {
        data_dir.join(PKI_DIR).join(format!("{}.key", self.stem()))
    }

    /// The name `kubeadm certs check-expiration` gives it.
    pub fn expiration_name(self) -> &'static str {
        match self {
            KubeadmCa::Cluster => "ca",
            KubeadmCa::FrontProxy => "front-proxy-ca",
            KubeadmCa::Etcd => "etcd-ca",
        }
    }
}

/// How a leaf's CN is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonName {
    /// Always this name.
    Fixed(&'static str),
    /// The node name (etcd server and peer).
    NodeName,
    /// `system:node:<node name>` (kubelet.conf).
    KubeletNode,
}

/// Which names a leaf carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// None: client certificates.
    None,
    /// The apiserver's: node name, kubernetes service names, service IP, advertise address.
    ApiServer,
    /// etcd's: node name, localhost, advertise address, 127.0.0.1, ::1.
    Etcd,
}

/// One certificate kubeadm issues.
#[derive(Clone, Copy, Debug)]
pub struct KubeadmCert {
    /// Its base name: `apiserver`, `etcd/server` (under `pki/`), or a kubeconfig
    /// `admin.conf` (in the data dir).
    pub base: &'static str,
    /// Its name in `kubeadm certs check-expiration` (`etcd-server`, `admin.conf`).
    pub expiration_name: &'static str,
    /// The CA that signs it.
    pub ca: KubeadmCa,
    /// Its CN.
    pub common_name: CommonName,
    /// Its O values (current kubeadm).
    pub organizations: &'static [&'static str],
    /// O values older kubeadm releases used instead (accepted with a warning).
    pub older_organizations: &'static [&'static str],
    /// Its extended key usages.
    pub usages: &'static [Usage],
    /// Its names.
    pub names: Names,
    /// Whether it lives in a kubeconfig (`client-certificate-data`).
    pub kubeconfig: bool,
}

impl KubeadmCert {
    /// Where it lives under `data_dir`, without extension: `<data>/pki/<base>`
    /// (add `.crt`, `.key`, `.csr`), or for a kubeconfig `<data>/<base>` itself
    /// (its CSR is `<base>.csr`).
    pub fn path(&self, data_dir: &Path) -> PathBuf {
        if self.kubeconfig {
            data_dir.join(self.base)
        } else {
            data_dir.join(PKI_DIR).join(self.base)
        }
    }

    /// Whether `kubeadm certs check-expiration` lists it: all but kubelet.conf,
    /// whose client certificate the kubelet rotates itself.
    pub fn checked_for_expiry(&self) -> bool {
        self.common_name != CommonName::KubeletNode
    }

    /// The file `kubeadm certs generate-csr` writes its CSR to.
    pub fn csr_path(&self, data_dir: &Path) -> PathBuf {
        with_suffix(self.path(data_dir), ".csr")
    }
}

/// `path` with `suffix` appended to its file name (`admin.conf` -> `admin.conf.csr`).
pub fn with_suffix(path: PathBuf, suffix: &str) -> PathBuf {
    let mut name = path.into_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

const CLIENT: &[Usage] = &[Usage::ClientAuth];
const SERVER: &[Usage] = &[Usage::ServerAuth];
const BOTH: &[Usage] = &[Usage::ServerAuth, Usage::ClientAuth];
const CLUSTER_ADMINS: &[&str] = &["kubeadm:cluster-admins"];
const MASTERS: &[&str] = &["system:masters"];

/// Every certificate kubeadm issues, in `check-expiration`'s order where it
/// lists them (kubelet.conf last: the kubelet rotates its own).
pub const CERTIFICATES: [KubeadmCert; 12] = [
    kubeconfig("admin.conf", "kubernetes-admin", CLUSTER_ADMINS, MASTERS),
    pki(
        "apiserver",
        "apiserver",
        KubeadmCa::Cluster,
        CommonName::Fixed("kube-apiserver"),
        &[],
        &[],
        SERVER,
        Names::ApiServer,
    ),
    pki(
        "apiserver-etcd-client",
        "apiserver-etcd-client",
        KubeadmCa::Etcd,
        CommonName::Fixed("kube-apiserver-etcd-client"),
        &[],
        MASTERS,
        CLIENT,
        Names::None,
    ),
    pki(
        "apiserver-kubelet-client",
        "apiserver-kubelet-client",
        KubeadmCa::Cluster,
        CommonName::Fixed("kube-apiserver-kubelet-client"),
        CLUSTER_ADMINS,
        MASTERS,
        CLIENT,
        Names::None,
    ),
    kubeconfig(
        "controller-manager.conf",
        "system:kube-controller-manager",
        &[],
        &[],
    ),
    pki(
        "etcd/healthcheck-client",
        "etcd-healthcheck-client",
        KubeadmCa::Etcd,
        CommonName::Fixed("kube-etcd-healthcheck-client"),
        &[],
        MASTERS,
        CLIENT,
        Names::None,
    ),
    pki(
        "etcd/peer",
        "etcd-peer",
        KubeadmCa::Etcd,
        CommonName::NodeName,
        &[],
        &[],
        BOTH,
        Names::Etcd,
    ),
    pki(
        "etcd/server",
        "etcd-server",
        KubeadmCa::Etcd,
        CommonName::NodeName,
        &[],
        &[],
        BOTH,
        Names::Etcd,
    ),
    pki(
        "front-proxy-client",
        "front-proxy-client",
        KubeadmCa::FrontProxy,
        CommonName::Fixed("front-proxy-client"),
        &[],
        &[],
        CLIENT,
        Names::None,
    ),
    kubeconfig("scheduler.conf", "system:kube-scheduler", &[], &[]),
    kubeconfig("super-admin.conf", "kubernetes-super-admin", MASTERS, &[]),
    KubeadmCert {
        base: "kubelet.conf",
        expiration_name: "kubelet.conf",
        ca: KubeadmCa::Cluster,
        common_name: CommonName::KubeletNode,
        organizations: &["system:nodes"],
        older_organizations: &[],
        usages: CLIENT,
        names: Names::None,
        kubeconfig: true,
    },
];

#[allow(clippy::too_many_arguments, reason = "one row of a table")]
const fn pki(
    base: &'static str,
    expiration_name: &'static str,
    ca: KubeadmCa,
    common_name: CommonName,
    organizations: &'static [&'static str],
    older_organizations: &'static [&'static str],
    usages: &'static [Usage],
    names: Names,
) -> KubeadmCert {
    KubeadmCert {
        base,
        expiration_name,
        ca,
        common_name,
        organizations,
        older_organizations,
        usages,
        names,
        kubeconfig: false,
    }
}

const fn kubeconfig(
    base: &'static str,
    common_name: &'static str,
    organizations: &'static [&'static str],
    older_organizations: &'static [&'static str],
) -> KubeadmCert {
    KubeadmCert {
        base,
        expiration_name: base,
        ca: KubeadmCa::Cluster,
        common_name: CommonName::Fixed(common_name),
        organizations,
        older_organizations,
        usages: CLIENT,
        names: Names::None,
        kubeconfig: true,
    }
}

/// The names a kubeadm cluster is reached by (`ClusterConfiguration` and
/// `InitConfiguration`), with kubeadm's defaults.
#[derive(Clone, Debug)]
pub struct KubeadmNames {
    /// The node name (default: the host name).
    pub node_name: String,
    /// `networking.dnsDomain` (default cluster.local).
    pub dns_domain: String,
    /// The first IP of `networking.serviceSubnet` (10.96.0.1 for 10.96.0.0/12).
    pub service_ip: IpAddr,
    /// `localAPIEndpoint.advertiseAddress`, when known.
    pub advertise_address: Option<IpAddr>,
    /// `apiServer.certSANs` and the controlPlaneEndpoint host.
    pub extra_sans: Vec<String>,
}

impl KubeadmNames {
    /// kubeadm's defaults for a node called `node_name`.
    pub fn defaults(node_name: &str) -> Self {
        KubeadmNames {
            node_name: node_name.to_string(),
            dns_domain: "cluster.local".into(),
            service_ip: DEFAULT_SERVICE_IP,
            advertise_address: None,
            extra_sans: Vec::new(),
        }
    }

    /// The SANs a certificate of kind `names` must carry (section 2).
    pub fn sans(&self, names: Names) -> Vec<San> {
        let node = San::Dns(self.node_name.clone());
        let mut sans = match names {
            Names::None => return Vec::new(),
            Names::ApiServer => {
                let mut sans = vec![node];
                sans.extend(kubernetes_service_sans(&self.dns_domain));
                sans.push(San::Ip(self.service_ip));
                sans
            }
            Names::Etcd => vec![
                node,
                San::Dns("localhost".into()),
                San::Ip(IpAddr::from([127, 0, 0, 1])),
                San::Ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ],
        };
        sans.extend(self.advertise_address.map(San::Ip));
        if names == Names::ApiServer {
            sans.extend(self.extra_sans.iter().map(|name| San::parse(name)));
        }
        sans
    }

    /// The CN of a certificate.
    pub fn common_name(&self, cert: &KubeadmCert) -> String {
        match cert.common_name {
            CommonName::Fixed(cn) => cn.to_string(),
            CommonName::NodeName => self.node_name.clone(),
            CommonName::KubeletNode => format!("system:node:{}", self.node_name),
        }
    }

    /// The names known offline: `cluster`'s domain, first service IP and extra
    /// names (`apiServer.certSANs`, the controlPlaneEndpoint host). Node names
    /// are not known offline; `localhost` stands in for them, a name every etcd
    /// certificate carries anyway, so it adds no constraint of its own.
    pub fn offline(cluster: &ClusterNames) -> Self {
        let defaults = Self::defaults("localhost");
        KubeadmNames {
            dns_domain: cluster.cluster_domain.clone(),
            service_ip: cluster
                .service_ips
                .first()
                .copied()
                .unwrap_or(defaults.service_ip),
            extra_sans: cluster.tls_sans.clone(),
            ..defaults
        }
    }

    /// Every certificate kubeadm issues, as pre-flight leaf specs.
    pub fn leaves(&self) -> Vec<LeafSpec> {
        CERTIFICATES
            .iter()
            .map(|cert| LeafSpec {
                ca: cert.ca.stem().to_string(),
                name: cert.base,
                common_name: self.common_name(cert),
                organizations: cert.organizations.to_vec(),
                usages: cert.usages.to_vec(),
                sans: self.sans(cert.names),
            })
            .collect()
    }
}

/// The certificate kubeadm issues under `base` (`apiserver`, `etcd/server`,
/// `admin.conf`); only the tests look certificates up by name.
#[cfg(test)]
pub fn certificate(base: &str) -> Option<&'static KubeadmCert> {
    CERTIFICATES.iter().find(|cert| cert.base == base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apiserver_carries_the_service_ip_and_etcd_its_loopbacks() {
        let names = KubeadmNames {
            advertise_address: Some(IpAddr::from([192, 0, 2, 10])),
            ..KubeadmNames::defaults("cp-1")
        };
        let api = names.sans(Names::ApiServer);
        assert!(api.contains(&San::Ip(IpAddr::from([10, 96, 0, 1]))));
        assert!(api.contains(&San::Dns("kubernetes.default.svc.cluster.local".into())));
        assert!(api.contains(&San::Ip(IpAddr::from([192, 0, 2, 10]))));
        let etcd = names.sans(Names::Etcd);
        assert!(etcd.contains(&San::Dns("cp-1".into())));
        assert!(etcd.contains(&San::Ip("::1".parse().unwrap())));
        let server = certificate("etcd/server").unwrap();
        assert_eq!(names.common_name(server), "cp-1");
        assert_eq!(certificate("admin.conf").unwrap().ca, KubeadmCa::Cluster);
        assert_eq!(names.leaves().len(), CERTIFICATES.len());
    }
}
