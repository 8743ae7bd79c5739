//! The k3s / RKE2 CA topology as data: which CAs exist, where their files live,
//! what they are called and how they are made.
//!
//! Both tools and checks read from here, so a file name or a CN is written once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::net::IpAddr;

use crate::constraints::Usage;
use crate::error::{Error, Result};
use crate::issue::San;
use crate::keys::KeyAlgorithm;
use crate::layout::Layout;
use crate::preflight::{ClusterNames, LeafSpec};

/// The five CAs k3s reads from `server/tls` and signs its leaf certificates with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeafCa {
    /// Signs client certificates (kubelets, admin, controllers).
    Client,
    /// Signs serving certificates (kube-apiserver, kubelet serving).
    Server,
    /// Signs the front-proxy (aggregation layer) client certificate.
    RequestHeader,
    /// Signs etcd peer certificates.
    EtcdPeer,
    /// Signs etcd server and etcd client certificates.
    EtcdServer,
}

impl LeafCa {
    /// All five, in the order the upstream scripts process them.
    pub const ALL: [LeafCa; 5] = [
        LeafCa::Client,
        LeafCa::Server,
        LeafCa::RequestHeader,
        LeafCa::EtcdPeer,
        LeafCa::EtcdServer,
    ];

    /// The CA "type" of the upstream scripts: `client`, ..., `etcd/peer`, `etcd/server`.
    pub fn kind(self) -> &'static str {
        match self {
            LeafCa::Client => "client",
            LeafCa::Server => "server",
            LeafCa::RequestHeader => "request-header",
            LeafCa::EtcdPeer => "etcd/peer",
            LeafCa::EtcdServer => "etcd/server",
        }
    }

    /// The path of the CA files under `server/tls`, without extension: `etcd/peer-ca`.
    pub fn file_stem(self) -> String {
        format!("{}-ca", self.kind())
    }

    /// The bundle file under `server/tls`: `client-ca.crt`, `etcd/peer-ca.crt`, ...
    pub fn cert_file(self) -> String {
        format!("{}.crt", self.file_stem())
    }

    /// The key file under `server/tls`.
    pub fn key_file(self) -> String {
        format!("{}.key", self.file_stem())
    }

    /// The CA type with `/` turned into `-`, as used in CNs: `etcd-peer`.
    pub fn cn_part(self) -> String {
        self.kind().replace('/', "-")
    }

    /// CN of this CA in a custom tree: `k3s-etcd-peer-ca@1700000000`.
    pub fn custom_cn(self, product: &Product, timestamp: u64) -> String {
        format!("{}-{}-ca@{timestamp}", product.name(), self.cn_part())
    }

    /// CN of the new root made by a default-CA rotation: `k3s-etcd-peer-root@TS`.
    pub fn rotation_root_cn(self, product: &Product, timestamp: u64) -> String {
        format!("{}-{}-root@{timestamp}", product.name(), self.cn_part())
    }
}

