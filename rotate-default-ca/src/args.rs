//! `rotate-default-ca`'s command line: its flags and their help.

use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};
use shared::pki::keys::GeneratedKey;

shared::tool_args! {
groups(data_dir, record);
/// Stage a rotation of k3s's self-signed CAs: per CA a new P-256 root, self-signed
/// and cross-signed by the current root, and a new intermediate; plus a new
/// service-account key in front of the current ones. Writes <staging>/tls/ for
/// `k3s certificate rotate-ca --path=<staging>`; all files or none. kubeadm and
/// k0s: per CA (ca, front-proxy-ca, etcd/ca) a new CA, also cross-signed by the
/// current one, and the old+new bundles of the manual procedure, in
/// <staging>/pki/, and the procedure to follow.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads the current CAs from ${{DATA_DIR}}/server/tls (kubeadm, k0s:
${{DATA_DIR}}/pki) and never writes there. The staging directory defaults to
${{DATA_DIR}}/server/rotate-ca (kubeadm, k0s: ${{DATA_DIR}}/rotate-ca); an existing
non-empty one is refused unless --force (a staged rotation may already be loaded).
After a rotation, load it and restart every server, then every agent, before
rotating again.

Clusters built with custom CAs (root/intermediate chain) are refused: rotate
them with gen-custom-ca and the same root.",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
pub struct Args {

    /// staging directory; files go into its tls/ or pki/ (default:
    /// $DATA_DIR/server/rotate-ca, or $DATA_DIR/rotate-ca)
    #[argh(option)]
    pub output: Option<PathBuf>,

    /// kubeadm and k0s: key type of the new CAs (default: each current CA's,
    /// else RSA-2048)
    #[argh(option)]
    pub algorithm: Option<GeneratedKey>,

    /// replace a non-empty staging directory
    #[argh(switch)]
    pub force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    pub dry_run: bool,
}
}
