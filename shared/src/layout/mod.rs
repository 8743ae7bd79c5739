//! Distributions as data: where each keeps its CAs and keys, what it issues
//! from them, and the few rules it adds. A [`Layout`] is one value per
//! distribution ([`Product::layout`], the one match on the product); the runs
//! and checks read it instead of naming files or products, so adding a
//! distribution is one module here and one arm of [`Product`].
//!
//! | | k3s, RKE2 | kubeadm | k0s |
//! |---|---|---|---|
//! | data dir | `/var/lib/rancher/<p>` | `/etc/kubernetes` | `/var/lib/k0s` |
//! | CAs in | `server/tls` | `pki` | `pki` |
//! | CA slots | five, CN `<p>-<kind>-ca@TS` | `ca`, `front-proxy-ca`, `etcd/ca` with kubeadm's CNs | the same stems with k0s's CNs |
//! | CA files | `X.pem` alone, `X.crt` = [X, chain..., root] | `X.crt` alone, chain in `X-chain.crt` | as kubeadm |
//! | service account | `service.key`: new key first, old keys after | `sa.key` (the one signing key) + `sa.pub` (verify set) | as kubeadm |
//! | join | `K10<hash>::` token | `--discovery-token-ca-cert-hash` | `k0s token pre-shared` |
//! | CA rotation | `rotate-ca --path=<staging>` | by hand (docs) | by hand, every node stopped |
//!
//! This layer sits on [`crate::pki`] only; it is the one part of the library
//! that knows k3s, RKE2, kubeadm or k0s by name.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::pki::cert::{Certificate, bundle_pem};
use crate::pki::keys::KeyAlgorithm;

mod cluster;
pub mod custom_tree;
mod data_dir;
pub mod k0s;
pub mod k3s;
pub mod kubeadm;
pub mod kubeconfig;
pub mod procedure;
mod product;
pub mod rotation;
pub mod service_key;

pub use cluster::{
    ClusterFlags, ClusterNames, LEAF_VALIDITY_DAYS, LeafSpec, kubernetes_service_sans,
};
pub use data_dir::DataDir;
pub use product::Product;
pub use rotation::RotationScheme;

/// How one kind of CA certificate is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaSpec {
    /// The key type of the CA.
    pub key: KeyAlgorithm,
    /// Lifetime in days from issuance.
    pub validity_days: u32,
}

/// A new service-account signing key, in every layout: what k3s expects first
/// in `service.key`, and what kubeadm and k0s make for `sa.key`.
pub const SERVICE_ACCOUNT_KEY: KeyAlgorithm = KeyAlgorithm::Rsa(2048);

/// One distribution's PKI layout.
#[derive(Debug)]
pub struct Layout {
    /// The name messages and CNs use (`k3s`, `rke2`, `kubeadm`, `k0s`).
    pub name: &'static str,
    /// The default `DATA_DIR`.
    pub default_data_dir: &'static str,
    /// Where the CAs live under the data dir (`server/tls`, `pki`).
    pub cert_dir: &'static str,
    /// Where staging dirs go under the data dir by default (`server`, or the
    /// data dir itself).
    pub staging_parent: &'static str,
    /// The CAs the distribution signs with, in the order it lists them.
    pub cas: &'static [CaSlot],
    /// What reports call them (`leaf CAs` under k3s's custom root, `CAs`).
    pub cas_title: &'static str,
    /// How each CA's certificate and the chain above it are written.
    pub ca_files: CaFiles,
    /// Key type and lifetime of these CAs when nothing else is asked.
    pub ca_default: CaSpec,
    /// Whether each CA may be made self-signed instead of under a shared root.
    pub self_signed_cas: bool,
    /// The service-account key files.
    pub service_account: SaSlot,
    /// How nodes are told which CA to trust when they join.
    pub join: JoinScheme,
    /// The stem of the CA they check (`server-ca`, `ca`).
    pub join_ca: &'static str,
    /// The first address of the default service CIDR (the kubernetes service IP).
    pub default_service_ip: IpAddr,
    /// Whether the nodes' names and addresses go into the certificates the
    /// distribution issues (k3s's `--node-name` and `--node-ip`); pre-flight
    /// stands `localhost` in for them otherwise.
    pub node_names: bool,
    /// Every certificate the distribution issues from its CAs (pre-flight).
    pub leaves: fn(&Layout, &ClusterNames) -> Vec<LeafSpec>,
    /// How new CAs and service-account keys reach a running cluster: its own
    /// command, or procedures by hand that it spells out.
    pub rotation: RotationScheme,
    /// What to do instead of overwriting the CAs of a running cluster (a
    /// sentence, for the refusal of an initialised directory).
    pub rotation_advice: &'static str,
    /// What `ca-check expiry` lists.
    pub expiry: ExpiryScheme,
    /// Days before expiry from which a leaf is due for renewal (`ca-check
    /// expiry --fail-due`): the distribution's own renewal window where it
    /// has one.
    pub due_days: u64,
    /// Whether the distribution writes CSRs for an external CA to sign
    /// (kubeadm's `certs generate-csr`), which `sign-csr` signs.
    pub external_ca: bool,
    /// Where a kubeconfig for a person (`kubeconfig-user`) takes its CA,
    /// trust, server and cluster name from.
    pub users: UserKubeconfigs,
}

