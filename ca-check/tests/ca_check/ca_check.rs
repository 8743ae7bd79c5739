//! `ca-check` against Go: its verdicts on a corpus of good and broken staging
//! dirs are compared with `gocheck rotate-check` (the checks of
//! `k3s certificate rotate-ca`, in Go), case by case; the expiry report is
//! checked on certificates made with chosen dates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use shared::layout::DataDir;
use shared::runs::rotation::{RotationOptions, plan_rotation};
use shared::store::lock::TargetLock;
use testkit::{Json, gocheck, k3s_hash, ok, openssl, scratch, status};

fn tool(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir)
}

/// A k3s data dir as k3s makes it, and a good staged rotation of it in `staging/tls`.
fn cluster_with_staged_rotation(root: &Path) -> (PathBuf, PathBuf) {
    let data_dir = root.join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let staging = root.join("staging");
    let options = RotationOptions {
        data_dir: DataDir::resolve(Some(data_dir.clone()), Some("k3s".into()), |_| None).unwrap(),
        staging_dir: staging.clone(),
        algorithm: None,
        force: false,
        now: SystemTime::now(),
    };
    let lock = TargetLock::acquire(&staging, "test", false).unwrap();
    plan_rotation(&options).unwrap().plan.apply(&lock).unwrap();
    (data_dir, staging)
}

/// Go's verdict per file: file -> "reused" | "ok" | "fail", and overall ok.
fn go_verdicts(data_dir: &Path, staging: &Path) -> (bool, BTreeMap<String, String>) {
    let (passed, output) = status(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(data_dir.join("server/tls"))
            .arg("--staged")
            .arg(staging.join("tls")),
    );
    let start = output
        .find('{')
        .unwrap_or_else(|| panic!("no JSON from rotate-check:\n{output}"));
    let end = output.rfind('}').unwrap() + 1;
    let report: Json = serde_json::from_str(&output[start..end]).unwrap();
    let files = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (passed, files)
}

/// ca-check's verdict per file, from its table output.
fn our_verdicts(data_dir: &Path, staging: &Path) -> (bool, BTreeMap<String, String>, String) {
    let out = tool(data_dir).arg("staged").arg(staging).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let verdicts = stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let file = parts.next()?;
            let verdict = parts.next()?;
            let verdict = match verdict {
                "reused" => "reused",
                "OK" | "WARN" => "ok",
                "FAIL" => "fail",
                _ => return None,
            };
            Some((file.to_string(), verdict.to_string()))
        })
        .collect();
    (out.status.success(), verdicts, stdout)
}

/// Both tools give the same verdict on every file, and the same overall answer.
fn assert_agree(name: &str, data_dir: &Path, staging: &Path, expect_ok: bool, failing: &[&str]) {
    let (go_ok, go) = go_verdicts(data_dir, staging);
    let (our_ok, ours, stdout) = our_verdicts(data_dir, staging);
    assert_eq!(go_ok, expect_ok, "{name}: Go verdict {go:?}");
    assert_eq!(our_ok, expect_ok, "{name}: ca-check verdict:\n{stdout}");
    assert_eq!(
        ours, go,
        "{name}: verdicts differ file by file\nca-check:\n{stdout}"
    );
    let failed: Vec<&str> = ours
        .iter()
        .filter(|(_, v)| *v == "fail")
        .map(|(f, _)| f.as_str())
        .collect();
    assert_eq!(failed, failing, "{name}:\n{stdout}");
}

fn pem_blocks(text: &str) -> Vec<String> {
    text.split_inclusive("-----\n")
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|pair| pair.concat())
        .filter(|block| block.contains("-----END"))
        .collect()
}

#[test]
fn ca_check_and_go_agree_on_a_good_staging_dir() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    assert_agree("good", &data_dir, &staging, true, &[]);
}

#[test]
fn ca_check_and_go_agree_when_the_wrong_key_comes_first() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let key = staging.join("tls/client-ca.key");
    let blocks = pem_blocks(&fs::read_to_string(&key).unwrap());
    assert_eq!(blocks.len(), 2);
    fs::write(&key, format!("{}{}", blocks[1], blocks[0])).unwrap();
    assert_agree(
        "wrong key first",
        &data_dir,
        &staging,
        false,
        &["client-ca.key"],
    );
}

