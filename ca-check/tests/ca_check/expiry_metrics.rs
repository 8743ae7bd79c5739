//! `ca-check expiry -o prometheus`: what Prometheus's own `promtool check
//! metrics` accepts, with the dates openssl reads, and `--write`, which
//! replaces the file node_exporter's textfile collector reads at any moment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::expiry_layouts::openssl_not_after;
use testkit::{ok, scratch};

fn ca_check(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir)
}

/// A copy of the k3s fixture, with an expired CA certificate (its subject
/// quoted) and a file that holds none added to its tls dir.
fn k3s_node(work: &Path) -> PathBuf {
    let data = work.join("k3s");
    testkit::faults::copy_tree(
        &testkit::workspace_root().join("fixtures/k3s-default"),
        &data,
    );
    let tls = data.join("server/tls");
    ok(testkit::gocheck()
        .args(["mkca", "--cn", "old \"quoted\" name"])
        .args(["--not-before", "2020-01-01T00:00:00Z", "--days", "30"])
        .arg("--out-cert")
        .arg(tls.join("old.crt"))
        .arg("--out-key")
        .arg(work.join("old.key")));
    fs::write(tls.join("garbage.crt"), "not a certificate").unwrap();
    data
}

/// `promtool` from Debian's prometheus package, which scripts/test installs.
fn promtool_check(metrics: &[u8]) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running promtool (scripts/test installs Debian's prometheus package)");
    child.stdin.take().unwrap().write_all(metrics).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The samples of `metric`: the label set as written, and the value.
fn samples<'a>(text: &'a str, metric: &str) -> Vec<(&'a str, &'a str)> {
    text.lines()
        .filter_map(|line| line.strip_prefix(metric)?.strip_prefix('{'))
        .map(|rest| rest.rsplit_once("} ").unwrap())
        .collect()
}

/// One label's value, as written (escaped).
fn label<'a>(labels: &'a str, name: &str) -> &'a str {
    let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let rest = &labels[start..];
    let mut end = 0;
    let bytes = rest.as_bytes();
    while bytes[end] != b'"' {
        end += if bytes[end] == b'\\' { 2 } else { 1 };
    }
    &rest[..end]
}

