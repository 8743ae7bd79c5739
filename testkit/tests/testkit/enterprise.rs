//! The enterprise input builders and `gocheck k3s-leaves` checked against each
//! other: a good tree passes, and each limit an organisation's CA can carry
//! (path length, name constraints, EKU) fails exactly the certificates Go
//! rejects for a client that trusts only the root. Without these, a pre-flight
//! test that "passes" could be an oracle that never fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a test failure"
)]

use std::fs;
use std::path::Path;

use testkit::enterprise::{
    Ca, CaExt, KeyKind, PemCipher, chain_file, encrypt_pkcs8, encrypt_traditional, genkey, root,
    sub_ca, to_traditional, upstream_tree,
};
use testkit::{
    CA_STEMS, Json, describe_certs, describe_keys, k3s_leaves, mode, ok, openssl, scratch, status,
};

/// The certificates k3s gives SANs: name constraints apply to them only.
const LEAVES_WITH_SANS: [&str; 5] = [
    "serving-kube-apiserver",
    "serving-kubelet",
    "k3s-serving",
    "etcd/server-client",
    "etcd/peer-server-client",
];

/// One verification of `gocheck k3s-leaves`.
struct Check {
    ca: String,
    leaf: String,
    usage: String,
    ok: bool,
    error: String,
}

fn checks(json: &Json) -> Vec<Check> {
    let field = |v: &Json, k: &str| v[k].as_str().unwrap().to_string();
    json.as_array()
        .unwrap()
        .iter()
        .map(|v| Check {
            ca: field(v, "ca"),
            leaf: field(v, "leaf"),
            usage: field(v, "usage"),
            ok: v["ok"].as_bool().unwrap(),
            error: field(v, "error"),
        })
        .collect()
}

/// `upstream_tree` under `issuing`, then `k3s-leaves` trusting only `root`.
fn leaves_under(dir: &Path, root: &Ca, issuing: &Ca) -> (bool, Vec<Check>) {
    let tls = dir.join("tls");
    upstream_tree(&tls, root, issuing);
    let (passed, json) = k3s_leaves(&tls, &root.cert);
    (passed, checks(&json))
}

/// Every verification passed, and k3s's whole list was checked: 15 leaves
/// under the five CAs, the etcd server and peer certificates for both usages.
fn assert_all_pass(passed: bool, checks: &[Check]) {
    for c in checks {
        assert!(c.ok, "{} {} ({}): {}", c.ca, c.leaf, c.usage, c.error);
    }
    assert!(passed);
    assert_eq!(checks.len(), 18);
    for stem in CA_STEMS {
        assert!(checks.iter().any(|c| c.ca == stem), "no leaf under {stem}");
    }
}

#[test]
fn good_enterprise_tree_passes_every_leaf() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::Rsa(3072), &CaExt::default());
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P384,
        &root,
        &CaExt::default(),
    );
    let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
    assert_all_pass(passed, &checks);
}

#[test]
fn upstream_tree_lays_out_files_as_the_script_does() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P256,
        &root,
        &CaExt::default(),
    );
    let tls = dir.path().join("tls");
    upstream_tree(&tls, &root, &issuing);
    let cns = |file: &str| -> Vec<String> {
        describe_certs(&tls.join(file))
            .iter()
            .map(|c| c["subject_cn"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(cns("root-ca.crt"), ["root"]);
    assert_eq!(cns("intermediate-ca.crt"), ["issuing", "root"]);
    assert_eq!(
        cns("etcd/peer-ca.crt"),
        ["k3s-etcd-peer-ca", "issuing", "root"]
    );
    for stem in CA_STEMS {
        let key = tls.join(format!("{stem}.key"));
        assert_eq!(describe_keys(&key)[0]["format"], "sec1", "{stem}.key");
        assert_eq!(mode(&key), 0o600, "{stem}.key");
        let ca = &describe_certs(&tls.join(format!("{stem}.pem")))[0];
        assert_eq!(
            ca["key_usage"],
            serde_json::json!(["digitalSignature", "keyCertSign"])
        );
    }
    let service = tls.join("service.key");
    assert_eq!(describe_keys(&service)[0]["format"], "pkcs1");
    assert_eq!(mode(&service), 0o600);
    // nothing of the openssl runs is left behind
    assert!(!tls.join("client-ca.cnf").exists() && !tls.join("client-ca.csr").exists());
    assert!(
        !tls.join("root-ca.key").exists(),
        "the root key belongs in a vault"
    );
}

#[test]
fn path_len_zero_intermediate_fails_every_leaf() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let ext = CaExt {
        path_len: Some(0),
        ..CaExt::default()
    };
    let issuing = sub_ca(dir.path(), "issuing", KeyKind::P256, &root, &ext);
    let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
    assert!(!passed);
    assert_eq!(checks.len(), 18);
    for c in &checks {
        assert!(
            !c.ok
                && c.error
                    .contains("too many intermediates for path length constraint"),
            "{} {} ({}): {}",
            c.ca,
            c.leaf,
            c.usage,
            c.error
        );
    }
}

#[test]
fn name_constrained_root_fails_the_certificates_with_sans_only() {
    let dir = scratch();
    let ext = CaExt {
        name_constraints: Some(
            "critical,permitted;DNS:corp.example,permitted;IP:10.0.0.0/255.0.0.0".into(),
        ),
        ..CaExt::default()
    };
    let root = root(dir.path(), "root", KeyKind::P256, &ext);
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P256,
        &root,
        &CaExt::default(),
    );
    let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
    assert!(!passed);
    for c in &checks {
        if LEAVES_WITH_SANS.contains(&c.leaf.as_str()) {
            assert!(!c.ok, "{} ({}) should fail", c.leaf, c.usage);
            assert!(
                c.error.contains("is not permitted by any constraint"),
                "{}",
                c.error
            );
        } else {
            assert!(c.ok, "{} ({}): {}", c.leaf, c.usage, c.error);
        }
    }
    // Go names the first SAN it finds outside the constraints: Go 1.19 named
    // the DNS name "kubernetes", Go 1.26 names the loopback address.
    assert!(
        checks
            .iter()
            .any(|c| c.error.contains("DNS name \"kubernetes\"")
                || c.error.contains("IP address \"127.0.0.1\"")),
        "{:?}",
        checks.iter().map(|c| &c.error).collect::<Vec<_>>()
    );
}

