//! `gen-custom-ca`: generate the custom CA tree k3s and RKE2 read at first start,
//! or the CA set kubeadm and k0s read from `pki/`. For k3s a drop-in for
//! `generate-custom-ca-certs.sh`: same inputs and outputs, but it checks every
//! input first and writes all files or none.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::k3s::rotate_ca_command;
use shared::layout::k3s::token::token_prefix;
use shared::layout::{CaName, SaSlot};
use shared::layout::{CaSpec, DataDir};
use shared::pki::error::{Error, stdout_result};
use shared::pki::keys::{GeneratedKey, KeyAlgorithm, PassphraseSource, Passphrases};
use shared::pki::text::shell_quote;
use shared::runs::custom_ca::{
    CustomCaOptions, CustomCaRun, Join, Origin, ServiceAccount, plan_custom_ca,
};
use shared::store::lock::lock_target;
use shared::store::plan::Outcome;

/// Generate a custom CA tree: root (RSA-4096, 7300 days), intermediate (RSA-4096,
/// 3700 days) and the CAs the distribution reads: for k3s/RKE2 the five leaf CAs
/// (ECDSA-P256, 3700 days) and service.key in ${DATA_DIR}/server/tls; for kubeadm
/// and k0s ca, front-proxy-ca, etcd/ca (RSA-2048, 3650 days), sa.key and sa.pub in
/// ${DATA_DIR}/pki. All files are written, or none.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Inputs, looked up in ${{DATA_DIR}}/ first, then in ${{DATA_DIR}}/server/tls/ (k3s)
or ${{DATA_DIR}}/pki/ (kubeadm, k0s):
  nothing                     a new root and intermediate are made
  root-ca.pem + root-ca.key   your root signs a new intermediate
  root-ca.pem + intermediate-ca.pem + intermediate-ca.key
                              your issuing CA signs the CAs (no root key needed);
                              intermediate-ca.pem may hold the issuing CA followed by the
                              CAs above it (a chain of any depth)
  service.key (k3s)           kept after the new key, byte for byte
  sa.key (kubeadm, k0s)       reused as the signing key, as kubeadm and k0s reuse it