#[test]
fn ca_check_and_go_agree_on_a_single_certificate_bundle() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let bundle = staging.join("tls/server-ca.crt");
    let blocks = pem_blocks(&fs::read_to_string(&bundle).unwrap());
    fs::write(&bundle, &blocks[0]).unwrap();
    assert_agree(
        "single-cert bundle",
        &data_dir,
        &staging,
        false,
        &["server-ca.crt"],
    );
}

#[test]
fn ca_check_and_go_agree_on_a_bundle_that_does_not_chain_to_the_current_roots() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let other = scratch();
    let (_, other_staging) = cluster_with_staged_rotation(other.path());
    for ext in ["crt", "key"] {
        fs::copy(
            other_staging.join(format!("tls/request-header-ca.{ext}")),
            staging.join(format!("tls/request-header-ca.{ext}")),
        )
        .unwrap();
    }
    assert_agree(
        "foreign bundle",
        &data_dir,
        &staging,
        false,
        &["request-header-ca.crt"],
    );
    let (_, _, stdout) = our_verdicts(&data_dir, &staging);
    assert!(
        stdout.contains("does not chain to the current root"),
        "{stdout}"
    );
}

#[test]
fn ca_check_and_go_agree_on_a_service_key_without_the_current_key() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let fresh = ok(testkit::openssl().args(["genrsa", "-traditional", "2048"]));
    fs::write(staging.join("tls/service.key"), fresh).unwrap();
    assert_agree(
        "service.key without current key",
        &data_dir,
        &staging,
        false,
        &["service.key"],
    );
}

#[test]
fn files_in_the_staging_dir_instead_of_tls_are_flagged() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let misplaced = dir.path().join("misplaced");
    fs::rename(staging.join("tls"), &misplaced).unwrap();
    fs::remove_dir_all(&staging).unwrap();
    fs::rename(&misplaced, &staging).unwrap();
    fs::create_dir(staging.join("tls")).unwrap();
    // k3s accepts this (every file "reused") and rotates nothing: the mistake of
    // k3s issue 10689. Go says so; ca-check fails it and says why.
    let (go_ok, go) = go_verdicts(&data_dir, &staging);
    assert!(go_ok && go.values().all(|v| v == "reused"), "{go:?}");
    let (our_ok, _, stdout) = our_verdicts(&data_dir, &staging);
    assert!(!our_ok, "{stdout}");
    assert!(stdout.contains("directly in"), "{stdout}");
    assert!(stdout.contains("move them into tls/"), "{stdout}");
}

/// Before, `<staging>/tls` given for `<staging>` was advised to move the
/// files into `<staging>/tls/tls`.
#[test]
fn the_tls_dir_given_for_the_staging_dir_is_told_to_pass_its_parent() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let (our_ok, _, stdout) = our_verdicts(&data_dir, &staging.join("tls"));
    assert!(!our_ok, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "holds the CA files itself: pass its parent, {}, to ca-check staged",
            staging.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("move them into tls/"), "{stdout}");
}

/// Issue 21: a staging dir that is not there was "not a directory"; and a
/// mistyped subcommand got argh's three lines without a suggestion.
#[test]
fn a_missing_staging_dir_and_a_mistyped_subcommand_are_said_as_such() {
    let dir = scratch();
    let (data_dir, _) = cluster_with_staged_rotation(dir.path());
    let missing = dir.path().join("stagign");
    let (our_ok, _, stdout) = our_verdicts(&data_dir, &missing);
    assert!(!our_ok);
    assert!(
        stdout.contains(&format!(
            "{}  FAIL    does not exist: give the path you will pass to rotate-ca --path",
            missing.display()
        )),
        "{stdout}"
    );
    let out = tool(&data_dir).arg("expirty").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ca-check: error: unknown subcommand expirty: did you mean expiry?\n"
    );
}

/// Before, `ca-check expiry --data-dir X` was refused: argh takes global
/// flags only before the subcommand.
#[test]
fn global_flags_may_follow_the_subcommand() {
    let dir = scratch();
    let (data_dir, _) = cluster_with_staged_rotation(dir.path());
    let elsewhere = dir.path().join("elsewhere");
    let out = ok(tool(&elsewhere)
        .args(["expiry", "--data-dir"])
        .arg(&data_dir)
        .args(["--product", "k3s"]));
    assert!(out.contains("server-ca.crt"), "{out}");
}

