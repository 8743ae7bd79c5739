//! `gen-custom-ca`: generate the custom CA tree k3s and RKE2 read at first start.
//! A drop-in for `generate-custom-ca-certs.sh`: same inputs and outputs, but it
//! checks every input first and writes all files or none.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::custom_ca::{CustomCaOptions, CustomCaRun, Origin, plan_custom_ca};
use shared::error::{Error, stdout_result};
use shared::keys::{GeneratedKey, KeyAlgorithm, PassphraseSource, Passphrases};
use shared::lock::lock_target;
use shared::plan::Outcome;
use shared::preflight::ClusterNames;
use shared::staging::rotate_ca_command;
use shared::token::token_prefix;
use shared::topology::{CaSpec, DataDir};

/// Generate a k3s/RKE2 custom CA tree: root (RSA-4096, 7300 days), intermediate
/// (RSA-4096, 3700 days), the five leaf CAs k3s reads (ECDSA-P256, 3700 days) and
/// service.key, into ${DATA_DIR}/server/tls. All files are written, or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Inputs, looked up in ${{DATA_DIR}}/ first, then in ${{DATA_DIR}}/server/tls/:
  nothing                     a new root and intermediate are made
  root-ca.pem + root-ca.key   your root signs a new intermediate
  root-ca.pem + intermediate-ca.pem + intermediate-ca.key
                              your issuing CA signs the leaf CAs (no root key needed);
                              intermediate-ca.pem may hold the issuing CA followed by the
                              CAs above it (a chain of any depth)
  service.key                 kept after the new key, byte for byte
