//! `ca-check`: know before k3s does. Offline checks of k3s CA directories:
//! a rotate-ca staging dir, certificate expiry, join-token hashes, a custom tree.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use argh::FromArgs;
use serde_json::json;
use shared::cert::format_time;
use shared::checks::{Finding, any_failed, check_staged};
use shared::error::{Error, stdout_result};
use shared::expiry::{self, DEFAULT_WARN_DAYS, Report, Status};
use shared::lock::{recover_in, report_notes};
use shared::pem_file::PemFile;
use shared::token::{TokenFile, k3s_ca_hash_of};
use shared::topology::{DataDir, LeafCa};
use shared::tree_check::check_custom_tree;

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

    /// product: k3s or rke2 (default: $PRODUCT, else k3s)
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

/// List every certificate under DIR (default: $DATA_DIR/server/tls) by expiry:
/// file, subject, issuer, usages, CA or leaf, expiry, time left, status.
/// Exit 1 if a certificate is EXPIRED or NOT YET VALID, or a certificate file
/// cannot be read; WARNING does not change the exit code.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "expiry",
    note = "JSON (-o json): {{\"directory\", \"checked_at\", \"warn_days\", \"certificates\": [{{\"file\",
\"index\", \"subject\", \"issuer\", \"usages\", \"ca\", \"not_after\", \"seconds_left\",
\"status\"}}], \"problems\": [{{\"file\", \"problem\"}}], \"dynamic_cert\": status or null}}.
Times are RFC 3339 UTC; status is OK, WARNING, EXPIRED or NOT YET VALID."
)]
struct Expiry {
    /// directory to scan recursively
    #[argh(positional)]
    dir: Option<PathBuf>,

    /// days before expiry that count as WARNING (default 120, when k3s renews)
    #[argh(option, default = "DEFAULT_WARN_DAYS")]
    warn_days: u64,

    /// output: table (default) or json
    #[argh(option, short = 'o', default = "String::from(\"table\")")]
    output: String,
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
}

fn main() -> ExitCode {
    shared::cli::check_main("ca-check", run)
}

/// Runs the subcommand and prints its report; Ok(false) when a check failed.
fn run(args: Args) -> shared::error::Result<bool> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    // Checks judge what is on disk: an interrupted commit is finished or undone first.
    let staged_dir = match &args.command {
        Command::Staged(staged) => vec![staged.staging_dir.as_path()],
        _ => Vec::new(),
    };
    report_notes("ca-check", &recover_in(&data_dir, &staged_dir, "ca-check")?);
    let now = SystemTime::now();
    let mut out = io::stdout().lock();
    if !matches!(args.command, Command::Tree(_)) {
        data_dir.product.require_k3s_layout("ca-check")?;
    }
    let (passed, printed) = match args.command {
        Command::Staged(staged) => {
            let findings = check_staged(&staged.staging_dir, &data_dir.tls_dir(), now);
            (!any_failed(&findings), print_findings(&mut out, &findings))
        }
        Command::Tree(tree) => {
            let layout = data_dir.layout();
            let cluster = layout.cluster_names().with_flags(
                tree.tls_san,
                tree.cluster_domain,
                tree.service_cidr.as_deref(),
            )?;
            let findings = check_custom_tree(&tree.tls_dir, &layout, &cluster, now)?;
            (!any_failed(&findings), print_findings(&mut out, &findings))
        }
        Command::Expiry(expiry) => {
            let json = match expiry.output.as_str() {
                "json" => true,
                "table" => false,
                other => {
                    return Err(Error::Inputs {
                        path: PathBuf::from(other),
                        problem: "unknown output format: use table or json".into(),
                    });
                }
            };
            let dir = expiry.dir.unwrap_or_else(|| data_dir.tls_dir());
            std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "reading directory", e))?;
            let warn = Duration::from_secs(expiry.warn_days * 86_400);
            let report = expiry::scan(&dir, now, warn);
            let passed = !report.has_invalid() && report.problems.is_empty();
            let printed = if json {
                print_expiry_json(&mut out, &dir, &report, expiry.warn_days, now)
            } else {
                print_expiry_table(&mut out, &dir, &report, now)
            };
            (passed, printed)
        }
        Command::Token(_) => {
            let report = token_report(&data_dir, now)?;
            (report.all_current(), print_token_report(&mut out, &report))
        }
    };
    stdout_result(printed)?;
    Ok(passed)
}

fn print_findings(out: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    let width = findings.iter().map(|f| f.file.len()).max().unwrap_or(0);
    for f in findings {
        writeln!(
            out,
            "{:<width$}  {:<6}  {}",
            f.file,
            f.verdict.as_str(),
            f.reason
        )?;
    }
    let failed = findings
        .iter()
        .filter(|f| f.verdict == shared::checks::Verdict::Fail)
        .count();
    writeln!(out)?;
    if failed == 0 {
        writeln!(out, "no failures")
    } else {
        writeln!(out, "{failed} failure(s)")
    }
}