/// Every kind of certificate k3s issues from its five CAs (k3s
/// pkg/daemons/control/deps/deps.go, the agent's kubelet certificates and
/// dynamiclistener's supervisor certificate), with the names and usages its
/// consumers check: what pre-flight issues and verifies.
pub fn k3s_leaves(product: &Product, names: &ClusterNames) -> Vec<LeafSpec> {
    use Usage::{ClientAuth, ServerAuth};
    let product = product.name();
    let leaf =
        |ca: LeafCa, name, cn: String, orgs: &[&'static str], usages: &[Usage], sans| LeafSpec {
            ca: ca.file_stem(),
            name,
            common_name: cn,
            organizations: orgs.to_vec(),
            usages: usages.to_vec(),
            sans,
        };
    let client = |name, cn: String, orgs: &[&'static str]| {
        leaf(LeafCa::Client, name, cn, orgs, &[ClientAuth], Vec::new())
    };
    let masters = &["system:masters"];
    let mut etcd_sans = vec![San::Dns("kine.sock".into())];
    etcd_sans.extend(names.config_sans());
    // The supervisor's servingKubeletCert: the node name and localhost,
    // 127.0.0.1 and the node IPs.
    let mut kubelet_sans = vec![
        San::Dns("localhost".into()),
        San::Ip(IpAddr::from([127, 0, 0, 1])),
    ];
    kubelet_sans.extend(names.node_sans());
    vec![
        leaf(
            LeafCa::Server,
            "kube-apiserver serving",
            "kube-apiserver".into(),
            &[],
            &[ServerAuth],
            names.serving_sans(),
        ),
        leaf(
            LeafCa::Server,
            "supervisor serving",
            product.into(),
            &[],
            &[ServerAuth],
            names.serving_sans(),
        ),
        leaf(
            LeafCa::Server,
            "kubelet serving",
            "node".into(),
            &[],
            &[ServerAuth],
            kubelet_sans,
        ),
        client("admin", "system:admin".into(), masters),
        client(
            "supervisor client",
            format!("system:{product}-supervisor"),
            masters,
        ),
        client("kube-apiserver client", "system:apiserver".into(), masters),
        client(
            "kube-controller-manager",
            "system:kube-controller-manager".into(),
            &[],
        ),
        client("kube-scheduler", "system:kube-scheduler".into(), &[]),
        client("kube-proxy", "system:kube-proxy".into(), &[]),
        client("controller", format!("system:{product}-controller"), &[]),
        client(
            "kubelet client",
            "system:node:node".into(),
            &["system:nodes"],
        ),
        leaf(
            LeafCa::RequestHeader,
            "auth-proxy client",
            "system:auth-proxy".into(),
            &[],
            &[ClientAuth],
            Vec::new(),
        ),
        leaf(
            LeafCa::EtcdServer,
            "etcd server",
            "etcd-server".into(),
            &[],
            &[ServerAuth, ClientAuth],
            etcd_sans.clone(),
        ),
        leaf(
            LeafCa::EtcdServer,
            "etcd client",
            "etcd-client".into(),
            &[],
            &[ClientAuth],
            Vec::new(),
        ),
        leaf(
            LeafCa::EtcdPeer,
            "etcd peer",
            "etcd-peer".into(),
            &[],
            &[ServerAuth, ClientAuth],
            etcd_sans,
        ),
    ]
}

/// How one kind of CA certificate is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaSpec {
    /// The key type of the CA.
    pub key: KeyAlgorithm,
    /// Lifetime in days from issuance.
    pub validity_days: u32,
}

/// The root of a custom tree (`root-ca.pem`).
pub const CUSTOM_ROOT: CaSpec = CaSpec {
    key: KeyAlgorithm::Rsa(4096),
    validity_days: 7300,
};
/// The intermediate of a custom tree (`intermediate-ca.pem`).
pub const CUSTOM_INTERMEDIATE: CaSpec = CaSpec {
    key: KeyAlgorithm::Rsa(4096),
    validity_days: 3700,
};
/// Each of the five leaf CAs of a custom tree.
pub const CUSTOM_LEAF_CA: CaSpec = CaSpec {
    key: KeyAlgorithm::EcdsaP256,
    validity_days: 3700,
};
/// A new service-account signing key, in every layout: what k3s expects first
/// in `service.key`, and what kubeadm and k0s make for `sa.key`.
pub const SERVICE_ACCOUNT_KEY: KeyAlgorithm = KeyAlgorithm::Rsa(2048);

/// File names of the custom tree's root and intermediate, which k3s never reads.
pub mod custom_files {
    /// The root certificate alone.
    pub const ROOT_PEM: &str = "root-ca.pem";
    /// The root key (belongs in a vault).
    pub const ROOT_KEY: &str = "root-ca.key";
    /// The root as a bundle of one.
    pub const ROOT_CRT: &str = "root-ca.crt";
    /// The intermediate certificate alone.
    pub const INTERMEDIATE_PEM: &str = "intermediate-ca.pem";
    /// The intermediate key.
    pub const INTERMEDIATE_KEY: &str = "intermediate-ca.key";
    /// Intermediate + root.
    pub const INTERMEDIATE_CRT: &str = "intermediate-ca.crt";
}

