//! `gen-custom-ca` end to end: every tree it writes is checked with openssl,
//! Go's crypto/x509 and crypto/tls (the repository's `gocheck`), and pkilint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{
    CA_STEMS, Json, describe_certs, describe_keys, fails, gocheck, k3s_hash, mode, ok, openssl,
    pkilint_errors, printed_hash, scratch, snapshot, status,
};

fn tool(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), data_dir)
}

fn tls(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls")
}

fn field<'a>(cert: &'a Json, name: &str) -> &'a Json {
    cert.get(name)
        .unwrap_or_else(|| panic!("gocheck describe has no field {name}: {cert}"))
}

fn text(cert: &Json, name: &str) -> String {
    field(cert, name).as_str().unwrap_or_default().to_string()
}

fn strings(cert: &Json, name: &str) -> Vec<String> {
    field(cert, name)
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// What every tree must satisfy, whatever the user brought: each leaf CA chains
/// to the root through the intermediate (openssl and Go), bundles hold the right
/// certificates in order, keys match and are 0600, each CA can sign a leaf that
/// openssl accepts, and the printed hash is what k3s computes.
fn assert_tree_is_sound(data_dir: &Path, stdout: &str) {
    let tls = tls(data_dir);
    let root = tls.join("root-ca.pem");
    let intermediate = tls.join("intermediate-ca.pem");
    let sha = |path: &Path| -> Vec<String> {
        describe_certs(path)
            .iter()
            .map(|c| text(c, "sha256"))
            .collect()
    };
    let root_sha = sha(&root)[0].clone();
    let intermediate_sha = sha(&intermediate)[0].clone();
    assert_eq!(
        sha(&tls.join("root-ca.crt")),
        std::slice::from_ref(&root_sha)
    );
    assert_eq!(
        sha(&tls.join("intermediate-ca.crt")),
        [intermediate_sha.clone(), root_sha.clone()]
    );
    let work = scratch();
    for stem in CA_STEMS {
        let pem = tls.join(format!("{stem}.pem"));
        let bundle = tls.join(format!("{stem}.crt"));
        let key = tls.join(format!("{stem}.key"));
        let verified = ok(openssl()
            .args(["verify", "-CAfile"])
            .arg(&root)
            .arg("-untrusted")
            .arg(&intermediate)
            .arg(&pem));
        assert!(verified.trim().ends_with(": OK"), "{verified}");
        ok(gocheck()
            .args(["verify", "--roots"])
            .arg(&root)
            .arg("--intermediates")
            .arg(&intermediate)
            .arg(&pem));
        assert_eq!(
            sha(&bundle),
            [
                sha(&pem)[0].clone(),
                intermediate_sha.clone(),
                root_sha.clone()
            ],
            "{stem}.crt must be [{stem}, intermediate, root]"
        );
        ok(gocheck().arg("keypair").arg(&bundle).arg(&key));
        assert_eq!(mode(&key), 0o600, "{stem}.key mode");

        // keyCertSign is only exercised by signing: issue a leaf and verify it.
        let (leaf_cert, _) = testkit::issue_leaf(&bundle, &key, work.path(), stem, "both", false);
        let verified = ok(openssl()
            .args(["verify", "-CAfile"])
            .arg(&root)
            .arg("-untrusted")
            .arg(&bundle)
            .arg(&leaf_cert));
        assert!(verified.trim().ends_with(": OK"), "{verified}");
    }
    for name in ["root-ca.key", "intermediate-ca.key", "service.key"] {
        let path = tls.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name} mode");
        }
    }
    let go_hash = k3s_hash(&tls.join("server-ca.crt"));
    assert_eq!(printed_hash(stdout), go_hash, "printed hash vs k3s hashCA");
}

fn leaf_pems(data_dir: &Path) -> Vec<PathBuf> {
    testkit::ca_pems(&tls(data_dir))
}

