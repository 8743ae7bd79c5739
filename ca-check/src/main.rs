//! `ca-check`: know before k3s does. Offline checks of k3s CA directories:
//! a rotate-ca staging dir, certificate expiry, join-token hashes, a custom tree;
//! expiry and tree also for kubeadm's and k0s's `pki/`.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use argh::FromArgs;
use serde_json::json;
use shared::checks::expiry::{
    self, DEFAULT_WARN_DAYS, Found, KubeadmReport, Named, Report, Status,
};
use shared::checks::finding::{Finding, any_failed};
use shared::checks::staged::check_staged;
use shared::checks::tree::check_custom_tree;
use shared::layout::DataDir;
use shared::layout::ExpiryScheme;
use shared::layout::k3s::token::{TokenFile, k3s_ca_hash_of};
use shared::pki::cert::{format_kubeadm_time, format_time};
use shared::pki::error::{Error, Kind, Location, stdout_result};
use shared::pki::pem::PemFile;
use shared::store::lock::{recover_in, report_notes};

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

    /// a node's name, as given to k3s --node-name (repeatable, k3s and RKE2)
    #[argh(option)]
    node_name: Vec<String>,

    /// a node's address, as given to k3s --node-ip (repeatable, k3s and RKE2)
    #[argh(option)]
    node_ip: Vec<IpAddr>,
}

fn main() -> ExitCode {
    shared::cli::check_main("ca-check", run)
}

/// Runs the subcommand and prints its report; Ok(false) when a check failed.
fn run(args: Args) -> shared::pki::error::Result<bool> {
    let data_dir = DataDir::from_env(args.data_dir, args.product)?;
    // Checks judge what is on disk: an interrupted commit is finished or undone first.
    let staged_dir = match &args.command {
        Command::Staged(staged) => vec![staged.staging_dir.as_path()],
        _ => Vec::new(),
    };
    let written = data_dir.written_dirs();
    let dirs = written.iter().map(PathBuf::as_path).chain(staged_dir);
    report_notes("ca-check", &recover_in(dirs, "ca-check")?);
    let now = SystemTime::now();
    let mut out = io::stdout().lock();
    if matches!(args.command, Command::Staged(_) | Command::Token(_)) {
        shared::layout::k3s::require(data_dir.layout(), "ca-check")?;
    }
    let (passed, printed) = match args.command {
        Command::Staged(staged) => {
            let findings = check_staged(
                data_dir.layout(),
                &staged.staging_dir,
                &data_dir.tls_dir(),
                now,
            );
            (!any_failed(&findings), print_findings(&mut out, &findings))
        }
        Command::Tree(tree) => {
            let layout = data_dir.layout();
            let cluster = layout
                .cluster_names()
                .with_flags(
                    tree.tls_san,
                    tree.cluster_domain,
                    tree.service_cidr.as_deref(),
                )?
                .with_nodes(layout, tree.node_name, tree.node_ip)?;
            let findings = check_custom_tree(&tree.tls_dir, layout, &cluster, now)?;
            (!any_failed(&findings), print_findings(&mut out, &findings))
        }
        Command::Expiry(expiry) => run_expiry(&mut out, &data_dir, expiry, now)?,
        Command::Token(_) => {
            let report = token_report(&data_dir, now)?;
            (report.all_current(), print_token_report(&mut out, &report))
        }
    };
    stdout_result(printed)?;
    Ok(passed)
}

/// The output formats of `expiry`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    /// kubeadm's own `-o json`, for kubeadm's layout only.
    KubeadmJson,
}