/// The service-account key file under `server/tls`.
pub const SERVICE_KEY_FILE: &str = "service.key";

/// The distribution whose layout the tools follow: it names the default data
/// directory, prefixes CNs, and picks the [`Layout`] (which CAs, which files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Product {
    /// k3s.
    K3s,
    /// RKE2, which shares k3s's layout.
    Rke2,
    /// kubeadm (`/etc/kubernetes/pki`).
    Kubeadm,
    /// k0s (`/var/lib/k0s/pki`).
    K0s,
}

impl Product {
    /// Every product, in the order messages list them.
    pub const ALL: [Product; 4] = [Product::K3s, Product::Rke2, Product::Kubeadm, Product::K0s];

    /// The product called `name` (`k3s`, `rke2`, `kubeadm`, `k0s`); anything
    /// else is refused, as the name goes into certificate subjects and paths.
    pub fn new(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| Error::Product {
                value: name.escape_debug().to_string(),
            })
    }

    /// The name, e.g. `k3s`.
    pub fn name(&self) -> &'static str {
        match self {
            Product::K3s => "k3s",
            Product::Rke2 => "rke2",
            Product::Kubeadm => "kubeadm",
            Product::K0s => "k0s",
        }
    }

    /// Its layout: CA slots, files, service-account slot, join scheme.
    pub fn layout(self) -> Layout {
        match self {
            Product::K3s | Product::Rke2 => crate::layout::k3s(self),
            Product::Kubeadm => crate::layout::kubeadm::layout(),
            Product::K0s => crate::layout::k0s::layout(),
        }
    }

    /// Its default `DATA_DIR`: `/var/lib/rancher/<product>`, `/etc/kubernetes`,
    /// `/var/lib/k0s`.
    pub fn default_data_dir(self) -> PathBuf {
        match self {
            Product::K3s | Product::Rke2 => Path::new("/var/lib/rancher").join(self.name()),
            Product::Kubeadm => PathBuf::from(crate::layout::kubeadm::DEFAULT_DATA_DIR),
            Product::K0s => PathBuf::from(crate::layout::k0s::DEFAULT_DATA_DIR),
        }
    }

    /// Where the CAs live under the data dir: `server/tls` (k3s, RKE2) or
    /// `pki` (kubeadm, k0s).
    pub const fn cert_dir(self) -> &'static str {
        match self {
            Product::K3s | Product::Rke2 => "server/tls",
            Product::Kubeadm | Product::K0s => crate::layout::kubeadm::PKI_DIR,
        }
    }

    /// Where staging dirs go under the data dir by default: `server` (k3s,
    /// RKE2), or the data dir itself (kubeadm, k0s).
    pub const fn staging_parent(self) -> &'static str {
        match self {
            Product::K3s | Product::Rke2 => "server",
            Product::Kubeadm | Product::K0s => "",
        }
    }

    /// Whether it follows k3s's layout (`server/tls`, `rotate-ca`).
    pub fn has_k3s_layout(self) -> bool {
        matches!(self, Product::K3s | Product::Rke2)
    }

    /// Refuses a product whose layout `tool` does not work on yet, with one
    /// line saying so, before it reads or writes anything.
    pub fn require_k3s_layout(self, tool: &str) -> Result<()> {
        match self.has_k3s_layout() {
            true => Ok(()),
            false => Err(Error::Usage {
                problem: format!(
                    "{tool} works on the k3s and RKE2 layouts (server/tls); {} is not one of them",
                    self.name()
                ),
            }),
        }
    }
}

impl std::str::FromStr for Product {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::new(name)
    }
}

/// Where a product keeps its files: `DATA_DIR` and what lies under it.
#[derive(Clone, Debug)]
pub struct DataDir {
    /// `DATA_DIR`.
    pub root: PathBuf,
    /// `PRODUCT`.
    pub product: Product,
}

