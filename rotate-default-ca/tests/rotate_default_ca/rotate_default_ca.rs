//! `rotate-default-ca` end to end on data dirs made the way k3s makes them
//! (`gocheck k3s-fixture`), judged by Go: the checks `k3s certificate rotate-ca`
//! applies, k3s's hashCA, chain verification and a real TLS handshake.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{
    CA_STEMS, Json, describe_certs, describe_keys, fails, gocheck, k3s_hash, mode, ok, openssl,
    pkilint_errors, printed_hash, scratch, snapshot, split_bundle, status,
};

fn tool(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_rotate-default-ca"), data_dir)
}

/// A k3s data dir as k3s makes it, after `rotations` default-CA rotations.
fn k3s_data_dir(root: &Path, rotations: u32) -> PathBuf {
    let data_dir = root.join(format!("k3s-{rotations}"));
    ok(gocheck()
        .args([
            "k3s-fixture",
            "--rotations",
            &rotations.to_string(),
            "--out",
        ])
        .arg(&data_dir));
    data_dir
}

fn live(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls")
}

fn staged_tls(data_dir: &Path) -> PathBuf {
    data_dir.join("server/rotate-ca/tls")
}

fn text(value: &Json, name: &str) -> String {
    value[name].as_str().unwrap_or_default().to_string()
}

/// `gocheck rotate-check`: what `k3s certificate rotate-ca` would say.
fn rotate_check(current: &Path, staged: &Path) -> (bool, String) {
    status(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(current)
            .arg("--staged")
            .arg(staged),
    )
}

/// Every leaf certificate file of a k3s tls dir (not the CA bundles), with the CA
/// stem whose current root issued it.
fn leaf_certificates(tls: &Path) -> Vec<(PathBuf, &'static str)> {
    let ca_subjects: BTreeMap<String, &'static str> = CA_STEMS
        .iter()
        .map(|stem| {
            let bundle = describe_certs(&tls.join(format!("{stem}.crt")));
            (text(&bundle[0], "subject"), *stem)
        })
        .collect();
    let mut leaves = Vec::new();
    for dir in [tls.to_path_buf(), tls.join("etcd")] {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let is_ca = CA_STEMS
                .iter()
                .any(|s| tls.join(format!("{s}.crt")) == path);
            if path.extension().is_some_and(|e| e == "crt") && !is_ca {
                let first = &describe_certs(&path)[0];
                if let Some(stem) = ca_subjects.get(&text(first, "issuer")) {
                    leaves.push((path, *stem));
                }
            }
        }
    }
    leaves
}

