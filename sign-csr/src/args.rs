//! `sign-csr`'s command line: its flags and their help.

use std::net::IpAddr;
use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};
use shared::runs::sign_csr::CsrProfile;

/// `--profile`: a leaf profile, or `sub-ca` for a subordinate CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileArg {
    /// server, client, peer, kubelet-serving, kubelet-client.
    Leaf(CsrProfile),
    /// A subordinate CA: the offline root's side of a ceremony.
    SubCa,
}

impl std::str::FromStr for ProfileArg {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        if name == "sub-ca" {
            return Ok(ProfileArg::SubCa);
        }
        name.parse()
            .map(ProfileArg::Leaf)
            .map_err(|e: String| format!("{e}, or sub-ca"))
    }
}

shared::tool_args! {
groups(record, pkcs11);
/// Sign certificate signing requests: kubeadm's `certs generate-csr` output
/// (--product kubeadm), any CSR with a server, client or peer profile, or a
/// subordinate CA's request (--profile sub-ca).
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "kubeadm mode (--product kubeadm): signs pki/*.csr, pki/etcd/*.csr and <name>.conf.csr
under --data-dir with pki/ca, pki/front-proxy-ca or pki/etcd/ca as kubeadm would
(subject, key usage, extended key usage, names), writes <base>.crt beside each
key and fills client-certificate-data and certificate-authority-data into each
partial kubeconfig. Names are checked against the cluster's (--node-name,
--advertise-address, --dns-domain, --service-cidr, --allow-san).

Generic mode: --ca-cert FILE --ca-key FILE (or --ca DIR/STEM for DIR/STEM.crt and
DIR/STEM.key, e.g. a k3s server-ca) --profile server|client|peer|kubelet-serving|
kubelet-client --csr PATH, where PATH is one CSR or a directory of *.csr;
certificates go beside as <name>.crt, or to --out (a file, or a directory for a
directory). Its policy: a serving certificate needs a name, and with --allow-san
holds only names the list allows (a kubelet's own node name always); kubelet
profiles need CN=system:node:<name>, O=system:nodes and nothing else; a super-user
group (O=system:masters, kubeadm:cluster-admins) needs --allow-super-user; on k3s
and RKE2 client profiles come from client-ca and serving ones from server-ca.
Kubernetes CSR objects (--ca ... --k8s-csr FILE): each approved object of
`kubectl get csr -o json` is judged as its signerName's signer would judge it
(kubelet-serving: the requesting node's own identity and names;
kube-apiserver-client-kubelet; kube-apiserver-client) and written with
status.certificate set; each refused one is named and not written (exit 1).
Export after `kubectl certificate approve`, load with the printed
`kubectl replace --raw .../status -f FILE`.

Refused, each naming its CSR: a signature that does not verify, CA:TRUE or
keyCertSign asked for, RSA keys under 2048 bits, unknown key types, email/URI
names, DNS names that are not host names (letters, digits, hyphens, dots; a
wildcard only as a whole leftmost label, as in *.apps.example.com), subject
values over RFC 5280's bounds (CN, O, OU: 64 characters), and in kubeadm mode a
subject or a name the file may not carry. A run that would write over a file it
reads (the CA, a CSR) is refused before writing anything. Client
certificates carry no names: those asked for are dropped, with a warning. Only
the names of a CSR are used; usages and validity come from the profile, and a
certificate never outlives its CA.

Subordinate CA (--profile sub-ca --product k3s|rke2|kubeadm|k0s --ca-cert ROOT
--ca-key KEY --csr intermediate-ca.csr): the offline root's side of a ceremony.
The request may ask for CA:TRUE; the profile comes from the flags (--path-len,
--permit, --eku, --days, default 3700, capped at the CA's end), never from the
request. Before signing, the profile is pre-flighted as gen-custom-ca does: the
distribution's CAs are issued under a twin of the certificate and every
certificate it issues (for the default names, --tls-san, --service-cidr,
--dns-domain) is verified as a client that trusts only the root; a profile that
fails is refused naming what it breaks, nothing written. The certificate goes to
--out, or beside the request as <name>.pem.",
    error_code(1, "refused CSRs or bad input; nothing was written")
)]
pub struct Args {
    /// sign a product's CSR layout: kubeadm
    #[argh(option)]
    pub product: Option<String>,

    /// kubeadm's directory (default /etc/kubernetes)
    #[argh(option)]
    pub data_dir: Option<PathBuf>,

    /// the CA certificate (its first certificate signs)
    #[argh(option)]
    pub ca_cert: Option<PathBuf>,