impl DataDir {
    /// Resolves `PRODUCT` and `DATA_DIR` as the upstream scripts do: a flag wins over
    /// the environment; the product defaults to `k3s` and the data dir to
    /// `/var/lib/rancher/${PRODUCT}`. `env` looks a variable up. An empty value,
    /// flag or variable, counts as unset. A `DATA_DIR` that is not UTF-8 is used
    /// as the path it spells; a `PRODUCT` that is not UTF-8 is refused. Neither
    /// ever falls back to the default, which is the live cluster.
    pub fn resolve(
        data_dir_flag: Option<PathBuf>,
        product_flag: Option<String>,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let product = match product_flag.filter(|p| !p.is_empty()) {
            Some(flag) => Product::new(&flag)?,
            None => match env("PRODUCT") {
                Some(value) => Product::new(value.to_str().ok_or_else(|| Error::Product {
                    value: value.as_encoded_bytes().escape_ascii().to_string(),
                })?)?,
                None => Product::K3s,
            },
        };
        let root = data_dir_flag
            .filter(|d| !d.as_os_str().is_empty())
            .or_else(|| env("DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| Self::default_root(&product));
        Ok(DataDir { root, product })
    }

    /// [`DataDir::resolve`] with this process's environment.
    pub fn from_env(data_dir_flag: Option<PathBuf>, product_flag: Option<String>) -> Result<Self> {
        Self::resolve(data_dir_flag, product_flag, |name| std::env::var_os(name))
    }

    /// The product's default: `/var/lib/rancher/<product>`, `/etc/kubernetes`,
    /// `/var/lib/k0s`.
    pub fn default_root(product: &Product) -> PathBuf {
        product.default_data_dir()
    }

    /// The layout of the product.
    pub fn layout(&self) -> Layout {
        self.product.layout()
    }

    /// Whether this is the product's default location (then k3s reads it at start).
    pub fn is_default(&self) -> bool {
        self.root == Self::default_root(&self.product)
    }

    /// `${DATA_DIR}/server`.
    pub fn server_dir(&self) -> PathBuf {
        self.root.join("server")
    }

    /// Where staging dirs go by default: `${DATA_DIR}/server` for k3s, the data
    /// dir itself for kubeadm and k0s.
    fn staging_parent(&self) -> PathBuf {
        self.root.join(self.product.staging_parent())
    }

    /// `${DATA_DIR}/server/rotate-ca`: where `rotate-default-ca` stages by default.
    pub fn ca_staging_dir(&self) -> PathBuf {
        self.staging_parent().join("rotate-ca")
    }

    /// `${DATA_DIR}/server/rotate-sa` (k3s) or `${DATA_DIR}/rotate-sa`: where
    /// `sa-key-rotate` stages by default.
    pub fn sa_staging_dir(&self) -> PathBuf {
        self.staging_parent().join("rotate-sa")
    }

    /// The directory the distribution reads its CAs from: `${DATA_DIR}/server/tls`
    /// (k3s, RKE2) or `${DATA_DIR}/pki` (kubeadm, k0s).
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join(self.product.cert_dir())
    }

    /// `${DATA_DIR}/server/token`: the server join token.
    pub fn server_token_file(&self) -> PathBuf {
        self.server_dir().join("token")
    }

    /// `${DATA_DIR}/server/agent-token`: the agent join token.
    pub fn agent_token_file(&self) -> PathBuf {
        self.server_dir().join("agent-token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_follow_the_upstream_scripts() {
        let k3s = Product::new("k3s").unwrap();
        assert_eq!(LeafCa::EtcdPeer.file_stem(), "etcd/peer-ca");
        assert_eq!(LeafCa::EtcdPeer.custom_cn(&k3s, 7), "k3s-etcd-peer-ca@7");
        assert_eq!(LeafCa::RequestHeader.cert_file(), "request-header-ca.crt");
        assert_eq!(
            LeafCa::EtcdServer.rotation_root_cn(&k3s, 9),
            "k3s-etcd-server-root@9"
        );
    }

    #[test]
    fn flags_win_over_environment_and_defaults_follow_product() {
        let env = |name: &str| match name {
            "PRODUCT" => Some(OsString::from("rke2")),
            "DATA_DIR" => Some(OsString::new()),
            _ => None,
        };
        let dir = DataDir::resolve(None, None, env).unwrap();
        assert_eq!(dir.root, Path::new("/var/lib/rancher/rke2"));
        assert!(dir.is_default());
        let dir = DataDir::resolve(Some("/x".into()), Some("k3s".into()), env).unwrap();
        assert_eq!(dir.tls_dir(), Path::new("/x/server/tls"));
        assert_eq!(dir.product.name(), "k3s");
        assert!(!dir.is_default());
    }

    #[test]
    fn kubeadm_and_k0s_have_their_own_data_dirs_with_pki_inside() {
        let env = |_: &str| None;
        let kubeadm = DataDir::resolve(None, Some("kubeadm".into()), env).unwrap();
        assert_eq!(kubeadm.root, Path::new("/etc/kubernetes"));
        assert_eq!(kubeadm.tls_dir(), Path::new("/etc/kubernetes/pki"));
        assert_eq!(
            kubeadm.sa_staging_dir(),
            Path::new("/etc/kubernetes/rotate-sa")
        );
        assert!(kubeadm.is_default());
        let env = |name: &str| (name == "PRODUCT").then(|| OsString::from("k0s"));
        let k0s = DataDir::resolve(None, None, env).unwrap();
        assert_eq!(k0s.tls_dir(), Path::new("/var/lib/k0s/pki"));
        let k3s = DataDir::resolve(Some("/x".into()), None, |_| None).unwrap();
        assert_eq!(k3s.sa_staging_dir(), Path::new("/x/server/rotate-sa"));
        assert!(Product::K0s.require_k3s_layout("tool").is_err());
        assert!(Product::Rke2.require_k3s_layout("tool").is_ok());
    }

    /// Issue 10 case 11: any lowercase name was accepted as a product.
    #[test]
    fn only_known_products_are_accepted() {
        assert!(Product::new("k3s,O=evil").is_err());
        assert!(Product::new("").is_err());
        assert!(Product::new("K0s").is_err());
        assert_eq!("rke2".parse::<Product>().unwrap(), Product::Rke2);
    }

    /// Issue 10 case 6: a DATA_DIR or PRODUCT that was not UTF-8 counted as
    /// unset, and the tools fell back to /var/lib/rancher/k3s, the live cluster.
    #[test]
    fn non_utf8_data_dir_or_product_never_falls_back_to_the_live_cluster() {
        use std::os::unix::ffi::OsStringExt as _;
        let odd = OsString::from_vec(b"/tmp/d\xff".to_vec());
        let env = |name: &str| (name == "DATA_DIR").then(|| odd.clone());
        let dir = DataDir::resolve(None, None, env).unwrap();
        assert_eq!(dir.root.as_os_str(), odd.as_os_str());
        let env = |name: &str| (name == "PRODUCT").then(|| OsString::from_vec(b"k3s\xff".to_vec()));
        let err = DataDir::resolve(None, None, env).unwrap_err().to_string();
        assert!(err.contains("unknown product \"k3s\\xff\""), "{err}");
    }

    /// Issue 10 case 11: `--data-dir ""` meant the working directory while
    /// `DATA_DIR=""` meant the default.
    #[test]
    fn empty_flags_mean_what_empty_variables_mean() {
        let env = |_: &str| None;
        let dir = DataDir::resolve(Some(PathBuf::new()), Some(String::new()), env).unwrap();
        assert_eq!(dir.root, Path::new("/var/lib/rancher/k3s"));
        assert_eq!(dir.product, Product::K3s);
    }
}
