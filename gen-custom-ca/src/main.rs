//! `gen-custom-ca`: generate the custom CA tree k3s and RKE2 read at first start.
//! A drop-in for `generate-custom-ca-certs.sh`: same inputs and outputs, but it
//! checks every input first and writes all files or none.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::custom_ca::{CustomCaOptions, CustomCaRun, Origin, plan_custom_ca};
use shared::error::{exit_code, stdout_result};
use shared::lock::lock_target;
use shared::plan::Outcome;
use shared::staging::rotate_ca_command;
use shared::token::token_prefix;
use shared::topology::DataDir;

/// Generate a k3s/RKE2 custom CA tree: root (RSA-4096, 7300 days), intermediate
/// (RSA-4096, 3700 days), the five leaf CAs k3s reads (EC P-256, 3700 days) and
/// service.key, into ${DATA_DIR}/server/tls. All files are written, or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Inputs, looked up in ${{DATA_DIR}}/ first, then in ${{DATA_DIR}}/server/tls/:
  nothing                     a new root and intermediate are made
  root-ca.pem + root-ca.key   your root signs a new intermediate
  root-ca.pem + intermediate-ca.pem + intermediate-ca.key
                              your intermediate signs the leaf CAs (no root key needed)
  service.key                 kept after the new key, byte for byte
Every input is checked first (PEM, CA:TRUE, validity, key matches certificate,
intermediate issued by the root); on any problem nothing is written.

A tls directory that already holds leaf CA files belongs to an initialised cluster:
it is refused unless --force. To change the CAs of a running cluster, generate into
a staging DATA_DIR and load it with `k3s certificate rotate-ca --path=<DATA_DIR>/server`.

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

    /// replace the leaf CAs of a tls directory that already has them
    #[argh(switch)]
    force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "gen-custom-ca";

fn main() -> ExitCode {
    exit_code(TOOL, run(argh::from_env()).map(|()| true))
}

fn run(args: Args) -> shared::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let now = shared::clock::now()?;
    // Held from the first check until the report is printed.
    let lock = lock_target(&data_dir, &data_dir.root, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let options = CustomCaOptions {
        data_dir: data_dir.clone(),
        force: args.force,
        now,
    };
    let run = plan_custom_ca(&options)?;
    for warning in &run.warnings {
        eprintln!("{TOOL}: warning: {warning}");
    }
    let outcome = run.plan.write(&lock, args.dry_run)?;
    stdout_result(print_report(&run, &data_dir, &outcome))
}

fn print_report(run: &CustomCaRun, data_dir: &DataDir, outcome: &Outcome<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let origin = |o: &Origin| match o {
        Origin::Generated => "generated".to_string(),
        Origin::Reused(path) => format!("reused from {}", path.display()),
    };
    writeln!(
        out,
        "{} custom CA tree in {} ({}):",
        data_dir.product.name(),
        run.tls_dir.display(),
        outcome.verb()
    )?;
    writeln!(out, "  root CA:         {}", origin(&run.root))?;
    writeln!(out, "  intermediate CA: {}", origin(&run.intermediate))?;
    writeln!(
        out,
        "  leaf CAs:        client, server, request-header, etcd/peer, etcd/server (generated)"
    )?;
    writeln!(
        out,
        "  service.key:     new RSA-2048 key first, {} existing key(s) kept",
        run.service_keys_kept
    )?;
    writeln!(out)?;
    write!(out, "{outcome}")?;
    writeln!(out)?;
    writeln!(
        out,
        "Join token CA hash (what k3s computes from server-ca.crt):"
    )?;
    writeln!(out, "  {}", token_prefix(&run.ca_hash))?;
    writeln!(
        out,
        "  tokens for this cluster are {}<user>:<password>",
        token_prefix(&run.ca_hash)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Make a secure copy of these files and remove them from cluster members:"
    )?;
    for path in &run.vault_files {
        writeln!(out, "  {}", path.display())?;
    }
    if !data_dir.is_default() {
        writeln!(out)?;
        writeln!(
            out,
            "To update certificates on an existing cluster, you may now run:"
        )?;
        writeln!(
            out,
            "  {}",
            rotate_ca_command(data_dir.product, &data_dir.server_dir())
        )?;
    }
    Ok(())
}
