//! `sa-key-rotate`: stage a service-account signing key rotation: for
//! `k3s certificate rotate-ca`, a new RSA key first, every current key after
//! it; for kubeadm and k0s, a new `sa.key` and an `sa.pub` holding the new
//! public key first, then the current ones, with the four steps that use them.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::SaSlot;
use shared::layout::k3s::rotate_ca_command;
use shared::layout::{DataDir, Product};
use shared::pki::error::stdout_result;
use shared::pki::text::shell_quote;
use shared::runs::sa_rotation::{SaRotationOptions, SaRotationRun, plan_sa_rotation};
use shared::store::lock::lock_target;
use shared::store::plan::Outcome;
use shared::store::staging;

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

fn run(args: Args) -> shared::pki::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let staging_dir = args
        .output
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| data_dir.sa_staging_dir());
    let live = data_dir.tls_dir();
    // Refused before the lock creates the staging dir.
    staging::cert_dir(&staging_dir, &live)?;
    // Held from the first check until the report is printed.
    let written = data_dir.written_dirs();
    let lock = lock_target(
        written.iter().map(PathBuf::as_path),
        &staging_dir,
        TOOL,
        args.dry_run,
    )?;
    lock.report_recovered(TOOL);
    let slot = data_dir.layout().service_account;
    let (key, public) = match slot {
        SaSlot::KeyFile(name) => (name, None),
        SaSlot::Pair { key, public } => (key, Some(live.join(public))),
    };
    let options = SaRotationOptions {
        slot,
        current: args.current.unwrap_or_else(|| live.join(key)),
        current_public: public,
        live_tls: live.clone(),
        staging_dir: staging_dir.clone(),
        bits: args.bits,
        keep: args.keep,
        public_out: args.public_out,
        force: args.force,
    };
    let run = plan_sa_rotation(&options)?;
    let outcome = run.plan.write(&lock, args.dry_run)?;
    stdout_result(print_report(
        &run,
        &options,
        &outcome,
        &data_dir,
        &staging_dir,
    ))
}

fn print_report(
    run: &SaRotationRun,
    options: &SaRotationOptions,
    outcome: &Outcome<'_>,
    data_dir: &DataDir,
    staging_dir: &Path,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "Staged service-account key rotation, {} layout ({}):",
        data_dir.product.name(),
        outcome.verb()
    )?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(out, "Keys (SHA-256 of the SubjectPublicKeyInfo), in order:")?;
    writeln!(
        out,
        "  new   RSA-{}  {}  signs new tokens",
        options.bits, run.new_fingerprint
    )?;
    for key in &run.kept {
        let note = match (&options.slot, run.signing.as_ref()) {
            (SaSlot::Pair { .. }, Some(signing)) if *signing == key.public_key_der => {
                "signs today".to_string()
            }
            (SaSlot::Pair { .. }, _) => "verifies tokens already issued".to_string(),
            (SaSlot::KeyFile(_), _) => {
                format!("from {} block #{}", options.current.display(), key.block)
            }
        };
        writeln!(
            out,
            "  kept  {:<8}  {}  {note}",
            key.algorithm.to_string(),
            key.fingerprint(),
        )?;
    }
    for key in &run.dropped {
        writeln!(
            out,
            "  drop  {:<8}  {}  tokens signed with it stop verifying",
            key.algorithm.to_string(),
            key.fingerprint()
        )?;
    }
    writeln!(out)?;
    match (options.slot, &run.staged_public) {
        (SaSlot::Pair { key, public }, Some(staged_public)) => {
            let live = data_dir.tls_dir();
            let q = |path: &Path| shell_quote(path.as_os_str());
            print_procedure(
                &mut out,
                data_dir.product,
                &Procedure {
                    staged_key: q(&run.staged_file),
                    staged_public: q(staged_public),
                    live_key: q(&live.join(key)),
                    live_public: q(&live.join(public)),
                },
            )?;
        }
        _ => {
            writeln!(
                out,
                "Load it, then restart every {} server:",
                data_dir.product.name()
            )?;
            writeln!(
                out,
                "  {}",
                rotate_ca_command(data_dir.layout(), staging_dir)
            )?;
        }
    }
    Ok(())
}

/// The shell-quoted paths of a kubeadm or k0s rotation.
struct Procedure {
    staged_key: String,
    staged_public: String,
    live_key: String,
    live_public: String,
}

/// The four steps of a service-account key rotation that never breaks a token
/// (kubernetes/kubernetes#34029): verify set first, then the signing key, wait,
/// then drop the old keys.
fn print_procedure(out: &mut impl io::Write, product: Product, p: &Procedure) -> io::Result<()> {
    let (nodes, restart_apiserver, restart_both) = match product {
        Product::K0s => (
            "every controller",
            "restart k0s (systemctl restart k0scontroller)",
            "restart k0s (systemctl restart k0scontroller)",
        ),
        _ => (
            "every control-plane node",
            "restart kube-apiserver",
            "restart kube-apiserver and kube-controller-manager",
        ),
    };
    writeln!(
        out,
        "Rotate in four steps, each on {nodes} before the next (sa.key and sa.pub stay identical on all):"
    )?;
    writeln!(
        out,
        "  1. Verify set first: the new public key joins the keys that verify tokens; tokens are"
    )?;
    writeln!(out, "     still signed with the current sa.key.")?;
    writeln!(
        out,
        "       install -m 0644 {} {}",
        p.staged_public, p.live_public
    )?;
    writeln!(out, "     then {restart_apiserver}.")?;
    writeln!(
        out,
        "  2. Then the signing key, once every node has the new sa.pub:"
    )?;
    writeln!(
        out,
        "       install -m 0600 {} {}",
        p.staged_key, p.live_key
    )?;
    writeln!(out, "     then {restart_both}.")?;
    if product == Product::Kubeadm {
        writeln!(
            out,
            "     Control-plane nodes that join later take the keys kubeadm uploaded: run\n     \
             `kubeadm init phase upload-certs --upload-certs` again after this step."
        )?;
    }
    writeln!(
        out,
        "  3. Wait until tokens signed with the old key are gone: projected tokens are refreshed"
    )?;
    writeln!(
        out,
        "     within their lifetime (an hour by default, at most --service-account-max-token-expiration);"
    )?;
    writeln!(
        out,
        "     legacy Secret-based tokens must be re-issued or deleted."
    )?;
    writeln!(
        out,
        "  4. Then drop the old keys: sa.pub keeps only the signing key's public key,"
    )?;
    writeln!(
        out,
        "       openssl pkey -in {} -pubout -out {}",
        p.live_key, p.live_public
    )?;
    writeln!(out, "     then {restart_apiserver}.")?;
    Ok(())
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
