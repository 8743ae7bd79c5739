//! `rotate-default-ca`: stage a cross-signed rotation of k3s's self-signed CAs for
//! `k3s certificate rotate-ca`, and print the join tokens k3s will expect.
//! A drop-in for `rotate-default-ca-certs.sh` that never touches the live tls dir.
//! For kubeadm and k0s, stage their three CAs with the transition files of
//! their manual procedures, and print those procedures with the real paths.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::DataDir;
use shared::pki::error::{Result, stdout_result};
use shared::pki::keys::GeneratedKey;
use shared::report;
use shared::runs::rotation::{RotationRequest, rotate};

/// Stage a rotation of k3s's self-signed CAs: per CA a new P-256 root, self-signed
/// and cross-signed by the current root, and a new intermediate; plus a new
/// service-account key in front of the current ones. Writes <staging>/tls/ for
/// `k3s certificate rotate-ca --path=<staging>`; all files or none. kubeadm and
/// k0s: per CA (ca, front-proxy-ca, etcd/ca) a new CA, also cross-signed by the
/// current one, and the old+new bundles of the manual procedure, in
/// <staging>/pki/, and the procedure to follow.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads the current CAs from ${{DATA_DIR}}/server/tls (kubeadm, k0s:
${{DATA_DIR}}/pki) and never writes there. The staging directory defaults to
${{DATA_DIR}}/server/rotate-ca (kubeadm, k0s: ${{DATA_DIR}}/rotate-ca); an existing
non-empty one is refused unless --force (a staged rotation may already be loaded).
After a rotation, load it and restart every server before rotating again.

Clusters built with custom CAs (root/intermediate chain) are refused: rotate
them with gen-custom-ca and the same root.

Environment: DATA_DIR (default /var/lib/rancher/${{PRODUCT}}, /etc/kubernetes for
kubeadm, /var/lib/k0s for k0s), PRODUCT (default k3s); the flags win over them.",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
struct Args {
    /// data directory (default: $DATA_DIR, else the product's: /var/lib/rancher/$PRODUCT,
    /// /etc/kubernetes, /var/lib/k0s)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// product: k3s, rke2, kubeadm or k0s (default: $PRODUCT, else k3s)
    #[argh(option)]
    product: Option<String>,

    /// staging directory; files go into its tls/ or pki/ (default:
    /// $DATA_DIR/server/rotate-ca, or $DATA_DIR/rotate-ca)
    #[argh(option)]
    output: Option<PathBuf>,

    /// kubeadm and k0s: key type of the new CAs (default: each current CA's,
    /// else RSA-2048)
    #[argh(option)]
    algorithm: Option<GeneratedKey>,

    /// replace a non-empty staging directory
    #[argh(switch)]
    force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "rotate-default-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> Result<()> {
    let request = RotationRequest {
        data_dir: DataDir::from_env(args.data_dir, args.product)?,
        staging_dir: args.output,
        algorithm: args.algorithm,
        force: args.force,
        dry_run: args.dry_run,
    };
    rotate(TOOL, request, |run, outcome| {
        stdout_result(report::rotation::write(
            &mut io::stdout().lock(),
            run,
            outcome,
        ))
    })
}