#[test]
fn fresh_directory_gets_a_sound_tree_with_the_contract_profile() {
    let dir = scratch();
    let data_dir = dir.path().join("fresh");
    let stdout = ok(&mut tool(&data_dir));
    assert_tree_is_sound(&data_dir, &stdout);
    let tls = tls(&data_dir);

    let root = &describe_certs(&tls.join("root-ca.pem"))[0];
    let intermediate = &describe_certs(&tls.join("intermediate-ca.pem"))[0];
    let cn = text(root, "subject_cn");
    let timestamp = cn
        .strip_prefix("k3s-root-ca@")
        .expect("root CN")
        .to_string();
    assert!(timestamp.parse::<u64>().is_ok(), "{cn}");
    assert_eq!(
        text(intermediate, "subject_cn"),
        format!("k3s-intermediate-ca@{timestamp}")
    );

    let rsa_usage = ["digitalSignature", "keyEncipherment", "keyCertSign"];
    let ec_usage = ["digitalSignature", "keyCertSign"];
    let mut checked = vec![
        (
            root.clone(),
            "RSA",
            4096,
            7300.0,
            &rsa_usage[..],
            root.clone(),
        ),
        (
            intermediate.clone(),
            "RSA",
            4096,
            3700.0,
            &rsa_usage[..],
            root.clone(),
        ),
    ];
    for (stem, part) in CA_STEMS.iter().zip([
        "client",
        "server",
        "request-header",
        "etcd-peer",
        "etcd-server",
    ]) {
        let cert = describe_certs(&tls.join(format!("{stem}.pem")))[0].clone();
        assert_eq!(
            text(&cert, "subject_cn"),
            format!("k3s-{part}-ca@{timestamp}")
        );
        checked.push((
            cert,
            "ECDSA",
            256,
            3700.0,
            &ec_usage[..],
            intermediate.clone(),
        ));
    }
    let mut serials = Vec::new();
    for (cert, algorithm, bits, days, usage, issuer) in &checked {
        let name = text(cert, "subject_cn");
        assert_eq!(
            text(cert, "subject"),
            format!("CN={name}"),
            "subject is CN only"
        );
        assert_eq!(text(cert, "public_key_algorithm"), *algorithm, "{name}");
        assert_eq!(field(cert, "public_key_bits"), bits, "{name}");
        assert_eq!(field(cert, "validity_days").as_f64(), Some(*days), "{name}");
        assert_eq!(
            text(cert, "not_before"),
            text(root, "not_before"),
            "one timestamp per run"
        );
        assert_eq!(field(cert, "is_ca"), true, "{name}");
        assert_eq!(field(cert, "basic_constraints_critical"), true, "{name}");
        assert_eq!(field(cert, "max_path_len"), -1, "{name}: no pathlen");
        assert_eq!(strings(cert, "key_usage"), *usage, "{name}");
        assert_eq!(field(cert, "key_usage_critical"), true, "{name}");
        assert!(
            strings(cert, "ext_key_usage").is_empty(),
            "{name}: no EKU on a CA"
        );
        assert_eq!(text(cert, "signature_algorithm"), "SHA256-RSA", "{name}");
        assert_eq!(text(cert, "issuer"), text(issuer, "subject"), "{name}");
        assert_eq!(
            text(cert, "aki"),
            text(issuer, "ski"),
            "{name}: AKI = issuer SKI"
        );
        assert_eq!(
            text(cert, "ski"),
            text(cert, "key_sha1"),
            "{name}: SKI = SHA-1 of key"
        );
        let oids: Vec<String> = field(cert, "extensions")
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["oid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            oids,
            ["2.5.29.14", "2.5.29.35", "2.5.29.19", "2.5.29.15"],
            "{name}"
        );
        let serial = text(cert, "serial");
        assert!(
            !serial.starts_with('-') && serial != "0",
            "{name}: serial {serial}"
        );
        serials.push(serial);
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), checked.len(), "serials are unique");

    for (name, label, algorithm, bits) in [
        ("root-ca.key", "RSA PRIVATE KEY", "RSA", 4096),
        ("intermediate-ca.key", "RSA PRIVATE KEY", "RSA", 4096),
        ("client-ca.key", "EC PRIVATE KEY", "ECDSA", 256),
        ("etcd/server-ca.key", "EC PRIVATE KEY", "ECDSA", 256),
        ("service.key", "RSA PRIVATE KEY", "RSA", 2048),
    ] {
        let blocks = describe_keys(&tls.join(name));
        assert_eq!(blocks.len(), 1, "{name}: one block, no EC PARAMETERS");
        assert_eq!(text(&blocks[0], "label"), label, "{name}");
        assert_eq!(text(&blocks[0], "algorithm"), algorithm, "{name}");
        assert_eq!(field(&blocks[0], "bits"), bits, "{name}");
    }

    let mut issued = vec![tls.join("root-ca.pem"), tls.join("intermediate-ca.pem")];
    issued.extend(leaf_pems(&data_dir));
    testkit::assert_lint_clean(&issued);
    assert!(stdout.contains("certificate rotate-ca --path="), "{stdout}");
    assert!(stdout.contains("root-ca.key"), "vault list: {stdout}");
}

