//! `sign-csr`: sign certificate signing requests as a CA. With `--product
//! kubeadm`, everything `kubeadm certs generate-csr` wrote, each with kubeadm's
//! profile; otherwise one CSR or a directory of them with a named profile.
//! Every CSR is checked first; one refusal and nothing is written.

use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use shared::layout::ClusterNames;
use shared::layout::Product;
use shared::layout::kubeadm::DEFAULT_DATA_DIR;
use shared::pki::cert::format_time;
use shared::pki::error::{Error, Result, stdout_result};
use shared::pki::keys::{PassphraseSource, Passphrases};
use shared::runs::sign_csr::{
    CsrProfile, DEFAULT_DAYS, GenericTargets, KubeadmOptions, SignRun, SigningCa, plan_generic,
    plan_kubeadm,
};
use shared::store::lock::TargetLock;
use shared::store::plan::Outcome;

/// Sign certificate signing requests: kubeadm's `certs generate-csr` output
/// (--product kubeadm), or any CSR with a server, client or peer profile.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "kubeadm mode (--product kubeadm): signs pki/*.csr, pki/etcd/*.csr and <name>.conf.csr
under --data-dir with pki/ca, pki/front-proxy-ca or pki/etcd/ca as kubeadm would
(subject, key usage, extended key usage, names), writes <base>.crt beside each
key and fills client-certificate-data and certificate-authority-data into each
partial kubeconfig. Names are checked against the cluster's (--node-name,
--advertise-address, --dns-domain, --service-cidr, --allow-san).

Generic mode: --ca-cert FILE --ca-key FILE (or --ca DIR/STEM for DIR/STEM.crt and
DIR/STEM.key, e.g. a k3s server-ca) --profile server|client|peer --csr PATH, where
PATH is one CSR or a directory of *.csr; certificates go beside as <name>.crt, or
to --out (a file, or a directory for a directory).

Refused, each naming its CSR: a signature that does not verify, CA:TRUE or
keyCertSign asked for, RSA keys under 2048 bits, unknown key types, email/URI
names, and in kubeadm mode a subject or a name the file may not carry. Client
certificates carry no names: those asked for are dropped, with a warning. Only
the names of a CSR are used; usages and validity come from the profile, and a
certificate never outlives its CA.",
    error_code(1, "refused CSRs or bad input; nothing was written")
)]
struct Args {
    /// sign a product's CSR layout: kubeadm
    #[argh(option)]
    product: Option<String>,

    /// kubeadm's directory (default /etc/kubernetes)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// the CA certificate (its first certificate signs)
    #[argh(option)]
    ca_cert: Option<PathBuf>,

    /// the CA key (may be encrypted: see --password-file)
    #[argh(option)]
    ca_key: Option<PathBuf>,

    /// DIR/STEM: the CA in DIR/STEM.crt and DIR/STEM.key (a k3s server-ca, client-ca)
    #[argh(option)]
    ca: Option<PathBuf>,

    /// generic mode: server, client or peer
    #[argh(option)]
    profile: Option<CsrProfile>,

    /// generic mode: a CSR file, or a directory of *.csr files
    #[argh(option)]
    csr: Option<PathBuf>,

    /// generic mode: the certificate file (one CSR) or directory (a directory)
    #[argh(option)]
    out: Option<PathBuf>,

    /// lifetime in days (default 365), capped at the CA's end
    #[argh(option)]
    days: Option<u32>,

    /// file whose first line is the passphrase of encrypted CA keys; without
    /// it you are asked when stdin is a terminal
    #[argh(option)]
    password_file: Option<PathBuf>,

    /// kubeadm: the node name (default: the etcd or kubelet CSR's, else the host name)
    #[argh(option)]
    node_name: Option<String>,

    /// kubeadm: networking.serviceSubnet (default 10.96.0.0/12)
    #[argh(option)]
    service_cidr: Option<String>,

    /// kubeadm: networking.dnsDomain (default cluster.local)
    #[argh(option)]
    dns_domain: Option<String>,

    /// kubeadm: the advertise address (default: the one address the apiserver
    /// and etcd CSRs all ask for)
    #[argh(option)]
    advertise_address: Option<IpAddr>,

    /// kubeadm: an extra name serving certificates may hold (certSANs, the
    /// control-plane endpoint); repeatable
    #[argh(option)]
    allow_san: Vec<String>,

    /// show what would be signed and written, write nothing
    #[argh(switch)]
    dry_run: bool,
}

const TOOL: &str = "sign-csr";

fn main() -> ExitCode {
    shared::cli::main(TOOL, run)
}

fn run(args: Args) -> Result<bool> {
    let now = shared::pki::clock::now()?;
    let days = match args.days {
        Some(0) => return Err(Error::usage("--days must be at least 1")),
        days => days.unwrap_or(DEFAULT_DAYS),
    };
    let passphrases = Passphrases::new(PassphraseSource::from_flag(args.password_file.clone()));
    match args.product.as_deref().map(Product::new).transpose()? {
        Some(product) if product.layout().external_ca => kubeadm(args, days, passphrases, now),
        Some(other) => Err(Error::usage(format!(
            "--product {}: only kubeadm writes CSRs to sign; for a k3s or RKE2 CA use \
             --ca <tls dir>/server-ca (or client-ca) with --profile and --csr",
            other.name()
        ))),
        None => generic(args, days, passphrases, now),
    }
}

