//! The expiry report in the Prometheus text exposition format (version
//! 0.0.4), for node_exporter's textfile collector.
//!
//! The metric and label names follow enix's x509-certificate-exporter, the
//! most used certificate exporter on Kubernetes nodes, so that its alert rules
//! and dashboards work on our output: `x509_cert_not_after`,
//! `x509_cert_not_before` (Unix times), `x509_cert_expired` (0 or 1) with the
//! labels `filepath`, `filename`, `subject_CN`, `issuer_CN`; and
//! `x509_read_errors`, the files that should hold a certificate and could not
//! be read. Ours besides: `distribution`, `kind` (`ca` or `leaf`), `index`
//! (the certificate's place in its file, so each series is unique) and
//! `component` (the name that renews it, where the distribution has one).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use crate::checks::expiry::{Expiries, ExpiryReport, Found, Row, Status};
use crate::pki::cert::unix_seconds;
use crate::pki::text::one_line;

/// One certificate's series: where it was read and what renews it.
struct Series<'a> {
    path: &'a Path,
    row: &'a Row,
    component: &'a str,
}

/// One per-certificate gauge: its name, help text and value.
struct Gauge {
    name: &'static str,
    help: &'static str,
    value: fn(&Row) -> i64,
}

/// Writes `report` as metrics.
pub fn write(out: &mut impl Write, report: &ExpiryReport) -> io::Result<()> {
    out.write_all(render(report).as_bytes())
}

/// The whole exposition, built in memory so that a file receives it in one
/// piece.
pub fn render(report: &ExpiryReport) -> String {
    let owned_paths;
    let (series, read_errors): (Vec<Series<'_>>, usize) = match &report.found {
        Expiries::Scan(scan) => {
            owned_paths = scan
                .rows
                .iter()
                .map(|row| report.directory.join(&row.file))
                .collect::<Vec<_>>();
            let series = scan
                .rows
                .iter()
                .zip(&owned_paths)
                .map(|(row, path)| Series {
                    path,
                    row,
                    component: "",
                })
                .collect();
            (series, scan.problems.len())
        }
        Expiries::Kubeadm { report: list, .. } => {
            let all = || list.certificates.iter().chain(&list.authorities);
            let series = all()
                .filter_map(|named| match &named.found {
                    Found::Read(row) => Some(Series {
                        path: &named.file,
                        row,
                        component: named.name,
                    }),
                    _ => None,
                })
                .collect();
            let unreadable = all()
                .filter(|named| matches!(named.found, Found::Unreadable(_)))
                .count();
            (series, unreadable)
        }
    };
    let distribution = report.layout.name();
    let mut text = String::new();
    let gauges = [
        Gauge {
            name: "x509_cert_not_after",
            help: "The certificate's notAfter as a Unix time (seconds).",
            value: |row| unix_seconds(row.not_after),
        },
        Gauge {
            name: "x509_cert_not_before",
            help: "The certificate's notBefore as a Unix time (seconds).",
            value: |row| unix_seconds(row.not_before),
        },
        Gauge {
            name: "x509_cert_expired",
            help: "1 if the certificate was past its notAfter when checked, else 0.",
            value: |row| i64::from(row.status == Status::Expired),
        },
    ];
    for Gauge { name, help, value } in gauges {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} gauge");
        for one in &series {
            let _ = writeln!(
                text,
                "{name}{} {}",
                labels(distribution, one),
                value(one.row)
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP x509_read_errors Files that should hold a certificate and could not be read."
    );
    let _ = writeln!(text, "# TYPE x509_read_errors gauge");
    let _ = writeln!(
        text,
        "x509_read_errors{{distribution=\"{}\"}} {read_errors}",
        label_value(distribution)
    );
    text
}

/// The label set of one series, in a fixed order.
fn labels(distribution: &str, series: &Series<'_>) -> String {
    let row = series.row;
    let path = series.path.to_string_lossy();
    let file_name = series
        .path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let pairs = [
        ("distribution", distribution),
        ("filepath", &path),
        ("filename", &file_name),
        ("index", &row.index.to_string()),
        ("kind", if row.is_ca { "ca" } else { "leaf" }),
        ("subject_CN", &row.subject),
        ("issuer_CN", &row.issuer),
        ("component", series.component),
    ]
    .map(|(name, value)| format!("{name}=\"{}\"", label_value(value)));
    format!("{{{}}}", pairs.join(","))
}

/// A label value as the format requires: `\` and `"` escaped, no line feed.
/// Control characters are first written as the reports write them (`\n`,
/// `\u{1b}`), so a name cannot corrupt a terminal or a log either.
fn label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in one_line(value).chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_format_requires() {
        assert_eq!(label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        // one_line turns the line feed and the escape into visible text first.
        let shown = label_value("x\ny\u{1b}");
        assert!(
            !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown}"
        );
    }
}