#[test]
fn a_tls_handshake_works_with_leaves_from_the_generated_server_and_client_cas() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    crate::util::default_tree(&data_dir);
    let tls = tls(&data_dir);
    let work = dir.path();
    let issue = |ca: &str, usage: &str, name: &str| {
        let (cert, key) = (tls.join(format!("{ca}.crt")), tls.join(format!("{ca}.key")));
        testkit::issue_leaf(&cert, &key, work, name, usage, true)
    };
    let (server_cert, server_key) = issue("server-ca", "server", "kube-apiserver");
    let (client_cert, client_key) = issue("client-ca", "client", "system:admin");
    let server = testkit::Party {
        cert: &server_cert,
        key: &server_key,
    };
    let (client_ca, roots) = (tls.join("client-ca.crt"), tls.join("root-ca.pem"));
    let handshake = |cert: &Path, key: &Path| {
        testkit::handshake(&server, &client_ca, &testkit::Party { cert, key }, &roots)
    };
    let result = testkit::json(&mut handshake(&client_cert, &client_key));
    assert_eq!(result["ok"], true, "{result}");

    // A client certificate from a CA outside the tree is refused.
    let other = scratch();
    let (stranger_cert, stranger_key) = testkit::stranger(other.path());
    let (passed, output) = status(&mut handshake(&stranger_cert, &stranger_key));
    assert!(
        !passed,
        "a foreign client certificate must be refused:\n{output}"
    );
}

