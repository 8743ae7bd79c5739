//! kubeconfig-user against real consumers, for k3s (the fixture tree),
//! kubeadm and k0s (trees made with openssl): kubectl reads each kubeconfig;
//! its client certificate verifies against the client CA with Go and openssl
//! for clientAuth and lints clean; a real mTLS handshake succeeds with a
//! server that trusts that CA and fails with one that trusts another; the
//! super-user guard refuses with one line and writes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::enterprise::{KeyKind, encrypt_pkcs8, genkey, passphrase_file, to_traditional};
use testkit::{
    Json, Party, assert_lint_clean, describe_certs, fails, gocheck, handshake, issue_leaf, ok,
    openssl, scratch, snapshot, status,
};

fn tool(product: &str, data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubeconfig-user"));
    cmd.env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .args(["--product", product, "--data-dir"])
        .arg(data);
    cmd
}

/// A copy of the k3s fixture's data dir (k3s's own self-signed CAs).
fn k3s_tree(dir: &Path) -> PathBuf {
    let data = dir.join("k3s");
    let fixture = testkit::workspace_root().join("fixtures/k3s-default");
    ok(Command::new("cp").arg("-r").arg(&fixture).arg(&data));
    data
}

/// A kubeadm or k0s data dir: `pki/ca.crt` and `ca.key` as `kubeadm init
/// phase certs ca` makes them (made with openssl), and an admin kubeconfig
/// `admin` (relative to the data dir) pointing at `server`.
fn pki_tree(dir: &Path, name: &str, cn: &str, kind: KeyKind, admin: &str, server: &str) -> PathBuf {
    let data = dir.join(name);
    let pki = data.join("pki");
    fs::create_dir_all(&pki).unwrap();
    let key = pki.join("ca.key");
    let pkcs8 = pki.join("ca.pkcs8");
    genkey(&pkcs8, kind);
    to_traditional(&pkcs8, &key);
    fs::remove_file(pkcs8).unwrap();
    ok(openssl()
        .args(["req", "-x509", "-new", "-sha256", "-days", "3650", "-key"])
        .arg(&key)
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,digitalSignature,keyCertSign"])
        .arg("-out")
        .arg(pki.join("ca.crt")));
    fs::write(
        data.join(admin),
        format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    server: {server}\n  name: kubernetes\n\
             contexts:\n- context:\n    cluster: kubernetes\n    user: kubernetes-admin\n  \
             name: kubernetes-admin@kubernetes\ncurrent-context: kubernetes-admin@kubernetes\n\
             kind: Config\npreferences: {{}}\nusers:\n- name: kubernetes-admin\n  user:\n    \
             client-key-data: S0VZ\n"
        ),
    )
    .unwrap();
    data
}

/// `kubectl config view --raw -o json` of `kubeconfig`.
fn view(kubeconfig: &Path) -> Json {
    testkit::json(
        Command::new("kubectl")
            .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
            .arg(kubeconfig),
    )
}

fn text(value: &Json) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