/// Issue 21: `expiry` on a data directory k3s never ran in said
/// `.../server/tls: reading directory failed: No such file or directory`.
#[test]
fn expiry_names_a_missing_cert_dir_as_such() {
    let dir = scratch();
    let out = tool(dir.path()).arg("expiry").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "ca-check: error: {}: the k3s certificate directory does not exist: \
             has k3s run with this data directory? (check --data-dir and --product)\n",
            dir.path().join("server/tls").display()
        )
    );
}

#[test]
fn garbage_in_a_staged_file_is_reported_not_panicked_on() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    fs::write(staging.join("tls/etcd/peer-ca.crt"), "garbage").unwrap();
    let (our_ok, verdicts, stdout) = our_verdicts(&data_dir, &staging);
    assert!(!our_ok);
    assert_eq!(verdicts["etcd/peer-ca.crt"], "fail", "{stdout}");
    assert!(stdout.contains("no PEM block"), "{stdout}");
}

/// Issue 10 case 9: a staging dir with one of five CAs staged (a half-written
/// one) passed with "no failures" and would have rotated one CA.
#[test]
fn a_partly_written_staging_dir_is_a_warning_saying_what_rotates() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    for stem in [
        "server-ca",
        "request-header-ca",
        "etcd/peer-ca",
        "etcd/server-ca",
    ] {
        fs::remove_file(staging.join(format!("tls/{stem}.crt"))).unwrap();
        fs::remove_file(staging.join(format!("tls/{stem}.key"))).unwrap();
    }
    let (our_ok, _, stdout) = our_verdicts(&data_dir, &staging);
    assert!(our_ok, "k3s accepts it, so a warning:\n{stdout}");
    let warning = stdout
        .lines()
        .find(|l| l.starts_with("tls/"))
        .unwrap_or_else(|| panic!("no warning:\n{stdout}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("will rotate: client-ca;"), "{warning}");
    assert!(
        warning.contains(
            "will NOT rotate (current CA kept): server-ca, request-header-ca, etcd/peer-ca, etcd/server-ca"
        ),
        "{warning}"
    );
}

/// Issue 10 case 9: a staged key file whose second (new root) key could not be
/// parsed was "OK", and the next rotation failed on it.
#[test]
fn a_staged_key_whose_root_key_cannot_be_parsed_fails() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let key = staging.join("tls/client-ca.key");
    let blocks = pem_blocks(&fs::read_to_string(&key).unwrap());
    let broken = "-----BEGIN EC PRIVATE KEY-----\nMAMCAQE=\n-----END EC PRIVATE KEY-----\n";
    fs::write(&key, format!("{}{broken}", blocks[0])).unwrap();
    let (our_ok, verdicts, stdout) = our_verdicts(&data_dir, &staging);
    assert!(!our_ok, "{stdout}");
    assert_eq!(verdicts["client-ca.key"], "fail", "{stdout}");
    assert!(stdout.contains("key #2 cannot be parsed"), "{stdout}");
}

/// Issue 10 case 9: a current CA certificate Go cannot parse (a negative
/// serial number) was "OK" while rotate-ca rejects it.
#[test]
fn a_current_certificate_go_cannot_parse_fails() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let current = data_dir.join("server/tls/request-header-ca.crt");
    ok(openssl()
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=negative",
            "-set_serial",
            "-5",
            "-days",
            "10",
        ])
        .arg("-keyout")
        .arg(dir.path().join("negative.key"))
        .arg("-out")
        .arg(&current));
    let (go_ok, _) = go_verdicts(&data_dir, &staging);
    assert!(!go_ok, "Go refuses it");
    let (our_ok, verdicts, stdout) = our_verdicts(&data_dir, &staging);
    assert!(!our_ok, "{stdout}");
    assert_eq!(verdicts["request-header-ca.crt"], "fail", "{stdout}");
    assert!(stdout.contains("negative serial number"), "{stdout}");
}