/// A root as a user would make it with openssl: RSA, PKCS#8 key, SKI/AKI by default.
fn openssl_root(dir: &Path) -> (PathBuf, PathBuf) {
    fs::create_dir_all(dir).unwrap();
    let (cert, key) = (dir.join("root-ca.pem"), dir.join("root-ca.key"));
    ok(openssl()
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
        ])
        .args(["-subj", "/CN=Example Corp Root CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

/// An EC intermediate signed by `root` with openssl.
fn openssl_intermediate(dir: &Path, root: &(PathBuf, PathBuf)) -> (PathBuf, PathBuf) {
    openssl_ec_ca(
        dir,
        "intermediate-ca",
        "/CN=Example Corp k3s Intermediate",
        "digitalSignature,keyCertSign",
        root,
    )
}

/// An EC CA `<name>.pem`/`.key` with the given keyUsage, signed by `root` with
/// `openssl req` + `openssl x509 -req`, as a user following the docs would.
fn openssl_ec_ca(
    dir: &Path,
    name: &str,
    subject: &str,
    key_usage: &str,
    root: &(PathBuf, PathBuf),
) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    fs::write(
        &ext,
        format!(
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,{key_usage}\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        ),
    )
    .unwrap();
    ok(openssl()
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", subject, "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    ok(openssl()
        .args([
            "x509",
            "-req",
            "-sha256",
            "-days",
            "2000",
            "-set_serial",
            "0x1a2b3c4d5e6f",
        ])
        .arg("-in")
        .arg(&csr)
        .arg("-CA")
        .arg(&root.0)
        .arg("-CAkey")
        .arg(&root.1)
        .arg("-extfile")
        .arg(&ext)
        .arg("-out")
        .arg(&cert));
    fs::remove_file(csr).unwrap();
    fs::remove_file(ext).unwrap();
    (cert, key)
}

#[test]
fn a_root_made_with_openssl_is_reused_from_data_dir() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let root = openssl_root(&data_dir);
    let root_bytes = fs::read(&root.0).unwrap();
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("root CA:         reused from"), "{stdout}");
    assert_tree_is_sound(&data_dir, &stdout);
    let tls = tls(&data_dir);
    assert_eq!(
        fs::read(tls.join("root-ca.pem")).unwrap(),
        root_bytes,
        "root copied as is"
    );
    let intermediate = &describe_certs(&tls.join("intermediate-ca.pem"))[0];
    assert_eq!(text(intermediate, "issuer_cn"), "Example Corp Root CA");
    let mut issued = vec![tls.join("intermediate-ca.pem")];
    issued.extend(leaf_pems(&data_dir));
    testkit::assert_lint_clean(&issued);
}

#[test]
fn root_and_intermediate_without_root_key_are_reused_from_the_tls_dir() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let vault = dir.path().join("vault");
    let root = openssl_root(&vault);
    let tls = tls(&data_dir);
    fs::create_dir_all(&tls).unwrap();
    let intermediate = openssl_intermediate(&tls, &root);
    fs::copy(&root.0, tls.join("root-ca.pem")).unwrap();
    let intermediate_bytes = fs::read(&intermediate.0).unwrap();
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("intermediate CA: reused from"), "{stdout}");
    assert_tree_is_sound(&data_dir, &stdout);
    assert!(!tls.join("root-ca.key").exists(), "no root key appears");
    assert_eq!(
        fs::read(tls.join("intermediate-ca.pem")).unwrap(),
        intermediate_bytes
    );
    for cert in leaf_pems(&data_dir) {
        let described = &describe_certs(&cert)[0];
        assert_eq!(text(described, "signature_algorithm"), "ECDSA-SHA256");
    }
    testkit::assert_lint_clean(&leaf_pems(&data_dir));
}

#[test]
fn an_existing_service_key_is_kept_byte_for_byte_after_the_new_one() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    fs::create_dir_all(&data_dir).unwrap();
    let old = data_dir.join("service.key");
    let first = ok(openssl().args(["genrsa", "-traditional", "2048"]));
    let second = ok(openssl().args([
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
    ]));
    fs::write(&old, format!("{first}{second}")).unwrap();
    let old_bytes = fs::read(&old).unwrap();
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("2 existing key(s) kept"), "{stdout}");
    let written = fs::read(tls(&data_dir).join("service.key")).unwrap();
    assert!(
        written.ends_with(&old_bytes),
        "old keys follow the new one unchanged"
    );
    let blocks = describe_keys(&tls(&data_dir).join("service.key"));
    assert_eq!(blocks.len(), 3);
    assert_eq!(text(&blocks[0], "format"), "pkcs1");
    assert_eq!(field(&blocks[0], "bits"), 2048);
    let old_fingerprints: Vec<String> = describe_keys(&old)
        .iter()
        .map(|b| text(b, "spki_sha256"))
        .collect();
    assert!(
        !old_fingerprints.contains(&text(&blocks[0], "spki_sha256")),
        "the first key is new"
    );
}

