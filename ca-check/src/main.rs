//! `ca-check`: know before the cluster does. Offline checks of a cluster's CA
//! files: rotate-ca staging dirs and join tokens (k3s, RKE2), certificate
//! expiry and custom CA trees (k3s, RKE2, kubeadm, k0s).

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use argh::FromArgs;
use shared::checks::expiry::DEFAULT_WARN_DAYS;
use shared::checks::finding::any_failed;
use shared::checks::{TOOL, expiry, staged, token, tree};
use shared::layout::{ClusterFlags, DataDir};
use shared::pki::error::{Result, stdout_result};
use shared::report;
use shared::report::expiry::ExpiryFormat;

/// Offline checks of k3s/RKE2 CA directories, before k3s or kubectl find out.
#[derive(FromArgs, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "Environment: DATA_DIR (default /var/lib/rancher/${{PRODUCT}}), PRODUCT (default k3s);
the flags win over them and come before the subcommand.",
    error_code(1, "a check ran and found problems (see each subcommand)"),
    error_code(
        2,
        "a check could not run: bad arguments, or a directory or file it needs is unreadable"
    )
)]
struct Args {
    /// data directory (default: $DATA_DIR, else /var/lib/rancher/$PRODUCT)
    #[argh(option)]
    data_dir: Option<PathBuf>,

    /// product: k3s, rke2, kubeadm or k0s (default: $PRODUCT, else k3s)
    #[argh(option)]
    product: Option<String>,

    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Staged(Staged),
    Expiry(Expiry),
    Token(Token),
    Tree(Tree),
}

/// Check a staging dir as `k3s certificate rotate-ca --path=<dir>` will: each
/// file reused, OK, WARN or FAIL with the reason. Exit 1 on any FAIL.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "staged")]
struct Staged {
    /// the directory given to rotate-ca --path (files are read from its tls/)
    #[argh(positional)]
    staging_dir: PathBuf,
}

/// List every certificate under DIR (default: the layout's cert dir,
/// $DATA_DIR/server/tls or $DATA_DIR/pki) by expiry: file, subject, issuer,
/// usages, CA or leaf, expiry, time left, status. kubeadm: the certificates of
/// `kubeadm certs check-expiration`, by its names (kubeconfigs read from
/// $DATA_DIR). Exit 1 if a certificate is EXPIRED or NOT YET VALID, or a
/// certificate file cannot be read; WARNING and missing files do not change it.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "expiry",
    note = "JSON (-o json): {{\"directory\", \"checked_at\", \"warn_days\", \"certificates\": [{{\"file\",
\"index\", \"subject\", \"issuer\", \"usages\", \"ca\", \"not_after\", \"seconds_left\",
\"status\"}}], \"problems\": [{{\"file\", \"problem\"}}], \"dynamic_cert\": status or null}}.
kubeadm adds \"name\", \"ca_name\", \"externally_managed\", \"missing\" to each item, lists
its CAs in \"certificate_authorities\" and has \"kubeconfig_directory\" instead of
\"dynamic_cert\". -o kubeadm-json prints kubeadm's own CertificateExpirationInfo.
Times are RFC 3339 UTC; status is OK, WARNING, EXPIRED or NOT YET VALID."
)]
struct Expiry {
    /// the certificate directory (scanned recursively; kubeadm: its --cert-dir)
    #[argh(positional)]
    dir: Option<PathBuf>,

    /// days before expiry that count as WARNING (default 120, when k3s renews)
    #[argh(option, default = "DEFAULT_WARN_DAYS")]
    warn_days: u64,

    /// output: table (default), json, or kubeadm-json (kubeadm's own JSON)
    #[argh(option, short = 'o', default = "ExpiryFormat::Table")]
    output: ExpiryFormat,
}

/// Print the k3s CA hash of server-ca.crt and whether server/token and
/// server/agent-token carry it. Exit 1 if a token is stale or unreadable.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "token")]
struct Token {}