#[test]
fn prometheus_metrics_pass_promtool_and_carry_the_dates_openssl_reads() {
    let dir = scratch();
    let data = k3s_node(dir.path());
    let out = ca_check(&data)
        .args(["expiry", "-o", "prometheus"])
        .output()
        .unwrap();
    // The expired certificate and the unreadable file: exit 1, metrics anyway.
    assert_eq!(out.status.code(), Some(1));
    let (accepted, said) = promtool_check(&out.stdout);
    assert!(accepted, "promtool refused the metrics: {said}");
    let text = String::from_utf8(out.stdout).unwrap();

    let not_after = samples(&text, "x509_cert_not_after");
    let tls = data.join("server/tls");
    let mut seen = BTreeMap::new();
    for (labels, value) in &not_after {
        assert_eq!(label(labels, "distribution"), "k3s");
        let path = PathBuf::from(label(labels, "filepath").replace("\\\"", "\""));
        assert!(path.starts_with(&tls), "{labels}");
        if label(labels, "index") == "1" {
            assert_eq!(
                value.parse::<i64>().unwrap(),
                openssl_not_after(&path),
                "{labels}"
            );
        }
        seen.insert(
            path.strip_prefix(&tls).unwrap().display().to_string(),
            label(labels, "kind").to_string(),
        );
    }
    assert_eq!(seen.get("server-ca.crt").map(String::as_str), Some("ca"));
    assert_eq!(
        seen.get("client-admin.crt").map(String::as_str),
        Some("leaf")
    );
    assert_eq!(seen.get("etcd/peer-ca.crt").map(String::as_str), Some("ca"));

    // The subject's quotes are escaped as the format requires, and only that
    // certificate is expired.
    let expired: Vec<_> = samples(&text, "x509_cert_expired")
        .into_iter()
        .filter(|(_, value)| *value == "1")
        .map(|(labels, _)| label(labels, "subject_CN"))
        .collect();
    assert_eq!(expired, [r#"old \"quoted\" name"#]);
    assert_eq!(
        samples(&text, "x509_read_errors"),
        [(r#"distribution="k3s""#, "1")]
    );
    // Every certificate has its three gauges.
    assert_eq!(
        samples(&text, "x509_cert_not_before").len(),
        not_after.len()
    );
}

/// node_exporter reads the file whenever it is scraped: every read sees a
/// whole exposition, the old or the new, never a truncated or half-written one.
#[test]
fn the_written_metrics_file_is_replaced_at_once_under_concurrent_reads() {
    let dir = scratch();
    let data = k3s_node(dir.path());
    let collector = dir.path().join("textfile");
    fs::create_dir(&collector).unwrap();
    let file = collector.join("k3s-pki.prom");
    let whole = ca_check(&data)
        .args(["expiry", "-o", "prometheus"])
        .output()
        .unwrap()
        .stdout;

    let done = Arc::new(AtomicBool::new(false));
    let torn = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (done, torn, file, whole) = (done.clone(), torn.clone(), file.clone(), whole.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                if let Ok(read) = fs::read(&file) {
                    reads += 1;
                    if read != whole {
                        torn.lock().unwrap().push(read.len());
                    }
                }
            }
            reads
        })
    };
    for _ in 0..40 {
        let out = ca_check(&data)
            .args(["expiry", "-o", "prometheus", "--write"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("wrote {}\n", file.display())
        );
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0, "the reader never saw the file");
    assert_eq!(*torn.lock().unwrap(), Vec::<usize>::new(), "torn reads");
    assert_eq!(fs::read(&file).unwrap(), whole);
    assert_eq!(testkit::mode(&file), 0o644);
    // The collector reads *.prom: nothing else of ours may end so.
    let proms: Vec<String> = testkit::file_names(&collector)
        .into_iter()
        .filter(|name| name.ends_with(".prom"))
        .collect();
    assert_eq!(proms, ["k3s-pki.prom"]);
}

#[test]
fn write_refuses_a_missing_directory_and_the_checked_data_dir() {
    let dir = scratch();
    let data = k3s_node(dir.path());
    let before = testkit::snapshot(&data);
    for (target, said) in [
        (
            dir.path().join("no-such-dir/k3s.prom"),
            format!(
                "{}: the directory does not exist (it is not created)",
                dir.path().join("no-such-dir").display()
            ),
        ),
        (
            data.join("server/k3s.prom"),
            format!(
                "{}: inside {}, which is being checked: write it elsewhere",
                data.join("server/k3s.prom").display(),
                data.display()
            ),
        ),
    ] {
        let out = ca_check(&data)
            .args(["expiry", "-o", "prometheus", "--write"])
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("ca-check: error: {said}\n")
        );
        assert!(!target.exists());
    }
    assert!(!dir.path().join("no-such-dir").exists());
    assert_eq!(testkit::snapshot(&data), before);
}

/// The README's cron line and alert rules: the line runs as written (paths
/// moved under a scratch root), Prometheus's promtool accepts the rules.
#[test]
fn the_readmes_cron_line_runs_and_its_alert_rules_pass_promtool() {
    let readme = fs::read_to_string(testkit::workspace_root().join("README.md")).unwrap();
    let block = |fence: &str| -> String {
        let start = readme.find(fence).unwrap() + fence.len();
        readme[start..].split("```").next().unwrap().to_string()
    };
    let dir = scratch();
    let rules = dir.path().join("rules.yml");
    fs::write(&rules, block("```yaml\n")).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("running promtool (scripts/test installs Debian's prometheus package)");
    assert!(out.status.success(), "{out:?}");

    let cron = block("```text\n*/15 * * * * root ");
    let collector = dir.path().join("node-exporter");
    fs::create_dir(&collector).unwrap();
    let command = cron.trim().replace(
        "/var/lib/prometheus/node-exporter",
        &collector.to_string_lossy(),
    );
    let data = dir.path().join("k3s");
    testkit::faults::copy_tree(
        &testkit::workspace_root().join("fixtures/k3s-default"),
        &data,
    );
    let path = format!(
        "{}:{}",
        env!("CARGO_BIN_EXE_ca-check").rsplit_once('/').unwrap().0,
        std::env::var("PATH").unwrap()
    );
    let out = testkit::tool("sh", &data)
        .args(["-c", &command])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let (accepted, said) = promtool_check(&fs::read(collector.join("k3s-pki.prom")).unwrap());
    assert!(accepted, "{said}");
}
