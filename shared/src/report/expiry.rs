//! The expiry report as text and JSON: our table and JSON for every layout,
//! kubeadm's two tables, and kubeadm's own `check-expiration -o json`; the
//! metrics are [`prometheus`]'s.
//!
//! Our JSON is built as a `serde_json::Value`, whose map sorts the keys: that
//! order is the format. kubeadm's keeps Go's field order, so it is serialized
//! from structs that mirror kubeadm's.

use crate::pki::text::{one_line, shown};
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use serde::Serialize as _;
use serde_json::json;

use crate::checks::ca_outlook::{CaOutlook, NextStep};
use crate::checks::expiry::{
    Expiries, ExpiryReport, Found, KUBELET_CONF_FIX, KubeadmReport, Named, Row, ScanReport, Status,
};
use crate::pki::cert::{format_kubeadm_time, format_time};
use crate::pki::error::{Error, Result};
use crate::report::prometheus;

/// How `ca-check expiry` prints its report (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryFormat {
    /// A table for people.
    Table,
    /// Our JSON, for every layout.
    Json,
    /// kubeadm's own `-o json`, for kubeadm's layout only.
    KubeadmJson,
    /// Prometheus metrics, for node_exporter's textfile collector.
    Prometheus,
}

impl FromStr for ExpiryFormat {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "table" => Ok(ExpiryFormat::Table),
            "json" => Ok(ExpiryFormat::Json),
            "kubeadm-json" => Ok(ExpiryFormat::KubeadmJson),
            "prometheus" => Ok(ExpiryFormat::Prometheus),
            _ => Err("unknown output format: use table, json, kubeadm-json or prometheus".into()),
        }
    }
}

/// Writes `report` in `format`. `Err` (before writing anything) when the
/// format has no form for the report: kubeadm's JSON lists kubeadm's named
/// certificates, which only kubeadm's layout has; otherwise what writing
/// returned.
pub fn write(
    out: &mut impl Write,
    report: &ExpiryReport,
    format: ExpiryFormat,
) -> Result<io::Result<()>> {
    Ok(match (&report.found, format) {
        (_, ExpiryFormat::Prometheus) => prometheus::write(out, report),
        (Expiries::Scan(_), ExpiryFormat::KubeadmJson) => {
            return Err(Error::usage(format!(
                "-o kubeadm-json is kubeadm's format: use --product kubeadm \
                 (this is the {} layout)",
                report.layout.name()
            )));
        }
        (Expiries::Scan(scan), ExpiryFormat::Table) => write_scan_table(out, report, scan),
        (Expiries::Scan(scan), ExpiryFormat::Json) => write_scan_json(out, report, scan),
        (Expiries::Kubeadm { report: list, .. }, ExpiryFormat::Table) => {
            write_kubeadm_table(out, report, list)
        }
        (
            Expiries::Kubeadm {
                kubeconfig_dir,
                report: list,
            },
            ExpiryFormat::Json,
        ) => write_kubeadm_json(out, report, kubeconfig_dir, list),
        (Expiries::Kubeadm { report: list, .. }, ExpiryFormat::KubeadmJson) => {
            write_kubeadm_own_json(out, list, report.checked_at)
        }
    })
}

/// "123d 4h", or "expired 3d 2h ago".
pub(crate) fn time_left(seconds: i64) -> String {
    let magnitude = seconds.unsigned_abs();
    let (days, hours) = (magnitude / 86_400, (magnitude % 86_400) / 3_600);
    if seconds >= 0 {
        format!("{days}d {hours}h")
    } else {
        format!("expired {days}d {hours}h ago")
    }
}

