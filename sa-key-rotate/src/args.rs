//! `sa-key-rotate`'s command line: its flags and their help.

use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};

shared::tool_args! {
groups(data_dir, record);
/// Stage a service-account key rotation. k3s/RKE2: <staging>/tls/service.key
/// holds a new RSA key (PKCS#1) first, then the current keys byte for byte, so
/// tokens signed so far keep verifying. kubeadm/k0s: <staging>/pki/sa.key is the
/// new key alone and <staging>/pki/sa.pub its public key first, then the current
/// ones. All files are written, or none.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads ${{DATA_DIR}}/server/tls/service.key (or --current) and never writes into
server/tls; for kubeadm and k0s reads ${{DATA_DIR}}/pki/sa.key and sa.pub and never
writes into pki. Keys are read like Kubernetes' keyutil reads them: PKCS#1, PKCS#8
and SEC1 private keys and PKIX public keys; any other block is an error naming it.
k3s: then run `k3s certificate rotate-ca --path=<staging>` and restart the servers.
kubeadm and k0s: the four steps to follow are printed (verify set first, then the
signing key, wait, then drop the old keys).",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
pub struct Args {

    /// the current key file (default: $DATA_DIR/server/tls/service.key, or
    /// $DATA_DIR/pki/sa.key; kubeadm and k0s read sa.pub beside the live one)
    #[argh(option)]
    pub current: Option<PathBuf>,

    /// staging directory; the keys go to its tls/ (k3s) or pki/ (default:
    /// $DATA_DIR/server/rotate-sa, or $DATA_DIR/rotate-sa)
    #[argh(option)]
    pub output: Option<PathBuf>,

    /// size of the new RSA key: 2048 (default), 3072 or 4096
    #[argh(option, default = "2048")]
    pub bits: usize,

    /// keep at most N keys in total, the new one included, dropping the oldest (N >= 2)
    #[argh(option)]
    pub keep: Option<usize>,

    /// k3s: also write the public keys of the new set, newest first (PEM "PUBLIC KEY", like sa.pub)
    #[argh(option)]
    pub public_out: Option<PathBuf>,

    /// replace an existing staged file
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
