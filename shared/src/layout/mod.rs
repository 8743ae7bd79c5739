//! Distributions as data: where each keeps its CAs and keys, what it issues
//! from them, and the few rules it adds. A [`Layout`] is one value per
//! distribution ([`crate::topology::Product::layout`]); the runs read it instead
//! of naming files, so kubeadm and k0s are values here, not copies of the k3s
//! code.
//!
//! | | k3s, RKE2 | kubeadm | k0s |
//! |---|---|---|---|
//! | data dir | `/var/lib/rancher/<p>` | `/etc/kubernetes` | `/var/lib/k0s` |
//! | CAs in | `server/tls` | `pki` | `pki` |
//! | CA slots | five, CN `<p>-<kind>-ca@TS` | `ca`, `front-proxy-ca`, `etcd/ca` with kubeadm's CNs | the same stems with k0s's CNs |
//! | CA files | `X.pem` alone, `X.crt` = [X, chain..., root] | `X.crt` alone, chain in `X-chain.crt` | as kubeadm |
//! | service account | `service.key`: new key first, old keys after | `sa.key` (the one signing key) + `sa.pub` (verify set) | as kubeadm |
//! | join | `K10<hash>::` token | `--discovery-token-ca-cert-hash` | `k0s token pre-shared` |

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::cert::{Certificate, bundle_pem};
use crate::keys::KeyAlgorithm;
use crate::preflight::{ClusterNames, LeafSpec};
use crate::topology::{CUSTOM_LEAF_CA, CaSpec, LeafCa, Product, SERVICE_KEY_FILE, k3s_leaves};

pub mod k0s;
pub mod kubeadm;

/// k3s's (and RKE2's) kubernetes service IP: the first address of its default
/// service CIDR, 10.43.0.0/16.
pub const K3S_DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1));

/// One distribution's PKI layout.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The product it is the layout of.
    pub product: Product,
    /// The default `DATA_DIR`.
    pub default_data_dir: PathBuf,
    /// Where the CAs live under the data dir (`server/tls`, `pki`).
    pub cert_dir: &'static str,
    /// Where staging dirs go under the data dir by default (`server`, or the
    /// data dir itself).
    pub staging_parent: &'static str,
    /// The CAs the distribution signs with, in the order it lists them.
    pub cas: Vec<CaSlot>,
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
    /// Every certificate the distribution issues from its CAs (pre-flight).
    pub leaves: fn(Product, &ClusterNames) -> Vec<LeafSpec>,
    /// What to do instead of overwriting the CAs of a running cluster (a
    /// sentence, for the refusal of an initialised directory).
    pub rotation_advice: &'static str,
    /// What `ca-check expiry` lists.
    pub expiry: ExpiryScheme,
}

impl Layout {
    /// The name messages use for the layout (`k3s`, `rke2`, `kubeadm`, `k0s`).
    pub fn name(&self) -> &'static str {
        self.product.name()
    }

    /// Every certificate the distribution issues from its CAs, for `cluster`.
    pub fn leaves(&self, cluster: &ClusterNames) -> Vec<LeafSpec> {
        (self.leaves)(self.product, cluster)
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

    /// The CA files whose presence marks an initialised cluster.
    pub fn initialised_files(&self, cert_dir: &Path) -> Vec<PathBuf> {
        self.cas
            .iter()
            .flat_map(|ca| [self.cert_file(ca), self.key_file(ca)])
            .map(|name| cert_dir.join(name))
            .collect()
    }
}

/// One CA the distribution signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaSlot {
    /// The file stem under the cert dir (`client-ca`, `etcd/ca`).
    pub stem: String,
    /// How its CN is made.
    pub name: CaName,
}

impl CaSlot {
    /// The CN this run gives the CA.
    pub fn common_name(&self, product: Product, timestamp: u64) -> String {
        match &self.name {
            CaName::K3s(leaf) => leaf.custom_cn(&product, timestamp),
            CaName::Fixed(cn) => (*cn).to_string(),
        }
    }
}