/// Verify a custom CA tree, whoever made it (gen-custom-ca, the upstream script,
/// openssl by hand): files present, bundles in order, every link of the chain
/// (intermediate-ca.pem may hold a chain of any depth), keys match, key modes,
/// and the pre-flight of gen-custom-ca: every certificate k3s issues, verified
/// for a client that trusts only root-ca.pem (path length, name constraints,
/// extended key usage, validity). Exit 1 on any FAIL.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "tree")]
struct Tree {
    /// the tls directory holding the tree
    #[argh(positional)]
    tls_dir: PathBuf,

    /// an extra name the cluster is reached by, as given to k3s --tls-san (repeatable)
    #[argh(option)]
    tls_san: Vec<String>,

    /// the cluster domain, as given to k3s --cluster-domain (default cluster.local)
    #[argh(option)]
    cluster_domain: Option<String>,

    /// the service CIDR(s), as given to k3s --service-cidr (default 10.43.0.0/16)
    #[argh(option)]
    service_cidr: Option<String>,

    /// a node's name, as given to k3s --node-name (repeatable, k3s and RKE2)
    #[argh(option)]
    node_name: Vec<String>,

    /// a node's address, as given to k3s --node-ip (repeatable, k3s and RKE2)
    #[argh(option)]
    node_ip: Vec<IpAddr>,
}

fn main() -> ExitCode {
    shared::cli::check_main(TOOL, run)
}

/// Runs the subcommand's check and prints its report; Ok(false) when it found problems.
fn run(args: Args) -> Result<bool> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    let now = SystemTime::now();
    let out = &mut io::stdout().lock();
    let (passed, printed) = match args.command {
        Command::Staged(staged) => {
            let findings = staged::check(&data_dir, &staged.staging_dir, now)?;
            let printed = report::findings::write(out, &findings);
            (!any_failed(&findings), printed)
        }
        Command::Tree(tree) => {
            let flags = ClusterFlags {
                tls_sans: tree.tls_san,
                cluster_domain: tree.cluster_domain,
                service_cidr: tree.service_cidr,
                node_names: tree.node_name,
                node_ips: tree.node_ip,
            };
            let findings = tree::check(&data_dir, &tree.tls_dir, flags, now)?;
            let printed = report::findings::write(out, &findings);
            (!any_failed(&findings), printed)
        }
        Command::Expiry(expiry) => {
            let report = expiry::check(&data_dir, expiry.dir, expiry.warn_days, now)?;
            let printed = report::expiry::write(out, &report, expiry.output)?;
            (report.passed(), printed)
        }
        Command::Token(_) => {
            let report = token::check(&data_dir, now)?;
            let printed = report::token::write(out, &report);
            (report.passed(), printed)
        }
    };
    stdout_result(printed)?;
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, argh::EarlyExit> {
        Args::from_args(&["ca-check"], args)
    }

    #[test]
    fn global_options_come_before_the_subcommand() {
        let args = parse(&["--data-dir", "/d", "expiry", "-o", "json", "/x"]).unwrap();
        assert_eq!(args.data_dir, Some(PathBuf::from("/d")));
        let Command::Expiry(expiry) = args.command else {
            panic!("expected expiry");
        };
        assert_eq!(expiry.output, ExpiryFormat::Json);
        assert_eq!(expiry.dir, Some(PathBuf::from("/x")));
        assert_eq!(expiry.warn_days, DEFAULT_WARN_DAYS);
        assert!(parse(&["expiry", "--data-dir", "/d"]).is_err());
    }

    #[test]
    fn version_needs_no_subcommand() {
        let parsed = shared::cli::parse::<Args>("ca-check", &["--version"]);
        let shared::cli::Parsed::Print(line) = parsed else {
            panic!("expected the version, got {parsed:?}");
        };
        assert_eq!(line, shared::cli::version_line("ca-check"));
    }

    #[test]
    fn staged_and_tree_need_their_directory() {
        assert!(parse(&["staged"]).is_err());
        assert!(parse(&["tree"]).is_err());
        assert!(matches!(
            parse(&["token"]).unwrap().command,
            Command::Token(_)
        ));
    }
}