/// What a user kubeconfig needs from a distribution (seed 001: `kubeadm
/// kubeconfig user` for people, never `admin.conf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserKubeconfigs {
    /// The CA stem under the cert dir whose first certificate and key sign
    /// client certificates the API server accepts (`--client-ca-file`):
    /// k3s's `client-ca` (its `server-ca` would be "Unauthorized", k3s #7016),
    /// kubeadm's and k0s's `ca`.
    pub client_ca: &'static str,
    /// The file under the cert dir that kubectl should trust for the server:
    /// what the admin kubeconfig embeds as `certificate-authority-data`
    /// (k3s's whole `server-ca.crt` bundle, `ca.crt` elsewhere).
    pub server_trust: &'static str,
    /// The admin kubeconfig the server URL is read from by default.
    pub admin_kubeconfig: AdminKubeconfig,
    /// The server when the admin kubeconfig does not exist: k3s writes
    /// `https://127.0.0.1:6443` there; kubeadm's control-plane endpoint
    /// cannot be guessed.
    pub fallback_server: Option<&'static str>,
    /// The cluster's name in the admin kubeconfig (k3s `default`, kubeadm's
    /// `clusterName` default `kubernetes`, k0s `local`).
    pub cluster_name: &'static str,
}

/// Where a distribution's admin kubeconfig lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminKubeconfig {
    /// At a fixed path (k3s's `/etc/rancher/k3s/k3s.yaml`), whatever the data dir.
    Fixed(&'static str),
    /// Under the data dir (kubeadm's `admin.conf`, k0s's `pki/admin.conf`).
    InDataDir(&'static str),
}

impl AdminKubeconfig {
    /// Its path for the data dir `root`.
    pub fn path(self, root: &Path) -> PathBuf {
        match self {
            AdminKubeconfig::Fixed(path) => PathBuf::from(path),
            AdminKubeconfig::InDataDir(name) => root.join(name),
        }
    }
}

impl Layout {
    /// The name messages use for the layout (`k3s`, `rke2`, `kubeadm`, `k0s`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Every certificate the distribution issues from its CAs, for `cluster`.
    pub fn leaves(&self, cluster: &ClusterNames) -> Vec<LeafSpec> {
        (self.leaves)(self, cluster)
    }

    /// The default cluster names: k3s's, with this layout's service IP.
    pub fn cluster_names(&self) -> ClusterNames {
        ClusterNames {
            service_ips: vec![self.default_service_ip],
            ..ClusterNames::k3s_default()
        }
    }

    /// The CA's certificate file under the cert dir: the bundle for k3s
    /// (`server-ca.crt`), the certificate alone for kubeadm and k0s (`ca.crt`).
    pub fn cert_file(&self, ca: &CaSlot) -> String {
        format!("{}.crt", ca.stem)
    }

    /// The CA's key file under the cert dir (`server-ca.key`, `etcd/ca.key`).
    pub fn key_file(&self, ca: &CaSlot) -> String {
        format!("{}.key", ca.stem)
    }

    /// The CN this run gives the CA `ca` (`k3s-server-ca@TS`, `kubernetes`).
    pub fn ca_common_name(&self, ca: &CaSlot, timestamp: u64) -> String {
        match ca.name {
            CaName::Stamped(kind) => format!("{}-{kind}-ca@{timestamp}", self.name),
            CaName::Fixed(cn) => cn.to_string(),
        }
    }

    /// The CN of the new root that replaces `ca` in a rotation
    /// (`k3s-server-root@TS`, as `rotate-default-ca-certs.sh` names it).
    pub fn rotated_root_common_name(&self, ca: &CaSlot, timestamp: u64) -> String {
        match ca.name {
            CaName::Stamped(kind) => format!("{}-{kind}-root@{timestamp}", self.name),
            CaName::Fixed(cn) => cn.to_string(),
        }
    }

    /// The CA files whose presence marks an initialised cluster.
    pub fn initialised_files(&self, cert_dir: &Path) -> Vec<PathBuf> {
        self.cas
            .iter()
            .flat_map(|ca| [self.cert_file(ca), self.key_file(ca)])
            .map(|name| cert_dir.join(name))
            .collect()
    }

    /// The CA slot whose file stem is `stem`.
    pub fn ca(&self, stem: &str) -> Option<&'static CaSlot> {
        self.cas.iter().find(|ca| ca.stem == stem)
    }
}