fn write_scan_table(
    out: &mut impl Write,
    report: &ExpiryReport,
    scan: &ScanReport,
) -> io::Result<()> {
    let now = report.checked_at;
    // k3s and RKE2 name the `rotate --service` of each row, before STATUS.
    let services = scan.services.is_some();
    let mut header = vec![
        "FILE", "SUBJECT", "ISSUER", "USAGES", "KIND", "EXPIRES", "LEFT",
    ];
    header.extend(services.then_some("SERVICE"));
    header.push("STATUS");
    let mut rows: Vec<Vec<String>> = vec![header.into_iter().map(String::from).collect()];
    rows.extend(scan.rows.iter().map(|r| {
        let mut cells = vec![
            if r.index > 1 {
                format!("{}#{}", shown(&r.file), r.index)
            } else {
                shown(&r.file)
            },
            one_line(&r.subject),
            one_line(&r.issuer),
            r.usages.join(","),
            if r.is_ca { "CA".into() } else { "leaf".into() },
            format_time(r.not_after),
            time_left(r.seconds_left(now)),
        ];
        if services {
            cells.push(r.service.unwrap_or("-").into());
        }
        cells.push(r.status.as_str().into());
        cells
    }));
    write_columns(out, &rows, "  ")?;
    for problem in &scan.problems {
        writeln!(
            out,
            "{}: cannot read: {}",
            shown(&problem.file),
            one_line(&problem.problem)
        )?;
    }
    for note in &scan.notes {
        writeln!(out, "note: {}", one_line(note))?;
    }
    if scan.rows.is_empty() && scan.problems.is_empty() {
        writeln!(out, "no certificates under {}", shown(&report.directory))?;
    }
    if let Some(renewal) = report.renewal() {
        writeln!(out)?;
        if !renewal.services.is_empty() {
            writeln!(
                out,
                "Renew what is in the warning window or due ({} days), stopped first: rotate \
                 deletes the files and the start re-issues them:",
                report.due_days
            )?;
            for command in &renewal.commands {
                writeln!(out, "  {command}")?;
            }
        }
        if renewal.ca_due {
            writeln!(
                out,
                "A CA is in the warning window: rotate never renews CAs; see below."
            )?;
        }
    }
    write_cas(out, report)?;
    if let Some(serving) = &report.serving {
        crate::report::serving::write(out, serving, now, report.warn_days)?;
    }
    Ok(())
}

fn write_scan_json(
    out: &mut impl Write,
    report: &ExpiryReport,
    scan: &ScanReport,
) -> io::Result<()> {
    let certificates: Vec<_> = scan.rows.iter().map(|r| row_json(r, report)).collect();
    let problems: Vec<_> = scan
        .problems
        .iter()
        .map(|p| json!({"file": p.file.display().to_string(), "problem": p.problem}))
        .collect();
    let renew = report.renewal().map(|renewal| {
        json!({
            "services": renewal.services,
            "commands": if renewal.services.is_empty() { Vec::new() } else { renewal.commands.to_vec() },
            "ca_due": renewal.ca_due,
        })
    });
    let document = json!({
        "directory": report.directory.display().to_string(),
        "checked_at": format_time(report.checked_at),
        "warn_days": report.warn_days,
        "due_days": report.due_days,
        "certificates": certificates,
        "problems": problems,
        "dynamic_cert": scan.dynamic_cert.map(Status::as_str),
        "notes": scan.notes,
        "renew": renew,
        "cas": cas_json(report),
        "serving": report
            .serving
            .as_ref()
            .map(|s| crate::report::serving::json(s, report.checked_at, report.warn_days)),
    });
    writeln!(out, "{document:#}")
}