fn run_expiry(
    out: &mut impl Write,
    data_dir: &DataDir,
    expiry: Expiry,
    now: SystemTime,
) -> shared::pki::error::Result<(bool, io::Result<()>)> {
    let format = match expiry.output.as_str() {
        "table" => Format::Table,
        "json" => Format::Json,
        "kubeadm-json" => Format::KubeadmJson,
        other => {
            let flag = Location::Flag {
                name: "-o",
                value: Some(other.to_string()),
            };
            let problem = "unknown output format: use table, json or kubeadm-json".into();
            return Err(Error::at(flag, Kind::Usage(problem)));
        }
    };
    let layout = data_dir.layout();
    let dir = expiry.dir.unwrap_or_else(|| data_dir.tls_dir());
    std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "reading directory", e))?;
    let warn_days = expiry.warn_days;
    let warn = Duration::from_secs(warn_days * 86_400);
    Ok(match layout.expiry {
        ExpiryScheme::Scan { .. } if format == Format::KubeadmJson => {
            return Err(Error::usage(format!(
                "-o kubeadm-json is kubeadm's format: use --product kubeadm \
                 (this is the {} layout)",
                layout.name()
            )));
        }
        ExpiryScheme::Scan { kubeconfigs } => {
            let report = expiry::scan(&dir, now, warn, kubeconfigs);
            let passed = !report.has_invalid() && report.problems.is_empty();
            let printed = if format == Format::Json {
                print_expiry_json(out, &dir, &report, warn_days, now)
            } else {
                print_expiry_table(out, &dir, &report, now)
            };
            (passed, printed)
        }
        ExpiryScheme::Kubeadm => {
            let report = expiry::kubeadm_report(&dir, &data_dir.root, now, warn);
            let passed = !report.has_invalid() && !report.has_problems();
            let printed = match format {
                Format::Table => print_kubeadm_table(out, &report, now),
                Format::Json => {
                    print_kubeadm_json(out, &dir, &data_dir.root, &report, warn_days, now)
                }
                Format::KubeadmJson => print_kubeadm_own_json(out, &report, now),
            };
            (passed, printed)
        }
    })
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
        .filter(|f| f.verdict == shared::checks::finding::Verdict::Fail)
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
    let mut rows: Vec<Vec<String>> = vec![header.map(String::from).to_vec()];
    rows.extend(report.rows.iter().map(|r| {
        vec![
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
    print_columns(out, &rows, "  ")?;
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
    let certificates: Vec<_> = report.rows.iter().map(|r| row_json(r, now)).collect();
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

/// Columns padded to their widest cell, separated by `gap`.
fn print_columns(out: &mut impl Write, rows: &[Vec<String>], gap: &str) -> io::Result<()> {
    let mut widths = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in rows {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", padded.join(gap).trim_end())?;
    }
    Ok(())
}

/// One row of the JSON reports.
fn row_json(r: &expiry::Row, now: SystemTime) -> serde_json::Value {
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
}

/// apimachinery's `duration.ShortHumanDuration`, which kubeadm prints as the
/// residual time: `<invalid>` once more than a second past, then the largest
/// whole unit of s, m, h, d (up to a year) or y.
fn short_human_duration(seconds: i64) -> String {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    match seconds {
        s if s < -1 => "<invalid>".into(),
        s if s < 0 => "0s".into(),
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MINUTE),
        s if s < DAY => format!("{}h", s / HOUR),
        s if s < 365 * DAY => format!("{}d", s / DAY),
        s => format!("{}y", s / (365 * DAY)),
    }
}

fn yes_no(yes: bool) -> String {
    if yes { "yes" } else { "no" }.into()
}

/// kubeadm's two tables, with our STATUS column added; files that could not
/// be read are listed after them.
fn print_kubeadm_table(
    out: &mut impl Write,
    report: &KubeadmReport,
    now: SystemTime,
) -> io::Result<()> {
    let table = |header: &[&str], list: &[Named]| -> Vec<Vec<String>> {
        let mut rows = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        rows.extend(list.iter().map(|named| {
            // kubeadm leaves every cell but the name empty for a missing file.
            let mut cells = match &named.found {
                Found::Missing => vec![format!("!MISSING! {}", named.name)],
                Found::Unreadable(_) => vec![named.name.to_string(), String::new(), String::new()],
                Found::Read(row) => vec![
                    named.name.to_string(),
                    format_kubeadm_time(row.not_after),
                    short_human_duration(row.seconds_left(now)),
                ],
            };
            if let Found::Missing = named.found {
                return cells;
            }
            cells.extend(named.ca_name.map(str::to_string));
            cells.push(yes_no(named.externally_managed));
            cells.push(match &named.found {
                Found::Read(row) => row.status.as_str().into(),
                _ => "UNREADABLE".into(),
            });
            cells
        }));
        rows
    };
    print_columns(
        out,
        &table(
            &[
                "CERTIFICATE",
                "EXPIRES",
                "RESIDUAL TIME",
                "CERTIFICATE AUTHORITY",
                "EXTERNALLY MANAGED",
                "STATUS",
            ],
            &report.certificates,
        ),
        "   ",
    )?;
    writeln!(out)?;
    print_columns(
        out,
        &table(
            &[
                "CERTIFICATE AUTHORITY",
                "EXPIRES",
                "RESIDUAL TIME",
                "EXTERNALLY MANAGED",
                "STATUS",
            ],
            &report.authorities,
        ),
        "   ",
    )?;
    for named in report.certificates.iter().chain(&report.authorities) {
        if let Found::Unreadable(problem) = &named.found {
            writeln!(out, "{}: cannot read: {problem}", named.file.display())?;
        }
    }
    Ok(())
}

/// Our JSON for kubeadm: the rows of `-o json` with kubeadm's name, CA name,
/// external-CA mode and missing flag.
fn print_kubeadm_json(
    out: &mut impl Write,
    cert_dir: &Path,
    kubeconfig_dir: &Path,
    report: &KubeadmReport,
    warn_days: u64,
    now: SystemTime,
) -> io::Result<()> {
    let items = |list: &[Named]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|named| {
                let mut item = match &named.found {
                    Found::Read(row) => row_json(row, now),
                    _ => json!({"file": named.file.display().to_string()}),
                };
                item["name"] = json!(named.name);
                item["ca_name"] = json!(named.ca_name);
                item["externally_managed"] = json!(named.externally_managed);
                item["missing"] = json!(matches!(named.found, Found::Missing));
                item
            })
            .collect()
    };
    let problems: Vec<_> = report
        .certificates
        .iter()
        .chain(&report.authorities)
        .filter_map(|named| match &named.found {
            Found::Unreadable(problem) => {
                Some(json!({"file": named.file.display().to_string(), "problem": problem}))
            }
            _ => None,
        })
        .collect();
    let document = json!({
        "directory": cert_dir.display().to_string(),
        "kubeconfig_directory": kubeconfig_dir.display().to_string(),
        "checked_at": format_time(now),
        "warn_days": warn_days,
        "certificates": items(&report.certificates),
        "certificate_authorities": items(&report.authorities),
        "problems": problems,
    });
    writeln!(out, "{document:#}")
}

/// kubeadm's own `check-expiration -o json`: its output.kubeadm.k8s.io/v1alpha3
/// `CertificateExpirationInfo` as Go's `json.MarshalIndent(obj, "", "    ")`
/// writes it (kubernetes/kubernetes cmd/kubeadm/app/apis/output/v1alpha3 and
/// cmd/certs.go): fields in declaration order, `residualTime` in whole seconds
/// (the Go duration divided by time.Second, so truncated toward zero), and for
/// a missing file only its name and `missing` set (a zero time is `null`,
/// `caName` omitted). A file that cannot be read (kubeadm stops there) is
/// listed like a missing one but with `missing: false`, and named on stderr.
fn print_kubeadm_own_json(
    out: &mut impl Write,
    report: &KubeadmReport,
    now: SystemTime,
) -> io::Result<()> {
    let quote = |text: &str| serde_json::Value::from(text).to_string();
    let item = |named: &Named| -> String {
        let mut fields = vec![("name", quote(named.name))];
        match &named.found {
            Found::Read(row) => {
                fields.push(("expirationDate", quote(&format_time(row.not_after))));
                fields.push(("residualTime", row.seconds_left(now).to_string()));
                fields.push(("externallyManaged", named.externally_managed.to_string()));
                fields.extend(named.ca_name.map(|ca| ("caName", quote(ca))));
            }
            Found::Missing | Found::Unreadable(_) => {
                fields.push(("expirationDate", "null".into()));
                fields.push(("residualTime", "0".into()));
                fields.push(("externallyManaged", "false".into()));
            }
        }
        fields.push(("missing", matches!(named.found, Found::Missing).to_string()));
        let body: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("            \"{key}\": {value}"))
            .collect();
        format!("        {{\n{}\n        }}", body.join(",\n"))
    };
    let list = |items: &[Named]| items.iter().map(item).collect::<Vec<_>>().join(",\n");
    writeln!(out, "{{")?;
    writeln!(out, "    \"kind\": \"CertificateExpirationInfo\",")?;
    writeln!(
        out,
        "    \"apiVersion\": \"output.kubeadm.k8s.io/v1alpha3\","
    )?;
    writeln!(
        out,
        "    \"certificates\": [\n{}\n    ],",
        list(&report.certificates)
    )?;
    writeln!(
        out,
        "    \"certificateAuthorities\": [\n{}\n    ]",
        list(&report.authorities)
    )?;
    writeln!(out, "}}")?;
    for named in report.certificates.iter().chain(&report.authorities) {
        if let Found::Unreadable(problem) = &named.found {
            eprintln!("{}: cannot read: {problem}", named.file.display());
        }
    }
    Ok(())
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

fn token_report(data_dir: &DataDir, now: SystemTime) -> shared::pki::error::Result<TokenReport> {
    let server_ca = data_dir
        .tls_dir()
        .join(format!("{}.crt", data_dir.layout().join_ca));
    let hash = k3s_ca_hash_of(&PemFile::read(&server_ca)?, now)?;
    let tokens = data_dir
        .token_files()
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