/// One CA the distribution signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaSlot {
    /// The file stem under the cert dir (`client-ca`, `etcd/ca`).
    pub stem: &'static str,
    /// How its CN is made.
    pub name: CaName,
    /// What reads it through a Kubernetes setting that takes a bundle
    /// (KUBEADM-K0S-CONTRACT.md section 7): where a rotation by hand puts the
    /// [old, new] bundle. Empty for k3s, which reads its bundles itself.
    pub bundle_readers: &'static str,
}

/// How a CA's CN is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaName {
    /// The upstream script's `<layout name>-<kind>-ca@<timestamp>`, with this
    /// kind (`client`, `etcd-peer`).
    Stamped(&'static str),
    /// Always this CN (kubeadm's `kubernetes`, k0s's `kubernetes-ca`; k0s
    /// recognises the leaves it must renew by their issuer's CN).
    Fixed(&'static str),
}

/// How a CA's certificate and the chain above it are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaFiles {
    /// k3s: `X.pem` holds the CA alone, `X.crt` the bundle [X, chain..., root]
    /// that k3s serves and trusts.
    Bundle,
    /// kubeadm and k0s: `X.crt` holds exactly one certificate (both read only
    /// the first); the chain above it, [issuing..., root], goes into
    /// `X-chain.crt` for whoever needs it.
    Single {
        /// Why more than one certificate in `X.crt` breaks the distribution,
        /// for findings: `" and its signer refuses more"` for k0s, else empty.
        more_refused: &'static str,
    },
}

impl CaFiles {
    /// The public files of the CA `stem` whose certificate is `cert`, under
    /// `chain` ([issuing, ..., root]; empty for a self-signed CA): (file name
    /// under the cert dir, contents, whether it is the chain file).
    pub fn public_files(
        self,
        stem: &str,
        cert: &Certificate,
        chain: &[&Certificate],
    ) -> Vec<(String, String, bool)> {
        match self {
            CaFiles::Bundle => vec![
                (format!("{stem}.pem"), cert.to_pem(), false),
                (
                    format!("{stem}.crt"),
                    bundle_pem(std::iter::once(cert).chain(chain.iter().copied())),
                    false,
                ),
            ],
            CaFiles::Single { .. } => {
                let mut files = vec![(format!("{stem}.crt"), cert.to_pem(), false)];
                if !chain.is_empty() {
                    files.push((
                        format!("{stem}-chain.crt"),
                        bundle_pem(chain.iter().copied()),
                        true,
                    ));
                }
                files
            }
        }
    }
}

/// The service-account key files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaSlot {
    /// k3s: one file of keys; the first private key signs, every key verifies.
    /// A new key goes first and the current keys follow.
    KeyFile(&'static str),
    /// kubeadm and k0s: the one signing key, and the public keys that verify
    /// (`--service-account-key-file`), the signing key's first.
    Pair {
        /// The private key (`sa.key`).
        key: &'static str,
        /// The PKIX public keys (`sa.pub`).
        public: &'static str,
    },
}

impl SaSlot {
    /// The file holding the signing key (`service.key`, `sa.key`).
    pub fn key_file(self) -> &'static str {
        match self {
            SaSlot::KeyFile(name) | SaSlot::Pair { key: name, .. } => name,
        }
    }
}

/// How joining nodes learn which CA to trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinScheme {
    /// k3s's `K10<hash of server-ca.crt>::` token prefix.
    K3sToken,
    /// kubeadm's `--discovery-token-ca-cert-hash sha256:<SPKI hash of ca.crt>`.
    KubeadmDiscovery,
    /// k0s's `k0s token pre-shared --cert <pki>/ca.crt`.
    K0sPreShared,
}