/// What every staged rotation must satisfy: rotate-ca accepts it, the structure
/// is the contract's, the printed hash is k3s's, and tokens carry it.
fn assert_staged_rotation_is_sound(data_dir: &Path, staged: &Path, stdout: &str) {
    let (accepted, report) = rotate_check(&live(data_dir), staged);
    assert!(
        accepted,
        "rotate-ca would refuse the staging dir:\n{report}"
    );
    let verdict: Json = serde_json_from(&report);
    for file in verdict["files"].as_array().unwrap() {
        assert_eq!(
            file["status"], "ok",
            "every staged file is checked, none reused: {file}"
        );
    }

    for stem in CA_STEMS {
        let bundle = describe_certs(&staged.join(format!("{stem}.crt")));
        let old = describe_certs(&live(data_dir).join(format!("{stem}.crt")));
        let old_root = if old.len() == 1 { &old[0] } else { &old[1] };
        assert_eq!(
            bundle.len(),
            4,
            "{stem}: [intermediate, root, cross-signed root, old root]"
        );
        let (intermediate, root, cross, old_copy) =
            (&bundle[0], &bundle[1], &bundle[2], &bundle[3]);
        assert_eq!(
            text(old_copy, "sha256"),
            text(old_root, "sha256"),
            "{stem}: old root kept"
        );
        assert_eq!(text(root, "subject"), text(cross, "subject"), "{stem}");
        assert_eq!(
            text(root, "spki_sha256"),
            text(cross, "spki_sha256"),
            "{stem}: same key"
        );
        assert_eq!(root["self_signed"], true, "{stem}");
        assert_eq!(text(cross, "issuer"), text(old_root, "subject"), "{stem}");
        assert_ne!(
            text(root, "serial"),
            text(cross, "serial"),
            "{stem}: distinct serials"
        );
        assert_eq!(
            text(intermediate, "issuer"),
            text(root, "subject"),
            "{stem}"
        );
        assert!(text(root, "subject_cn").starts_with("k3s-"), "{stem}");
        assert!(text(root, "subject_cn").contains("-root@"), "{stem}");
        for cert in [intermediate, root, cross] {
            assert_eq!(cert["curve"], "P-256", "{stem}");
            assert_eq!(cert["validity_days"].as_f64(), Some(7300.0), "{stem}");
            assert_eq!(
                cert["key_usage"],
                serde_json::json!(["digitalSignature", "keyCertSign"])
            );
            assert_eq!(cert["is_ca"], true);
            assert!(cert["ext_key_usage"].as_array().is_none_or(Vec::is_empty));
        }
        let keys = describe_keys(&staged.join(format!("{stem}.key")));
        assert_eq!(
            keys.len(),
            2,
            "{stem}.key: [intermediate key, new root key]"
        );
        assert!(keys.iter().all(|k| k["label"] == "EC PRIVATE KEY"));
        assert_eq!(
            text(&keys[1], "spki_sha256"),
            text(root, "spki_sha256"),
            "{stem}: root key"
        );
        assert_eq!(mode(&staged.join(format!("{stem}.key"))), 0o600);
    }
    assert_eq!(mode(&staged.join("service.key")), 0o600);

    let go_hash = k3s_hash(&staged.join("server-ca.crt"));
    let hash = printed_hash(stdout);
    assert_eq!(hash, go_hash, "the printed hash is what k3s computes");
    let server_root = &describe_certs(&staged.join("server-ca.crt"))[1];
    assert_eq!(
        hash,
        text(server_root, "sha256"),
        "k3s hashes the new self-signed root"
    );
    for (file, user) in [("token", "server"), ("agent-token", "node")] {
        let old = fs::read_to_string(data_dir.join("server").join(file)).unwrap();
        let credentials = old.trim().split_once("::").unwrap().1;
        assert!(credentials.starts_with(&format!("{user}:")), "{old}");
        let expected = format!("K10{hash}::{credentials}");
        assert!(
            stdout.contains(&expected),
            "{file}: expected {expected} in:\n{stdout}"
        );
    }
    assert!(stdout.contains("certificate rotate-ca --path="), "{stdout}");
}

fn serde_json_from(text: &str) -> Json {
    let start = text.find('{').unwrap_or(0);
    let end = text.rfind('}').map_or(text.len(), |e| e + 1);
    serde_json::from_str(&text[start..end]).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

#[test]
fn a_default_ca_cluster_gets_a_staging_dir_rotate_ca_accepts() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    let before = snapshot(&live(&data_dir));
    let stdout = ok(&mut tool(&data_dir));
    assert_staged_rotation_is_sound(&data_dir, &staged_tls(&data_dir), &stdout);
    assert_eq!(
        snapshot(&live(&data_dir)),
        before,
        "the live tls dir is untouched"
    );

    let staged = staged_tls(&data_dir);
    let work = dir.path().join("lint");
    fs::create_dir_all(&work).unwrap();
    for stem in CA_STEMS {
        let certs = split_bundle(&staged.join(format!("{stem}.crt")), &work);
        for cert in &certs[..3] {
            let findings = pkilint_errors(cert);
            assert!(findings.is_empty(), "pkilint {stem}:\n{findings}");
        }
    }
}

#[test]
fn every_old_leaf_certificate_still_verifies_against_the_new_bundles() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    ok(&mut tool(&data_dir));
    let leaves = leaf_certificates(&live(&data_dir));
    assert!(
        leaves.len() >= 5,
        "the fixture has leaf certificates: {leaves:?}"
    );
    for (leaf, stem) in leaves {
        ok(gocheck()
            .args(["verify", "--usage", "any", "--roots"])
            .arg(staged_tls(&data_dir).join(format!("{stem}.crt")))
            .arg(&leaf));
    }
}

