//! `DATA_DIR` and `PRODUCT`, resolved as the upstream scripts resolve them,
//! and every directory the tools read or write under them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{JoinScheme, Layout, Product, k3s};
use crate::pki::error::{Error, Kind, Result};

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
                Some(value) => Product::new(value.to_str().ok_or_else(|| {
                    let escaped = value.as_encoded_bytes().escape_ascii().to_string();
                    Error::new(Kind::Product(escaped))
                })?)?,
                None => Product::K3s,
            },
        };
        let root = data_dir_flag
            .filter(|d| !d.as_os_str().is_empty())
            .or_else(|| env("DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| Self::default_root(product));
        Ok(DataDir { root, product })
    }

    /// [`DataDir::resolve`] with this process's environment.
    pub fn from_env(data_dir_flag: Option<PathBuf>, product_flag: Option<String>) -> Result<Self> {
        Self::resolve(data_dir_flag, product_flag, |name| std::env::var_os(name))
    }

    /// The product's default: `/var/lib/rancher/<product>`, `/etc/kubernetes`,
    /// `/var/lib/k0s`.
    pub fn default_root(product: Product) -> PathBuf {
        PathBuf::from(product.layout().default_data_dir)
    }

    /// Refuses a data directory that does not exist, so that a mistyped
    /// `--data-dir` or `--product` is named as such and not as the first file
    /// missing under it.
    pub fn must_exist(&self) -> Result<()> {
        match std::fs::metadata(&self.root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::at(
                self.root.as_path(),
                Kind::Inputs(format!(
                    "not a directory; the {} data directory is expected here (--data-dir)",
                    self.product.name()
                )),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::at(
                self.root.as_path(),
                Kind::Inputs(format!(
                    "the {} data directory does not exist (check --data-dir and --product)",
                    self.product.name()
                )),
            )),
            // Anything else (no permission to look) is left to the first read,
            // whose error names the file and the cause.
            Err(_) => Ok(()),
        }
    }

    /// [`DataDir::must_exist`], and the layout's cert dir in it: a data
    /// directory the distribution has not run from holds no CAs to read, and
    /// saying so beats naming the first file missing in it.
    pub fn must_have_cert_dir(&self) -> Result<()> {
        self.must_exist()?;
        let tls = self.tls_dir();
        match std::fs::metadata(&tls) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::at(
                tls.as_path(),
                Kind::Inputs(format!(
                    "the {product} certificate directory does not exist: has {product} run \
                     with this data directory? (check --data-dir and --product)",
                    product = self.product.name()
                )),
            )),
            // A file here, or no permission to look: the first read says which.
            _ => Ok(()),
        }
    }

    /// The same product's data directory at `root`.
    pub fn at(&self, root: PathBuf) -> Self {
        DataDir {
            root,
            product: self.product,
        }
    }

    /// The layout of the product.
    pub fn layout(&self) -> &'static Layout {
        self.product.layout()
    }

    /// Whether this is the product's default location (then k3s reads it at start).
    pub fn is_default(&self) -> bool {
        self.root == Self::default_root(self.product)
    }

    /// Whether a tree written here is a staging tree for a running cluster:
    /// a layout that rotates with `rotate-ca --path`, outside its default
    /// data dir (which the distribution reads at first start).
    pub fn stages_rotate_ca(&self) -> bool {
        self.layout().rotates_with_rotate_ca() && !self.is_default()
    }

    /// The directory holding the cert dir: `${DATA_DIR}/server` for k3s, what
    /// `rotate-ca --path` takes for a tree written under a staging `DATA_DIR`.
    pub fn cert_parent(&self) -> PathBuf {
        let tls = self.tls_dir();
        tls.parent()
            .map_or_else(|| self.root.clone(), Path::to_path_buf)
    }

    /// Where staging dirs go by default: `${DATA_DIR}/server` for k3s, the data
    /// dir itself for kubeadm and k0s.
    fn staging_parent(&self) -> PathBuf {
        self.root.join(self.layout().staging_parent)
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

    /// Every directory the tools write into for this data dir by default: the
    /// data dir itself and the default staging dirs, where an interrupted
    /// commit may wait to be finished.
    pub fn written_dirs(&self) -> [PathBuf; 3] {
        [
            self.root.clone(),
            self.ca_staging_dir(),
            self.sa_staging_dir(),
        ]
    }

    /// The directory the distribution reads its CAs from: `${DATA_DIR}/server/tls`
    /// (k3s, RKE2) or `${DATA_DIR}/pki` (kubeadm, k0s).
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join(self.layout().cert_dir)
    }

    /// The join-token files that carry the CA hash (k3s's `server/token` and
    /// `server/agent-token`); none for layouts that join otherwise.
    pub fn token_files(&self) -> Vec<PathBuf> {
        match self.layout().join {
            JoinScheme::K3sToken => k3s::TOKEN_FILES
                .iter()
                .map(|name| self.root.join(name))
                .collect(),
            JoinScheme::KubeadmDiscovery | JoinScheme::K0sPreShared => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        assert_eq!(dir.cert_parent(), Path::new("/x/server"));
        assert_eq!(dir.product.name(), "k3s");
        assert!(!dir.is_default());
        assert_eq!(
            dir.token_files(),
            [
                Path::new("/x/server/token"),
                Path::new("/x/server/agent-token")
            ]
        );
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
        assert!(kubeadm.token_files().is_empty());
        let env = |name: &str| (name == "PRODUCT").then(|| OsString::from("k0s"));
        let k0s = DataDir::resolve(None, None, env).unwrap();
        assert_eq!(k0s.tls_dir(), Path::new("/var/lib/k0s/pki"));
        let k3s = DataDir::resolve(Some("/x".into()), None, |_| None).unwrap();
        assert_eq!(k3s.sa_staging_dir(), Path::new("/x/server/rotate-sa"));
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