/// "123d 4h", or "expired 3d 2h ago".
fn time_left(seconds: i64) -> String {
    let magnitude = seconds.unsigned_abs();
    let (days, hours) = (magnitude / 86_400, (magnitude % 86_400) / 3_600);
    if seconds >= 0 {
        format!("{days}d {hours}h")
    } else {
        format!("expired {days}d {hours}h ago")
    }
}

fn print_expiry_table(
    out: &mut impl Write,
    dir: &Path,
    report: &Report,
    now: SystemTime,
) -> io::Result<()> {
    let header = [
        "FILE", "SUBJECT", "ISSUER", "USAGES", "KIND", "EXPIRES", "LEFT", "STATUS",
    ];
    let mut rows: Vec<[String; 8]> = vec![header.map(String::from)];
    rows.extend(report.rows.iter().map(|r| {
        [
            if r.index > 1 {
                format!("{}#{}", r.file.display(), r.index)
            } else {
                r.file.display().to_string()
            },
            r.subject.clone(),
            r.issuer.clone(),
            r.usages.join(","),
            if r.is_ca { "CA".into() } else { "leaf".into() },
            format_time(r.not_after),
            time_left(r.seconds_left(now)),
            r.status.as_str().into(),
        ]
    }));
    let mut widths = [0; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in &rows {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())?;
    }
    for problem in &report.problems {
        writeln!(
            out,
            "{}: cannot read: {}",
            problem.file.display(),
            problem.problem
        )?;
    }
    if report.rows.is_empty() && report.problems.is_empty() {
        writeln!(out, "no certificates under {}", dir.display())?;
    }
    if matches!(
        report.dynamic_cert,
        Some(Status::Expired | Status::NotYetValid)
    ) {
        writeln!(out)?;
        writeln!(
            out,
            "The k3s serving certificate in dynamic-cert.json is not valid. k3s does not renew it \
             by itself: delete the k3s-serving secret (kubectl -n kube-system delete secret \
             k3s-serving) and the file, then restart k3s."
        )?;
    }
    Ok(())
}

fn print_expiry_json(
    out: &mut impl Write,
    dir: &Path,
    report: &Report,
    warn_days: u64,
    now: SystemTime,
) -> io::Result<()> {
    let certificates: Vec<_> = report
        .rows
        .iter()
        .map(|r| {
            json!({
                "file": r.file.display().to_string(),
                "index": r.index,
                "subject": r.subject,
                "issuer": r.issuer,
                "usages": r.usages,
                "ca": r.is_ca,
                "not_after": format_time(r.not_after),
                "seconds_left": r.seconds_left(now),
                "status": r.status.as_str(),
            })
        })
        .collect();
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| json!({"file": p.file.display().to_string(), "problem": p.problem}))
        .collect();
    let document = json!({
        "directory": dir.display().to_string(),
        "checked_at": format_time(now),
        "warn_days": warn_days,
        "certificates": certificates,
        "problems": problems,
        "dynamic_cert": report.dynamic_cert.map(Status::as_str),
    });
    writeln!(out, "{document:#}")
}

/// The CA hash of server-ca.crt and what each token file carries.
struct TokenReport {
    server_ca: PathBuf,
    hash: String,
    tokens: Vec<(PathBuf, TokenState)>,
}

enum TokenState {
    Missing,
    Current,
    Stale(TokenFile),
    Unusable(Error),
}

impl TokenReport {
    fn all_current(&self) -> bool {
        self.tokens
            .iter()
            .all(|(_, state)| matches!(state, TokenState::Missing | TokenState::Current))
    }
}

fn token_report(data_dir: &DataDir, now: SystemTime) -> shared::error::Result<TokenReport> {
    let server_ca = data_dir.tls_dir().join(LeafCa::Server.cert_file());
    let hash = k3s_ca_hash_of(&PemFile::read(&server_ca)?, now)?;
    let tokens = [data_dir.server_token_file(), data_dir.agent_token_file()]
        .into_iter()
        .map(|path| {
            let state = if !path.exists() {
                TokenState::Missing
            } else {
                match TokenFile::read(&path) {
                    Ok(token) if token.ca_hash() == hash => TokenState::Current,
                    Ok(token) => TokenState::Stale(token),
                    Err(error) => TokenState::Unusable(error),
                }
            };
            (path, state)
        })
        .collect();
    Ok(TokenReport {
        server_ca,
        hash,
        tokens,
    })
}

fn print_token_report(out: &mut impl Write, report: &TokenReport) -> io::Result<()> {
    writeln!(out, "k3s CA hash of {}:", report.server_ca.display())?;
    writeln!(out, "  {}", report.hash)?;
    for (path, state) in &report.tokens {
        match state {
            TokenState::Missing => writeln!(out, "{}: missing", path.display())?,
            TokenState::Current => writeln!(out, "{}: carries it (current)", path.display())?,
            TokenState::Stale(token) => writeln!(
                out,
                "{}: STALE: carries {}; agents joining with it will refuse this server CA. \
                 The token with the current hash is {}",
                path.display(),
                token.ca_hash(),
                token.with_ca_hash(&report.hash)
            )?,
            TokenState::Unusable(error) => writeln!(out, "{error}")?,
        }
    }
    Ok(())
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
        assert_eq!(expiry.output, "json");
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
