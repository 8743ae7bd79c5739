//! Distributions as data: where each keeps its CAs and keys, what it issues
//! from them, and the few rules it adds. The k3s/RKE2 layout still lives in
//! [`crate::topology`]; kubeadm is the first value here, k0s follows.
pub mod kubeadm;