#[test]
fn an_initialised_tls_dir_is_refused_unless_forced() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    crate::util::default_tree(&data_dir);
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(stderr.contains("rotate-ca"), "{stderr}");
    // The count and the first path, not all ten.
    let tls = tls(&data_dir);
    assert!(
        stderr.contains(&format!(
            "{} already holds the CA files of an initialised cluster ({} and 9 more); refusing",
            tls.display(),
            tls.join("client-ca.crt").display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("server-ca.key"), "{stderr}");
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a refused run changes nothing"
    );

    let out = tool(&data_dir).arg("--force").output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: --force"), "{stderr}");
    // The tree reuses the root and intermediate it found in server/tls.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("root CA:         reused"), "{stdout}");
    assert_tree_is_sound(&data_dir, &stdout);
}

#[test]
fn a_dry_run_writes_nothing() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    let stdout = ok(tool(&data_dir).arg("--dry-run"));
    assert!(stdout.contains("would write"), "{stdout}");
    assert!(stdout.contains("create"), "{stdout}");
    assert!(!data_dir.exists());
}

#[test]
fn flags_override_the_environment() {
    let dir = scratch();
    let data_dir = dir.path().join("rke2");
    let stdout = ok(tool(&dir.path().join("ignored"))
        .env("PRODUCT", "k3s")
        .args(["--product", "rke2", "--data-dir"])
        .arg(&data_dir));
    assert!(stdout.contains("rke2 certificate rotate-ca"), "{stdout}");
    assert!(!dir.path().join("ignored").exists());
    let root = &describe_certs(&tls(&data_dir).join("root-ca.pem"))[0];
    assert!(text(root, "subject_cn").starts_with("rke2-root-ca@"));
}

/// Issue 21: a mistyped --data-dir made a new root without a word; now the
/// run says where it looked for root-ca.pem, or that the directory was not there.
#[test]
fn a_new_root_says_where_root_ca_pem_was_looked_for() {
    let dir = scratch();
    let typo = dir.path().join("k3s-typo");
    let stderr = String::from_utf8(tool(&typo).output().unwrap().stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "gen-custom-ca: warning: {} did not exist: it is made, with a new root CA \
             (check --data-dir if your root-ca.pem is elsewhere)\n",
            typo.display()
        )
    );
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let stderr = String::from_utf8(tool(&empty).arg("--dry-run").output().unwrap().stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "gen-custom-ca: warning: no root-ca.pem in {} or {}: a new root CA is made\n",
            empty.display(),
            tls(&empty).display()
        )
    );
}

/// Before, argh's three lines: `Unrecognized argument: --data-dri`, a blank
/// line, `Run gen-custom-ca --help for more information.`
#[test]
fn a_mistyped_flag_is_one_line_with_the_flag_meant() {
    let dir = scratch();
    let out = tool(dir.path())
        .args(["--data-dri", "/tmp/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "gen-custom-ca: error: unknown flag --data-dri: did you mean --data-dir?\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn help_explains_every_input_case() {
    let stdout = ok(Command::new(env!("CARGO_BIN_EXE_gen-custom-ca")).arg("--help"));
    for needle in [
        "root-ca.pem + root-ca.key",
        "intermediate-ca.pem + intermediate-ca.key",
        "service.key",
        "DATA_DIR",
        "PRODUCT",
        "--force",
    ] {
        assert!(stdout.contains(needle), "help lacks {needle}:\n{stdout}");
    }
}

/// One bad-input case: prepare `data_dir`, run, expect exit 1, a message that
/// names `file` and contains `problem`, and no file changed anywhere.
fn assert_refused(setup: impl FnOnce(&Path), file: &str, problem: &str) {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    fs::create_dir_all(tls(&data_dir)).unwrap();
    setup(&data_dir);
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(
        stderr.contains(file),
        "message should name {file}:\n{stderr}"
    );
    assert!(
        stderr.contains(problem),
        "message should say {problem:?}:\n{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one clear line:\n{stderr}");
    assert_eq!(snapshot(dir.path()), before, "nothing created or changed");
}

#[test]
fn malformed_pem_is_refused() {
    assert_refused(
        |d| fs::write(d.join("root-ca.pem"), "this is not a certificate\n").unwrap(),
        "root-ca.pem",
        "no PEM block",
    );
}

#[test]
fn a_truncated_pem_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(&d.join("x"));
            let text = fs::read_to_string(&root.0).unwrap();
            fs::write(d.join("root-ca.pem"), &text[..text.len() / 2]).unwrap();
            fs::copy(&root.1, d.join("root-ca.key")).unwrap();
            fs::remove_dir_all(d.join("x")).unwrap();
        },
        "root-ca.pem",
        "malformed PEM",
    );
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(d);
            let other = openssl_root(&d.join("other"));
            fs::copy(&other.1, &root.1).unwrap();
            fs::remove_dir_all(d.join("other")).unwrap();
        },
        "root-ca.key",
        "does not match the certificate",
    );
}

