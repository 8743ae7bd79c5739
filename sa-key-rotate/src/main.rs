//! `sa-key-rotate`: stage a service-account signing key rotation for
//! `k3s certificate rotate-ca`: a new RSA key first, every current key after it.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use shared::error::stdout_result;
use shared::lock::lock_target;
use shared::plan::Outcome;
use shared::sa_rotation::{SaRotationOptions, SaRotationRun, plan_sa_rotation};
use shared::staging::{self, rotate_ca_command};
use shared::topology::{DataDir, SERVICE_KEY_FILE};

/// Stage a service-account key rotation: <staging>/tls/service.key holds a new
/// RSA key (PKCS#1) first, then the current keys byte for byte, so tokens signed
/// so far keep verifying. All files are written, or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads ${{DATA_DIR}}/server/tls/service.key (or --current) and never writes into
server/tls. Keys are read like Kubernetes' keyutil reads them: PKCS#1, PKCS#8 and
SEC1 private keys and PKIX public keys; any other block is an error naming it.
Then run `k3s certificate rotate-ca --path=<staging>` and restart the servers.

Environment: DATA_DIR (default /var/lib/rancher/${{PRODUCT}}), PRODUCT (default k3s);
the flags win over them.",
    error_code(1, "bad input or a failed write; nothing was changed")
)]
struct Args {
    /// data directory (default: $DATA_DIR, else /var/lib/rancher/$PRODUCT)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// product: k3s or rke2 (default: $PRODUCT, else k3s)
    #[argh(option)]
    product: Option<String>,

    /// the current key file (default: $DATA_DIR/server/tls/service.key)
    #[argh(option)]
    current: Option<PathBuf>,

    /// staging directory; the key goes to its tls/service.key (default: $DATA_DIR/server/rotate-sa)
    #[argh(option)]
    output: Option<PathBuf>,

    /// size of the new RSA key: 2048 (default), 3072 or 4096
    #[argh(option, default = "2048")]
    bits: usize,

    /// keep at most N keys in total, the new one included, dropping the oldest (N >= 2)
    #[argh(option)]
    keep: Option<usize>,

    /// also write the public keys of the new set, newest first (PEM "PUBLIC KEY", like sa.pub)
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

fn run(args: Args) -> shared::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let staging_dir = args
        .output
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| data_dir.sa_staging_dir());
    // Refused before the lock creates the staging dir.
    staging::tls_dir(&staging_dir, &data_dir.tls_dir())?;
    // Held from the first check until the report is printed.
    let lock = lock_target(&data_dir, &staging_dir, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let options = SaRotationOptions {
        current: args
            .current
            .unwrap_or_else(|| data_dir.tls_dir().join(SERVICE_KEY_FILE)),
        live_tls: data_dir.tls_dir(),
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
        "Staged service-account key rotation ({}):",
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
        writeln!(
            out,
            "  kept  {:<8}  {}  from {} block #{}",
            key.algorithm.to_string(),
            key.fingerprint(),
            options.current.display(),
            key.block
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
    writeln!(
        out,
        "Load it, then restart every {} server:",
        data_dir.product.name()
    )?;
    writeln!(
        out,
        "  {}",
        rotate_ca_command(data_dir.product, staging_dir)
    )?;
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
