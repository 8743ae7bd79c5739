//! ca-check's command line: what each subcommand takes, and its help.

use std::path::PathBuf;

use argh::{ArgsInfo, FromArgs};
use shared::checks::expiry::DEFAULT_WARN_DAYS;
use shared::layout::k3s::serving::Release;
use shared::report::expiry::ExpiryFormat;

shared::tool_args! {
groups(data_dir);
/// Offline checks of a cluster's CA files, before the cluster or kubectl find
/// out: rotate-ca staging dirs and join tokens (k3s, RKE2), certificate expiry
/// and custom CA trees (k3s, RKE2, kubeadm, k0s).
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    help_triggers("-h", "--help"),
    note = "--data-dir and --product may come before or after the subcommand.",
    error_code(1, "a check ran and found problems (see each subcommand)"),
    error_code(
        2,
        "a check could not run: bad arguments, or a directory or file it needs is unreadable"
    )
)]
pub struct Args {
    #[argh(subcommand)]
    pub command: Command,
}
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
pub enum Command {
    Staged(Staged),
    Expiry(Expiry),
    Token(Token),
    Tree(Tree),
    Record(RecordCheck),
}

/// Verify a carried tree against the ceremony record of the run that wrote it
/// (--record of gen-custom-ca, rotate-default-ca, sa-key-rotate, sign-csr,
/// kubeconfig-user): every recorded file present with its SHA-256 and mode,
/// and nothing else in the directories the record covers, one line each.
/// Exit 1 on any FAIL, 2 if the record cannot be read.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    subcommand,
    name = "record",
    note = "The record's SHA256SUMS beside it checks the same files with coreutils:
cd DIR && sha256sum -c RECORD.SHA256SUMS."
)]
pub struct RecordCheck {
    /// the JSON record (FILE of --record)
    #[argh(positional)]
    pub record: PathBuf,
    /// where the tree is now (default: where the record says it was written)
    #[argh(positional)]
    pub dir: Option<PathBuf>,
}

/// Check a staging dir as `k3s certificate rotate-ca --path=<dir>` will (k3s
/// and RKE2 only): each file reused, OK, WARN or FAIL with the reason. Exit 1
/// on any FAIL.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand, name = "staged")]
pub struct Staged {
    /// the directory given to rotate-ca --path (files are read from its tls/)
    #[argh(positional)]
    pub staging_dir: PathBuf,
}

/// List every certificate by expiry: file, subject, issuer, usages, CA or
/// leaf, expiry, time left, status. k3s and RKE2: what `k3s certificate check`
/// reads, and more: $DATA_DIR/server/tls and $DATA_DIR/agent (an agent, with
/// no server/: agent alone) and the admin kubeconfig
/// (/etc/rancher/<product>/<product>.yaml); each leaf names the `certificate
/// rotate --service` that renews it, and the report ends with the one command
/// that renews everything in the warning window or due; the serving
/// certificate (dynamic-cert.json) is also verified against server-ca.crt as
/// Go clients verify it, and a finding comes with the commands that renew it
/// in the release in use. k0s: $DATA_DIR/pki with admin.conf. kubeadm: the
/// certificates of `kubeadm certs check-expiration`, by its names
/// (kubeconfigs read from $DATA_DIR), and a kubelet.conf that embeds its
/// client certificate, with kubeadm's fix. Exit 1 if a certificate is EXPIRED
/// or NOT YET VALID, the serving certificate does not chain to server-ca.crt,
/// a certificate file cannot be read, or, with --fail-due, one is due; WARNING
/// and missing files do not change it.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    subcommand,
    name = "expiry",
    note = "JSON (-o json): {{\"directory\", \"checked_at\", \"warn_days\", \"due_days\",