    /// the CA key (may be encrypted: see --password-file), or a key in a
    /// PKCS#11 token as an RFC 7512 URI (pkcs11:token=LABEL;object=LABEL),
    /// which signs there
    #[argh(option)]
    pub ca_key: Option<PathBuf>,

    /// DIR/STEM: the CA in DIR/STEM.crt and DIR/STEM.key (a k3s server-ca, client-ca)
    #[argh(option)]
    pub ca: Option<PathBuf>,

    /// generic mode: server, client, peer, kubelet-serving (CN=system:node:<name>,
    /// O=system:nodes, only the node's names), kubelet-client (same identity), or
    /// sub-ca (a subordinate CA for --product, see below)
    #[argh(option)]
    pub profile: Option<ProfileArg>,

    /// generic mode: a CSR file, or a directory of *.csr files
    #[argh(option)]
    pub csr: Option<PathBuf>,

    /// the output of `kubectl get csr -o json` (one object or a List): each approved
    /// object signed as its signerName's signer would, written as
    /// <name>.signed.json (beside it, or in --out) for kubectl replace --raw
    #[argh(option, arg_name = "FILE")]
    pub k8s_csr: Option<PathBuf>,

    /// generic mode: the certificate file (one CSR) or directory (a directory)
    #[argh(option)]
    pub out: Option<PathBuf>,

    /// lifetime in days (default 365), capped at the CA's end
    #[argh(option)]
    pub days: Option<u32>,

    /// file whose first line is the passphrase of encrypted CA keys; without
    /// it you are asked when stdin is a terminal
    #[argh(option)]
    pub password_file: Option<PathBuf>,

    /// kubeadm: the node name (default: the etcd or kubelet CSR's, else the host name)
    #[argh(option)]
    pub node_name: Option<String>,

    /// kubeadm: networking.serviceSubnet (default 10.96.0.0/12)
    #[argh(option)]
    pub service_cidr: Option<String>,

    /// kubeadm: networking.dnsDomain (default cluster.local)
    #[argh(option)]
    pub dns_domain: Option<String>,

    /// kubeadm: the advertise address (default: the one address the apiserver
    /// and etcd CSRs all ask for)
    #[argh(option)]
    pub advertise_address: Option<IpAddr>,

    /// a name serving certificates may hold: kubeadm, besides the cluster's
    /// (certSANs, the control-plane endpoint); generic, the only ones (a DNS
    /// name, *.domain for one label, an address or a network such as
    /// 10.0.0.0/24); repeatable
    #[argh(option)]
    pub allow_san: Vec<String>,

    /// generic mode: sign a request for a super-user group (system:masters,
    /// kubeadm:cluster-admins), with a warning
    #[argh(switch)]
    pub allow_super_user: bool,

    /// sub-ca: pathLenConstraint of the new CA (default none)
    #[argh(option)]
    pub path_len: Option<u8>,

    /// sub-ca: a DNS name (and the names under it), an address or a network
    /// (10.0.0.0/8) the new CA's nameConstraints permit; repeatable (default:
    /// no name constraints)
    #[argh(option)]
    pub permit: Vec<String>,

    /// sub-ca: extendedKeyUsage of the new CA: serverAuth, clientAuth or both
    /// (default none, which limits nothing)
    #[argh(option)]
    pub eku: Vec<String>,

    /// sub-ca: a name the cluster's API server is reached by (as k3s
    /// --tls-san), which the profile must permit; repeatable
    #[argh(option)]
    pub tls_san: Vec<String>,

    /// show what would be signed and written, write nothing
    #[argh(switch)]
    pub dry_run: bool,
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_san_repeats_and_profiles_parse() {
        let args = Args::from_args(
            &["sign-csr"],
            &[
                "--product",
                "kubeadm",
                "--allow-san",
                "a.example",
                "--allow-san",
                "192.0.2.1",
            ],
        )
        .unwrap();
        assert_eq!(args.allow_san, ["a.example", "192.0.2.1"]);
        let args =
            Args::from_args(&["sign-csr"], &["--profile", "peer", "--csr", "x.csr"]).unwrap();
        assert_eq!(args.profile, Some(ProfileArg::Leaf(CsrProfile::Peer)));
        let args = Args::from_args(&["sign-csr"], &["--profile", "sub-ca"]).unwrap();
        assert_eq!(args.profile, Some(ProfileArg::SubCa));
        assert!(Args::from_args(&["sign-csr"], &["--profile", "ca"]).is_err());
    }
}
