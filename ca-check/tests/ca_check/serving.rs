//! The supervisor's serving certificate (`server/tls/dynamic-cert.json`) in
//! `ca-check expiry`: the two cases of seed 002 (everything expired and a
//! restart renewed all but it; the other leaves renewed and it 20 days from
//! expiry) and k3s #13006 (after `rotate-ca` it is still signed by the old
//! server CA), each on a k3s data dir from `gocheck k3s-fixture` whose leaves
//! are fresh, as after the restart, with the serving certificate issued by Go.
//! The advice is compared word for word on both sides of each release
//! boundary, and the commands it prints that can run here (the file removal,
//! the trigger file) are run on the scratch data dir.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64ct::Encoding as _;
use testkit::{Json, gocheck, ok, scratch, status};

fn ca_check(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir)
}

/// A k3s server's data dir with fresh leaves (what a restart leaves behind).
fn server(root: &Path) -> PathBuf {
    let data_dir = root.join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    data_dir
}

fn tls(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls")
}

/// RFC 3339, `days` from now.
fn days_from_now(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = now.checked_add_signed(days * 86_400).unwrap();
    shared::pki::cert::format_time(SystemTime::UNIX_EPOCH + Duration::from_secs(at))
}

/// dynamic-cert.json as dynamiclistener writes it: a kubernetes.io/tls Secret
/// whose tls.crt is `[leaf, CA]`, the leaf (CN k3s, serverAuth) issued by the
/// CA `<ca>.crt`/`.key` from `not_before` for `days`. Returns the leaf file.
fn serving_cert(data_dir: &Path, ca: &Path, not_before: &str, days: u32) -> PathBuf {
    let dir = data_dir.parent().unwrap();
    let cert = dir.join("serving.crt");
    let key = dir.join("serving.key");
    ok(gocheck()
        .args(["issue", "--cn", "k3s", "--usage", "server", "--chain"])
        .args(["--not-before", not_before, "--days", &days.to_string()])
        .arg("--ca-cert")
        .arg(ca.with_extension("crt"))
        .arg("--ca-key")
        .arg(ca.with_extension("key"))
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(&key));
    let b64 = |path: &Path| base64ct::Base64::encode_string(&fs::read(path).unwrap());
    let secret = serde_json::json!({
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "k3s-serving", "namespace": "kube-system"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(&cert), "tls.key": b64(&key)},
    });
    fs::write(
        tls(data_dir).join("dynamic-cert.json"),
        serde_json::to_vec(&secret).unwrap(),
    )
    .unwrap();
    cert
}

/// `ca-check expiry` with `args`: its exit code, and what follows the table
/// (from the first blank line on).
fn expiry(data_dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = ca_check(data_dir)
        .arg("expiry")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let after = stdout.split_once("\n\n").map_or("", |(_, after)| after);
    (out.status.code(), after.to_string())
}

/// The commands of k3s v1.21.8 and later: stop, write the trigger, start.
fn with_trigger(heading: &str, data_dir: &Path) -> String {
    let tls = tls(data_dir);
    format!(
        "{heading}\n\
         \x20 systemctl stop k3s\n\
         \x20 k3s certificate rotate --service k3s-server --data-dir {data}\n\
         \x20 or, instead, create the trigger file as that command does:\n\
         \x20 install -m 0600 /dev/null {tls}/dynamic-cert-regenerate\n\
         \x20 systemctl start k3s\n",
        data = data_dir.display(),
        tls = tls.display()
    )
}

/// The commands before the trigger file: seed 002's, with kubectl on 6444.
fn without_trigger(heading: &str, data_dir: &Path) -> String {
    format!(
        "{heading} restart (it renews kube-apiserver's certificate on 127.0.0.1:6444, which \
         kubectl verifies: no --insecure-skip-tls-verify as in k3s #8762), then delete the \
         secret and the file together (each restores the other) and restart:\n\
         \x20 systemctl restart k3s\n\
         \x20 k3s kubectl --server https://127.0.0.1:6444 -n kube-system delete secret k3s-serving\n\
         \x20 rm {tls}/dynamic-cert.json\n\
         \x20 systemctl restart k3s\n",
        tls = tls(data_dir).display()
    )
}

const BOTH_SIDES: &str = "k3s v1.21.8, v1.22.5, v1.23.1 and later (see k3s --version; \
                          --k3s-version picks one) renew it at the next start if the trigger \
                          file is there:";

