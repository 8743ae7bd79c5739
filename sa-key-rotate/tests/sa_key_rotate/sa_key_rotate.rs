//! `sa-key-rotate` end to end, judged by Go: the rotate-ca rule, key forms read
//! as Kubernetes' keyutil reads them, and real JWTs signed before and after.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{describe_keys, fails, gocheck, json, mode, ok, openssl, scratch, snapshot, status};

fn tool(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_sa-key-rotate"), data_dir)
}

/// A data dir whose service.key holds, newest first: a PKCS#1 RSA key, a PKCS#8
/// RSA key, a SEC1 EC key and a PKIX public key, as rotations over the years leave it.
fn data_dir_with_mixed_keys(root: &Path) -> PathBuf {
    let data_dir = root.join("data");
    let tls = data_dir.join("server/tls");
    fs::create_dir_all(&tls).unwrap();
    let pkcs1 = ok(openssl().args(["genrsa", "-traditional", "2048"]));
    let pkcs8 = ok(openssl().args([
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
    ]));
    let sec1 = ok(openssl().args(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]));
    let retired = root.join("retired.key");
    ok(openssl()
        .args(["genrsa", "-traditional", "-out"])
        .arg(&retired)
        .arg("2048"));
    let public = ok(openssl().args(["rsa", "-pubout", "-in"]).arg(&retired));
    fs::write(
        tls.join("service.key"),
        format!("{pkcs1}{pkcs8}{sec1}{public}"),
    )
    .unwrap();
    data_dir
}

fn staged(data_dir: &Path) -> PathBuf {
    data_dir.join("server/rotate-sa/tls/service.key")
}