#[test]
fn a_client_trusting_only_the_old_ca_accepts_a_server_certificate_from_the_new_one() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    ok(&mut tool(&data_dir));
    let staged = staged_tls(&data_dir);
    let (server_cert, server_key) = testkit::issue_leaf(
        &staged.join("server-ca.crt"),
        &staged.join("server-ca.key"),
        dir.path(),
        "kube-apiserver",
        "server",
        true,
    );
    let old = live(&data_dir);
    // The server trusts the NEW client bundle; the client presents an OLD
    // certificate issued by k3s before the rotation.
    let (old_cert, old_key) = (old.join("client-admin.crt"), old.join("client-admin.key"));
    let handshake = |roots: &Path| {
        status(&mut testkit::handshake(
            &testkit::Party {
                cert: &server_cert,
                key: &server_key,
            },
            &staged.join("client-ca.crt"),
            &testkit::Party {
                cert: &old_cert,
                key: &old_key,
            },
            roots,
        ))
    };
    let (passed, output) = handshake(&old.join("server-ca.crt"));
    assert!(
        passed,
        "old-CA client must accept the new server certificate:\n{output}"
    );
    assert!(output.contains("TLS"), "{output}");

    // Guard: a client trusting an unrelated CA refuses, so the handshake can fail.
    let stranger = dir.path().join("stranger.pem");
    ok(gocheck()
        .args(["mkca", "--cn", "stranger", "--out-cert"])
        .arg(&stranger)
        .arg("--out-key")
        .arg(dir.path().join("stranger.key")));
    let (passed, _) = handshake(&stranger);
    assert!(!passed, "an unrelated trust anchor must be refused");
}

#[test]
fn a_second_rotation_on_top_of_the_first_passes_the_same_checks() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    ok(&mut tool(&data_dir));
    // Load the first rotation the way `rotate-ca` does: staged files replace live ones.
    let staged = staged_tls(&data_dir);
    for stem in CA_STEMS {
        for ext in ["crt", "key"] {
            fs::copy(
                staged.join(format!("{stem}.{ext}")),
                live(&data_dir).join(format!("{stem}.{ext}")),
            )
            .unwrap();
        }
    }
    fs::copy(
        staged.join("service.key"),
        live(&data_dir).join("service.key"),
    )
    .unwrap();
    let second = dir.path().join("second");
    let stdout = ok(tool(&data_dir).arg("--output").arg(&second));
    assert_staged_rotation_is_sound(&data_dir, &second.join("tls"), &stdout);
}

#[test]
fn a_twice_rotated_cluster_rotates_from_its_current_root() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 2);
    let stdout = ok(&mut tool(&data_dir));
    assert_staged_rotation_is_sound(&data_dir, &staged_tls(&data_dir), &stdout);
}

#[test]
fn old_roots_with_pkcs8_or_rsa_keys_are_accepted() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    let tls = live(&data_dir);
    // client-ca: the same key in PKCS#8.
    let pkcs8 = ok(openssl()
        .args(["pkcs8", "-topk8", "-nocrypt", "-in"])
        .arg(tls.join("client-ca.key")));
    fs::write(tls.join("client-ca.key"), pkcs8).unwrap();
    // request-header-ca: an RSA root (serial and AKI as Go makes them).
    ok(gocheck()
        .args([
            "mkca",
            "--key",
            "rsa",
            "--cn",
            "k3s-request-header-ca@1700000000",
            "--days",
            "3650",
        ])
        .arg("--out-cert")
        .arg(tls.join("request-header-ca.crt"))
        .arg("--out-key")
        .arg(tls.join("request-header-ca.key")));
    let stdout = ok(&mut tool(&data_dir));
    let (accepted, report) = rotate_check(&tls, &staged_tls(&data_dir));
    assert!(accepted, "{report}");
    let cross = &describe_certs(&staged_tls(&data_dir).join("request-header-ca.crt"))[2];
    assert_eq!(
        text(cross, "signature_algorithm"),
        "SHA256-RSA",
        "cross-signed by the RSA root"
    );
    assert!(stdout.contains("k3s-request-header-root@"), "{stdout}");
}

#[test]
fn a_custom_ca_cluster_is_refused_with_the_way_forward() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    let tls = live(&data_dir);
    let ca = |name: &str, issuer: Option<(&Path, &Path)>| {
        let (cert, key) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}.key")),
        );
        let mut cmd = gocheck();
        cmd.args(["mkca", "--cn", name, "--out-cert"])
            .arg(&cert)
            .arg("--out-key")
            .arg(&key);
        if let Some((c, k)) = issuer {
            cmd.arg("--ca-cert").arg(c).arg("--ca-key").arg(k);
        }
        ok(&mut cmd);
        (cert, key)
    };
    let root = ca("root", None);
    let intermediate = ca("intermediate", Some((&root.0, &root.1)));
    let leaf = ca("k3s-client-ca", Some((&intermediate.0, &intermediate.1)));
    let bundle: String = [&leaf.0, &intermediate.0, &root.0]
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    fs::write(tls.join("client-ca.crt"), bundle).unwrap();
    fs::copy(&leaf.1, tls.join("client-ca.key")).unwrap();
    let before = snapshot(&data_dir);
    let stderr = fails(&mut tool(&data_dir));
    assert!(stderr.contains("client-ca.crt"), "{stderr}");
    assert!(stderr.contains("custom CAs"), "{stderr}");
    assert!(stderr.contains("gen-custom-ca"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before);
}