/// The indented line of `advice` that starts with `command`.
fn printed(advice: &str, command: &str) -> String {
    advice
        .lines()
        .find_map(|line| line.strip_prefix("  ").filter(|l| l.starts_with(command)))
        .unwrap_or_else(|| panic!("no `{command}` in:\n{advice}"))
        .to_string()
}

fn sh(command: &str) {
    ok(Command::new("sh").arg("-c").arg(command));
}

/// Seed 002, case 1: the leaves expired, a restart renewed everything in
/// server/tls but dynamic-cert.json, and kubectl still failed. Exit 1 with
/// the commands of the release: seed 002's v1.18.6 and v1.21.7 delete the
/// secret and the file, v1.21.8 writes the trigger file; unknown, both.
#[test]
fn seed_002_an_expired_serving_certificate_after_a_restart_gets_its_release_s_commands() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let server_ca = tls(&data_dir).join("server-ca.crt");
    serving_cert(&data_dir, &server_ca, "2020-07-26T05:32:54Z", 365);
    let headline = format!(
        "{}/dynamic-cert.json: the k3s serving certificate (the k3s-serving secret) expired on \
         2021-07-26T05:32:54Z; k3s renews its other certificates at start but not this one, and \
         its clients fail (\"x509: certificate has expired\") until it is renewed\n",
        tls(&data_dir).display()
    );
    let old = |version: &str| {
        let heading = format!(
            "k3s {version} has no trigger file (it came in v1.21.8, v1.22.5, v1.23.1 and later):"
        );
        format!("{headline}{}", without_trigger(&heading, &data_dir))
    };
    for (flag, expected) in [
        ("v1.18.6+k3s1", old("v1.18.6")),
        ("v1.21.7+k3s1", old("v1.21.7")),
        (
            "v1.21.8+k3s1",
            format!(
                "{headline}{}",
                with_trigger(
                    "k3s v1.21.8 renews it at its next start if the trigger file is there:",
                    &data_dir
                )
            ),
        ),
    ] {
        let (code, advice) = expiry(&data_dir, &["--k3s-version", flag]);
        assert_eq!(code, Some(1), "{flag}:\n{advice}");
        assert_eq!(advice, expected, "{flag}");
    }
    let (code, unknown) = expiry(&data_dir, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        unknown,
        format!(
            "{headline}{}\n{}",
            with_trigger(BOTH_SIDES, &data_dir),
            without_trigger("Earlier k3s has no trigger file:", &data_dir)
        )
    );

    // The printed trigger file, made as printed: empty, 0600, as k3s writes it.
    sh(&printed(&unknown, "install -m 0600 /dev/null "));
    let trigger = tls(&data_dir).join("dynamic-cert-regenerate");
    let meta = fs::metadata(&trigger).unwrap();
    assert!(meta.is_file() && meta.len() == 0);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let (code, pending) = expiry(&data_dir, &["--k3s-version", "v1.21.8+k3s1"]);
    assert_eq!(code, Some(1), "still expired until k3s starts");
    assert_eq!(
        pending,
        format!(
            "{headline}k3s v1.21.8 renews it at its next start if the trigger file is there:\n\
             \x20 {} is there already, so:\n\
             \x20 systemctl restart k3s\n",
            trigger.display()
        )
    );

    // The printed removal: the file goes, and with it the finding.
    sh(&printed(&unknown, "rm "));
    assert!(!tls(&data_dir).join("dynamic-cert.json").exists());
    let (code, rest) = expiry(&data_dir, &[]);
    assert_eq!((code, rest.as_str()), (Some(0), ""));
}