#[test]
fn a_ca_without_ca_true_is_refused() {
    assert_refused(
        |d| {
            ok(gocheck()
                .args(["mkca", "--not-ca", "--key", "rsa", "--cn", "not a ca"])
                .arg("--out-cert")
                .arg(d.join("root-ca.pem"))
                .arg("--out-key")
                .arg(d.join("root-ca.key")));
        },
        "root-ca.pem",
        "CA:TRUE is missing",
    );
}

#[test]
fn a_ca_without_key_cert_sign_is_refused() {
    assert_refused(
        |d| {
            ok(gocheck()
                .args(["mkca", "--no-cert-sign", "--cn", "cannot sign"])
                .arg("--out-cert")
                .arg(d.join("root-ca.pem"))
                .arg("--out-key")
                .arg(d.join("root-ca.key")));
        },
        "root-ca.pem",
        "keyCertSign",
    );
}

#[test]
fn an_intermediate_not_signed_by_the_root_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(&d.join("real"));
            let other = openssl_root(&d.join("other"));
            openssl_intermediate(&tls(d), &other);
            fs::copy(&root.0, d.join("root-ca.pem")).unwrap();
            fs::remove_dir_all(d.join("real")).unwrap();
            fs::remove_dir_all(d.join("other")).unwrap();
        },
        "intermediate-ca.pem",
        "not issued by the CA in",
    );
}

#[test]
fn an_expired_root_is_refused() {
    assert_refused(
        |d| {
            ok(gocheck()
                .args([
                    "mkca",
                    "--cn",
                    "old root",
                    "--not-before",
                    "2015-01-01T00:00:00Z",
                ])
                .args(["--days", "3650", "--key", "rsa"])
                .arg("--out-cert")
                .arg(d.join("root-ca.pem"))
                .arg("--out-key")
                .arg(d.join("root-ca.key")));
        },
        "root-ca.pem",
        "expired on 2024-12-29T00:00:00Z",
    );
}

#[test]
fn an_expired_intermediate_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(d);
            ok(gocheck()
                .args([
                    "mkca",
                    "--cn",
                    "old intermediate",
                    "--not-before",
                    "2020-01-01T00:00:00Z",
                ])
                .args(["--days", "30"])
                .arg("--ca-cert")
                .arg(&root.0)
                .arg("--ca-key")
                .arg(&root.1)
                .arg("--out-cert")
                .arg(d.join("intermediate-ca.pem"))
                .arg("--out-key")
                .arg(d.join("intermediate-ca.key")));
            fs::remove_file(&root.1).unwrap();
        },
        "intermediate-ca.pem",
        "expired on",
    );
}

