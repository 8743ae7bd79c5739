//! `gen-custom-ca`'s command line: its flags and their help.

use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};
use shared::pki::keys::GeneratedKey;
use shared::pki::keys::pkcs11::Pkcs11Uri;

shared::tool_args! {
groups(data_dir, cluster_names, record, pkcs11);
/// Generate a custom CA tree: root (RSA-4096, 7300 days), intermediate (RSA-4096,
/// 3700 days) and the CAs the distribution reads: for k3s/RKE2 the five leaf CAs
/// (ECDSA-P256, 3700 days) and service.key in ${DATA_DIR}/server/tls; for kubeadm
/// and k0s ca, front-proxy-ca, etcd/ca (RSA-2048, 3650 days), sa.key and sa.pub in
/// ${DATA_DIR}/pki. All files are written, or none.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Inputs, looked up in ${{DATA_DIR}}/ first, then in ${{DATA_DIR}}/server/tls/ (k3s)
or ${{DATA_DIR}}/pki/ (kubeadm, k0s):
  nothing                     a new root and intermediate are made
  root-ca.pem + root-ca.key   your root signs a new intermediate
  root-ca.pem + intermediate-ca.pem + intermediate-ca.key
                              your issuing CA signs the CAs (no root key needed);
                              intermediate-ca.pem may hold the issuing CA followed by the
                              CAs above it (a chain of any depth)
  service.key (k3s)           kept after the new key, byte for byte
  sa.key (kubeadm, k0s)       reused as the signing key, as kubeadm and k0s reuse it
kubeadm and k0s: each .crt holds one certificate; the chain above it goes into
X-chain.crt. --self-signed-cas makes each CA self-signed instead (kubeadm's own
topology).
Keys: RSA, ECDSA P-256/P-384/P-521 or Ed25519, as PKCS#1, SEC1 or PKCS#8, encrypted
(PKCS#8 or OpenSSL's traditional form) or not; an encrypted key is written back as
it came. Every input is checked first (PEM, CA:TRUE, keyCertSign, validity, key
matches certificate, each link of the chain), then every kind of certificate k3s
issues (or kubeadm, or k0s) is issued in memory and verified as a client that
trusts only root-ca.pem does (path length, name constraints, extended key usage,
validity). On any problem nothing is written.

A ceremony with your PKI (request, then finish): --request-intermediate --subject
'CN=...' writes intermediate-ca.key (the pending key, encrypted with --encrypt-keys)
and intermediate-ca.csr into the cert dir and prints what the signed certificate
must allow (CA:TRUE, keyCertSign, path length, EKU, names for name constraints).
Put the returned intermediate-ca.pem and root-ca.pem in ${{DATA_DIR}}/ and run
again: the pending key is the issuing CA's, and the run above finishes the tree. A
generated root's key goes to --root-key-out DIR instead of the tree, when given.

Algorithms: RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384 (any case). A CA
never outlives the CA above it: its end is capped and you are told.

A directory that already holds the distribution's CA files belongs to an
initialised cluster: it is refused unless --force. To change the CAs of a running
k3s cluster, generate into a staging DATA_DIR and load it with
`k3s certificate rotate-ca --path=<DATA_DIR>/server`.",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
pub struct Args {

    /// key type of a generated root (default RSA-4096)
    #[argh(option)]
    pub root_algorithm: Option<GeneratedKey>,

    /// key type of a generated intermediate (default RSA-4096)
    #[argh(option)]
    pub intermediate_algorithm: Option<GeneratedKey>,

    /// key type of the CAs the distribution signs with (default ECDSA-P256 for
    /// k3s's five, RSA-2048 for kubeadm's and k0s's three)
    #[argh(option)]
    pub leaf_ca_algorithm: Option<GeneratedKey>,

    /// lifetime of a generated root in days (default 7300)
    #[argh(option)]
    pub root_days: Option<u32>,

    /// lifetime of a generated intermediate in days (default 3700)
    #[argh(option)]
    pub intermediate_days: Option<u32>,

    /// lifetime of the CAs the distribution signs with in days (default 3700
    /// for k3s, 3650 for kubeadm and k0s)
    #[argh(option)]
    pub leaf_ca_days: Option<u32>,

    /// kubeadm and k0s: make each CA self-signed (kubeadm's own topology)
    /// instead of signing them under one root
    #[argh(switch)]
    pub self_signed_cas: bool,

    /// file whose first line is the passphrase of encrypted input keys (and of
    /// --encrypt-keys); without it you are asked when stdin is a terminal
    #[argh(option)]
    pub password_file: Option<PathBuf>,

    /// write the root and intermediate keys this run generates encrypted
    /// (PKCS#8, PBKDF2-SHA256 + AES-256-CBC); the keys the distribution reads
    /// stay in the clear
    #[argh(switch)]
    pub encrypt_keys: bool,

    /// the root's key in a PKCS#11 token, as an RFC 7512 URI
    /// (pkcs11:token=LABEL;object=LABEL or ;id=%XX..): it signs there and no
    /// file holds it; with root-ca.pem it must be that certificate's key
    #[argh(option)]
    pub root_key: Option<Pkcs11Uri>,
    /// the first half of a ceremony with your PKI: make the issuing CA's key
    /// (encrypted with --encrypt-keys) and intermediate-ca.csr in the cert dir,
    /// print what the signed certificate must allow, write nothing else; run
    /// again with the returned intermediate-ca.pem and root-ca.pem to finish
    #[argh(switch)]
    pub request_intermediate: bool,

    /// write a generated root's key to DIR/root-ca.key (removable media)
    /// instead of the cert dir, so the tree for the cluster never holds it;
    /// DIR must lie outside the data dir and hold no root-ca.key yet
    #[argh(option, arg_name = "DIR")]
    pub root_key_out: Option<PathBuf>,

    /// with --request-intermediate: the issuing CA's subject, RFC 4514
    /// (e.g. 'CN=Cluster Issuing CA,O=Example Corp')
    #[argh(option)]
    pub subject: Option<String>,


    /// the intermediate's key in a PKCS#11 token (as --root-key)
    #[argh(option)]
    pub intermediate_key: Option<Pkcs11Uri>,

    /// make the keys --root-key and --intermediate-key name inside the token
    /// (sensitive, never extractable) for a new root or intermediate, of
    /// --root-algorithm and --intermediate-algorithm; without it they must
    /// already be there
    #[argh(switch)]
    pub generate_in_token: bool,

    /// the live cluster's data directory, for a staging tree (DATA_DIR other than
    /// the default): its service.key is carried forward and the tree is checked
    /// with rotate-ca's rules against it (default: the product's default data
    /// directory, when it exists)
    #[argh(option)]
    pub live_data_dir: Option<PathBuf>,

    /// replace the CAs of a directory that already has them
    #[argh(switch)]
    pub force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    pub dry_run: bool,
}
}