/// Seed 002, case 2: the other leaves renewed, the serving certificate 20
/// days from expiry. Not a failure yet (exit 0), but a finding with the
/// commands, not a bare WARNING row.
#[test]
fn seed_002_a_serving_certificate_20_days_from_expiry_is_a_finding_with_its_commands() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let server_ca = tls(&data_dir).join("server-ca.crt");
    serving_cert(&data_dir, &server_ca, &days_from_now(-345), 365);
    let (_, json) = status(ca_check(&data_dir).args(["expiry", "-o", "json"]));
    let report: Json = serde_json::from_str(&json).unwrap();
    let serving = &report["serving"];
    assert_eq!(serving["status"], "WARNING", "{report}");
    assert_eq!(serving["chains_to_server_ca"], true, "{report}");
    let headline = format!(
        "{}/dynamic-cert.json: the k3s serving certificate (the k3s-serving secret) expires on \
         {}, in 19d 23h, within the 120-day window; k3s renews its other certificates at start \
         but not always this one: renew it now, while its clients still connect\n",
        tls(&data_dir).display(),
        serving["not_after"].as_str().unwrap()
    );
    for (flag, expected) in [
        (
            "v1.22.4+k3s1",
            without_trigger(
                "k3s v1.22.4 has no trigger file (it came in v1.21.8, v1.22.5, v1.23.1 and later):",
                &data_dir,
            ),
        ),
        (
            "v1.22.5+k3s1",
            with_trigger(
                "k3s v1.22.5 renews it at its next start if the trigger file is there:",
                &data_dir,
            ),
        ),
    ] {
        let (code, advice) = expiry(&data_dir, &["--k3s-version", flag]);
        assert_eq!(code, Some(0), "{flag}:\n{advice}");
        assert_eq!(advice, format!("{headline}{expected}"), "{flag}");
    }
    // Outside the window it is not a finding.
    let (code, advice) = expiry(&data_dir, &["--warn-days", "10"]);
    assert_eq!((code, advice.as_str()), (Some(0), ""));
}

/// A new server CA as `rotate-ca --force` loads one: self-signed, and the
/// old one in the bundle after it only when `keep_old_root` (as a
/// cross-signed rotation keeps it).
fn rotate_server_ca(data_dir: &Path, keep_old_root: bool) {
    let tls = tls(data_dir);
    let old = fs::read(tls.join("server-ca.crt")).unwrap();
    ok(gocheck()
        .args(["mkca", "--cn", "k3s-server-ca@2000000000", "--days", "3650"])
        .arg("--out-cert")
        .arg(tls.join("server-ca.crt"))
        .arg("--out-key")
        .arg(tls.join("server-ca.key")));
    if keep_old_root {
        let mut bundle = fs::read(tls.join("server-ca.crt")).unwrap();
        bundle.extend(old);
        fs::write(tls.join("server-ca.crt"), bundle).unwrap();
    }
}

/// Go's verdict on `leaf` for a client that trusts `server-ca.crt`.
fn go_accepts(data_dir: &Path, leaf: &Path) -> bool {
    status(
        gocheck()
            .args(["verify", "--usage", "server", "--roots"])
            .arg(tls(data_dir).join("server-ca.crt"))
            .arg(leaf),
    )
    .0
}

/// k3s #13006: after `rotate-ca` (here a new self-signed server CA, as with
/// `--force`) the serving certificate, still valid, is signed by the old CA
/// and every client that trusts the new server-ca.crt refuses it. Exit 1, as
/// Go judges it; the releases since the fix renew it at the first restart
/// (v1.33.6), those before do not (v1.33.5).
#[test]
fn k3s_13006_a_serving_certificate_from_before_rotate_ca_does_not_chain() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let tls_dir = tls(&data_dir);
    let leaf = serving_cert(
        &data_dir,
        &tls_dir.join("server-ca.crt"),
        &days_from_now(-10),
        365,
    );
    assert!(go_accepts(&data_dir, &leaf), "before the rotation");
    rotate_server_ca(&data_dir, false);
    assert!(!go_accepts(&data_dir, &leaf), "Go refuses it after");

    let (_, json) = status(ca_check(&data_dir).args(["expiry", "-o", "json"]));
    let report: Json = serde_json::from_str(&json).unwrap();
    assert_eq!(report["serving"]["chains_to_server_ca"], false, "{report}");
    let old_cn = report["serving"]["issuer"].as_str().unwrap().to_string();
    assert!(old_cn.starts_with("k3s-server-ca@"), "{old_cn}");
    let headline = format!(
        "{}/dynamic-cert.json: the k3s serving certificate (the k3s-serving secret) does not \
         chain to the current server-ca.crt (no issuer leads to a trusted root): its issuer \
         \"{old_cn}\" is a CA from before a rotation, so every client that trusts server-ca.crt \
         refuses it\n",
        tls_dir.display(),
    );
    let commands = |version: &str| {
        with_trigger(
            &format!("k3s {version} renews it at its next start if the trigger file is there:"),
            &data_dir,
        )
    };
    for (flag, line, version) in [
        (
            "v1.33.5+k3s1",
            "k3s v1.33.5 does not renew it after rotate-ca: v1.31.14, v1.32.10, v1.33.6, v1.34.2 \
             and later do (k3s #13006), so:",
            "v1.33.5",
        ),
        (
            "v1.33.6+k3s1",
            "k3s v1.33.6 renews it at the first start after rotate-ca (k3s #13006); it has not, \
             so:",
            "v1.33.6",
        ),
    ] {
        let (code, advice) = expiry(&data_dir, &["--k3s-version", flag]);
        assert_eq!(code, Some(1), "{flag}:\n{advice}");
        assert_eq!(
            advice,
            format!("{headline}{line}\n{}", commands(version)),
            "{flag}"
        );
    }
    let (code, advice) = expiry(&data_dir, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        advice,
        format!(
            "{headline}k3s v1.31.14, v1.32.10, v1.33.6, v1.34.2 and later renew it at the first \
             start after rotate-ca; earlier releases do not (k3s #13006), so:\n{}\n{}",
            with_trigger(BOTH_SIDES, &data_dir),
            without_trigger("Earlier k3s has no trigger file:", &data_dir)
        )
    );
}

