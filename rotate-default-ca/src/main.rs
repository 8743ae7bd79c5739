//! `rotate-default-ca`: stage a cross-signed rotation of k3s's self-signed CAs for
//! `k3s certificate rotate-ca`, and print the join tokens k3s will expect.
//! A drop-in for `rotate-default-ca-certs.sh` that never touches the live tls dir.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::error::stdout_result;
use shared::lock::lock_target;
use shared::plan::Outcome;
use shared::rotation::{RotationOptions, RotationRun, TokenUpdate, plan_rotation};
use shared::staging::{self, rotate_ca_command};
use shared::token::token_prefix;
use shared::topology::DataDir;

/// Stage a rotation of k3s's self-signed CAs: per CA a new P-256 root, self-signed
/// and cross-signed by the current root, and a new intermediate; plus a new
/// service-account key in front of the current ones. Writes <staging>/tls/ for
/// `k3s certificate rotate-ca --path=<staging>`; all files or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Reads the current CAs from ${{DATA_DIR}}/server/tls and never writes there.
The staging directory defaults to ${{DATA_DIR}}/server/rotate-ca; an existing
non-empty one is refused unless --force (a staged rotation may already be loaded).
After a rotation, load it and restart every server before rotating again.

Clusters built with custom CAs (root/intermediate chain) are refused: rotate
them with gen-custom-ca and the same root.

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

    /// staging directory; files go into its tls/ (default: $DATA_DIR/server/rotate-ca)
    #[argh(option)]
    output: Option<PathBuf>,

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

fn run(args: Args) -> shared::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    data_dir.product.require_k3s_layout(TOOL)?;
    let staging_dir = args
        .output
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| data_dir.ca_staging_dir());
    let now = shared::clock::now()?;
    // Refused before the lock creates the staging dir.
    staging::tls_dir(&staging_dir, &data_dir.tls_dir())?;
    // Held from the first check until the report is printed.
    let lock = lock_target(&data_dir, &staging_dir, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let options = RotationOptions {
        data_dir: data_dir.clone(),
        staging_dir: staging_dir.clone(),
        force: args.force,
        now,
    };
    let run = plan_rotation(&options)?;
    let outcome = run.plan.write(&lock, args.dry_run)?;
    stdout_result(print_report(&run, &data_dir, &staging_dir, &outcome))
}

fn print_report(
    run: &RotationRun,
    data_dir: &DataDir,
    staging_dir: &std::path::Path,
    outcome: &Outcome<'_>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let verb = outcome.verb();
    writeln!(
        out,
        "Staged rotation of {}'s self-signed CAs in {} ({verb}):",
        data_dir.product.name(),
        run.staged_tls_dir.display()
    )?;
    for rotated in &run.rotated {
        writeln!(
            out,
            "  {:<22} old root \"{}\" cross-signs new root \"{}\"; new intermediate \"{}\"",
            rotated.ca.cert_file(),
            rotated.old_root.subject_cn(),
            rotated.new_root.subject_cn(),
            rotated.intermediate.subject_cn()
        )?;
    }
    writeln!(
        out,
        "  {:<22} new RSA-2048 key first, {} current key(s) kept",
        "service.key", run.service_keys_kept
    )?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    if !run.notes.is_empty() {
        writeln!(out)?;
        for note in &run.notes {
            writeln!(out, "note: {note}")?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Join token CA hash of the new server-ca.crt (what k3s will compute):"
    )?;
    writeln!(out, "  {}", token_prefix(&run.ca_hash))?;
    writeln!(out, "Updated tokens, valid once the rotation is loaded:")?;
    let generic = format!("{}<user>:<password>", token_prefix(&run.ca_hash));
    for update in &run.tokens {
        match update {
            TokenUpdate::Updated { path, token } => writeln!(out, "  {}: {token}", path.display())?,
            TokenUpdate::Missing { path } => {
                writeln!(out, "  {} is missing: tokens are {generic}", path.display())?;
            }
            TokenUpdate::Unusable(error) => writeln!(out, "  {error}: tokens are {generic}")?,
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Load the rotation, then restart every {} server:",
        data_dir.product.name()
    )?;
    writeln!(
        out,
        "  {}",
        rotate_ca_command(data_dir.product, staging_dir)
    )?;
    Ok(())
}