/// A CA certificate (and key) with chosen dates, written as `name`.
fn dated(dir: &Path, name: &str, not_before: &str, days: u32) -> PathBuf {
    let cert = dir.join(name);
    ok(gocheck()
        .args([
            "mkca",
            "--cn",
            name,
            "--not-before",
            not_before,
            "--days",
            &days.to_string(),
        ])
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(dir.join(format!("{name}.key"))));
    cert
}

fn rfc3339_days_from_now(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = u64::try_from(now + days * 86_400).unwrap();
    shared::pki::cert::format_time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at))
}

#[test]
fn expiry_reports_the_right_status_for_each_certificate() {
    let dir = scratch();
    let certs = dir.path().join("certs");
    fs::create_dir_all(certs.join("etcd")).unwrap();
    dated(&certs, "expired.crt", "2020-01-01T00:00:00Z", 30);
    dated(&certs, "expiring.crt", &rfc3339_days_from_now(-10), 40);
    dated(
        &certs.join("etcd"),
        "valid.crt",
        &rfc3339_days_from_now(-1),
        365,
    );
    dated(&certs, "future.crt", &rfc3339_days_from_now(10), 365);
    fs::write(certs.join("garbage.crt"), "not a certificate").unwrap();
    // A k3s-style dynamic-cert.json holding the expired certificate.
    let expired_pem = fs::read(certs.join("expired.crt")).unwrap();
    let encoded = {
        use base64ct::Encoding as _;
        base64ct::Base64::encode_string(&expired_pem)
    };
    fs::write(
        certs.join("dynamic-cert.json"),
        format!(r#"{{"metadata":{{"name":"k3s-serving"}},"data":{{"tls.crt":"{encoded}","tls.key":""}},"type":"kubernetes.io/tls"}}"#),
    )
    .unwrap();

    let out = tool(dir.path()).arg("expiry").arg(&certs).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expired certificates make exit 1:\n{table}"
    );
    let status_of = |file: &str| {
        table
            .lines()
            .find(|l| l.starts_with(file))
            .map(|l| l.trim_end().rsplit("  ").next().unwrap().trim().to_string())
            .unwrap_or_else(|| panic!("no row for {file}:\n{table}"))
    };
    assert_eq!(status_of("expired.crt"), "EXPIRED");
    assert_eq!(status_of("expiring.crt"), "WARNING");
    assert_eq!(status_of("etcd/valid.crt"), "OK");
    assert_eq!(status_of("future.crt"), "NOT YET VALID");
    assert_eq!(status_of("dynamic-cert.json"), "EXPIRED");
    assert!(table.contains("garbage.crt: cannot read"), "{table}");
    assert!(
        table.contains("delete secret k3s-serving") && table.contains("dynamic-cert-regenerate"),
        "{table}"
    );
    let rows: Vec<&str> = table.lines().skip(1).take(5).collect();
    assert!(
        rows[0].starts_with("expired.crt") || rows[0].starts_with("dynamic-cert.json"),
        "sorted by expiry:\n{table}"
    );
    assert!(
        rows[4].starts_with("future.crt") || rows[4].starts_with("etcd/valid.crt"),
        "{table}"
    );

    let out = tool(dir.path())
        .args(["expiry", "-o", "json"])
        .arg(&certs)
        .output()
        .unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "directory",
        "checked_at",
        "warn_days",
        "certificates",
        "problems",
        "dynamic_cert",
    ] {
        assert!(report.get(field).is_some(), "JSON lacks {field}: {report}");
    }
    assert_eq!(report["dynamic_cert"], "EXPIRED");
    assert_eq!(report["warn_days"], 120);
    let certificates = report["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 5);
    for cert in certificates {
        for field in [
            "file",
            "index",
            "subject",
            "issuer",
            "usages",
            "ca",
            "not_after",
            "seconds_left",
            "status",
        ] {
            assert!(cert.get(field).is_some(), "row lacks {field}: {cert}");
        }
    }
    let expiring = certificates
        .iter()
        .find(|c| c["file"] == "expiring.crt")
        .unwrap();
    let left = expiring["seconds_left"].as_i64().unwrap();
    assert!((29 * 86_400..31 * 86_400).contains(&left), "{expiring}");
    assert_eq!(report["problems"][0]["file"], "garbage.crt");

    // --warn-days moves the threshold.
    let out = tool(dir.path())
        .args(["expiry", "--warn-days", "10", "-o", "json"])
        .arg(&certs)
        .output()
        .unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let expiring = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "expiring.crt")
        .unwrap()
        .clone();
    assert_eq!(expiring["status"], "OK");
}