/// How a CA's CN is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaName {
    /// The upstream script's `<product>-<kind>-ca@<timestamp>`.
    K3s(LeafCa),
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
    /// the first, and k0s's signer refuses more); the chain above it,
    /// [issuing..., root], goes into `X-chain.crt` for whoever needs it.
    Single,
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
            CaFiles::Single => {
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

/// What `ca-check expiry` lists for a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryScheme {
    /// Every certificate under the cert dir, and the client certificate
    /// embedded in each of these kubeconfigs found there (k0s keeps
    /// `admin.conf` in `pki/`; k3s has none under `server/tls`).
    Scan {
        /// Kubeconfig file names, relative to the cert dir.
        kubeconfigs: &'static [&'static str],
    },
    /// kubeadm's `certs check-expiration`: a fixed list of named certificates
    /// ([`kubeadm::CERTIFICATES`]) and CAs, the kubeconfigs in the data dir,
    /// an absent file reported as missing.
    Kubeadm,
}

/// The k3s / RKE2 layout (see [`crate::topology`] for its names).
pub fn k3s(product: Product) -> Layout {
    Layout {
        product,
        default_data_dir: product.default_data_dir(),
        cert_dir: product.cert_dir(),
        staging_parent: product.staging_parent(),
        cas: LeafCa::ALL
            .iter()
            .map(|ca| CaSlot {
                stem: ca.file_stem(),
                name: CaName::K3s(*ca),
            })
            .collect(),
        ca_files: CaFiles::Bundle,
        ca_default: CUSTOM_LEAF_CA,
        self_signed_cas: false,
        service_account: SaSlot::KeyFile(SERVICE_KEY_FILE),
        join: JoinScheme::K3sToken,
        join_ca: "server-ca",
        default_service_ip: K3S_DEFAULT_SERVICE_IP,
        leaves: |product, cluster| k3s_leaves(&product, cluster),
        rotation_advice: "To change the CAs of a running cluster, generate into a staging \
                          DATA_DIR and load it with \
                          `k3s certificate rotate-ca --path=<DATA_DIR>/server`",
        expiry: ExpiryScheme::Scan { kubeconfigs: &[] },
    }
}

/// What kubeadm and k0s share: `pki/` under the data dir, kubeadm's three CA
/// stems (with the CNs `common_name` gives), one certificate per `.crt`,
/// `sa.key` + `sa.pub`, RSA-2048 CAs for ten years (both make those by
/// default), the service CIDR 10.96.0.0/12.
fn kubernetes_layout(
    product: Product,
    common_name: fn(kubeadm::KubeadmCa) -> &'static str,
    join: JoinScheme,
    leaves: fn(Product, &ClusterNames) -> Vec<LeafSpec>,
    rotation_advice: &'static str,
    expiry: ExpiryScheme,
) -> Layout {
    Layout {
        product,
        default_data_dir: product.default_data_dir(),
        cert_dir: product.cert_dir(),
        staging_parent: product.staging_parent(),
        cas: kubeadm::KubeadmCa::ALL
            .into_iter()
            .map(|ca| CaSlot {
                stem: ca.stem().to_string(),
                name: CaName::Fixed(common_name(ca)),
            })
            .collect(),
        ca_files: CaFiles::Single,
        ca_default: CaSpec {
            key: KeyAlgorithm::Rsa(2048),
            validity_days: 3650,
        },
        self_signed_cas: true,
        service_account: SaSlot::Pair {
            key: "sa.key",
            public: "sa.pub",
        },
        join,
        join_ca: kubeadm::KubeadmCa::Cluster.stem(),
        default_service_ip: kubeadm::DEFAULT_SERVICE_IP,
        leaves,
        rotation_advice,
        expiry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_product_has_its_files() {
        let k3s = Product::K3s.layout();
        assert_eq!(k3s.cas.len(), 5);
        assert_eq!(k3s.cert_file(&k3s.cas[3]), "etcd/peer-ca.crt");
        let kubeadm = Product::Kubeadm.layout();
        let stems: Vec<&str> = kubeadm.cas.iter().map(|c| c.stem.as_str()).collect();
        assert_eq!(stems, ["ca", "front-proxy-ca", "etcd/ca"]);
        assert_eq!(
            kubeadm.cas[0].common_name(Product::Kubeadm, 1),
            "kubernetes"
        );
        let k0s = Product::K0s.layout();
        let cns: Vec<String> = k0s
            .cas
            .iter()
            .map(|c| c.common_name(Product::K0s, 1))
            .collect();
        assert_eq!(
            cns,
            ["kubernetes-ca", "kubernetes-front-proxy-ca", "etcd-ca"]
        );
        assert_eq!(k0s.default_data_dir, Path::new("/var/lib/k0s"));
        assert_eq!(
            Product::Rke2.layout().default_data_dir,
            Path::new("/var/lib/rancher/rke2")
        );
    }
}