fn fingerprints(path: &Path) -> Vec<String> {
    describe_keys(path)
        .iter()
        .map(|k| k["spki_sha256"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_staged_file_passes_rotate_ca_and_keeps_every_key_byte_for_byte() {
    let dir = scratch();
    let data_dir = data_dir_with_mixed_keys(dir.path());
    let live = data_dir.join("server/tls/service.key");
    let before = fs::read(&live).unwrap();
    let stdout = ok(&mut tool(&data_dir));

    let staged = staged(&data_dir);
    assert_eq!(mode(&staged), 0o600);
    assert_eq!(
        fs::read(&live).unwrap(),
        before,
        "the live file is untouched"
    );
    let verdict = json(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(data_dir.join("server/tls"))
            .arg("--staged")
            .arg(staged.parent().unwrap()),
    );
    assert_eq!(verdict["ok"], true, "{verdict}");

    let blocks = describe_keys(&staged);
    assert_eq!(blocks.len(), 5);
    assert_eq!(blocks[0]["label"], "RSA PRIVATE KEY");
    assert_eq!(blocks[0]["format"], "pkcs1");
    assert_eq!(blocks[0]["bits"], 2048);
    let old = fingerprints(&live);
    let new = fingerprints(&staged);
    assert!(!old.contains(&new[0]), "the first key is new");
    assert_eq!(&new[1..], &old[..], "current keys follow in order");
    let staged_bytes = fs::read(&staged).unwrap();
    assert!(
        staged_bytes.ends_with(&before),
        "current keys kept byte for byte"
    );

    // Kubernetes reads the same keys (keyutil semantics), new one first.
    let keyutil = json(gocheck().arg("sa-keys").arg(&staged));
    let read: Vec<&str> = keyutil
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["spki_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(read, new.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        stdout.contains(&new[0]),
        "prints the new fingerprint:\n{stdout}"
    );
    for kept in &old {
        assert!(
            stdout.contains(kept.as_str()),
            "prints kept fingerprint {kept}"
        );
    }
    assert!(stdout.contains("certificate rotate-ca --path="), "{stdout}");
    // Issue 20: agents do not read the key; only the servers restart.
    assert!(
        stdout.contains("Load it, then restart every k3s server:\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("agent"), "{stdout}");
}

#[test]
fn tokens_signed_before_and_after_the_rotation_verify_against_the_new_set() {
    let dir = scratch();
    let data_dir = data_dir_with_mixed_keys(dir.path());
    let live = data_dir.join("server/tls/service.key");
    ok(&mut tool(&data_dir));
    let staged = staged(&data_dir);
    let sign = |keys: &Path| {
        ok(gocheck().args(["jwt-sign", "--key"]).arg(keys))
            .trim()
            .to_string()
    };
    let verify = |keys: &Path, token: &str| {
        status(
            gocheck()
                .args(["jwt-verify", "--keys"])
                .arg(keys)
                .arg(token),
        )
    };
    let old_token = sign(&live);
    let new_token = sign(&staged);
    let (ok_old, out) = verify(&staged, &old_token);
    assert!(
        ok_old,
        "a token signed with the old key must still verify:\n{out}"
    );
    let (ok_new, out) = verify(&staged, &new_token);
    assert!(
        ok_new,
        "a token signed with the new key must verify:\n{out}"
    );
    let (ok_stale, _) = verify(&live, &new_token);
    assert!(
        !ok_stale,
        "guard: the old set cannot verify the new key's token"
    );
}

#[test]
fn keep_drops_the_oldest_keys_but_never_the_signing_key() {
    let dir = scratch();
    let data_dir = data_dir_with_mixed_keys(dir.path());
    let live = data_dir.join("server/tls/service.key");
    let stdout = ok(tool(&data_dir).args(["--keep", "2"]));
    let old = fingerprints(&live);
    let new = fingerprints(&staged(&data_dir));
    assert_eq!(new.len(), 2);
    assert_eq!(new[1], old[0], "the key that signs today is kept");
    assert_eq!(stdout.matches("  drop  ").count(), 3, "{stdout}");

    let stderr = fails(tool(&data_dir).args(["--keep", "1", "--force"]));
    assert!(stderr.contains("--keep 1"), "{stderr}");
}

#[test]
fn bits_public_out_and_a_custom_current_file() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let current = dir.path().join("elsewhere.key");
    ok(openssl()
        .args(["genrsa", "-traditional", "-out"])
        .arg(&current)
        .arg("2048"));
    let public_out = dir.path().join("sa.pub");
    let output = dir.path().join("stage");
    ok(tool(&data_dir)
        .args(["--bits", "3072", "--current"])
        .arg(&current)
        .arg("--output")
        .arg(&output)
        .arg("--public-out")
        .arg(&public_out));
    let staged = output.join("tls/service.key");
    let blocks = describe_keys(&staged);
    assert_eq!(blocks[0]["bits"], 3072);
    let public = describe_keys(&public_out);
    assert!(
        public
            .iter()
            .all(|k| k["label"] == "PUBLIC KEY" && k["format"] == "pkix-public")
    );
    assert_eq!(
        fingerprints(&public_out),
        fingerprints(&staged),
        "newest first, same keys"
    );
    assert_eq!(mode(&public_out), 0o644);
}

#[test]
fn an_existing_staged_file_is_refused_unless_forced() {
    let dir = scratch();
    let data_dir = data_dir_with_mixed_keys(dir.path());
    ok(&mut tool(&data_dir));
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(
        stderr.contains("rotate-sa/tls/service.key already exists"),
        "{stderr}"
    );
    assert_eq!(snapshot(dir.path()), before);
    ok(tool(&data_dir).arg("--force"));
    assert_ne!(snapshot(dir.path()), before);
}

#[test]
fn the_live_tls_dir_is_never_the_staging_dir() {
    let dir = scratch();
    let data_dir = data_dir_with_mixed_keys(dir.path());
    let before = snapshot(dir.path());
    let stderr = fails(
        tool(&data_dir)
            .arg("--output")
            .arg(data_dir.join("server"))
            .arg("--force"),
    );
    assert!(stderr.contains("live tls directory"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before);

    let stderr = fails(
        tool(&data_dir)
            .arg("--public-out")
            .arg(data_dir.join("server/tls/sa.pub")),
    );
    assert!(
        stderr.contains("sa.pub: this is inside the live tls directory"),
        "{stderr}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

/// One bad input: the current file holds `contents`; expect exit 1, a message
/// naming the file and `problem`, nothing written.
fn assert_refused(contents: Option<&[u8]>, problem: &str) {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let tls = data_dir.join("server/tls");
    fs::create_dir_all(&tls).unwrap();
    if let Some(contents) = contents {
        fs::write(tls.join("service.key"), contents).unwrap();
    }
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(
        stderr.contains("server/tls/service.key"),
        "names the file:\n{stderr}"
    );
    assert!(
        stderr.contains(problem),
        "should say {problem:?}:\n{stderr}"
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn a_missing_file_is_refused() {
    assert_refused(None, "No such file");
}

#[test]
fn an_empty_file_is_refused() {
    assert_refused(Some(b""), "the file is empty");
}

#[test]
fn garbage_is_refused() {
    assert_refused(Some(b"\x00\x01 not pem at all"), "no PEM block");
}

#[test]
fn a_truncated_pem_is_refused() {
    let key = ok(openssl().args(["genrsa", "-traditional", "2048"]));
    assert_refused(Some(&key.as_bytes()[..key.len() - 40]), "malformed PEM");
}

#[test]
fn an_encrypted_key_is_refused() {
    let key = ok(openssl().args([
        "genrsa",
        "-aes256",
        "-passout",
        "pass:x",
        "-traditional",
        "2048",
    ]));
    assert_refused(Some(key.as_bytes()), "encrypted");
}

#[test]
fn a_block_that_is_not_a_key_is_refused_by_name() {
    let key = ok(openssl().args(["genrsa", "-traditional", "2048"]));
    let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    assert_refused(
        Some(format!("{key}{cert}").as_bytes()),
        "block #2 (\"CERTIFICATE\"): not a key",
    );
}

#[test]
fn ecdsa_keys_of_every_curve_are_kept_and_ed25519_is_refused_as_kubernetes_does() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let tls = data_dir.join("server/tls");
    fs::create_dir_all(&tls).unwrap();
    let p384 = ok(openssl().args(["ecparam", "-name", "secp384r1", "-genkey", "-noout"]));
    let p521 = ok(openssl().args(["ecparam", "-name", "secp521r1", "-genkey", "-noout"]));
    fs::write(tls.join("service.key"), format!("{p384}{p521}")).unwrap();
    ok(&mut tool(&data_dir));
    let text = fs::read_to_string(staged(&data_dir)).unwrap();
    assert!(
        text.ends_with(&format!("{p384}{p521}")),
        "kept byte for byte"
    );
    assert_eq!(fingerprints(&staged(&data_dir)).len(), 3);

    let ed25519 = ok(openssl().args(["genpkey", "-algorithm", "ed25519"]));
    fs::write(tls.join("service.key"), ed25519).unwrap();
    let before = snapshot(&data_dir);
    let stderr = fails(tool(&data_dir).arg("--force"));
    assert!(stderr.contains("service.key: block #1"), "{stderr}");
    assert!(stderr.contains("only RSA and ECDSA"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before);
}

/// Issue 21: a data directory without the certificate directory was reported
/// as `.../service.key: reading failed: No such file or directory`.
#[test]
fn a_data_dir_without_its_cert_dir_is_named_as_such() {
    let dir = scratch();
    let data_dir = dir.path().join("k0s");
    fs::create_dir(&data_dir).unwrap();
    let stderr = fails(tool(&data_dir).args(["--product", "k0s"]));
    assert_eq!(
        stderr,
        format!(
            "sa-key-rotate: error: {}: the k0s certificate directory does not exist: \
             has k0s run with this data directory? (check --data-dir and --product)\n",
            data_dir.join("pki").display()
        )
    );
}
