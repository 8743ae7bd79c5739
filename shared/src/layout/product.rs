//! The distributions the tools know, each naming its [`Layout`].

use super::{Layout, k0s, k3s, kubeadm};
use crate::pki::error::{Error, Kind, Result};

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

    /// Its layout: CA slots, files, service-account slot, join and rotation
    /// schemes. The one place that matches on the product.
    pub fn layout(self) -> &'static Layout {
        match self {
            Product::K3s => &k3s::K3S,
            Product::Rke2 => &k3s::RKE2,
            Product::Kubeadm => &kubeadm::LAYOUT,
            Product::K0s => &k0s::LAYOUT,
        }
    }

    /// The product called `name` (`k3s`, `rke2`, `kubeadm`, `k0s`, in any
    /// case); anything else is refused. Subjects and paths use [`Self::name`],
    /// never the text given.
    pub fn new(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::new(Kind::Product(name.escape_debug().to_string())))
    }

    /// The name, e.g. `k3s`.
    pub fn name(self) -> &'static str {
        self.layout().name
    }
}

impl std::str::FromStr for Product {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 11: any lowercase name was accepted as a product.
    #[test]
    fn only_known_products_are_accepted() {
        assert!(Product::new("k3s,O=evil").is_err());
        assert!(Product::new("").is_err());
        assert!(Product::new("k3s ").is_err());
        assert!(Product::new("kubeadm\n").is_err());
        assert_eq!("rke2".parse::<Product>().unwrap(), Product::Rke2);
        for product in Product::ALL {
            assert_eq!(Product::new(product.name()).unwrap(), product);
        }
    }

    /// Issue 21: `--product K3S` was refused though algorithm names are
    /// accepted in any case; the product's own name is still what paths use.
    #[test]
    fn product_names_are_accepted_in_any_case() {
        assert_eq!(Product::new("K3S").unwrap(), Product::K3s);
        assert_eq!(Product::new("Rke2").unwrap(), Product::Rke2);
        assert_eq!(Product::new("KubeAdm").unwrap(), Product::Kubeadm);
        assert_eq!(Product::new("K0s").unwrap().name(), "k0s");
    }
}