#[test]
fn an_expired_old_root_is_said_plainly() {
    let dir = scratch();
    let data_dir = dir.path().join("old");
    ok(gocheck()
        .args(["k3s-fixture", "--now", "2014-06-01T00:00:00Z", "--out"])
        .arg(&data_dir));
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("expired on 2024-05-29"), "{stdout}");
    assert!(stdout.contains("no continuity"), "{stdout}");
}

#[test]
fn an_old_root_expiring_during_the_new_lifetime_is_noted() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("expires on"), "{stdout}");
    assert!(stdout.contains("cross-signed root"), "{stdout}");
}

#[test]
fn a_missing_token_file_is_named_and_the_hash_still_printed() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    fs::remove_file(data_dir.join("server/agent-token")).unwrap();
    let stdout = ok(&mut tool(&data_dir));
    assert!(stdout.contains("server/agent-token is missing"), "{stdout}");
    assert!(stdout.contains(&format!("K10{}::<user>:<password>", printed_hash(&stdout))));
}

#[test]
fn an_existing_staging_dir_is_refused_unless_forced_and_the_live_dir_always() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    ok(&mut tool(&data_dir));
    let before = snapshot(&data_dir);
    let stderr = fails(&mut tool(&data_dir));
    assert!(stderr.contains("rotate-ca already exists"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before);
    ok(tool(&data_dir).arg("--force"));

    let before = snapshot(&data_dir);
    let stderr = fails(
        tool(&data_dir)
            .arg("--output")
            .arg(data_dir.join("server"))
            .arg("--force"),
    );
    assert!(stderr.contains("live tls directory"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before);
}

/// One bad input: `damage` the live tls dir; expect exit 1, a message naming
/// `file` and saying `problem`, and nothing written anywhere.
fn assert_refused(damage: impl FnOnce(&Path), file: &str, problem: &str) {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    damage(&live(&data_dir));
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool(&data_dir));
    assert!(stderr.contains(file), "names {file}:\n{stderr}");
    assert!(stderr.contains(problem), "says {problem:?}:\n{stderr}");
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn a_missing_ca_file_is_refused() {
    assert_refused(
        |tls| fs::remove_file(tls.join("etcd/peer-ca.key")).unwrap(),
        "etcd/peer-ca.key",
        "No such file",
    );
}

#[test]
fn a_key_that_does_not_match_is_refused() {
    assert_refused(
        |tls| {
            fs::copy(tls.join("server-ca.key"), tls.join("client-ca.key")).unwrap();
        },
        "client-ca.key",
        "does not match the certificate",
    );
}

#[test]
fn malformed_pem_is_refused() {
    assert_refused(
        |tls| {
            let text = fs::read_to_string(tls.join("server-ca.crt")).unwrap();
            fs::write(tls.join("server-ca.crt"), &text[..text.len() / 2]).unwrap();
        },
        "server-ca.crt",
        "malformed PEM",
    );
}

#[test]
fn a_certificate_that_is_not_a_ca_is_refused() {
    assert_refused(
        |tls| {
            ok(gocheck()
                .args(["mkca", "--not-ca", "--cn", "k3s-client-ca@1", "--out-cert"])
                .arg(tls.join("client-ca.crt"))
                .arg("--out-key")
                .arg(tls.join("client-ca.key")));
        },
        "client-ca.crt",
        "CA:TRUE is missing",
    );
}

#[test]
fn an_unreadable_tls_dir_is_refused() {
    assert_refused(
        |tls| {
            fs::remove_dir_all(tls).unwrap();
            fs::write(tls, "not a directory").unwrap();
        },
        "server/tls/client-ca.crt",
        "Not a directory",
    );
}

#[test]
fn the_fixture_is_made_the_way_k3s_makes_it() {
    // Guard for the generator the other tests rely on.
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    for stem in CA_STEMS {
        let bundle = describe_certs(&live(&data_dir).join(format!("{stem}.crt")));
        assert_eq!(bundle.len(), 1);
        let ca = &bundle[0];
        assert_eq!(text(ca, "serial"), "0", "{stem}: k3s CAs have serial 0");
        assert_eq!(text(ca, "aki"), "", "{stem}: and no AKI");
        assert!(!text(ca, "ski").is_empty());
        assert_eq!(
            ca["key_usage"],
            serde_json::json!(["digitalSignature", "keyEncipherment", "keyCertSign"])
        );
        let keys = describe_keys(&live(&data_dir).join(format!("{stem}.key")));
        assert_eq!(text(&keys[0], "format"), "sec1", "{stem}");
    }
    let token = fs::read_to_string(data_dir.join("server/token")).unwrap();
    let hash = k3s_hash(&live(&data_dir).join("server-ca.crt"));
    assert!(
        token.starts_with(&format!("K10{}::server:", hash)),
        "{token}"
    );
}

#[test]
fn the_committed_fixtures_rotate_cleanly() {
    for fixture in ["k3s-default", "k3s-rotated-twice"] {
        let dir = scratch();
        let data_dir = dir.path().join(fixture);
        testkit::faults::copy_tree(
            &testkit::workspace_root().join("fixtures").join(fixture),
            &data_dir,
        );
        let stdout = ok(&mut tool(&data_dir));
        let (accepted, report) = rotate_check(&live(&data_dir), &staged_tls(&data_dir));
        assert!(accepted, "{fixture}: {report}");
        let go_hash = k3s_hash(&staged_tls(&data_dir).join("server-ca.crt"));
        assert_eq!(printed_hash(&stdout), go_hash, "{fixture}");
    }
}

/// Issue 21: a missing data directory was reported as its first missing file.
#[test]
fn a_missing_data_dir_is_named_as_such_and_nothing_is_made() {
    let dir = scratch();
    let data_dir = dir.path().join("rancher/k3s-typo");
    let stderr = fails(&mut tool(&data_dir));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("k3s-typo: the k3s data directory does not exist"),
        "{stderr}"
    );
    assert!(!dir.path().join("rancher").exists(), "nothing made");
}