impl JoinScheme {
    /// The pin of the join CA's key that nodes join with, for the schemes
    /// that pin a key (kubeadm's discovery hash); `None` for those that trust
    /// a whole bundle (k3s hashes the file, k0s embeds it).
    pub fn key_pin(self, cert: &Certificate) -> crate::pki::error::Result<Option<String>> {
        match self {
            JoinScheme::KubeadmDiscovery => kubeadm::discovery_hash(cert).map(Some),
            JoinScheme::K3sToken | JoinScheme::K0sPreShared => Ok(None),
        }
    }
}

/// Groups whose members the API server lets do anything: a certificate
/// naming one (as O) is a super-user credential that RBAC cannot take back
/// until it expires. Each with what it grants, for messages.
pub const SUPER_USER_GROUPS: [(&str, &str); 2] = [
    (
        "system:masters",
        "bypasses RBAC on every Kubernetes distribution (k3s's and kubeadm's admin)",
    ),
    (
        "kubeadm:cluster-admins",
        "kubeadm (1.29 and later) binds to cluster-admin",
    ),
];

/// What `ca-check expiry` lists for a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryScheme {
    /// Every certificate under the cert dir, and the client certificate
    /// embedded in each of these kubeconfigs found there (k0s keeps
    /// `admin.conf` in `pki/`).
    Scan {
        /// Kubeconfig file names, relative to the cert dir.
        kubeconfigs: &'static [&'static str],
    },
    /// k3s and RKE2: what `certificate check` reads, by the service that
    /// renews it, on a server or an agent, and the admin kubeconfig.
    Services(&'static k3s::CertificateServices),
    /// kubeadm's `certs check-expiration`: a fixed list of named certificates
    /// ([`kubeadm::CERTIFICATES`]) and CAs, the kubeconfigs in the data dir,
    /// an absent file reported as missing.
    Kubeadm,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_product_has_its_files() {
        let k3s = Product::K3s.layout();
        assert_eq!(k3s.cas.len(), 5);
        assert_eq!(k3s.cert_file(&k3s.cas[3]), "etcd/peer-ca.crt");
        assert_eq!(k3s.ca_common_name(&k3s.cas[3], 7), "k3s-etcd-peer-ca@7");
        let kubeadm = Product::Kubeadm.layout();
        let stems: Vec<&str> = kubeadm.cas.iter().map(|c| c.stem).collect();
        assert_eq!(stems, ["ca", "front-proxy-ca", "etcd/ca"]);
        assert_eq!(kubeadm.ca_common_name(&kubeadm.cas[0], 1), "kubernetes");
        let k0s = Product::K0s.layout();
        let cns: Vec<String> = k0s.cas.iter().map(|c| k0s.ca_common_name(c, 1)).collect();
        assert_eq!(
            cns,
            ["kubernetes-ca", "kubernetes-front-proxy-ca", "etcd-ca"]
        );
        assert_eq!(k0s.default_data_dir, "/var/lib/k0s");
        assert_eq!(
            Product::Rke2.layout().default_data_dir,
            "/var/lib/rancher/rke2"
        );
    }

    /// Where a user kubeconfig comes from: k3s's client CA (its server CA
    /// would be "Unauthorized", k3s #7016) and the admin kubeconfig each
    /// distribution writes.
    #[test]
    fn each_product_says_where_user_kubeconfigs_come_from() {
        let root = Path::new("/d");
        let users = |product: Product| product.layout().users;
        let admin = |product: Product| users(product).admin_kubeconfig.path(root);
        assert_eq!(users(Product::K3s).client_ca, "client-ca");
        assert_eq!(users(Product::K3s).server_trust, "server-ca.crt");
        assert_eq!(admin(Product::K3s), Path::new("/etc/rancher/k3s/k3s.yaml"));
        assert_eq!(
            admin(Product::Rke2),
            Path::new("/etc/rancher/rke2/rke2.yaml")
        );
        assert_eq!(admin(Product::Kubeadm), Path::new("/d/admin.conf"));
        assert_eq!(admin(Product::K0s), Path::new("/d/pki/admin.conf"));
        let names: Vec<&str> = Product::ALL
            .iter()
            .map(|p| users(*p).cluster_name)
            .collect();
        assert_eq!(names, ["default", "default", "kubernetes", "local"]);
        for product in [Product::Kubeadm, Product::K0s] {
            assert_eq!(users(product).client_ca, "ca");
            assert_eq!(users(product).fallback_server, None);
        }
    }
}