#[test]
fn server_auth_only_intermediate_fails_client_usage_only() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let ext = CaExt {
        eku: Some("serverAuth".into()),
        ..CaExt::default()
    };
    let issuing = sub_ca(dir.path(), "issuing", KeyKind::P256, &root, &ext);
    let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
    assert!(!passed);
    for c in &checks {
        match c.usage.as_str() {
            "server" => assert!(c.ok, "{} ({}): {}", c.leaf, c.usage, c.error),
            _ => assert!(
                !c.ok && c.error.contains("incompatible key usage"),
                "{} ({}): {}",
                c.leaf,
                c.usage,
                c.error
            ),
        }
    }
}

#[test]
fn three_tier_chain_passes() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P384, &CaExt::default());
    let policy = sub_ca(
        dir.path(),
        "policy",
        KeyKind::P384,
        &root,
        &CaExt::default(),
    );
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P256,
        &policy,
        &CaExt::default(),
    );
    // intermediate-ca.pem of a three-tier PKI: the issuing CA, then the policy CA
    let chain = dir.path().join("issuing-chain.pem");
    chain_file(&chain, &[&issuing.cert, &policy.cert]);
    let issuing = Ca {
        cert: chain,
        ..issuing
    };
    let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
    assert_all_pass(passed, &checks);
    let bundle = describe_certs(&dir.path().join("tls/server-ca.crt"));
    let cns: Vec<_> = bundle.iter().map(|c| c["subject_cn"].clone()).collect();
    assert_eq!(cns, ["k3s-server-ca", "issuing", "policy", "root"]);
}

#[test]
fn ed25519_and_p521_roots_pass() {
    for kind in [KeyKind::Ed25519, KeyKind::P521] {
        let dir = scratch();
        let root = root(dir.path(), "root", kind, &CaExt::default());
        let issuing = sub_ca(
            dir.path(),
            "issuing",
            KeyKind::P256,
            &root,
            &CaExt::default(),
        );
        let (passed, checks) = leaves_under(dir.path(), &root, &issuing);
        assert_all_pass(passed, &checks);
    }
}

/// The oracle itself reads every key k3s may be given for its CAs: RSA PKCS#1,
/// RSA PKCS#8, P-384 SEC1, P-521 PKCS#8 and Ed25519 PKCS#8, under one root.
#[test]
fn oracle_signs_with_every_ca_key_type_and_encoding() {
    let dir = scratch();
    let tls = dir.path().join("tls");
    fs::create_dir_all(tls.join("etcd")).unwrap();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let cas = [
        (KeyKind::Rsa(2048), true),
        (KeyKind::Rsa(2048), false),
        (KeyKind::P384, true),
        (KeyKind::P521, false),
        (KeyKind::Ed25519, false),
    ];
    for (stem, (kind, traditional)) in CA_STEMS.into_iter().zip(cas) {
        let ca = sub_ca(
            dir.path(),
            &stem.replace('/', "-"),
            kind,
            &root,
            &CaExt::default(),
        );
        chain_file(&tls.join(format!("{stem}.crt")), &[&ca.cert, &root.cert]);
        let key = tls.join(format!("{stem}.key"));
        if traditional {
            to_traditional(&ca.key, &key);
        } else {
            fs::copy(&ca.key, &key).unwrap();
        }
    }
    let (passed, json) = k3s_leaves(&tls, &root.cert);
    assert_all_pass(passed, &checks(&json));
}

