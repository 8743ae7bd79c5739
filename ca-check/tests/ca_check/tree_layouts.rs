//! `ca-check tree` on kubeadm and k0s trees made by hand with openssl: their
//! `pki/` layout (one certificate per `.crt`, the chain in `X-chain.crt`,
//! `sa.key` + `sa.pub`), a shared enterprise root or self-signed CAs, and the
//! pre-flight with what kubeadm and k0s issue, which Go agrees with.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::enterprise::{Ca, CaExt, KeyKind, chain_file, root, sub_ca, to_traditional};
use testkit::{gocheck, ok, openssl, scratch, status};

const STEMS: [&str; 3] = ["ca", "front-proxy-ca", "etcd/ca"];

fn ca_check(product: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ca-check"));
    cmd.env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .args(["--product", product]);
    cmd
}

/// Runs `ca-check --product P tree DIR`: (exit code, stdout).
fn tree(product: &str, pki: &Path) -> (i32, String) {
    let out = ca_check(product).arg("tree").arg(pki).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A `pki/` made with openssl: the three CAs signed by `issuer` (with the
/// chain above them in `X-chain.crt`), or self-signed when `issuer` is None;
/// `root-ca.pem` and `intermediate-ca.pem` beside them when there is a root.
fn openssl_pki(work: &Path, issuer: Option<(&Ca, &Ca)>) -> PathBuf {
    let pki = work.join("pki");
    fs::create_dir_all(pki.join("etcd")).unwrap();
    for stem in STEMS {
        let name = stem.replace('/', "-");
        let ca = match issuer {
            Some((_, intermediate)) => sub_ca(
                work,
                &name,
                KeyKind::Rsa(2048),
                intermediate,
                &CaExt::default(),
            ),
            None => root(work, &name, KeyKind::Rsa(2048), &CaExt::default()),
        };
        fs::copy(&ca.cert, pki.join(format!("{stem}.crt"))).unwrap();
        to_traditional(&ca.key, &pki.join(format!("{stem}.key")));
        if let Some((corp, intermediate)) = issuer {
            chain_file(
                &pki.join(format!("{stem}-chain.crt")),
                &[&intermediate.cert, &corp.cert],
            );
        }
    }
    if let Some((corp, intermediate)) = issuer {
        fs::copy(&corp.cert, pki.join("root-ca.pem")).unwrap();
        fs::copy(&corp.cert, pki.join("root-ca.crt")).unwrap();
        fs::copy(&intermediate.cert, pki.join("intermediate-ca.pem")).unwrap();
        chain_file(
            &pki.join("intermediate-ca.crt"),
            &[&intermediate.cert, &corp.cert],
        );
    }
    ok(openssl()
        .args(["genrsa", "-traditional", "-out"])
        .arg(pki.join("sa.key"))
        .arg("2048"));
    ok(openssl()
        .args(["rsa", "-pubout", "-in"])
        .arg(pki.join("sa.key"))
        .arg("-out")
        .arg(pki.join("sa.pub")));
    pki
}

fn corp(work: &Path, root_ext: &CaExt) -> (Ca, Ca) {
    let corp = root(work, "Corp Root", KeyKind::Rsa(2048), root_ext);
    let issuing = sub_ca(
        work,
        "Corp Issuing CA",
        KeyKind::P384,
        &corp,
        &CaExt::default(),
    );
    (corp, issuing)
}

#[test]
fn a_kubeadm_pki_under_an_enterprise_root_passes_and_go_agrees() {
    let dir = scratch();
    let (corp, issuing) = corp(dir.path(), &CaExt::default());
    let pki = openssl_pki(dir.path(), Some((&corp, &issuing)));
    let (code, report) = tree("kubeadm", &pki);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("every certificate kubeadm issues verifies"),
        "{report}"
    );
    // Go: the apiserver certificate kubeadm would issue from ca, for a client
    // that trusts only the root.
    let (cert, _) = testkit::issue_leaf(
        &pki.join("ca.crt"),
        &pki.join("ca.key"),
        dir.path(),
        "kube-apiserver",
        "server",
        false,
    );
    ok(gocheck()
        .args(["verify", "--usage", "server", "--roots"])
        .arg(pki.join("root-ca.pem"))
        .arg("--intermediates")
        .arg(pki.join("ca.crt"))
        .arg("--intermediates")
        .arg(pki.join("ca-chain.crt"))
        .arg(&cert));
}

#[test]
fn self_signed_k0s_cas_pass() {
    let dir = scratch();
    let pki = openssl_pki(dir.path(), None);
    let (code, report) = tree("k0s", &pki);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("trusts only its CA"), "{report}");
}

#[test]
fn a_kubeadm_ca_crt_holding_a_chain_is_a_failure() {
    let dir = scratch();
    let (corp, issuing) = corp(dir.path(), &CaExt::default());
    let pki = openssl_pki(dir.path(), Some((&corp, &issuing)));
    let with_chain = dir.path().join("ca-with-chain.crt");
    chain_file(
        &with_chain,
        &[&pki.join("ca.crt"), &pki.join("ca-chain.crt")],
    );
    fs::copy(&with_chain, pki.join("ca.crt")).unwrap();
    let (code, report) = tree("kubeadm", &pki);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.lines().any(|l| l.starts_with("ca.crt")
            && l.contains("FAIL")
            && l.contains("holds 3 certificates")),
        "{report}"
    );
}

#[test]
fn a_name_constrained_root_fails_kubeadm_serving_certificates_and_go_agrees() {
    let dir = scratch();
    let ext = CaExt {
        name_constraints: Some("critical,permitted;DNS:corp.example".into()),
        ..CaExt::default()
    };
    let (corp, issuing) = corp(dir.path(), &ext);
    let pki = openssl_pki(dir.path(), Some((&corp, &issuing)));
    let (code, report) = tree("kubeadm", &pki);
    assert_eq!(code, 1, "{report}");
    let failed: Vec<&str> = report.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(
        failed.iter().any(|l| l.starts_with("root-ca.pem")
            && l.contains("nameConstraints permit only DNS corp.example")
            && l.contains("apiserver")
            && l.contains("DNS kubernetes.default")),
        "{report}"
    );
    let (cert, _) = testkit::issue_leaf(
        &pki.join("ca.crt"),
        &pki.join("ca.key"),
        dir.path(),
        "kube-apiserver",
        "server",
        false,
    );
    let (passed, go) = status(
        gocheck()
            .args(["verify", "--usage", "server", "--roots"])
            .arg(pki.join("root-ca.pem"))
            .arg("--intermediates")
            .arg(pki.join("ca.crt"))
            .arg("--intermediates")
            .arg(pki.join("ca-chain.crt"))
            .arg(&cert),
    );
    assert!(!passed, "Go rejects it too: {go}");
    assert!(go.contains("not permitted"), "{go}");
}

#[test]
fn an_sa_pub_that_does_not_start_with_the_signing_key_is_a_failure() {
    let dir = scratch();
    let pki = openssl_pki(dir.path(), None);
    let other = dir.path().join("other.key");
    ok(openssl()
        .args(["genrsa", "-traditional", "-out"])
        .arg(&other)
        .arg("2048"));
    ok(openssl()
        .args(["rsa", "-pubout", "-in"])
        .arg(&other)
        .arg("-out")
        .arg(pki.join("sa.pub")));
    let (code, report) = tree("kubeadm", &pki);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.lines().any(|l| l.starts_with("sa.pub")
            && l.contains("does not start with the public key of sa.key")),
        "{report}"
    );
}