#[test]
fn an_intermediate_without_its_key_and_no_root_key_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(&d.join("vault"));
            openssl_intermediate(&tls(d), &root);
            fs::remove_file(tls(d).join("intermediate-ca.key")).unwrap();
            fs::copy(&root.0, tls(d).join("root-ca.pem")).unwrap();
            fs::remove_dir_all(d.join("vault")).unwrap();
        },
        "intermediate-ca.pem",
        // Issue 21: where it was looked for.
        "no intermediate-ca.key to sign the leaf CAs with (no intermediate-ca.key in ",
    );
}

#[test]
fn a_root_without_its_key_and_no_intermediate_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(d);
            fs::remove_file(root.1).unwrap();
        },
        "root-ca.key",
        "cannot make an intermediate without the root key",
    );
}

#[test]
fn an_encrypted_root_key_without_a_passphrase_is_refused() {
    assert_refused(
        |d| {
            let root = openssl_root(d);
            ok(openssl()
                .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
                .arg(&root.1)
                .arg("-out")
                .arg(d.join("enc.key")));
            fs::rename(d.join("enc.key"), &root.1).unwrap();
        },
        "root-ca.key",
        "encrypted",
    );
}

#[test]
fn a_garbage_service_key_is_refused() {
    assert_refused(
        |d| {
            fs::write(
                d.join("service.key"),
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            )
            .unwrap()
        },
        "service.key",
        "invalid PKCS#1 RSA private key",
    );
}