fn kubeadm(
    args: Args,
    days: u32,
    passphrases: Passphrases,
    now: std::time::SystemTime,
) -> Result<bool> {
    if let Some(flag) = [
        ("--ca-cert", args.ca_cert.is_some()),
        ("--ca-key", args.ca_key.is_some()),
        ("--ca", args.ca.is_some()),
        ("--profile", args.profile.is_some()),
        ("--csr", args.csr.is_some()),
        ("--out", args.out.is_some()),
    ]
    .iter()
    .find_map(|(flag, given)| given.then_some(flag))
    {
        return Err(Error::usage(format!(
            "{flag} is for the generic mode; --product kubeadm finds its CSRs and CAs under --data-dir"
        )));
    }
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let lock = TargetLock::acquire(&data_dir, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let mut options = KubeadmOptions::new(data_dir.clone(), now);
    options.days = days;
    options.passphrases = passphrases;
    options.node_name = args.node_name;
    if let Some(domain) = args.dns_domain {
        options.dns_domain = domain;
    }
    if let Some(cidr) = args.service_cidr {
        options.service_ip = ClusterNames::service_ips_of(&cidr)?[0];
    }
    options.advertise_address = args.advertise_address;
    options.allow_sans = args.allow_san;
    let kubeadm = plan_kubeadm(&options)?;
    let names = &kubeadm.names;
    let mut context = format!(
        "node name {}, DNS domain {}, service IP {}",
        names.node_name, names.dns_domain, names.service_ip
    );
    if let Some(address) = names.advertise_address {
        context.push_str(&format!(", advertise address {address}"));
    }
    finish(&kubeadm.run, &lock, args.dry_run, &data_dir, &context)
}

fn generic(
    args: Args,
    days: u32,
    passphrases: Passphrases,
    now: std::time::SystemTime,
) -> Result<bool> {
    for (flag, given) in [
        ("--data-dir", args.data_dir.is_some()),
        ("--node-name", args.node_name.is_some()),
        ("--service-cidr", args.service_cidr.is_some()),
        ("--dns-domain", args.dns_domain.is_some()),
        ("--advertise-address", args.advertise_address.is_some()),
        ("--allow-san", !args.allow_san.is_empty()),
    ] {
        if given {
            return Err(Error::usage(format!("{flag} is for --product kubeadm")));
        }
    }
    let (cert, key) = match (args.ca, args.ca_cert, args.ca_key) {
        (Some(stem), None, None) => (with_extension(&stem, "crt"), with_extension(&stem, "key")),
        (None, Some(cert), Some(key)) => (cert, key),
        _ => {
            return Err(Error::usage(
                "give the CA as --ca DIR/STEM, or as --ca-cert FILE and --ca-key FILE",
            ));
        }
    };
    let (Some(profile), Some(csr)) = (args.profile, args.csr) else {
        return Err(Error::usage(
            "give --profile server|client|peer and --csr FILE|DIR (or --product kubeadm)",
        ));
    };
    let targets = GenericTargets::resolve(&csr, args.out.as_deref())?;
    let lock = TargetLock::acquire(&targets.dir, TOOL, args.dry_run)?;
    lock.report_recovered(TOOL);
    let ca = SigningCa::load(&cert.display().to_string(), &cert, &key, &passphrases, now)?;
    let run = plan_generic(&targets, &ca, profile, days, now)?;
    let context = format!("profile {}", profile.name());
    finish(&run, &lock, args.dry_run, &targets.dir, &context)
}

/// `DIR/STEM` + `.ext`, keeping dots already in the stem (`server-ca.crt`).
fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    shared::layout::kubeadm::with_suffix(stem.to_path_buf(), &format!(".{ext}"))
}

/// Prints warnings and refusals; writes the plan when nothing was refused.
fn finish(
    run: &SignRun,
    lock: &TargetLock,
    dry_run: bool,
    dir: &Path,
    context: &str,
) -> Result<bool> {
    for warning in &run.warnings {
        eprintln!("{TOOL}: warning: {warning}");
    }
    if !run.refused.is_empty() {
        for refusal in &run.refused {
            eprintln!("{TOOL}: error: {refusal}");
        }
        eprintln!(
            "{TOOL}: nothing was written: {} of {} CSRs refused",
            run.refused.len(),
            run.refused.len() + run.signed.len()
        );
        return Ok(false);
    }
    let outcome = run.plan.write(lock, dry_run)?;
    stdout_result(print_report(run, dir, context, &outcome))?;
    Ok(true)
}

fn print_report(run: &SignRun, dir: &Path, context: &str, outcome: &Outcome<'_>) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let verb = if outcome.dry_run {
        "would sign"
    } else {
        "signed"
    };
    writeln!(
        out,
        "{verb} {} CSR(s) in {} ({context}):",
        run.signed.len(),
        dir.display()
    )?;
    for signed in &run.signed {
        let usages: Vec<&str> = signed.usages.iter().map(|u| u.name()).collect();
        writeln!(
            out,
            "  {} -> {}\n    CA {}, subject \"{}\", {}, expires {}",
            signed.csr.display(),
            signed.out.display(),
            signed.ca,
            signed.subject,
            usages.join("+"),
            format_time(signed.not_after)
        )?;
        if !signed.sans.is_empty() {
            let sans: Vec<String> = signed.sans.iter().map(ToString::to_string).collect();
            writeln!(out, "    SANs {}", sans.join(", "))?;
        }
    }
    writeln!(out)?;
    write!(out, "{outcome}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_san_repeats_and_profiles_parse() {
        let args = Args::from_args(
            &[TOOL],
            &[
                "--product",
                "kubeadm",
                "--allow-san",
                "a.example",
                "--allow-san",
                "192.0.2.1",
            ],
        )
        .unwrap();
        assert_eq!(args.allow_san, ["a.example", "192.0.2.1"]);
        let args = Args::from_args(&[TOOL], &["--profile", "peer", "--csr", "x.csr"]).unwrap();
        assert_eq!(args.profile, Some(CsrProfile::Peer));
        assert!(Args::from_args(&[TOOL], &["--profile", "ca"]).is_err());
    }
}
