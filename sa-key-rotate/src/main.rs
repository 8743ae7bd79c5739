//! `sa-key-rotate`: stage a service-account signing key rotation: for
//! `k3s certificate rotate-ca`, a new RSA key first, every current key after
//! it; for kubeadm and k0s, a new `sa.key` and an `sa.pub` holding the new
//! public key first, then the current ones, with the four steps that use them.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::DataDir;
use shared::pki::error::{Result, stdout_result};
use shared::report;
use shared::runs::sa_rotation::{SaRequest, rotate_sa};

/// Stage a service-account key rotation. k3s/RKE2: <staging>/tls/service.key
/// holds a new RSA key (PKCS#1) first, then the current keys byte for byte, so
/// tokens signed so far keep verifying. kubeadm/k0s: <staging>/pki/sa.key is the
/// new key alone and <staging>/pki/sa.pub its public key first, then the current
/// ones. All files are written, or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads ${{DATA_DIR}}/server/tls/service.key (or --current) and never writes into
server/tls; for kubeadm and k0s reads ${{DATA_DIR}}/pki/sa.key and sa.pub and never
writes into pki. Keys are read like Kubernetes' keyutil reads them: PKCS#1, PKCS#8
and SEC1 private keys and PKIX public keys; any other block is an error naming it.
k3s: then run `k3s certificate rotate-ca --path=<staging>` and restart the servers.
kubeadm and k0s: the four steps to follow are printed (verify set first, then the
signing key, wait, then drop the old keys).

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

    /// the current key file (default: $DATA_DIR/server/tls/service.key, or
    /// $DATA_DIR/pki/sa.key; kubeadm and k0s read sa.pub beside the live one)
    #[argh(option)]
    current: Option<PathBuf>,

    /// staging directory; the keys go to its tls/ (k3s) or pki/ (default:
    /// $DATA_DIR/server/rotate-sa, or $DATA_DIR/rotate-sa)
    #[argh(option)]
    output: Option<PathBuf>,

    /// size of the new RSA key: 2048 (default), 3072 or 4096
    #[argh(option, default = "2048")]
    bits: usize,

    /// keep at most N keys in total, the new one included, dropping the oldest (N >= 2)
    #[argh(option)]
    keep: Option<usize>,

    /// k3s: also write the public keys of the new set, newest first (PEM "PUBLIC KEY", like sa.pub)
    #[argh(option)]
    public_out: Option<PathBuf>,

    /// replace an existing staged file
    #[argh(switch)]
    force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "sa-key-rotate";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> Result<()> {
    let request = SaRequest {
        data_dir: DataDir::from_env(args.data_dir, args.product)?,
        current: args.current,
        staging_dir: args.output,
        bits: args.bits,
        keep: args.keep,
        public_out: args.public_out,
        force: args.force,
        dry_run: args.dry_run,
    };
    rotate_sa(TOOL, request, |run, outcome| {
        stdout_result(report::sa_rotation::write(
            &mut io::stdout().lock(),
            run,
            outcome,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_k3s_docs() {
        let args = Args::from_args(&["sa-key-rotate"], &[]).unwrap();
        assert_eq!(args.bits, 2048);
        assert_eq!(args.keep, None);
        assert!(!args.force && !args.dry_run);
        let args = Args::from_args(&["sa-key-rotate"], &["--keep", "3", "--bits", "4096"]).unwrap();
        assert_eq!((args.keep, args.bits), (Some(3), 4096));
        assert!(Args::from_args(&["sa-key-rotate"], &["--bits", "big"]).is_err());
    }
}