Keys: RSA, ECDSA P-256/P-384/P-521 or Ed25519, as PKCS#1, SEC1 or PKCS#8, encrypted
(PKCS#8 or OpenSSL's traditional form) or not; an encrypted key is written back as
it came. Every input is checked first (PEM, CA:TRUE, keyCertSign, validity, key
matches certificate, each link of the chain), then every kind of certificate k3s
issues is issued in memory and verified as a client that trusts only root-ca.pem
does (path length, name constraints, extended key usage, validity). On any problem
nothing is written.

Algorithms: RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384 (any case). A CA
never outlives the CA above it: its end is capped and you are told.

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

    /// key type of a generated root (default RSA-4096)
    #[argh(option)]
    root_algorithm: Option<GeneratedKey>,

    /// key type of a generated intermediate (default RSA-4096)
    #[argh(option)]
    intermediate_algorithm: Option<GeneratedKey>,

    /// key type of the five leaf CAs (default ECDSA-P256)
    #[argh(option)]
    leaf_ca_algorithm: Option<GeneratedKey>,

    /// lifetime of a generated root in days (default 7300)
    #[argh(option)]
    root_days: Option<u32>,

    /// lifetime of a generated intermediate in days (default 3700)
    #[argh(option)]
    intermediate_days: Option<u32>,

    /// lifetime of the five leaf CAs in days (default 3700)
    #[argh(option)]
    leaf_ca_days: Option<u32>,

    /// file whose first line is the passphrase of encrypted input keys (and of
    /// --encrypt-keys); without it you are asked when stdin is a terminal
    #[argh(option)]
    password_file: Option<PathBuf>,

    /// write the root and intermediate keys this run generates encrypted
    /// (PKCS#8, PBKDF2-SHA256 + AES-256-CBC); the keys k3s reads stay in the clear
    #[argh(switch)]
    encrypt_keys: bool,

    /// an extra name the cluster is reached by, as given to k3s --tls-san
    /// (repeatable); pre-flight checks it against name constraints
    #[argh(option)]
    tls_san: Vec<String>,

    /// the cluster domain, as given to k3s --cluster-domain (default cluster.local)
    #[argh(option)]
    cluster_domain: Option<String>,

    /// the service CIDR(s), as given to k3s --service-cidr (default 10.43.0.0/16)
    #[argh(option)]
    service_cidr: Option<String>,

    /// the live cluster's data directory, for a staging tree (DATA_DIR other than
    /// the default): its service.key is carried forward and the tree is checked
    /// with rotate-ca's rules against it (default: the product's default data
    /// directory, when it exists)
    #[argh(option)]
    live_data_dir: Option<PathBuf>,

    /// replace the leaf CAs of a tls directory that already has them
    #[argh(switch)]
    force: bool,

    /// show what would be written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "gen-custom-ca";

fn main() -> ExitCode {
    shared::cli::main(TOOL, |args| run(args).map(|()| true))
}

fn run(args: Args) -> shared::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let now = shared::clock::now()?;
    // Held from the first check until the report is printed.
    let lock = lock_target(&data_dir, &data_dir.root, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let mut options = CustomCaOptions::new(data_dir.clone(), now);
    options.force = args.force;
    let spec = |default: CaSpec, key: Option<GeneratedKey>, days: Option<u32>, flag: &str| {
        if days == Some(0) {
            return Err(Error::Usage {
                problem: format!("--{flag}-days must be at least 1"),
            });
        }
        Ok(CaSpec {
            key: key.map_or(default.key, GeneratedKey::algorithm),
            validity_days: days.unwrap_or(default.validity_days),
        })
    };
    options.root = spec(options.root, args.root_algorithm, args.root_days, "root")?;
    options.intermediate = spec(
        options.intermediate,
        args.intermediate_algorithm,
        args.intermediate_days,
        "intermediate",
    )?;
    options.leaf_ca = spec(
        options.leaf_ca,
        args.leaf_ca_algorithm,
        args.leaf_ca_days,
        "leaf-ca",
    )?;
    options.passphrases = Passphrases::new(PassphraseSource::from_flag(args.password_file));
    options.encrypt_keys = args.encrypt_keys;
    if !data_dir.is_default() {
        let live = DataDir {
            root: args
                .live_data_dir
                .unwrap_or_else(|| DataDir::default_root(&data_dir.product)),
            product: data_dir.product,
        };
        options.live_tls = Some(live.tls_dir()).filter(|tls| tls.is_dir());
    }
    options.cluster = ClusterNames::k3s_from_flags(
        args.tls_san,
        args.cluster_domain,
        args.service_cidr.as_deref(),
    )?;
    let run = plan_custom_ca(&options)?;
    for warning in &run.warnings {
        eprintln!("{TOOL}: warning: {warning}");
    }
    let outcome = run.plan.write(&lock, args.dry_run)?;
    stdout_result(print_report(&run, &data_dir, &outcome))
}

fn print_report(run: &CustomCaRun, data_dir: &DataDir, outcome: &Outcome<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let origin = |(o, algorithm): &(Origin, KeyAlgorithm)| match o {
        Origin::Generated => format!("generated, {algorithm}"),
        Origin::Reused(path) => format!("reused from {}, {algorithm}", path.display()),
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
    if run.chain_above_intermediate > 0 {
        writeln!(
            out,
            "  chain:           {} CA(s) between the intermediate and the root, in every bundle",
            run.chain_above_intermediate
        )?;
    }
    writeln!(
        out,
        "  leaf CAs:        client, server, request-header, etcd/peer, etcd/server (generated, {})",
        run.leaf_ca
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
    if let Some(path) = &run.service_key_carried {
        writeln!(out)?;
        writeln!(
            out,
            "service.key carries the live keys of {} after the new one, as rotate-ca requires.",
            path.display()
        )?;
    }
    if !data_dir.is_default() {
        let command = format!(
            "  {}",
            rotate_ca_command(data_dir.product, &data_dir.server_dir())
        );
        writeln!(out)?;
        match &run.rotate_ca {
            Some(Ok(())) => {
                writeln!(
                    out,
                    "Checked against the live tls dir with rotate-ca's rules: it will be accepted. Load it with:"
                )?;
                writeln!(out, "{command}")?;
            }
            Some(Err(refusals)) => {
                writeln!(
                    out,
                    "k3s certificate rotate-ca would refuse this staging tree:"
                )?;
                for refusal in refusals {
                    writeln!(out, "  {refusal}")?;
                }
                writeln!(
                    out,
                    "(a tree from another root needs `rotate-ca --force`, which breaks every certificate the current CAs issued)"
                )?;
            }
            None => {
                writeln!(
                    out,
                    "To update certificates on an existing cluster, you may now run:"
                )?;
                writeln!(out, "{command}")?;
            }
        }
    }
    Ok(())
}