/// A rotation that keeps the old root in server-ca.crt (rotate-default-ca's
/// cross-signed bundle) leaves the serving certificate trusted: as Go judges
/// it, not a finding.
#[test]
fn a_serving_certificate_under_an_old_root_kept_in_server_ca_chains() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let leaf = serving_cert(
        &data_dir,
        &tls(&data_dir).join("server-ca.crt"),
        &days_from_now(-10),
        365,
    );
    rotate_server_ca(&data_dir, true);
    assert!(go_accepts(&data_dir, &leaf));
    let (code, advice) = expiry(&data_dir, &[]);
    assert_eq!((code, advice.as_str()), (Some(0), ""));
}

/// RKE2 names its release in `data/v1.xx.y-rke2rN-<hash>` (linked from
/// `bin`): the commands follow it, with RKE2's names; kubectl reaches
/// kube-apiserver, which the supervisor's certificate does not serve.
#[test]
fn rke2_s_release_is_read_from_its_runtime_directory() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let runtime = data_dir.join("data/v1.21.7-rke2r2-0123abcd");
    fs::create_dir_all(runtime.join("bin")).unwrap();
    std::os::unix::fs::symlink(runtime.join("bin"), data_dir.join("bin")).unwrap();
    let server_ca = tls(&data_dir).join("server-ca.crt");
    serving_cert(&data_dir, &server_ca, "2020-07-26T05:32:54Z", 365);
    let out = ca_check(&data_dir)
        .args(["--product", "rke2", "expiry"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let advice = stdout.split_once("\n\n").unwrap().1;
    let tls = tls(&data_dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        advice,
        format!(
            "{tls}/dynamic-cert.json: the rke2 serving certificate (the rke2-serving secret) \
             expired on 2021-07-26T05:32:54Z; rke2 renews its other certificates at start but \
             not this one, and its clients fail (\"x509: certificate has expired\") until it is \
             renewed\n\
             This is rke2 v1.21.7 (named by {data}/bin).\n\
             rke2 v1.21.7 has no trigger file (it came in v1.21.8, v1.22.5, v1.23.1 and later): \
             restart (it renews the other certificates; kube-apiserver does not serve this one), \
             then delete the secret and the file together (each restores the other) and restart:\n\
             \x20 systemctl restart rke2-server\n\
             \x20 KUBECONFIG=/etc/rancher/rke2/rke2.yaml {data}/bin/kubectl -n kube-system delete \
             secret rke2-serving\n\
             \x20 rm {tls}/dynamic-cert.json\n\
             \x20 systemctl restart rke2-server\n",
            tls = tls.display(),
            data = data_dir.display()
        )
    );
}

/// A serving certificate issued by a clock ahead of this one is refused by
/// its clients until then: exit 1, with the commands.
#[test]
fn a_serving_certificate_not_yet_valid_is_a_failure_with_its_commands() {
    let dir = scratch();
    let data_dir = server(dir.path());
    let server_ca = tls(&data_dir).join("server-ca.crt");
    serving_cert(&data_dir, &server_ca, "2999-01-01T00:00:00Z", 365);
    let (code, advice) = expiry(&data_dir, &["--k3s-version", "v1.34.2+k3s1"]);
    assert_eq!(code, Some(1), "{advice}");
    assert_eq!(
        advice,
        format!(
            "{}/dynamic-cert.json: the k3s serving certificate (the k3s-serving secret) is not \
             valid before 2999-01-01T00:00:00Z: it was issued by a clock ahead of this one, and \
             its clients refuse it until then\n{}",
            tls(&data_dir).display(),
            with_trigger(
                "k3s v1.34.2 renews it at its next start if the trigger file is there:",
                &data_dir
            )
        )
    );
}