/// Issue 21: a data directory without the certificate directory (k3s never
/// ran there) was reported as `.../client-ca.crt: reading failed`.
#[test]
fn a_data_dir_without_its_cert_dir_is_named_as_such() {
    let dir = scratch();
    let data_dir = dir.path().join("k3s");
    fs::create_dir(&data_dir).unwrap();
    let stderr = fails(&mut tool(&data_dir));
    assert_eq!(
        stderr,
        format!(
            "rotate-default-ca: error: {}: the k3s certificate directory does not exist: \
             has k3s run with this data directory? (check --data-dir and --product)\n",
            data_dir.join("server/tls").display()
        )
    );
    assert_eq!(
        testkit::file_names(&data_dir),
        Vec::<String>::new(),
        "nothing made"
    );
}

/// Issue 20: the closing text says servers first, then agents, and where the
/// join tokens an operator configured live (the k3s docs: "the .env file, the
/// systemd unit or config.yaml"); no pod restart, as the new bundle still
/// holds the old root. Word for word.
#[test]
fn the_closing_text_restarts_servers_then_agents_and_names_every_token_place() {
    let dir = scratch();
    let data_dir = k3s_data_dir(dir.path(), 0);
    let stdout = ok(&mut tool(&data_dir));
    let staging = data_dir.join("server/rotate-ca");
    let from = stdout.find("Load the rotation").expect(&stdout);
    assert_eq!(
        &stdout[from..],
        format!(
            "Load the rotation, then restart every k3s server, one after the other, and then every agent:\n\
             \x20 k3s certificate rotate-ca --path={}\n\
             \n\
             The join tokens change with the CA hash. Before each node restarts, update those configured on it (nodes that joined with a secure K10 token, servers included):\n\
             \x20 token and agent-token in /etc/rancher/k3s/config.yaml and /etc/rancher/k3s/config.yaml.d/*.yaml;\n\
             \x20 K3S_TOKEN and K3S_AGENT_TOKEN in /etc/systemd/system/k3s.service.env (/etc/systemd/system/k3s-agent.service.env on agents);\n\
             \x20 --token in the ExecStart of /etc/systemd/system/k3s.service (/etc/systemd/system/k3s-agent.service on agents).\n\
             \x20 k3s rewrites server/token and server/agent-token itself. `ca-check token` names every stale one.\n",
            staging.display()
        )
    );
    assert!(!stdout.contains("pod"), "{stdout}");
}