#[test]
fn unreadable_or_mismatched_ca_keys_are_failures() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P256,
        &root,
        &CaExt::default(),
    );
    let tls = dir.path().join("tls");
    upstream_tree(&tls, &root, &issuing);
    fs::copy(tls.join("client-ca.key"), tls.join("server-ca.key")).unwrap();
    fs::remove_file(tls.join("etcd/peer-ca.crt")).unwrap();
    let (passed, json) = k3s_leaves(&tls, &root.cert);
    assert!(!passed);
    for c in checks(&json) {
        match c.ca.as_str() {
            "server-ca" => assert!(c.error.contains("does not belong"), "{}", c.error),
            "etcd/peer-ca" => assert!(c.error.contains("peer-ca.crt"), "{}", c.error),
            _ => assert!(c.ok, "{} {}: {}", c.ca, c.leaf, c.error),
        }
    }
}

/// The public key of a private key file, as openssl prints it.
fn public_key(key: &Path, pass: &str) -> String {
    ok(openssl()
        .args(["pkey", "-pubout", "-in"])
        .arg(key)
        .arg("-passin")
        .arg(format!("pass:{pass}")))
}

/// `key` opens with `pass`, to the same key as `plain`, and not with another pass.
fn assert_encrypted(key: &Path, plain: &Path, pass: &str) {
    assert_eq!(public_key(key, pass), public_key(plain, ""));
    let (opened, out) = status(
        openssl()
            .args(["pkey", "-noout", "-passin", "pass:wrong", "-in"])
            .arg(key),
    );
    assert!(
        !opened,
        "{} opened without its passphrase: {out}",
        key.display()
    );
    assert_eq!(describe_keys(key)[0]["encrypted"], true);
    assert_eq!(mode(key), 0o600);
}

#[test]
fn encrypted_keys_need_their_passphrase() {
    let dir = scratch();
    for (name, kind) in [("rsa", KeyKind::Rsa(2048)), ("ec", KeyKind::P384)] {
        let plain = dir.path().join(format!("{name}.key"));
        genkey(&plain, kind);

        let pkcs8 = dir.path().join(format!("{name}.pkcs8.enc"));
        encrypt_pkcs8(&plain, &pkcs8, "s3cret");
        assert_encrypted(&pkcs8, &plain, "s3cret");
        let text = fs::read_to_string(&pkcs8).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let params = ok(openssl().arg("asn1parse").arg("-in").arg(&pkcs8));
        for alg in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"] {
            assert!(params.contains(alg), "{alg} missing:\n{params}");
        }

        for cipher in PemCipher::ALL {
            let enc = dir.path().join(format!("{name}.{}.enc", cipher.flag()));
            encrypt_traditional(&plain, &enc, "s3cret", cipher);
            assert_encrypted(&enc, &plain, "s3cret");
            let text = fs::read_to_string(&enc).unwrap();
            let label = if name == "rsa" { "RSA" } else { "EC" };
            let dek = match cipher {
                PemCipher::Aes128 => "AES-128-CBC",
                PemCipher::Aes192 => "AES-192-CBC",
                PemCipher::Aes256 => "AES-256-CBC",
                PemCipher::Des3 => "DES-EDE3-CBC",
            };
            let head = format!(
                "-----BEGIN {label} PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: {dek},"
            );
            assert!(text.starts_with(&head), "{text}");
        }
    }
}

#[test]
fn at_a_time_after_the_root_expires_every_leaf_fails() {
    let dir = scratch();
    let root = root(dir.path(), "root", KeyKind::P256, &CaExt::default());
    let issuing = sub_ca(
        dir.path(),
        "issuing",
        KeyKind::P256,
        &root,
        &CaExt::default(),
    );
    let tls = dir.path().join("tls");
    upstream_tree(&tls, &root, &issuing);
    // the root lasts 7300 days from now; the leaves are issued at --at and valid then
    let (passed, out) = status(
        testkit::gocheck()
            .args(["k3s-leaves", "--at", "2100-01-01T00:00:00Z", "--tls"])
            .arg(&tls)
            .arg("--roots")
            .arg(&root.cert),
    );
    assert!(!passed);
    assert!(out.contains("18 of 18 verifications failed"), "{out}");
    assert!(
        out.contains("certificate has expired or is not yet valid"),
        "{out}"
    );
}