#[test]
fn expiry_lists_each_ca_of_a_bundle_and_only_the_leaf_of_a_leaf_file() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck()
        .args(["k3s-fixture", "--rotations", "1", "--out"])
        .arg(&data_dir));
    let out = tool(&data_dir)
        .args(["expiry", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["certificates"].as_array().unwrap();
    let of = |file: &str| rows.iter().filter(|r| r["file"] == file).count();
    assert_eq!(
        of("server-ca.crt"),
        4,
        "a rotated CA bundle lists its four CAs"
    );
    assert_eq!(of("client-admin.crt"), 1, "a leaf file lists its leaf");
    assert!(rows.iter().all(|r| r["status"] == "OK"), "{report}");
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = tool(&data_dir).arg("expiry").arg(&empty).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no certificates"));
}

#[test]
fn token_says_whether_the_tokens_carry_the_current_hash() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let hash = k3s_hash(&data_dir.join("server/tls/server-ca.crt"));
    let out = ok(tool(&data_dir).arg("token"));
    assert!(out.contains(&hash), "{out}");
    assert!(out.contains("carries it"), "{out}");
    // Load the rotation without updating the tokens: the classic outage.
    fs::copy(
        staging.join("tls/server-ca.crt"),
        data_dir.join("server/tls/server-ca.crt"),
    )
    .unwrap();
    let out = tool(&data_dir).arg("token").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("STALE"), "{text}");
    let new_hash = k3s_hash(&data_dir.join("server/tls/server-ca.crt"));
    assert!(text.contains(&new_hash), "{text}");
    assert!(
        text.contains("k3s rewrites this file with the current hash when the server restarts"),
        "{text}"
    );
    // Issue 20: the token itself is a secret, never printed.
    let token = fs::read_to_string(data_dir.join("server/token")).unwrap();
    let password = token.trim().rsplit(':').next().unwrap();
    assert!(!text.contains(password), "{text}");
}

#[test]
fn tree_verifies_a_custom_tree_and_names_what_is_broken() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let options = shared::runs::custom_ca::CustomCaOptions::new(
        DataDir::resolve(Some(data_dir.clone()), Some("k3s".into()), |_| None).unwrap(),
        SystemTime::now(),
    );
    let lock = TargetLock::acquire(&data_dir, "test", false).unwrap();
    shared::runs::custom_ca::plan_custom_ca(&options)
        .unwrap()
        .plan
        .apply(&lock)
        .unwrap();
    drop(lock);
    let tls = data_dir.join("server/tls");
    let out = ok(tool(&data_dir).arg("tree").arg(&tls));
    assert!(out.contains("no failures"), "{out}");

    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(tls.join("client-ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let bundle = tls.join("server-ca.crt");
    let blocks = pem_blocks(&fs::read_to_string(&bundle).unwrap());
    fs::write(&bundle, format!("{}{}{}", blocks[0], blocks[2], blocks[1])).unwrap();
    let out = tool(&data_dir).arg("tree").arg(&tls).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let fail_lines: Vec<&str> = text.lines().filter(|l| l.contains(" FAIL ")).collect();
    assert_eq!(fail_lines.len(), 2, "{text}");
    assert!(
        fail_lines
            .iter()
            .any(|l| l.starts_with("client-ca.key") && l.contains("mode 644")),
        "{text}"
    );
    assert!(
        fail_lines
            .iter()
            .any(|l| l.starts_with("server-ca.crt") && l.contains("expected [")),
        "{text}"
    );
}

#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    // `ca-check expiry | head -1` on a big directory: the reader goes away early.
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck()
        .args(["k3s-fixture", "--rotations", "2", "--out"])
        .arg(&data_dir));
    let mut child = tool(&data_dir)
        .arg("expiry")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