#[test]
fn an_unwritable_directory_is_refused() {
    let dir = scratch();
    // A regular file where a directory must be: refused even when running as root.
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, "x").unwrap();
    let data_dir = blocker.join("data");
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(stderr.contains("not-a-dir:"), "names the path: {stderr}");
    assert!(stderr.contains("Not a directory"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn the_lint_check_can_fail() {
    // Guard for the pkilint harness: the upstream script's EC CA profile
    // (keyEncipherment on an EC key) must be reported as an ERROR.
    let dir = scratch();
    let root = openssl_root(dir.path());
    let (cert, _) = openssl_ec_ca(
        dir.path(),
        "upstream-style",
        "/CN=k3s-client-ca@1",
        "digitalSignature,keyEncipherment,keyCertSign",
        &root,
    );
    let findings = pkilint_errors(&cert);
    assert!(
        findings.contains("ERROR"),
        "pkilint should flag keyEncipherment on EC:\n{findings}"
    );
}

#[test]
fn a_staging_tree_from_the_same_root_passes_rotate_ca() {
    // Rotating the leaf CAs of a custom-CA cluster: generate into a staging
    // DATA_DIR with the same root and intermediate, then `rotate-ca --path`.
    let dir = scratch();
    let live = dir.path().join("live");
    crate::util::default_tree(&live);
    let staging = dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    for name in ["root-ca.pem", "intermediate-ca.pem", "intermediate-ca.key"] {
        fs::copy(tls(&live).join(name), staging.join(name)).unwrap();
    }
    fs::copy(tls(&live).join("service.key"), staging.join("service.key")).unwrap();
    let stdout = ok(&mut tool(&staging));
    assert!(
        stdout.contains(&format!("--path={}", staging.join("server").display())),
        "{stdout}"
    );
    let verdict = testkit::json(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(tls(&live))
            .arg("--staged")
            .arg(tls(&staging)),
    );
    assert_eq!(verdict["ok"], true, "{verdict}");
    let live_hash = k3s_hash(&tls(&live).join("server-ca.crt"));
    assert_eq!(
        printed_hash(&stdout),
        live_hash,
        "same root, same join-token hash"
    );
}

#[test]
fn the_docs_staging_flow_carries_the_live_service_key_and_is_checked_before_loading() {
    // The docs copy root-ca.*, intermediate-ca.* and service.key into a staging
    // DATA_DIR; service.key is the one people forget (k3s issue 7100).
    let dir = scratch();
    let live = dir.path().join("live");
    crate::util::default_tree(&live);
    let staging = dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    for name in ["root-ca.pem", "intermediate-ca.pem", "intermediate-ca.key"] {
        fs::copy(tls(&live).join(name), staging.join(name)).unwrap();
    }
    let stdout = ok(tool(&staging).arg("--live-data-dir").arg(&live));
    assert!(stdout.contains("it will be accepted"), "{stdout}");
    assert!(stdout.contains("certificate rotate-ca --path="), "{stdout}");
    // Issue 20: the same root keeps the join hash: no tokens, no pods.
    assert!(
        stdout.contains("Load the rotation, then restart every k3s server, one after the other, and then every agent:"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("join tokens change") && !stdout.contains("pod"),
        "{stdout}"
    );
    let staged_keys = fs::read(tls(&staging).join("service.key")).unwrap();
    let live_keys = fs::read(tls(&live).join("service.key")).unwrap();
    assert!(
        staged_keys.ends_with(&live_keys),
        "the live keys follow the new one byte for byte"
    );
    let verdict = testkit::json(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(tls(&live))
            .arg("--staged")
            .arg(tls(&staging)),
    );
    assert_eq!(verdict["ok"], true, "{verdict}");

    // A staging tree from another root: rotate-ca would refuse it, so no command.
    let other = dir.path().join("other");
    let stdout = ok(tool(&other).arg("--live-data-dir").arg(&live));
    assert!(stdout.contains("rotate-ca would refuse"), "{stdout}");
    assert!(!stdout.contains("--path="), "{stdout}");
    // Issue 20: a new root: servers then agents, the tokens, and the pods.
    let from = stdout.find("If you load it anyway").expect(&stdout);
    assert_eq!(
        &stdout[from..],
        "If you load it anyway with rotate-ca --force: restart every k3s server, one after the other, and then every agent.\n\
         \n\
         The join tokens change with the CA hash. Before each node restarts, update those configured on it (nodes that joined with a secure K10 token, servers included):\n\
         \x20 token and agent-token in /etc/rancher/k3s/config.yaml and /etc/rancher/k3s/config.yaml.d/*.yaml;\n\
         \x20 K3S_TOKEN and K3S_AGENT_TOKEN in /etc/systemd/system/k3s.service.env (/etc/systemd/system/k3s-agent.service.env on agents);\n\
         \x20 --token in the ExecStart of /etc/systemd/system/k3s.service (/etc/systemd/system/k3s-agent.service on agents).\n\
         \x20 k3s rewrites server/token and server/agent-token itself. `ca-check token` names every stale one.\n\
         \n\
         The new CAs are under a new root: restart every pod once the servers are up: pods trust the old root alone (the ca.crt of their service-account tokens, the kube-root-ca.crt ConfigMap) until they restart.\n"
    );
    let (passed, _) = status(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(tls(&live))
            .arg("--staged")
            .arg(tls(&other)),
    );
    assert!(!passed, "Go's rotate-check agrees it is refused");
}

/// Issue 19: every line of the report and of a refusal stays one line when
/// the data dir's name holds a line break and an escape sequence.
#[test]
fn a_data_dir_named_with_control_characters_is_escaped_in_every_message() {
    let dir = scratch();
    let plain = dir.path().join("plain");
    let evil = dir.path().join("d\n\x1b[31mx");
    let fast = [
        "--root-algorithm",
        "ECDSA-P256",
        "--intermediate-algorithm",
        "ECDSA-P256",
    ];
    let plain_out = ok(tool(&plain).args(fast));
    let evil_out = ok(tool(&evil).args(fast));
    assert!(!evil_out.contains('\x1b'), "{evil_out:?}");
    assert_eq!(
        evil_out.lines().count(),
        plain_out.lines().count(),
        "{evil_out}"
    );
    assert!(
        evil_out.contains("d\\n\\u{1b}[31mx/server/tls/root-ca.pem"),
        "{evil_out}"
    );
    fs::write(evil.join("root-ca.pem"), "not a certificate\n").unwrap();
    let stderr = fails(tool(&evil).args(fast).arg("--force"));
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}