/// Once a CA is due (in the layout's window), each CA's end and next step:
/// renew it with its key, or rotate. Until then the table's CA rows say
/// enough (and our JSON always holds the steps).
fn write_cas(out: &mut impl Write, report: &ExpiryReport) -> io::Result<()> {
    let window = i64::try_from(report.due_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    let left = |ca: &CaOutlook| {
        crate::pki::cert::unix_seconds(ca.not_after)
            - crate::pki::cert::unix_seconds(report.checked_at)
    };
    if !report.cas.iter().any(|ca| left(ca) < window) {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "CAs, and the next step for each:")?;
    for ca in &report.cas {
        let left = left(ca);
        let when = if left < window { "now" } else { "when due" };
        let step = match &ca.next {
            NextStep::Renew { issuer_key, .. } => match issuer_key {
                None => format!("renew {when}, same key"),
                Some(issuer) => format!(
                    "renew {when}, same key, with the key of its issuer \"{}\" (--issuer-key)",
                    one_line(issuer)
                ),
            },
            NextStep::KeyElsewhere => format!(
                "its key is not here (external CA): renew {when} where the key is kept \
                 (same key, same subject), or rotate"
            ),
            NextStep::Rotate(why) => format!("rotate {when}: {}", one_line(why)),
        };
        writeln!(
            out,
            "  {} \"{}\" ends {} ({}): {step}",
            shown(&ca.file),
            one_line(&ca.subject),
            format_time(ca.not_after),
            time_left(left)
        )?;
    }
    if let Some(command) = report.cas.iter().find_map(|ca| match &ca.next {
        NextStep::Renew { command, .. } => Some(command),
        NextStep::KeyElsewhere | NextStep::Rotate(_) => None,
    }) {
        writeln!(out, "Renew (stages the renewed certificates, keys kept):")?;
        writeln!(out, "  {command}")?;
    }
    writeln!(
        out,
        "Rotate instead of renewing a CA whose key may have been exposed: rotate-default-ca \
         (gen-custom-ca for a custom tree)."
    )
}

/// The CAs' next steps, for our JSON.
fn cas_json(report: &ExpiryReport) -> serde_json::Value {
    let cas: Vec<_> = report
        .cas
        .iter()
        .map(|ca| {
            let (next, command, why) = match &ca.next {
                NextStep::Renew {
                    command,
                    issuer_key,
                } => (
                    "renew",
                    Some(command.clone()),
                    issuer_key
                        .as_ref()
                        .map(|issuer| format!("needs the key of its issuer \"{issuer}\"")),
                ),
                NextStep::KeyElsewhere => (
                    "renew-where-the-key-is",
                    None,
                    Some("its key is not here (external CA)".to_string()),
                ),
                NextStep::Rotate(why) => ("rotate", None, Some(why.clone())),
            };
            json!({
                "file": ca.file.display().to_string(),
                "subject": ca.subject,
                "not_after": format_time(ca.not_after),
                "next_step": next,
                "command": command,
                "why": why,
            })
        })
        .collect();
    json!(cas)
}

/// Columns padded to their widest cell, separated by `gap`.
fn write_columns(out: &mut impl Write, rows: &[Vec<String>], gap: &str) -> io::Result<()> {
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
fn row_json(r: &Row, report: &ExpiryReport) -> serde_json::Value {
    let now = report.checked_at;
    json!({
        "service": r.service,
        "due": report.is_due(r),
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
fn write_kubeadm_table(
    out: &mut impl Write,
    expiry: &ExpiryReport,
    report: &KubeadmReport,
) -> io::Result<()> {
    let now = expiry.checked_at;
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
    write_columns(
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
    write_columns(
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
    for named in report
        .certificates
        .iter()
        .chain(&report.authorities)
        .chain(&report.kubelet_conf)
    {
        if let Found::Unreadable(problem) = &named.found {
            writeln!(
                out,
                "{}: cannot read: {}",
                shown(&named.file),
                one_line(problem)
            )?;
        }
    }
    write_cas(out, expiry)?;
    if let Some(named) = &report.kubelet_conf {
        writeln!(out)?;
        if let Found::Read(row) = &named.found {
            writeln!(
                out,
                "{}: client certificate {} expires {} ({}, {})",
                shown(&named.file),
                one_line(&row.subject),
                format_kubeadm_time(row.not_after),
                short_human_duration(row.seconds_left(now)),
                row.status.as_str()
            )?;
        }
        writeln!(out, "{KUBELET_CONF_FIX}")?;
    }
    Ok(())
}

/// Our JSON for kubeadm: the rows of `-o json` with kubeadm's name, CA name,
/// external-CA mode and missing flag.
fn write_kubeadm_json(
    out: &mut impl Write,
    report: &ExpiryReport,
    kubeconfig_dir: &Path,
    list: &KubeadmReport,
) -> io::Result<()> {
    let now = report.checked_at;
    let item = |named: &Named| {
        let mut item = match &named.found {
            Found::Read(row) => row_json(row, report),
            _ => json!({"file": named.file.display().to_string()}),
        };
        item["name"] = json!(named.name);
        item["ca_name"] = json!(named.ca_name);
        item["externally_managed"] = json!(named.externally_managed);
        item["missing"] = json!(matches!(named.found, Found::Missing));
        item
    };
    let items = |named: &[Named]| -> Vec<serde_json::Value> { named.iter().map(item).collect() };
    let kubelet_conf = list.kubelet_conf.as_ref().map(|named| {
        let mut conf = item(named);
        conf["fix"] = json!(KUBELET_CONF_FIX);
        conf
    });
    let problems: Vec<_> = list
        .certificates
        .iter()
        .chain(&list.authorities)
        .chain(&list.kubelet_conf)
        .filter_map(|named| match &named.found {
            Found::Unreadable(problem) => {
                Some(json!({"file": named.file.display().to_string(), "problem": problem}))
            }
            _ => None,
        })
        .collect();
    let document = json!({
        "directory": report.directory.display().to_string(),
        "kubeconfig_directory": kubeconfig_dir.display().to_string(),
        "checked_at": format_time(now),
        "warn_days": report.warn_days,
        "due_days": report.due_days,
        "certificates": items(&list.certificates),
        "certificate_authorities": items(&list.authorities),
        "kubelet_conf": kubelet_conf,
        "problems": problems,
        "cas": cas_json(report),
    });
    writeln!(out, "{document:#}")
}

/// kubeadm's `output.kubeadm.k8s.io/v1alpha3` `CertificateExpirationInfo`
/// (kubernetes/kubernetes cmd/kubeadm/app/apis/output/v1alpha3), its fields
/// in Go's declaration order, which is the order of kubeadm's JSON.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CertificateExpirationInfo<'a> {
    kind: &'static str,
    api_version: &'static str,
    certificates: Vec<KubeadmCertificate<'a>>,
    certificate_authorities: Vec<KubeadmCertificate<'a>>,
}

/// kubeadm's `Certificate` as its `certs check-expiration` fills it
/// (cmd/kubeadm/app/cmd/certs.go): `residualTime` in whole seconds (the Go
/// duration divided by time.Second, so truncated toward zero); for a missing
/// file only its name and `missing` set (a zero time is `null`, `caName`
/// omitted when empty).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeadmCertificate<'a> {
    name: &'a str,
    expiration_date: Option<String>,
    residual_time: i64,
    externally_managed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_name: Option<&'a str>,
    missing: bool,
}

impl<'a> KubeadmCertificate<'a> {
    fn list(named: &'a [Named], now: SystemTime) -> Vec<Self> {
        named.iter().map(|n| Self::of(n, now)).collect()
    }

    /// A file that cannot be read (kubeadm stops there) is listed like a
    /// missing one but with `missing: false`.
    fn of(named: &'a Named, now: SystemTime) -> Self {
        match &named.found {
            Found::Read(row) => KubeadmCertificate {
                name: named.name,
                expiration_date: Some(format_time(row.not_after)),
                residual_time: row.seconds_left(now),
                externally_managed: named.externally_managed,
                ca_name: named.ca_name,
                missing: false,
            },
            Found::Missing | Found::Unreadable(_) => KubeadmCertificate {
                name: named.name,
                expiration_date: None,
                residual_time: 0,
                externally_managed: false,
                ca_name: None,
                missing: matches!(named.found, Found::Missing),
            },
        }
    }
}

/// kubeadm's own `check-expiration -o json`, as Go's
/// `json.MarshalIndent(obj, "", "    ")` writes it; a file that cannot be
/// read is named on stderr.
fn write_kubeadm_own_json(
    out: &mut impl Write,
    report: &KubeadmReport,
    now: SystemTime,
) -> io::Result<()> {
    let info = CertificateExpirationInfo {
        kind: "CertificateExpirationInfo",
        api_version: "output.kubeadm.k8s.io/v1alpha3",
        certificates: KubeadmCertificate::list(&report.certificates, now),
        certificate_authorities: KubeadmCertificate::list(&report.authorities, now),
    };
    let indent = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    info.serialize(&mut serde_json::Serializer::with_formatter(
        &mut *out, indent,
    ))?;
    writeln!(out)?;
    for named in report
        .certificates
        .iter()
        .chain(&report.authorities)
        .chain(&report.kubelet_conf)
    {
        if let Found::Unreadable(problem) = &named.found {
            eprintln!("{}: cannot read: {}", shown(&named.file), one_line(problem));
        }
    }
    // kubeadm's JSON has no place for it: the finding goes with the problems.
    if let Some(named) = &report.kubelet_conf {
        eprintln!("{}: {KUBELET_CONF_FIX}", shown(&named.file));
    }
    Ok(())
}