/// `staged` and `token` are k3s's (rotate-ca, K10 tokens): for kubeadm and k0s
/// ca-check says so and exits 2 (could not check) instead of judging a k3s
/// path under their data dirs.
#[test]
fn kubeadm_and_k0s_are_refused_as_could_not_check() {
    let dir = scratch();
    for (product, command) in [("kubeadm", &["token"][..]), ("k0s", &["staged", "x"][..])] {
        let out = tool(dir.path())
            .args(["--product", product])
            .args(command)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("k3s and RKE2 layouts"), "{stderr}");
    }
}

/// Mutants of certificates and of dynamic-cert.json through `ca-check expiry`:
/// a finding or a report, never a panic, a change or key material.
#[test]
fn mutated_certificates_are_findings_not_crashes() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let files = ["server/tls/client-ca.crt", "server/tls/client-admin.key"];
    let runs = testkit::mutate::through_binary(&data_dir, &files, 50, 6, |d| {
        let mut cmd = tool(d);
        cmd.arg("expiry");
        cmd
    });
    eprintln!("ca-check: {runs} mutants");
}

/// Issue 10 case 11: a clock behind the current roots cross-signed with CAs
/// not yet valid.
#[test]
fn a_clock_behind_the_current_roots_is_refused() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let options = RotationOptions {
        data_dir: DataDir::resolve(Some(data_dir), Some("k3s".into()), |_| None).unwrap(),
        staging_dir: dir.path().join("staging"),
        algorithm: None,
        force: false,
        now: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
    };
    let err = plan_rotation(&options).err().unwrap().to_string();
    assert!(err.contains("the system clock is wrong"), "{err}");
    assert!(err.contains("before the current root"), "{err}");
}

/// Issue 18: RFC 5280 dates outside the der crate's 1970-2049 UTCTime, as
/// openssl writes them: a root from 1960 to the end of 9999 (UTCTime, then
/// GeneralizedTime) and one that ended in 1965. The report's dates are Go's.
#[test]
fn expiry_reads_dates_from_1950_to_9999_as_go_does() {
    use testkit::enterprise::{KeyKind, dated_root};
    let dir = scratch();
    let certs = dir.path().join("certs");
    fs::create_dir_all(&certs).unwrap();
    let kind = KeyKind::P256;
    let forever = dated_root(
        &certs,
        "forever",
        kind,
        "19600101000000Z",
        "99991231235959Z",
    );
    let ended = dated_root(&certs, "ended", kind, "19500101000000Z", "19651231235959Z");
    for ca in [&forever, &ended] {
        fs::remove_file(&ca.key).unwrap();
    }
    let out = tool(dir.path())
        .args(["expiry", "-o", "json"])
        .arg(&certs)
        .output()
        .unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["problems"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let row = |file: &str| {
        report["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"] == file)
            .cloned()
            .unwrap_or_else(|| panic!("{file} not listed: {report}"))
    };
    for (file, ca, status) in [
        ("forever.pem", &forever, "OK"),
        ("ended.pem", &ended, "EXPIRED"),
    ] {
        let go = testkit::describe_certs(&ca.cert);
        assert_eq!(row(file)["not_after"], go[0]["not_after"], "{file}");
        assert_eq!(row(file)["status"], status, "{file}");
    }
    assert_eq!(row("forever.pem")["not_after"], "9999-12-31T23:59:59Z");
    assert_eq!(row("ended.pem")["not_after"], "1965-12-31T23:59:59Z");
    assert_eq!(out.status.code(), Some(1), "an EXPIRED certificate");
}

/// Issue 19: a file named with a line break and an escape sequence forged
/// report lines and drove the terminal. Each row and each problem is one
/// line, with the control characters escaped.
#[test]
fn file_names_with_control_characters_are_escaped_in_the_expiry_report() {
    let dir = scratch();
    let certs = dir.path().join("certs");
    fs::create_dir_all(&certs).unwrap();
    let good = dated(&certs, "good.crt", "2020-01-01T00:00:00Z", 36_500);
    fs::rename(&good, certs.join("evil\n\x1b[31mroot.crt")).unwrap();
    fs::write(certs.join("bad\n\x1b[2Kx.crt"), "not a certificate").unwrap();
    let out = tool(dir.path()).arg("expiry").arg(&certs).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "header, one row, one problem: {stdout:?}");
    assert!(
        lines[1].starts_with("evil\\n\\u{1b}[31mroot.crt "),
        "{stdout:?}"
    );
    assert!(
        lines[2].starts_with("bad\\n\\u{1b}[2Kx.crt: cannot read: "),
        "{stdout:?}"
    );
}