kubeadm and k0s: each .crt holds one certificate; the chain above it goes into
X-chain.crt. --self-signed-cas makes each CA self-signed instead (kubeadm's own
topology).
Keys: RSA, ECDSA P-256/P-384/P-521 or Ed25519, as PKCS#1, SEC1 or PKCS#8, encrypted
(PKCS#8 or OpenSSL's traditional form) or not; an encrypted key is written back as
it came. Every input is checked first (PEM, CA:TRUE, keyCertSign, validity, key
matches certificate, each link of the chain), then every kind of certificate k3s
issues (or kubeadm, or k0s) is issued in memory and verified as a client that
trusts only root-ca.pem does (path length, name constraints, extended key usage,
validity). On any problem nothing is written.

Algorithms: RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384 (any case). A CA
never outlives the CA above it: its end is capped and you are told.

A directory that already holds the distribution's CA files belongs to an
initialised cluster: it is refused unless --force. To change the CAs of a running
k3s cluster, generate into a staging DATA_DIR and load it with
`k3s certificate rotate-ca --path=<DATA_DIR>/server`.

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

    /// key type of a generated root (default RSA-4096)
    #[argh(option)]
    root_algorithm: Option<GeneratedKey>,

    /// key type of a generated intermediate (default RSA-4096)
    #[argh(option)]
    intermediate_algorithm: Option<GeneratedKey>,

    /// key type of the CAs the distribution signs with (default ECDSA-P256 for
    /// k3s's five, RSA-2048 for kubeadm's and k0s's three)
    #[argh(option)]
    leaf_ca_algorithm: Option<GeneratedKey>,

    /// lifetime of a generated root in days (default 7300)
    #[argh(option)]
    root_days: Option<u32>,

    /// lifetime of a generated intermediate in days (default 3700)
    #[argh(option)]
    intermediate_days: Option<u32>,

    /// lifetime of the CAs the distribution signs with in days (default 3700
    /// for k3s, 3650 for kubeadm and k0s)
    #[argh(option)]
    leaf_ca_days: Option<u32>,

    /// kubeadm and k0s: make each CA self-signed (kubeadm's own topology)
    /// instead of signing them under one root
    #[argh(switch)]
    self_signed_cas: bool,

    /// file whose first line is the passphrase of encrypted input keys (and of
    /// --encrypt-keys); without it you are asked when stdin is a terminal
    #[argh(option)]
    password_file: Option<PathBuf>,

    /// write the root and intermediate keys this run generates encrypted
    /// (PKCS#8, PBKDF2-SHA256 + AES-256-CBC); the keys the distribution reads
    /// stay in the clear
    #[argh(switch)]
    encrypt_keys: bool,

    /// an extra name the cluster is reached by, as given to k3s --tls-san
    /// (kubeadm: apiServer.certSANs; repeatable); pre-flight checks it against
    /// name constraints
    #[argh(option)]
    tls_san: Vec<String>,

    /// the cluster domain, as given to k3s --cluster-domain (default cluster.local)
    #[argh(option)]
    cluster_domain: Option<String>,

    /// the service CIDR(s), as given to k3s --service-cidr (default 10.43.0.0/16;
    /// kubeadm and k0s 10.96.0.0/12)
    #[argh(option)]
    service_cidr: Option<String>,

    /// a node's name, as given to k3s --node-name (default its host name;
    /// repeatable, k3s and RKE2): pre-flight checks it in the serving, etcd and
    /// kubelet serving certificates
    #[argh(option)]
    node_name: Vec<String>,

    /// a node's address, as given to k3s --node-ip (repeatable, k3s and RKE2):
    /// checked as --node-name is
    #[argh(option)]
    node_ip: Vec<IpAddr>,

    /// the live cluster's data directory, for a staging tree (DATA_DIR other than
    /// the default): its service.key is carried forward and the tree is checked
    /// with rotate-ca's rules against it (default: the product's default data
    /// directory, when it exists)
    #[argh(option)]
    live_data_dir: Option<PathBuf>,

    /// replace the CAs of a directory that already has them
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

fn run(args: Args) -> shared::pki::error::Result<()> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let now = shared::pki::clock::now()?;
    // Held from the first check until the report is printed.
    let written = data_dir.written_dirs();
    let lock = lock_target(
        written.iter().map(PathBuf::as_path),
        &data_dir.root,
        TOOL,
        args.dry_run,
    )?;
    lock.report_recovered(TOOL);
    let mut options = CustomCaOptions::new(data_dir.clone(), now);
    options.force = args.force;
    options.self_signed_cas = args.self_signed_cas;
    let spec = |default: CaSpec, key: Option<GeneratedKey>, days: Option<u32>, flag: &str| {
        if days == Some(0) {
            return Err(Error::usage(format!("--{flag}-days must be at least 1")));
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
    if data_dir.stages_rotate_ca() {
        let live = data_dir.at(args
            .live_data_dir
            .unwrap_or_else(|| DataDir::default_root(data_dir.product)));
        options.live_tls = Some(live.tls_dir()).filter(|tls| tls.is_dir());
    }
    options.cluster = options
        .cluster
        .clone()
        .with_flags(
            args.tls_san,
            args.cluster_domain,
            args.service_cidr.as_deref(),
        )?
        .with_nodes(data_dir.layout(), args.node_name, args.node_ip)?;
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
    let layout = &run.layout;
    writeln!(
        out,
        "{} custom CA tree in {} ({} layout, {}):",
        data_dir.product.name(),
        run.tls_dir.display(),
        layout.name(),
        outcome.verb()
    )?;
    match (&run.root, &run.intermediate) {
        (Some(root), Some(intermediate)) => {
            writeln!(out, "  root CA:         {}", origin(root))?;
            writeln!(out, "  intermediate CA: {}", origin(intermediate))?;
        }
        _ => writeln!(
            out,
            "  root CA:         none: each CA below is self-signed (--self-signed-cas)"
        )?,
    }
    if run.chain_above_intermediate > 0 {
        writeln!(
            out,
            "  chain:           {} CA(s) between the intermediate and the root, in every chain",
            run.chain_above_intermediate
        )?;
    }
    let names: Vec<String> = layout
        .cas
        .iter()
        .map(|ca| match ca.name {
            CaName::Stamped(_) => ca.stem.to_string(),
            CaName::Fixed(cn) => format!("{} (CN {cn})", ca.stem),
        })
        .collect();
    writeln!(
        out,
        "  {:<9}        {} (generated, {})",
        format!("{}:", layout.cas_title),
        names.join(", "),
        run.leaf_ca
    )?;
    match &run.service_account {
        ServiceAccount::KeyFile { kept } => writeln!(
            out,
            "  service.key:     new RSA-2048 key first, {kept} existing key(s) kept"
        )?,
        ServiceAccount::Pair { reused: Some(path) } => writeln!(
            out,
            "  sa.key, sa.pub:  the signing key reused from {}, sa.pub its public key",
            path.display()
        )?,
        ServiceAccount::Pair { reused: None } => writeln!(
            out,
            "  sa.key, sa.pub:  a new RSA-2048 signing key, sa.pub its public key"
        )?,
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    print_join(&mut out, run, data_dir)?;
    if !run.chain_files.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Each .crt holds one certificate ({} reads only the first); the chain above each CA,",
            layout.name()
        )?;
        writeln!(
            out,
            "[intermediate, ..., root], is in its -chain.crt file. Clients that trust only"
        )?;
        writeln!(
            out,
            "root-ca.pem need it: servers must send it after their certificate (append it to"
        )?;
        writeln!(
            out,
            "the leaf file, e.g. apiserver.crt or etcd/server.crt), or such clients take it as"
        )?;
        writeln!(out, "intermediates:")?;
        for path in &run.chain_files {
            writeln!(out, "  {}", path.display())?;
        }
    }
    if !run.vault_files.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Make a secure copy of these files and remove them from cluster members:"
        )?;
        for path in &run.vault_files {
            writeln!(out, "  {}", path.display())?;
        }
    }
    if let Some(path) = &run.service_key_carried {
        writeln!(out)?;
        writeln!(
            out,
            "service.key carries the live keys of {} after the new one, as rotate-ca requires.",
            path.display()
        )?;
    }
    if data_dir.stages_rotate_ca() {
        print_rotate_ca(&mut out, run, data_dir)?;
    }
    Ok(())
}