/// What a kubeconfig must be: read by kubectl as asked, 0600, its client
/// certificate a clientAuth certificate of `ca` (Go, openssl, pkilint) for
/// `user` in `groups`, `days` long (and the backdating). Returns the view and the certificate file.
fn check(
    kubeconfig: &Path,
    (user, groups, cluster, server): (&str, &[&str], &str, &str),
    ca: &Path,
    rsa: bool,
    days: f64,
) -> (Json, PathBuf) {
    assert_eq!(testkit::mode(kubeconfig), 0o600);
    let view = view(kubeconfig);
    let context = format!("{user}@{cluster}");
    assert_eq!(text(&view["current-context"]), context, "{view}");
    assert_eq!(text(&view["contexts"][0]["name"]), context);
    assert_eq!(text(&view["contexts"][0]["context"]["user"]), user);
    assert_eq!(text(&view["contexts"][0]["context"]["cluster"]), cluster);
    assert_eq!(text(&view["clusters"][0]["name"]), cluster);
    assert_eq!(text(&view["clusters"][0]["cluster"]["server"]), server);
    assert_eq!(text(&view["users"][0]["name"]), user);
    let cert = testkit::decode_base64_to(
        text(&view["users"][0]["user"]["client-certificate-data"]),
        &kubeconfig.with_extension("crt"),
    );
    ok(gocheck()
        .args(["verify", "--usage", "client", "--roots"])
        .arg(ca)
        .arg(&cert));
    let out = ok(openssl()
        .args(["verify", "-purpose", "sslclient", "-CAfile"])
        .arg(ca)
        .arg(&cert));
    assert!(out.contains(": OK"), "{out}");
    // Not a server certificate: Go refuses it for serverAuth.
    let (served, _) = status(
        gocheck()
            .args(["verify", "--usage", "server", "--roots"])
            .arg(ca)
            .arg(&cert),
    );
    assert!(!served, "a user certificate verified for serverAuth");
    assert_lint_clean(std::slice::from_ref(&cert));
    let described = &describe_certs(&cert)[0];
    assert_eq!(text(&described["subject_cn"]), user, "{described}");
    let subject = text(&described["subject"]);
    for group in groups {
        assert!(subject.contains(&format!("O={group}")), "{subject}");
    }
    assert_eq!(subject.matches("O=").count(), groups.len(), "{subject}");
    let ku: Vec<&str> = described["key_usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let wanted = if rsa {
        vec!["digitalSignature", "keyEncipherment"]
    } else {
        vec!["digitalSignature"]
    };
    assert_eq!(ku, wanted, "{described}");
    assert_eq!(
        described["ext_key_usage"],
        serde_json::json!(["clientAuth"])
    );
    assert_eq!(described["is_ca"], false);
    assert_eq!(described["basic_constraints_valid"], true);
    assert!(described["dns_names"].as_array().is_none_or(Vec::is_empty));
    assert!(
        described["ip_addresses"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    assert_eq!(text(&described["ski"]).len(), 40);
    assert!(!text(&described["aki"]).is_empty());
    // `days` from now, backdated up to five minutes (not before the CA's start).
    let validity = described["validity_days"].as_f64().unwrap();
    assert!(
        (days - 0.001..days + 5.0 / 1440.0 + 0.001).contains(&validity),
        "validity {validity} days"
    );
    (view, cert)
}

/// A real mTLS handshake: a server certificate from `server_ca` (cert, key)
/// shown to the kubeconfig's user, who trusts the kubeconfig's
/// certificate-authority-data; the server accepts clients of `client_ca`.
fn mtls(
    view: &Json,
    cert: &Path,
    key: &Path,
    server_ca: (&Path, &Path),
    client_ca: &Path,
) -> (bool, String) {
    let dir = cert.parent().unwrap();
    let (server_cert, server_key) = issue_leaf(
        server_ca.0,
        server_ca.1,
        dir,
        "kube-apiserver",
        "server",
        false,
    );
    let roots = testkit::decode_base64_to(
        text(&view["clusters"][0]["cluster"]["certificate-authority-data"]),
        &dir.join("trust.pem"),
    );
    status(&mut handshake(
        &Party {
            cert: &server_cert,
            key: &server_key,
        },
        client_ca,
        &Party { cert, key },
        &roots,
    ))
}

#[test]
fn a_k3s_user_kubeconfig_is_read_by_kubectl_verified_and_shakes_hands_with_client_ca_only() {
    let dir = scratch();
    let data = k3s_tree(dir.path());
    let tls = data.join("server/tls");
    let out = dir.path().join("alice.kubeconfig");
    let report = ok(tool("k3s", &data)
        .args(["--user", "alice", "--group", "developers", "--group", "ops"])
        .args(["--server", "https://127.0.0.1:6443", "--out"])
        .arg(&out));
    assert!(report.contains("context alice@default"), "{report}");
    let (view, cert) = check(
        &out,
        (
            "alice",
            &["developers", "ops"],
            "default",
            "https://127.0.0.1:6443",
        ),
        &tls.join("client-ca.crt"),
        false,
        7.0,
    );
    // The trust embedded is the whole server-ca.crt k3s serves.
    let trust = testkit::decode_base64_to(
        text(&view["clusters"][0]["cluster"]["certificate-authority-data"]),
        &dir.path().join("embedded.pem"),
    );
    assert_eq!(
        fs::read_to_string(&trust).unwrap(),
        fs::read_to_string(tls.join("server-ca.crt")).unwrap()
    );
    let key = testkit::decode_base64_to(
        text(&view["users"][0]["user"]["client-key-data"]),
        &dir.path().join("alice.key"),
    );
    ok(gocheck().arg("keypair").arg(&cert).arg(&key));
    let server_ca = (tls.join("server-ca.crt"), tls.join("server-ca.key"));
    let server_ca = (server_ca.0.as_path(), server_ca.1.as_path());
    let (shook, said) = mtls(&view, &cert, &key, server_ca, &tls.join("client-ca.crt"));
    assert!(shook, "{said}");
    assert!(said.contains("alice"), "{said}");
    // A server that checks clients against another CA (k3s's server-ca: the
    // mistake of k3s #7016) turns the certificate away.
    let (shook, said) = mtls(&view, &cert, &key, server_ca, &tls.join("server-ca.crt"));
    assert!(
        !shook,
        "the handshake succeeded with the wrong client CA: {said}"
    );
}

#[test]
fn a_kubeadm_user_kubeconfig_takes_its_server_from_admin_conf_with_an_rsa_key() {
    let dir = scratch();
    let server = "https://192.0.2.10:6443";
    let data = pki_tree(
        dir.path(),
        "kubernetes",
        "kubernetes",
        KeyKind::P256,
        "admin.conf",
        server,
    );
    let out = dir.path().join("bob.conf");
    ok(tool("kubeadm", &data)
        .args(["--user", "bob", "--group", "viewers", "--days", "30"])
        .args(["--key-algorithm", "RSA-2048", "--out"])
        .arg(&out));
    let ca = data.join("pki/ca.crt");
    let (view, cert) = check(
        &out,
        ("bob", &["viewers"], "kubernetes", server),
        &ca,
        true,
        30.0,
    );
    let key = testkit::decode_base64_to(
        text(&view["users"][0]["user"]["client-key-data"]),
        &dir.path().join("bob.key"),
    );
    let key_kind = &testkit::describe_keys(&key)[0];
    assert!(key_kind.to_string().contains("2048"), "{key_kind}");
    let ca_key = data.join("pki/ca.key");
    let (shook, said) = mtls(&view, &cert, &key, (&ca, &ca_key), &ca);
    assert!(shook, "{said}");
    // The other CA: a stranger's.
    let (stranger, _) = testkit::stranger(dir.path());
    let stranger_ca = stranger.parent().unwrap().join("stranger-ca.pem");
    let (shook, _) = mtls(&view, &cert, &key, (&ca, &ca_key), &stranger_ca);
    assert!(!shook, "a stranger CA accepted the user");
}

#[test]
fn a_k0s_user_kubeconfig_from_the_users_own_csr_has_no_key_until_they_add_it() {
    let dir = scratch();
    let server = "https://localhost:6443";
    let data = pki_tree(
        dir.path(),
        "k0s",
        "kubernetes-ca",
        KeyKind::Rsa(2048),
        "pki/admin.conf",
        server,
    );
    // The user's own key and CSR, made where the user is.
    let key = dir.path().join("carol.key");
    genkey(&key, KeyKind::P256);
    let csr = dir.path().join("carol.csr");
    ok(openssl()
        .args(["req", "-new", "-subj", "/CN=carol", "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    let out = dir.path().join("carol.conf");
    let report = ok(tool("k0s", &data)
        .args(["--user", "carol", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(&out));
    assert!(
        report.contains("kubectl config set-credentials carol --client-key="),
        "{report}"
    );
    let ca = data.join("pki/ca.crt");
    let (view, cert) = check(&out, ("carol", &[], "local", server), &ca, false, 7.0);
    assert!(
        view["users"][0]["user"].get("client-key-data").is_none(),
        "{view}"
    );
    ok(gocheck().arg("keypair").arg(&cert).arg(&key));
    // What the report tells the user to do, then kubectl has the key.
    ok(Command::new("kubectl")
        .args(["config", "set-credentials", "carol", "--embed-certs"])
        .arg(format!("--client-key={}", key.display()))
        .arg("--kubeconfig")
        .arg(&out));
    let view = self::view(&out);
    assert!(
        view["users"][0]["user"].get("client-key-data").is_some(),
        "{view}"
    );
    let ca_key = data.join("pki/ca.key");
    let (shook, said) = mtls(&view, &cert, &key, (&ca, &ca_key), &ca);
    assert!(shook, "{said}");
}

#[test]
fn super_user_groups_are_refused_in_one_line_unless_allowed_and_warned_even_then() {
    let dir = scratch();
    let data = k3s_tree(dir.path());
    let out = dir.path().join("root.kubeconfig");
    let before = snapshot(dir.path());
    for (args, starts) in [
        (
            &["--user", "dave", "--group", "system:masters"][..],
            "kubeconfig-user: error: --group system:masters: ",
        ),
        (
            &["--user", "dave", "--group", "kubeadm:cluster-admins"],
            "kubeconfig-user: error: --group kubeadm:cluster-admins: ",
        ),
        (
            &["--user", "system:node:worker-1", "--group", "system:nodes"],
            "kubeconfig-user: error: --user \"system:node:worker-1\": ",
        ),
    ] {
        let err = fails(tool("k3s", &data).args(args).arg("--out").arg(&out));
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(starts), "{err}");
        assert_eq!(snapshot(dir.path()), before, "a refused run wrote");
    }
    let dave = [
        "--user",
        "dave",
        "--group",
        "system:masters",
        "--allow-super-user",
        "--server",
        "https://127.0.0.1:6443",
    ];
    // A dry run says what it would write, and writes nothing.
    let dry = ok(tool("k3s", &data)
        .args(dave)
        .args(["--dry-run", "--out"])
        .arg(&out));
    assert!(
        dry.starts_with("would write a kubeconfig for \"CN=dave,O=system:masters\""),
        "{dry}"
    );
    assert!(
        dry.contains(&format!("create    600  {}", out.display())),
        "{dry}"
    );
    assert_eq!(snapshot(dir.path()), before, "a dry run wrote");
    let output = tool("k3s", &data)
        .args(dave)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("kubeconfig-user: warning: \"dave\" is in system:masters: "),
        "{stderr}"
    );
    // Written once; a second run does not replace it without --force.
    let before = snapshot(dir.path());
    let err = fails(tool("k3s", &data).args(dave).arg("--out").arg(&out));
    assert!(
        err.ends_with(&format!(
            "kubeconfig-user: error: {}: already exists; give --force to replace it whole \
             (its other contexts, if any, are lost)\n",
            out.display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "a refused run wrote");
    ok(tool("k3s", &data)
        .args(dave)
        .args(["--force", "--out"])
        .arg(&out));
    assert_ne!(snapshot(dir.path()), before, "--force did not replace");
    check(
        &out,
        (
            "dave",
            &["system:masters"],
            "default",
            "https://127.0.0.1:6443",
        ),
        &data.join("server/tls/client-ca.crt"),
        false,
        7.0,
    );
}

#[test]
fn an_encrypted_ca_key_is_read_a_short_lived_ca_caps_the_lifetime_and_inputs_are_never_written() {
    let dir = scratch();
    let server = "https://192.0.2.10:6443";
    let data = pki_tree(
        dir.path(),
        "kubernetes",
        "kubernetes",
        KeyKind::P256,
        "admin.conf",
        server,
    );
    let pki = data.join("pki");
    // The CA made again for three days, its key encrypted (PKCS#8, AES-256).
    ok(openssl()
        .args([
            "req",
            "-x509",
            "-new",
            "-sha256",
            "-days",
            "3",
            "-subj",
            "/CN=kubernetes",
        ])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args([
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
            "-key",
        ])
        .arg(pki.join("ca.key"))
        .arg("-out")
        .arg(pki.join("ca.crt")));
    let encrypted = dir.path().join("ca.enc");
    encrypt_pkcs8(&pki.join("ca.key"), &encrypted, "s3cret");
    fs::rename(&encrypted, pki.join("ca.key")).unwrap();
    let pass = dir.path().join("pass");
    passphrase_file(&pass, "s3cret");
    fs::remove_file(data.join("admin.conf")).unwrap();
    let out = dir.path().join("erin.conf");
    let run = |extra: &[&str], out: &Path| {
        let mut cmd = tool("kubeadm", &data);
        cmd.args(["--user", "erin", "--days", "30", "--password-file"])
            .arg(&pass)
            .args(extra)
            .arg("--out")
            .arg(out);
        cmd
    };
    let before = snapshot(dir.path());
    // No admin.conf to take the server from: said in one line, naming it.
    let err = fails(&mut run(&[], &out));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "kubeconfig-user: error: {}: no admin kubeconfig here",
            data.join("admin.conf").display()
        )),
        "{err}"
    );
    assert!(err.contains("give --server"), "{err}");
    // A server that is not https://.
    let err = fails(&mut run(&["--server", "http://192.0.2.10:8080"], &out));
    assert_eq!(
        err,
        "kubeconfig-user: error: --server \"http://192.0.2.10:8080\" is not an https:// URL; \
         give the API server's with --server\n"
    );
    // An output that is one of the inputs.
    let err = fails(&mut run(
        &["--server", server, "--force"],
        &pki.join("ca.crt"),
    ));
    assert!(
        err.contains("is the client CA certificate this run reads"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "a refused run wrote");
    let output = run(&["--server", server], &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.starts_with("kubeconfig-user: warning: ") && stderr.contains("sooner than 30 days"),
        "{stderr}"
    );
    check(
        &out,
        ("erin", &[], "kubernetes", server),
        &pki.join("ca.crt"),
        false,
        3.0,
    );
}

/// Names YAML would read as something else (a number, a boolean, a key) are
/// quoted: kubectl reads back exactly what was asked.
#[test]
fn names_yaml_would_misread_reach_kubectl_as_given() {
    let dir = scratch();
    let data = k3s_tree(dir.path());
    let out = dir.path().join("odd.kubeconfig");
    ok(tool("k3s", &data)
        .args([
            "--user",
            "0x1F",
            "--group",
            "team: a",
            "--cluster-name",
            "true",
        ])
        .args(["--server", "https://127.0.0.1:6443", "--out"])
        .arg(&out));
    check(
        &out,
        ("0x1F", &["team: a"], "true", "https://127.0.0.1:6443"),
        &data.join("server/tls/client-ca.crt"),
        false,
        7.0,
    );
}
