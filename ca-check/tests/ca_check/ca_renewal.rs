//! `ca-check expiry` and each CA's next step (issue 24): renewal with its key
//! when the key is here, is the certificate's and is strong enough; renewal
//! where the key is kept in kubeadm's external-CA mode; rotation for a weak
//! key. The printed command is run, and stages what it says.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use shared::pki::cert::format_time;
use testkit::{Json, gocheck, ok, scratch};

fn ca_check(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir);
    cmd.args(["--product", product, "expiry"]);
    cmd
}

fn days_ago(days: u64) -> String {
    format_time(SystemTime::now() - Duration::from_secs(days * 86_400))
}

/// `gocheck mkca`: `<pki>/<stem>.crt` and `.key`, from `not_before` for `days`.
fn mkca(pki: &Path, stem: &str, cn: &str, key: &str, not_before: &str, days: u64) {
    let cert = pki.join(format!("{stem}.crt"));
    fs::create_dir_all(cert.parent().unwrap()).unwrap();
    ok(gocheck()
        .args(["mkca", "--cn", cn, "--key", key, "--not-before", not_before])
        .args(["--days", &days.to_string(), "--out-cert"])
        .arg(&cert)
        .arg("--out-key")
        .arg(pki.join(format!("{stem}.key"))));
}

#[test]
fn a_k3s_ca_near_its_end_is_to_be_renewed_with_the_printed_command() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck()
        .args(["k3s-fixture", "--now", &days_ago(3620), "--out"])
        .arg(&data_dir));
    let table = String::from_utf8(ca_check("k3s", &data_dir).output().unwrap().stdout).unwrap();
    let command = format!(
        "rotate-default-ca --product k3s --data-dir {} --renew",
        data_dir.display()
    );
    assert!(
        table.contains("CAs, and the next step for each:"),
        "{table}"
    );
    for stem in testkit::CA_STEMS {
        let line = table
            .lines()
            .find(|line| line.contains(&format!("server/tls/{stem}.crt \"")))
            .unwrap_or_else(|| panic!("no line for {stem}:\n{table}"));
        assert!(line.ends_with("renew now, same key"), "{line}");
    }
    assert!(table.contains(&format!("\n  {command}\n")), "{table}");

    let json: Json = serde_json::from_slice(
        &ca_check("k3s", &data_dir)
            .args(["-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let cas = json["cas"].as_array().unwrap();
    assert_eq!(cas.len(), 5);
    assert!(
        cas.iter()
            .all(|ca| ca["next_step"] == "renew" && ca["command"] == command.as_str())
    );

    // The command as printed (the tool under its own name on PATH).
    let bin = testkit::tool_binaries();
    let staged = ok(Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display())));
    assert!(staged.contains("stage 1 of 2"), "{staged}");
}

#[test]
fn a_missing_key_is_renewed_where_it_is_kept_and_a_weak_one_is_rotated() {
    let dir = scratch();
    let data_dir = dir.path().join("kubeadm");
    let pki = data_dir.join("pki");
    let start = days_ago(3630);
    mkca(&pki, "ca", "kubernetes", "rsa", &start, 3650);
    fs::remove_file(pki.join("ca.key")).unwrap();
    mkca(&pki, "front-proxy-ca", "front-proxy-ca", "ec", &start, 3650);
    mkca(&pki, "etcd/ca", "etcd-ca", "rsa", &start, 3650);
    let weak = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-subj",
            "/CN=etcd-ca",
        ])
        .args(["-days", "10", "-keyout"])
        .arg(pki.join("etcd/ca.key"))
        .arg("-out")
        .arg(pki.join("etcd/ca.crt"))
        .output()
        .unwrap();
    assert!(
        weak.status.success(),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let json: Json = serde_json::from_slice(
        &ca_check("kubeadm", &data_dir)
            .args(["-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let step = |file: &str| {
        json["cas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ca| ca["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file}: {json:#}"))
            .clone()
    };
    assert_eq!(step("pki/ca.crt")["next_step"], "renew-where-the-key-is");
    assert_eq!(step("pki/front-proxy-ca.crt")["next_step"], "renew");
    let etcd = step("pki/etcd/ca.crt");
    assert_eq!(etcd["next_step"], "rotate");
    assert!(etcd["why"].as_str().unwrap().contains("RSA-1024"), "{etcd}");
}