/// How nodes join with the new CAs: k3s's token prefix, kubeadm's discovery
/// hashes and next commands, k0s's shared set and pre-shared token.
fn print_join(out: &mut impl io::Write, run: &CustomCaRun, data_dir: &DataDir) -> io::Result<()> {
    writeln!(out)?;
    let pki = shell_quote(run.tls_dir.as_os_str());
    match &run.join {
        Join::K3s { ca_hash } => {
            writeln!(
                out,
                "Join token CA hash (what k3s computes from server-ca.crt):"
            )?;
            writeln!(out, "  {}", token_prefix(ca_hash))?;
            writeln!(
                out,
                "  tokens for this cluster are {}<user>:<password>",
                token_prefix(ca_hash)
            )?;
        }
        Join::Kubeadm { discovery_hashes } => {
            writeln!(
                out,
                "Discovery hash of ca.crt (SHA-256 of its SubjectPublicKeyInfo), for kubeadm join:"
            )?;
            for hash in discovery_hashes {
                writeln!(out, "  --discovery-token-ca-cert-hash {hash}")?;
            }
            writeln!(out)?;
            writeln!(
                out,
                "Next, on the first control-plane node (kubeadm uses these CAs and sa.key instead of making its own):"
            )?;
            let cert_dir = match data_dir.is_default() {
                true => String::new(),
                false => format!(" --cert-dir {pki}"),
            };
            writeln!(out, "  kubeadm init --upload-certs{cert_dir}")?;
            writeln!(
                out,
                "then join nodes with the token it prints (--upload-certs shares the CAs and sa.key with"
            )?;
            writeln!(
                out,
                "control-plane nodes that join with --control-plane --certificate-key <key>):"
            )?;
            let hashes: Vec<String> = discovery_hashes
                .iter()
                .map(|hash| format!("--discovery-token-ca-cert-hash {hash}"))
                .collect();
            writeln!(
                out,
                "  kubeadm join <endpoint>:6443 --token <token> {}",
                hashes.join(" ")
            )?;
        }
        Join::K0s { ca_cert } => {
            let SaSlot::Pair { key, public } = run.layout.service_account else {
                return Ok(());
            };
            let mut shared: Vec<String> = run
                .layout
                .cas
                .iter()
                .flat_map(|ca| [run.layout.cert_file(ca), run.layout.key_file(ca)])
                .collect();
            shared.extend([key.to_string(), public.to_string()]);
            writeln!(
                out,
                "Every controller needs this same set in {}/pki before its first start",
                data_dir.layout().default_data_dir
            )?;
            writeln!(
                out,
                "(k0s hands only ca.* and sa.* to joining controllers, and makes its own front-proxy-ca):"
            )?;
            writeln!(out, "  {}", shared.join(" "))?;
            writeln!(out)?;
            writeln!(
                out,
                "Join workers with a pre-shared token made from ca.crt:"
            )?;
            writeln!(
                out,
                "  k0s token pre-shared --role worker --cert {} --url https://<ip>:6443/",
                shell_quote(ca_cert.as_os_str())
            )?;
        }
    }
    Ok(())
}

/// What `k3s certificate rotate-ca` will say about a staging tree.
fn print_rotate_ca(
    out: &mut impl io::Write,
    run: &CustomCaRun,
    data_dir: &DataDir,
) -> io::Result<()> {
    let command = format!(
        "  {}",
        rotate_ca_command(data_dir.layout(), &data_dir.cert_parent())
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
    Ok(())
}