/// Issue 18: `ca-check tree` reads a tree whose root is dated 1960 to 9999.
#[test]
fn tree_reads_a_root_dated_from_1960_to_9999() {
    use testkit::enterprise::{KeyKind, dated_root};
    let dir = scratch();
    let data_dir = dir.path().join("data");
    fs::create_dir_all(&data_dir).unwrap();
    let root = dated_root(
        dir.path(),
        "Old Root",
        KeyKind::P256,
        "19600101000000Z",
        "99991231235959Z",
    );
    fs::copy(&root.cert, data_dir.join("root-ca.pem")).unwrap();
    fs::copy(&root.key, data_dir.join("root-ca.key")).unwrap();
    let options = shared::runs::custom_ca::CustomCaOptions::new(
        DataDir::resolve(Some(data_dir.clone()), Some("k3s".into()), |_| None).unwrap(),
        SystemTime::now(),
    );
    let lock = TargetLock::acquire(&data_dir, "test", false).unwrap();
    shared::runs::custom_ca::plan_custom_ca(&options)
        .unwrap()
        .plan
        .apply(&lock)
        .unwrap();
    drop(lock);
    let out = ok(tool(&data_dir).arg("tree").arg(data_dir.join("server/tls")));
    assert!(out.contains("no failures"), "{out}");
}

/// Issue 18: a server-ca.crt saved with a UTF-8 byte order mark. openssl
/// skips it; Go's `pem.Decode`, which k3s reads it with, does not and loses
/// the certificate after it (gocheck finds none), so no hash is printed
/// as if k3s could use the file: one line names the mark, exit 2.
#[test]
fn token_names_a_byte_order_mark_go_would_not_skip() {
    let dir = scratch();
    let (data_dir, _) = cluster_with_staged_rotation(dir.path());
    let server_ca = data_dir.join("server/tls/server-ca.crt");
    let text = fs::read(&server_ca).unwrap();
    fs::write(&server_ca, [b"\xEF\xBB\xBF".as_slice(), &text].concat()).unwrap();
    ok(openssl().args(["x509", "-noout", "-in"]).arg(&server_ca));
    let go = gocheck().arg("describe").arg(&server_ca).output().unwrap();
    assert!(!go.status.success(), "Go reads no certificate from it");
    let out = tool(&data_dir).arg("token").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("byte order mark (BOM)"), "{stderr}");
}

/// Issue 19: a staged `server-ca.crt` of 57 certificates (8 keys all named
/// CN=X, each cross-signed by every other; openssl) made the depth-first search
/// run for minutes. Go gives up after 100 signature checks; so do we, in well
/// under a second, with Go's verdict on every file.
#[test]
fn a_cross_signed_mesh_in_a_staged_bundle_is_judged_within_gos_budget() {
    let dir = scratch();
    let (data_dir, staging) = cluster_with_staged_rotation(dir.path());
    let mesh_dir = dir.path().join("mesh");
    fs::create_dir_all(&mesh_dir).unwrap();
    let (selfs, cross) = testkit::enterprise::mesh(&mesh_dir, 8);
    let parts: Vec<&Path> = cross
        .iter()
        .chain(&selfs[..1])
        .map(PathBuf::as_path)
        .collect();
    assert_eq!(parts.len(), 57);
    testkit::enterprise::chain_file(&staging.join("tls/server-ca.crt"), &parts);
    let started = std::time::Instant::now();
    let (our_ok, verdicts, stdout) = our_verdicts(&data_dir, &staging);
    let took = started.elapsed();
    eprintln!("ca-check staged on the 57-certificate mesh: {took:?}");
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    assert!(!our_ok, "{stdout}");
    assert_eq!(verdicts["server-ca.crt"], "fail", "{stdout}");
    assert!(stdout.contains("100 signature checks"), "{stdout}");
    let (go_ok, go) = go_verdicts(&data_dir, &staging);
    assert!(!go_ok);
    assert_eq!(go["server-ca.crt"], "fail", "{go:?}");
}
