//! `sa-key-rotate --product kubeadm|k0s` against KUBEADM-K0S-CONTRACT.md
//! section 6, judged by Go: the staged `sa.key` is the one new signing key,
//! `sa.pub` its public key first and then the current ones, and real JWTs
//! signed before and after the rotation verify against the staged `sa.pub`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{describe_keys, fails, gocheck, mode, ok, openssl, scratch, snapshot, status};

fn tool(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_sa-key-rotate"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

/// `<data>/pki/sa.key` (RSA-2048, PKCS#1, as kubeadm and k0s write it) and
/// `sa.pub` = its public key followed by `older` more public keys, as an
/// earlier rotation leaves it.
fn data_dir_with_sa(root: &Path, older: usize) -> PathBuf {
    let data_dir = root.join("data");
    let pki = data_dir.join("pki");
    fs::create_dir_all(&pki).unwrap();
    let key = pki.join("sa.key");
    ok(openssl()
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048"));
    let mut public = ok(openssl().args(["pkey", "-pubout", "-in"]).arg(&key));
    for _ in 0..older {
        let retired = ok(openssl().args(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]));
        let retired_key = root.join("retired.key");
        fs::write(&retired_key, retired).unwrap();
        public.push_str(&ok(openssl()
            .args(["pkey", "-pubout", "-in"])
            .arg(&retired_key)));
    }
    fs::write(pki.join("sa.pub"), public).unwrap();
    data_dir
}

fn fingerprints(path: &Path) -> Vec<String> {
    describe_keys(path)
        .iter()
        .map(|k| k["spki_sha256"].as_str().unwrap().to_string())
        .collect()
}

fn sign(key: &Path) -> String {
    ok(gocheck().args(["jwt-sign", "--key"]).arg(key))
        .trim()
        .to_string()
}

fn verifies(keys: &Path, token: &str) -> bool {
    status(
        gocheck()
            .args(["jwt-verify", "--keys"])
            .arg(keys)
            .arg(token),
    )
    .0
}

#[test]
fn kubeadm_stages_a_new_signing_key_and_a_verify_set_that_keeps_every_token_valid() {
    let dir = scratch();
    let data_dir = data_dir_with_sa(dir.path(), 0);
    let live = data_dir.join("pki");
    let before = snapshot(&live);
    let old_token = sign(&live.join("sa.key"));
    let stdout = ok(&mut tool("kubeadm", &data_dir));
    assert_eq!(snapshot(&live), before, "the live pki is untouched");

    let staged = data_dir.join("rotate-sa/pki");
    let (key, public) = (staged.join("sa.key"), staged.join("sa.pub"));
    assert_eq!(mode(&key), 0o600);
    let blocks = describe_keys(&key);
    assert_eq!(blocks.len(), 1, "sa.key is the one signing key");
    assert_eq!(blocks[0]["label"], "RSA PRIVATE KEY");
    assert_eq!(blocks[0]["format"], "pkcs1");
    // sa.pub: the new key's public half first (what openssl derives from
    // sa.key), then the current key.
    let derived = ok(openssl().args(["pkey", "-pubout", "-in"]).arg(&key));
    let text = fs::read_to_string(&public).unwrap();
    assert!(text.starts_with(&derived), "{text}");
    let staged_keys = fingerprints(&public);
    assert_eq!(staged_keys.len(), 2);
    assert_eq!(staged_keys[1..], fingerprints(&live.join("sa.pub")));
    assert!(
        describe_keys(&public)
            .iter()
            .all(|k| k["format"] == "pkix-public")
    );

    // Step 1 keeps old tokens valid; step 2's tokens verify too.
    let new_token = sign(&key);
    assert!(verifies(&public, &old_token), "old token, new sa.pub");
    assert!(verifies(&public, &new_token), "new token, new sa.pub");
    assert!(
        !verifies(&live.join("sa.pub"), &new_token),
        "the new key must reach the verify set before it signs"
    );

    // The four steps, in order, with the real paths.
    let steps = [
        format!(
            "install -m 0644 {} {}",
            public.display(),
            live.join("sa.pub").display()
        ),
        format!(
            "install -m 0600 {} {}",
            key.display(),
            live.join("sa.key").display()
        ),
        "Wait until tokens signed with the old key are gone".to_string(),
        format!(
            "openssl pkey -in {} -pubout -out {}",
            live.join("sa.key").display(),
            live.join("sa.pub").display()
        ),
    ];
    let mut at = 0;
    for step in &steps {
        let found = stdout[at..]
            .find(step.as_str())
            .unwrap_or_else(|| panic!("step `{step}` missing or out of order:\n{stdout}"));
        at += found + step.len();
    }
    assert!(stdout.contains("kubeadm layout"), "{stdout}");
    assert!(stdout.contains("kube-controller-manager"), "{stdout}");
}

#[test]
fn k0s_keep_drops_the_oldest_verify_keys_but_never_the_signing_one() {
    let dir = scratch();
    let data_dir = data_dir_with_sa(dir.path(), 2);
    let live = data_dir.join("pki");
    let current = fingerprints(&live.join("sa.pub"));
    let old_token = sign(&live.join("sa.key"));
    let output = dir.path().join("staging");
    let stdout = ok(tool("k0s", &data_dir)
        .args(["--keep", "2", "--output"])
        .arg(&output));
    let public = output.join("pki/sa.pub");
    let staged = fingerprints(&public);
    assert_eq!(staged.len(), 2, "--keep 2: the new key and the signing one");
    assert_eq!(staged[1], current[0], "the signing key is kept");
    assert!(verifies(&public, &old_token));
    assert!(verifies(&public, &sign(&output.join("pki/sa.key"))));
    assert_eq!(stdout.matches("  drop  ").count(), 2, "{stdout}");
    assert!(
        stdout.contains("systemctl restart k0scontroller"),
        "{stdout}"
    );
}

#[test]
fn a_staging_dir_that_is_the_live_pki_is_refused_and_nothing_changes() {
    let dir = scratch();
    let data_dir = data_dir_with_sa(dir.path(), 0);
    let before = snapshot(&data_dir);
    let stderr = fails(tool("kubeadm", &data_dir).arg("--output").arg(&data_dir));
    assert!(stderr.contains("inside the live"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before);
}
