//! `kubeconfig-user`'s command line: its flags and their help.

use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};
use shared::pki::keys::GeneratedKey;

shared::tool_args! {
    groups(data_dir, record);
    /// Write a kubeconfig for a person (as `kubeadm kubeconfig user` does),
    /// signed by the CA the API server checks clients against: k3s and RKE2
    /// server/tls/client-ca, kubeadm and k0s pki/ca.
    #[derive(FromArgs, ArgsInfo, Debug)]
    #[argh(
        help_triggers("-h", "--help"),
        note = "The kubeconfig (mode 0600, written whole or not at all) holds one cluster, one
user and the context <user>@<cluster>, current, with the data embedded as
kubectl's --embed-certs writes it: the server's CA bundle (k3s server-ca.crt,
else ca.crt), the client certificate and its key. The server defaults to the
admin kubeconfig's (k3s /etc/rancher/k3s/k3s.yaml, else https://127.0.0.1:6443;
kubeadm admin.conf; k0s pki/admin.conf), the cluster name to the distribution's
(default, kubernetes, local).

With --csr the user's own CSR is signed (its subject is what --user and --group
say) and the file has no client-key-data: the key never leaves its owner, who
adds it with kubectl config set-credentials NAME --client-key=KEY --embed-certs.

Refused: system:masters and kubeadm:cluster-admins without --allow-super-user
(members may do anything, and a certificate cannot be revoked: bind a role to
the user instead), other system: groups, and system: user names (nodes,
service accounts, components: sign their CSRs with sign-csr). The certificate
is clientAuth only, no names, 7 days by default, never past its CA's end.",
        error_code(1, "refused or bad input; nothing was written")
    )]
    pub struct Args {
        /// the user name (the certificate's CN), as RBAC will see it
        #[argh(option)]
        pub user: Option<String>,

        /// a group (O) the user is in, as RBAC will see it; repeatable
        #[argh(option)]
        pub group: Vec<String>,

        /// the kubeconfig file to write
        #[argh(option)]
        pub out: Option<PathBuf>,

        /// lifetime in days (default 7), capped at the CA's end
        #[argh(option)]
        pub days: Option<u32>,

        /// the API server URL (default: the admin kubeconfig's)
        #[argh(option)]
        pub server: Option<String>,

        /// the cluster's name in the kubeconfig (default: the distribution's)
        #[argh(option)]
        pub cluster_name: Option<String>,

        /// the new key: ECDSA-P256 (default), ECDSA-P384, RSA-2048, RSA-3072, RSA-4096
        #[argh(option)]
        pub key_algorithm: Option<GeneratedKey>,

        /// the user's own CSR: sign its key, write no client-key-data
        #[argh(option)]
        pub csr: Option<PathBuf>,

        /// file whose first line is the passphrase of an encrypted CA key;
        /// without it you are asked when stdin is a terminal
        #[argh(option)]
        pub password_file: Option<PathBuf>,

        /// allow system:masters or kubeadm:cluster-admins (warned even then)
        #[argh(switch)]
        pub allow_super_user: bool,

        /// replace --out if it exists (whole: its other contexts are lost)
        #[argh(switch)]
        pub force: bool,

        /// show what would be written, write nothing
        #[argh(switch)]
        pub dry_run: bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_repeat_and_key_algorithms_parse() {
        let args = Args::from_args(
            &["kubeconfig-user"],
            &[
                "--user",
                "alice",
                "--group",
                "dev",
                "--group",
                "ops",
                "--key-algorithm",
                "rsa-3072",
            ],
        )
        .unwrap();
        assert_eq!(args.group, ["dev", "ops"]);
        assert_eq!(args.key_algorithm.unwrap().to_string(), "RSA-3072");
        assert!(!args.allow_super_user);
        assert!(Args::from_args(&["kubeconfig-user"], &["--key-algorithm", "dsa"]).is_err());
    }
}