\"certificates\": [{{\"file\", \"index\", \"subject\", \"issuer\", \"usages\", \"ca\",
\"not_after\", \"seconds_left\", \"status\", \"due\", \"service\"}}], \"problems\":
[{{\"file\", \"problem\"}}], \"dynamic_cert\": status or null, \"notes\": [text], \"renew\":
{{\"services\", \"commands\", \"ca_due\"}} or null, \"serving\": null or {{\"file\",
\"subject\", \"issuer\", \"not_after\", \"status\", \"chains_to_server_ca\",
\"chain_problem\", \"release\", \"trigger_pending\", \"advice\"}}}}. \"service\" is the
rotate --service (k3s, RKE2) or null; \"due\": within --due-days, expired or not yet valid.
kubeadm adds \"name\", \"ca_name\", \"externally_managed\", \"missing\" to each item, lists
its CAs in \"certificate_authorities\", has \"kubeconfig_directory\" and \"kubelet_conf\" (an
item with \"fix\", or null) instead of \"dynamic_cert\", \"notes\", \"renew\" and \"serving\".
-o kubeadm-json prints kubeadm's own CertificateExpirationInfo.
Times are RFC 3339 UTC; status is OK, WARNING, EXPIRED or NOT YET VALID.
-o prometheus: x509_cert_not_after, x509_cert_not_before (Unix times) and
x509_cert_expired (0/1) per certificate, labelled distribution, filepath, filename,
index, kind (ca/leaf), subject_CN, issuer_CN, component; x509_read_errors. Names as
enix's x509-certificate-exporter."
)]
pub struct Expiry {
    /// the directory to scan instead (recursively; kubeadm: its --cert-dir)
    #[argh(positional)]
    pub dir: Option<PathBuf>,

    /// days before expiry that count as WARNING (default 120)
    #[argh(option, default = "DEFAULT_WARN_DAYS")]
    pub warn_days: u64,

    /// exit 1 when a certificate is due: expires within --due-days
    #[argh(switch)]
    pub fail_due: bool,

    /// days before expiry from which a certificate is due (default: k3s and
    /// RKE2 90, when they renew at start; kubeadm and k0s 30, as neither
    /// renews on a schedule of its own)
    #[argh(option)]
    pub due_days: Option<u64>,

    /// k3s and RKE2: the admin kubeconfig to read (default
    /// /etc/rancher/<product>/<product>.yaml, which only servers have; an
    /// absent default is a note, an absent FILE a problem)
    #[argh(option)]
    pub kubeconfig: Option<PathBuf>,

    /// output: table (default), json, kubeadm-json (kubeadm's own JSON), or
    /// prometheus (metrics for node_exporter's textfile collector)
    #[argh(option, short = 'o', default = "ExpiryFormat::Table")]
    pub output: ExpiryFormat,

    /// write the report to FILE instead of stdout, replacing it at once (a
    /// reader sees the old file or the new, never a part), mode 0644; its
    /// directory must exist and lie outside the data dir
    #[argh(option, arg_name = "FILE")]
    pub write: Option<PathBuf>,

    /// the k3s or RKE2 release (k3s --version: v1.33.6+k3s1), which decides
    /// the commands that renew the serving certificate; default: what the data
    /// dir tells (RKE2), else the commands for both sides of the release that
    /// changed them
    #[argh(option)]
    pub k3s_version: Option<Release>,
}

/// Print the k3s CA hash of server-ca.crt and whether the join tokens carry
/// it (k3s and RKE2 only): server/token and server/agent-token, and the tokens
/// configured on the node (config.yaml, the service's environment files and
/// unit, --token). Exit 1 if a token is stale or malformed, or a file is
/// unreadable.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    subcommand,
    name = "token",
    note = "k3s rewrites server/token and server/agent-token when it starts; nothing rewrites
the tokens an operator configured, read from (under --root): token, agent-token,
token-file and agent-token-file in /etc/rancher/<product>/config.yaml, then in
config.yaml.d/*.yaml by name (the last one counts); K3S_TOKEN, K3S_AGENT_TOKEN and
their _FILE forms in /etc/systemd/system/k3s.service.env, k3s-agent.service.env,
/etc/rancher/k3s/k3s.env (OpenRC), /etc/default/k3s, /etc/sysconfig/k3s (RKE2:
RKE2_TOKEN in /etc/default/rke2-server, ...); --token, -t and Environment= in the
k3s.service and k3s-agent.service units and their .service.d/*.conf drop-ins. A stale token is named by file, line and key with the hash
to put there; no token is ever printed. A bare password (no K10 prefix) carries no
CA hash and passes. Missing files are skipped, unless named with a flag."
)]
pub struct Token {
    /// also check this token (K10<hash>::<user>:<password>), or "-" to read it
    /// from standard input (a token on the command line shows in ps)
    #[argh(option)]
    pub token: Option<String>,

    /// look for the node's files under DIR instead of / (a mounted node
    /// image; give its --data-dir too); token-file paths are read under it
    #[argh(option)]
    pub root: Option<PathBuf>,

    /// a config file to read instead of config.yaml, with its .d drop-ins
    /// (repeatable)
    #[argh(option)]
    pub config: Vec<PathBuf>,

    /// an environment file to read instead of the service's (repeatable)
    #[argh(option)]
    pub env_file: Vec<PathBuf>,

    /// a systemd unit (with its .d/*.conf drop-ins) or OpenRC script to read
    /// instead of the service's (repeatable)
    #[argh(option)]
    pub unit: Vec<PathBuf>,
}

shared::tool_args! {
groups(cluster_names);
/// Verify a custom CA tree in the product's layout (k3s, RKE2, kubeadm or k0s),
/// whoever made it (gen-custom-ca, the upstream script, openssl by hand): files
/// present, bundles in order, every link of the chain (intermediate-ca.pem may
/// hold a chain of any depth), keys match, key modes, and the pre-flight of
/// gen-custom-ca: every certificate the product issues, verified for a client
/// that trusts only root-ca.pem, or only the CA itself for kubeadm's and k0s's
/// self-signed CAs (path length, name constraints, extended key usage,
/// validity). Exit 1 on any FAIL.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand, name = "tree")]
pub struct Tree {
    /// the certificate directory holding the tree ($DATA_DIR/server/tls for k3s
    /// and RKE2, $DATA_DIR/pki for kubeadm and k0s)
    #[argh(positional)]
    pub cert_dir: PathBuf,
}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, argh::EarlyExit> {
        Args::from_args(&["ca-check"], args)
    }

    /// Before, `ca-check expiry --data-dir /d` was refused ("Unrecognized
    /// argument"): argh reads the global flags only before the subcommand.
    #[test]
    fn global_options_come_before_or_after_the_subcommand() {
        for args in [
            &["--data-dir", "/d", "expiry", "-o", "json", "/x"][..],
            &["expiry", "-o", "json", "--data-dir", "/d", "/x"],
            &["expiry", "-o", "json", "/x", "--data-dir", "/d"],
        ] {
            let shared::cli::Parsed::Run(args) = shared::cli::parse::<Args>("ca-check", args)
            else {
                panic!("{args:?}: expected a run");
            };
            assert_eq!(args.data_dir, Some(PathBuf::from("/d")));
            let Command::Expiry(expiry) = args.command else {
                panic!("expected expiry");
            };
            assert_eq!(expiry.output, ExpiryFormat::Json);
            assert_eq!(expiry.dir, Some(PathBuf::from("/x")));
            assert_eq!(expiry.warn_days, DEFAULT_WARN_DAYS);
        }
    }

    /// argh refuses a bad `-o` (exit 2 through check_main), naming the formats.
    #[test]
    fn an_unknown_output_format_is_refused_with_the_formats() {
        let Err(refused) = parse(&["expiry", "-o", "xml"]) else {
            panic!("expected a refusal");
        };
        assert!(refused.status.is_err());
        assert!(
            refused.output.ends_with(
                "'xml': unknown output format: use table, json, kubeadm-json or prometheus\n"
            ),
            "{}",
            refused.output
        );
    }

    #[test]
    fn version_needs_no_subcommand() {
        let parsed = shared::cli::parse::<Args>("ca-check", &["--version"]);
        let shared::cli::Parsed::Print(line) = parsed else {
            panic!("expected the version, got {parsed:?}");
        };
        assert_eq!(line, shared::cli::version_line("ca-check"));
    }

    /// Issue 20: the token places are repeatable flags; --token takes "-".
    #[test]
    fn token_flags_repeat() {
        let Command::Token(token) = parse(&[
            "token",
            "--config",
            "a.yaml",
            "--config",
            "b.yaml",
            "--env-file",
            "e",
            "--unit",
            "u",
            "--root",
            "/mnt",
            "--token",
            "-",
        ])
        .unwrap()
        .command
        else {
            panic!("expected token");
        };
        assert_eq!(
            token.config,
            [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
        assert_eq!(token.env_file, [PathBuf::from("e")]);
        assert_eq!(token.unit, [PathBuf::from("u")]);
        assert_eq!(token.root, Some(PathBuf::from("/mnt")));
        assert_eq!(token.token.as_deref(), Some("-"));
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
