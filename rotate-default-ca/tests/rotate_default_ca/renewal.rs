//! `rotate-default-ca --renew` (issue 24): CAs near their end renewed with
//! their keys. Judged by Go (built with k3s's Go line), openssl, real
//! mutual-TLS handshakes in both mixes of old and renewed, a real etcd, the
//! checks `k3s certificate rotate-ca` makes (`gocheck rotate-check`), k3s's
//! token hash and kubeadm's discovery hash as openssl computes it.
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

use shared::pki::cert::format_time;
use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
use testkit::{
    CA_STEMS, Json, Party, describe_certs, fails, file_names, gocheck, handshake, issue_leaf, ok,
    openssl, pkilint_errors, printed_hash, scratch, snapshot, split_bundle, status,
};

use crate::kubeadm_k0s::{openssl_discovery_hash, verify};

/// CAs made this many days ago with ten-year lifetimes end in about a month.
const AGE_DAYS: u64 = 3620;

fn days_ago(days: u64) -> String {
    format_time(SystemTime::now() - Duration::from_secs(days * 86_400))
}

fn renew(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_rotate-default-ca"), data_dir);
    cmd.args(["--product", product, "--renew"]);
    cmd
}

/// A k3s data dir whose five CAs k3s made ten years ago, ending in a month.
fn k3s_near_end(root: &Path) -> PathBuf {
    let data_dir = root.join("data");
    ok(gocheck()
        .args(["k3s-fixture", "--now", &days_ago(AGE_DAYS), "--out"])
        .arg(&data_dir));
    data_dir
}

/// `k3s certificate rotate-ca` would take `staged` over `live` (its checks,
/// by Go), and the join-token hash a run printed is what k3s computes.
fn assert_rotate_ca_accepts(live: &Path, staged: &Path, printed: Option<&str>) {
    ok(gocheck()
        .args(["rotate-check", "--current"])
        .arg(live)
        .arg("--staged")
        .arg(staged));
    if let Some(stdout) = printed {
        assert_eq!(
            printed_hash(stdout),
            testkit::k3s_hash(&staged.join("server-ca.crt"))
        );
    }
}

/// Go and openssl both accept `leaf` with `root` alone as the trust anchor.
fn assert_trusted(root: &Path, leaf: &Path, what: &str) {
    let (passed, output) = verify(root, None, leaf);
    assert!(passed, "{what}: Go refuses:\n{output}");
    let verified = ok(openssl().args(["verify", "-CAfile"]).arg(root).arg(leaf));
    assert!(verified.trim().ends_with(": OK"), "{what}: {verified}");
}

/// The renewal is the same CA: subject, key, key identifiers and every
/// extension; a new serial and a later end. Its key usage is the current
/// one's, without keyEncipherment for a key that cannot encipher (RFC 5480).
fn assert_same_ca(current: &Json, renewed: &Json, what: &str) {
    for field in [
        "subject",
        "issuer",
        "spki_sha256",
        "ski",
        "aki",
        "extensions",
        "is_ca",
        "max_path_len",
    ] {
        assert_eq!(current[field], renewed[field], "{what}: {field}");
    }
    let rsa = current["public_key_algorithm"] == "RSA";
    let usages: Vec<&Json> = current["key_usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|usage| rsa || *usage != "keyEncipherment")
        .collect();
    let renewed_usages: Vec<&Json> = renewed["key_usage"].as_array().unwrap().iter().collect();
    assert_eq!(usages, renewed_usages, "{what}: key usage");
    assert_ne!(current["serial"], renewed["serial"], "{what}: serial");
    assert!(
        renewed["not_after"].as_str().unwrap() > current["not_after"].as_str().unwrap(),
        "{what}: {} is not later than {}",
        renewed["not_after"],
        current["not_after"]
    );
}

/// Leaves issued under `current` and under `renewed` (same `key`) each
/// verify against the other certificate alone, and real handshakes pass
/// between a party of each side in both directions.
fn assert_trust_both_ways(current: &Path, renewed: &Path, key: &Path, work: &Path, what: &str) {
    let tag = what.replace(['/', ' '], "-");
    let old = issue_leaf(current, key, work, &format!("old-{tag}"), "both", false);
    let new = issue_leaf(renewed, key, work, &format!("new-{tag}"), "both", false);
    assert_trusted(renewed, &old.0, &format!("{what}: an existing leaf"));
    assert_trusted(
        current,
        &new.0,
        &format!("{what}: a leaf of the renewed CA"),
    );
    let (old_party, new_party) = (
        Party {
            cert: &old.0,
            key: &old.1,
        },
        Party {
            cert: &new.0,
            key: &new.1,
        },
    );
    // Server and client each hold their side's leaf and trust their side's CA alone.
    ok(&mut handshake(&old_party, current, &new_party, renewed));
    ok(&mut handshake(&new_party, renewed, &old_party, current));
}

#[test]
fn k3s_renewal_keeps_trust_both_ways_through_both_rotate_ca_stages() {
    let dir = scratch();
    let data_dir = k3s_near_end(dir.path());
    let live = data_dir.join("server/tls");
    let keys_before: Vec<Vec<u8>> = CA_STEMS
        .iter()
        .map(|stem| fs::read(live.join(format!("{stem}.key"))).unwrap())
        .collect();
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();

    let stage_one = ok(&mut renew("k3s", &data_dir));
    assert!(stage_one.contains("stage 1 of 2"), "{stage_one}");
    let staged = data_dir.join("server/rotate-ca/tls");
    let mut expected: Vec<String> = CA_STEMS.iter().map(|s| format!("{s}.crt")).collect();
    expected.sort();
    assert_eq!(
        file_names(&staged),
        expected,
        "only the bundles: the keys stay"
    );
    assert_rotate_ca_accepts(&live, &staged, Some(&stage_one));

    let mut renewed_files = Vec::new();
    for stem in CA_STEMS {
        let split = work.join(format!("split-{}", stem.replace('/', "-")));
        fs::create_dir_all(&split).unwrap();
        let bundle = split_bundle(&staged.join(format!("{stem}.crt")), &split);
        assert_eq!(bundle.len(), 2, "{stem}: [current, renewed]");
        assert_eq!(
            fs::read(&bundle[0]).unwrap(),
            fs::read(live.join(format!("{stem}.crt"))).unwrap(),
            "{stem}: the current certificate stays first"
        );
        let (current, renewed) = (
            &describe_certs(&bundle[0])[0],
            &describe_certs(&bundle[1])[0],
        );
        assert_same_ca(current, renewed, stem);
        let findings = pkilint_errors(&bundle[1]);
        assert!(
            findings.is_empty(),
            "pkilint on the renewed {stem}:\n{findings}"
        );
        let days = renewed["validity_days"].as_f64().unwrap();
        assert!((3649.0..=3651.0).contains(&days), "{stem}: {days} days");
        assert_trust_both_ways(
            &bundle[0],
            &bundle[1],
            &live.join(format!("{stem}.key")),
            &work,
            stem,
        );
        renewed_files.push(bundle[1].clone());
    }

    // rotate-ca stores the staged bundles; the restart writes them to server/tls.
    for stem in CA_STEMS {
        let name = format!("{stem}.crt");
        fs::copy(staged.join(&name), live.join(&name)).unwrap();
    }
    let stage_two = ok(renew("k3s", &data_dir).arg("--force"));
    assert!(stage_two.contains("stage 2 of 2"), "{stage_two}");
    assert_rotate_ca_accepts(&live, &staged, Some(&stage_two));
    for (stem, renewed) in CA_STEMS.iter().zip(&renewed_files) {
        let first = describe_certs(&staged.join(format!("{stem}.crt")))[0]["sha256"].clone();
        assert_eq!(
            first,
            describe_certs(renewed)[0]["sha256"],
            "{stem}: the renewed certificate goes first in stage 2"
        );
    }
    let keys_after: Vec<Vec<u8>> = CA_STEMS
        .iter()
        .map(|stem| fs::read(live.join(format!("{stem}.key"))).unwrap())
        .collect();
    assert!(keys_before == keys_after, "the CA keys never change");
}

const ETCD: &str = "renewal (1-member etcd)";

#[test]
fn etcd_keeps_talking_to_old_and_renewed_certificates_in_both_mixes() {
    let dir = scratch();
    let data_dir = k3s_near_end(dir.path());
    ok(&mut renew("k3s", &data_dir));
    let (live, staged) = (
        data_dir.join("server/tls"),
        data_dir.join("server/rotate-ca/tls"),
    );
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();
    // [current, renewed] of each etcd CA, as single files.
    let pair = |stem: &str| {
        let split = work.join(stem.replace('/', "-"));
        fs::create_dir_all(&split).unwrap();
        split_bundle(&staged.join(format!("{stem}.crt")), &split)
    };
    let (clients_ca, peers_ca) = (pair("etcd/server-ca"), pair("etcd/peer-ca"));
    let (clients_key, peers_key) = (
        live.join("etcd/server-ca.key"),
        live.join("etcd/peer-ca.key"),
    );
    let side = |i: usize, name: &str| {
        let (cert, key) = issue_leaf(&clients_ca[i], &clients_key, &work, name, "both", false);
        let (peer_cert, peer_key) = issue_leaf(
            &peers_ca[i],
            &peers_key,
            &work,
            &format!("{name}-peer"),
            "both",
            false,
        );
        let (client_cert, client_key) = issue_leaf(
            &clients_ca[i],
            &clients_key,
            &work,
            &format!("{name}-client"),
            "client",
            false,
        );
        (
            MemberTls {
                cert,
                key,
                peer_cert,
                peer_key,
            },
            ClusterTrust {
                clients: clients_ca[i].clone(),
                peers: peers_ca[i].clone(),
            },
            Client {
                trust: clients_ca[i].clone(),
                cert: client_cert,
                key: client_key,
            },
        )
    };
    let (old_member, old_trust, old_client) = side(0, "old");
    let (new_member, new_trust, new_client) = side(1, "renewed");

    let mut cluster = step(
        None,
        ETCD,
        "start etcd with certificates of the current CAs, trusting them alone",
        EtcdCluster::start(vec![old_member], old_trust, &old_client),
    );
    step(
        Some(&cluster),
        ETCD,
        "put as a client of the renewed CA, trusting it alone",
        new_client.run(&cluster, 0, &["put", "/k3s-pki/renewal", "renewed"]),
    );
    step(
        None,
        ETCD,
        "restart with certificates of the renewed CAs, trusting them alone",
        cluster.restart(vec![new_member], new_trust, &new_client),
    );
    let read = step(
        Some(&cluster),
        ETCD,
        "get as a client of the current CA, trusting it alone",
        old_client.run(&cluster, 0, &["get", "/k3s-pki/renewal"]),
    );
    assert!(read.contains("renewed"), "{ETCD}: {read}");
}

/// `gocheck mkca`: an RSA CA `cn` at `cert`/`key`, issued by `issuer` (or
/// self-signed), valid from `not_before` for `days`.
fn mkca(
    cn: &str,
    cert: &Path,
    key: &Path,
    issuer: Option<(&Path, &Path)>,
    not_before: &str,
    days: u64,
) {
    fs::create_dir_all(cert.parent().unwrap()).unwrap();
    let mut cmd = gocheck();
    cmd.args([
        "mkca",
        "--cn",
        cn,
        "--key",
        "rsa",
        "--not-before",
        not_before,
    ])
    .args(["--days", &days.to_string(), "--out-cert"])
    .arg(cert)
    .arg("--out-key")
    .arg(key);
    if let Some((issuer_cert, issuer_key)) = issuer {
        cmd.arg("--ca-cert")
            .arg(issuer_cert)
            .arg("--ca-key")
            .arg(issuer_key);
    }
    ok(&mut cmd);
}

/// kubeadm's and k0s's three self-signed CAs, made ten years ago, in
/// `<root>/<product>/pki`.
fn pki_near_end(root: &Path, product: &str) -> PathBuf {
    let data_dir = root.join(product);
    let pki = data_dir.join("pki");
    for (stem, cn) in [
        ("ca", "kubernetes"),
        ("front-proxy-ca", "front-proxy-ca"),
        ("etcd/ca", "etcd-ca"),
    ] {
        mkca(
            cn,
            &pki.join(format!("{stem}.crt")),
            &pki.join(format!("{stem}.key")),
            None,
            &days_ago(AGE_DAYS),
            3650,
        );
    }
    data_dir
}

#[test]
fn kubeadm_and_k0s_renewals_keep_trust_and_kubeadm_s_discovery_hash() {
    for product in ["kubeadm", "k0s"] {
        let dir = scratch();
        let data_dir = pki_near_end(dir.path(), product);
        let live = data_dir.join("pki");
        let before = snapshot(&live);
        let work = dir.path().join("work");
        fs::create_dir_all(&work).unwrap();
        let out = ok(&mut renew(product, &data_dir));
        let staged = data_dir.join("rotate-ca/pki");
        assert_eq!(
            file_names(&staged),
            ["ca.crt", "etcd/ca.crt", "front-proxy-ca.crt"],
            "{product}: the renewed certificates alone, no key"
        );
        for stem in ["ca", "front-proxy-ca", "etcd/ca"] {
            let (current, renewed) = (
                live.join(format!("{stem}.crt")),
                staged.join(format!("{stem}.crt")),
            );
            let certs = describe_certs(&renewed);
            assert_eq!(certs.len(), 1, "{product} {stem}: one certificate");
            assert_same_ca(&describe_certs(&current)[0], &certs[0], stem);
            let findings = pkilint_errors(&renewed);
            assert!(
                findings.is_empty(),
                "pkilint on the renewed {product} {stem}:\n{findings}"
            );
            assert_trust_both_ways(
                &current,
                &renewed,
                &live.join(format!("{stem}.key")),
                &work,
                &format!("{product} {stem}"),
            );
        }
        assert!(
            before == snapshot(&live),
            "{product}: the live pki/ is untouched"
        );
        if product == "kubeadm" {
            let hash = openssl_discovery_hash(&live.join("ca.crt"));
            assert_eq!(hash, openssl_discovery_hash(&staged.join("ca.crt")));
            assert!(
                out.contains(&format!(
                    "Discovery hash, unchanged (the key is the same): \
                     --discovery-token-ca-cert-hash {hash}"
                )),
                "{out}"
            );
            for kubeconfig in ["admin.conf", "kubelet.conf", "controller-manager.conf"] {
                assert!(out.contains(kubeconfig), "{kubeconfig}: {out}");
            }
        } else {
            assert!(out.contains("systemctl restart k0scontroller"), "{out}");
        }
    }
}

/// A custom chain for kubeadm: `ca.crt` issued by an intermediate (in
/// `ca-chain.crt` with its root) that ends `intermediate_days` from now, the
/// other two CAs self-signed. Returns the intermediate's certificate and key.
fn kubeadm_under_intermediate(
    data_dir: &Path,
    intermediate_days: u64,
    ca_days: u64,
) -> (PathBuf, PathBuf) {
    let pki = data_dir.join("pki");
    let corp = data_dir.join("corp");
    let now = days_ago(0);
    let (root, root_key) = (corp.join("root.crt"), corp.join("root.key"));
    let (inter, inter_key) = (corp.join("issuing.crt"), corp.join("issuing.key"));
    mkca("Corp Root", &root, &root_key, None, &now, 7300);
    mkca(
        "Corp Issuing",
        &inter,
        &inter_key,
        Some((&root, &root_key)),
        &now,
        intermediate_days,
    );
    mkca(
        "kubernetes",
        &pki.join("ca.crt"),
        &pki.join("ca.key"),
        Some((&inter, &inter_key)),
        &now,
        ca_days,
    );
    let chain = [fs::read(&inter).unwrap(), fs::read(&root).unwrap()].concat();
    fs::write(pki.join("ca-chain.crt"), chain).unwrap();
    for (stem, cn) in [("front-proxy-ca", "front-proxy-ca"), ("etcd/ca", "etcd-ca")] {
        mkca(
            cn,
            &pki.join(format!("{stem}.crt")),
            &pki.join(format!("{stem}.key")),
            None,
            &now,
            3650,
        );
    }
    (inter, inter_key)
}

#[test]
fn a_ca_under_an_intermediate_is_renewed_with_its_encrypted_key_up_to_its_end() {
    let dir = scratch();
    let data_dir = dir.path().join("kubeadm");
    let (inter, inter_key) = kubeadm_under_intermediate(&data_dir, 3000, 30);
    let pass = dir.path().join("pass");
    fs::write(&pass, "correct horse\n").unwrap();
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
    let encrypted = dir.path().join("issuing-encrypted.key");
    ok(openssl()
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in"])
        .arg(&inter_key)
        .arg("-out")
        .arg(&encrypted)
        .arg("-passout")
        .arg(format!("file:{}", pass.display())));

    // Without the issuer's key: refused, naming it, nothing written.
    let refused = fails(&mut renew("kubeadm", &data_dir));
    assert!(
        refused.contains("needs the key of its issuer \"Corp Issuing\"")
            && refused.contains("--issuer-key"),
        "{refused}"
    );
    assert!(!data_dir.join("rotate-ca").exists());

    let out = ok(renew("kubeadm", &data_dir)
        .arg("--issuer-key")
        .arg(&encrypted)
        .arg("--password-file")
        .arg(&pass));
    let staged = data_dir.join("rotate-ca/pki/ca.crt");
    let (renewed, issuing) = (&describe_certs(&staged)[0], &describe_certs(&inter)[0]);
    assert_same_ca(
        &describe_certs(&data_dir.join("pki/ca.crt"))[0],
        renewed,
        "ca",
    );
    assert_eq!(
        renewed["not_after"], issuing["not_after"],
        "never past the issuer's end"
    );
    assert!(out.contains("with its issuer \"Corp Issuing\""), "{out}");
    let (passed, output) = verify(&data_dir.join("corp/root.crt"), Some(&inter), &staged);
    assert!(passed, "{output}");
}

#[test]
fn renewals_that_would_not_keep_trust_are_refused_before_anything_is_written() {
    // A CA whose issuer ends no later than itself.
    let dir = scratch();
    let data_dir = dir.path().join("kubeadm");
    let (_, inter_key) = kubeadm_under_intermediate(&data_dir, 20, 20);
    let refused = fails(
        renew("kubeadm", &data_dir)
            .arg("--issuer-key")
            .arg(&inter_key),
    );
    assert!(
        refused.contains("cannot be renewed past its issuer \"Corp Issuing\""),
        "{refused}"
    );
    assert_eq!(refused.trim().lines().count(), 1, "{refused}");
    assert!(!data_dir.join("rotate-ca").exists());

    // A key file whose key is not the certificate's.
    let dir = scratch();
    let data_dir = k3s_near_end(dir.path());
    let live = data_dir.join("server/tls");
    let stranger = dir.path().join("stranger");
    fs::create_dir_all(&stranger).unwrap();
    mkca(
        "stranger",
        &stranger.join("ca.crt"),
        &stranger.join("ca.key"),
        None,
        &days_ago(0),
        10,
    );
    fs::copy(stranger.join("ca.key"), live.join("server-ca.key")).unwrap();
    let before = snapshot(&data_dir);
    let (passed, refused) = status(&mut renew("k3s", &data_dir));
    assert!(!passed);
    assert!(
        refused.contains("server-ca.key") && refused.contains("server-ca.crt"),
        "{refused}"
    );
    assert!(before == snapshot(&data_dir), "nothing written");
}

/// `files` concatenated into `out`.
fn concat(files: &[&PathBuf], out: &Path) -> PathBuf {
    let joined: Vec<u8> = files.iter().flat_map(|f| fs::read(f).unwrap()).collect();
    fs::write(out, joined).unwrap();
    out.to_path_buf()
}

/// Go and openssl accept `leaf` through `intermediates` up to `root` alone.
fn assert_chains(root: &Path, intermediates: &Path, leaf: &Path, what: &str) {
    let (passed, output) = verify(root, Some(intermediates), leaf);
    assert!(passed, "{what}: Go refuses:\n{output}");
    let verified = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(root)
        .arg("-untrusted")
        .arg(intermediates)
        .arg(leaf));
    assert!(verified.trim().ends_with(": OK"), "{what}: {verified}");
}

/// A k3s cluster rotated twice signs with intermediates whose roots end with
/// them: each root (its key follows the intermediate's in the key file) is
/// renewed too, and trust holds both ways through either chain.
#[test]
fn a_rotated_k3s_cluster_renews_its_intermediates_with_their_roots() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(Command::new("cp")
        .arg("-r")
        .arg(testkit::workspace_root().join("fixtures/k3s-rotated-twice"))
        .arg(&data_dir));
    let live = data_dir.join("server/tls");
    let out = ok(renew("k3s", &data_dir).args(["--days", "9000"]));
    assert!(out.contains("with its issuer \"k3s-server-root@"), "{out}");
    let staged = data_dir.join("server/rotate-ca/tls");
    assert_rotate_ca_accepts(&live, &staged, None);
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();
    // [intermediate, renewed intermediate, renewed root, root, ...]
    let certs = split_bundle(&staged.join("server-ca.crt"), &work);
    let described: Vec<Json> = certs.iter().map(|c| describe_certs(c)[0].clone()).collect();
    assert_same_ca(&described[0], &described[1], "intermediate");
    assert_same_ca(&described[3], &described[2], "root");
    let key = live.join("server-ca.key");
    let old_leaf = live.join("serving-kube-apiserver.crt");
    let (new_leaf, _) = issue_leaf(&certs[1], &key, &work, "renewed-leaf", "server", false);
    assert_chains(
        &certs[2],
        &certs[1],
        &old_leaf,
        "an existing leaf, renewed chain",
    );
    assert_chains(&certs[3], &certs[0], &new_leaf, "a new leaf, current chain");
}

/// A tree of gen-custom-ca (the upstream script's files: the intermediate's
/// and the root's keys beside the CAs): the intermediate, which ends with
/// the CAs, is renewed once with the root's key and shared by all five.
#[test]
fn a_custom_tree_renews_its_intermediate_with_the_root_key_beside_it() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    fs::create_dir_all(&data_dir).unwrap();
    let gen_custom_ca = testkit::tool_binaries().join("gen-custom-ca");
    ok(&mut testkit::tool(
        gen_custom_ca.to_str().unwrap(),
        &data_dir,
    ));
    let live = data_dir.join("server/tls");
    let out = ok(renew("k3s", &data_dir).args(["--days", "4000"]));
    assert!(
        out.contains("with its issuer \"k3s-intermediate-ca@"),
        "{out}"
    );
    let staged = data_dir.join("server/rotate-ca/tls");
    assert_rotate_ca_accepts(&live, &staged, None);
    let work = dir.path().join("work");
    let mut renewed_intermediates = Vec::new();
    for stem in CA_STEMS {
        let split = work.join(stem.replace('/', "-"));
        fs::create_dir_all(&split).unwrap();
        // [CA, renewed CA, renewed intermediate, intermediate, root]
        let certs = split_bundle(&staged.join(format!("{stem}.crt")), &split);
        assert_eq!(certs.len(), 5, "{stem}");
        let described: Vec<Json> = certs.iter().map(|c| describe_certs(c)[0].clone()).collect();
        assert_same_ca(&described[0], &described[1], stem);
        assert_same_ca(&described[3], &described[2], "the intermediate");
        for renewal in &certs[1..3] {
            let findings = pkilint_errors(renewal);
            assert!(
                findings.is_empty(),
                "pkilint on {}:\n{findings}",
                renewal.display()
            );
        }
        renewed_intermediates.push(described[2]["sha256"].clone());
        let key = live.join(format!("{stem}.key"));
        let tag = stem.replace('/', "-");
        let (old_leaf, _) = issue_leaf(
            &certs[0],
            &key,
            &split,
            &format!("old-{tag}"),
            "both",
            false,
        );
        let (new_leaf, _) = issue_leaf(
            &certs[1],
            &key,
            &split,
            &format!("new-{tag}"),
            "both",
            false,
        );
        let root = live.join("root-ca.pem");
        let renewed_chain = concat(&[&certs[1], &certs[2]], &split.join("renewed-chain.pem"));
        let current_chain = concat(&[&certs[0], &certs[3]], &split.join("current-chain.pem"));
        assert_chains(
            &root,
            &renewed_chain,
            &old_leaf,
            &format!("{stem}: an existing leaf"),
        );
        assert_chains(
            &root,
            &current_chain,
            &new_leaf,
            &format!("{stem}: a new leaf"),
        );
    }
    renewed_intermediates.dedup();
    assert_eq!(renewed_intermediates.len(), 1, "one renewed intermediate");
}

/// The issuing CA's key held in a PKCS#11 token (SoftHSM2) signs the
/// renewal there.
#[test]
fn a_ca_under_an_intermediate_held_in_a_token_is_renewed_by_the_token() {
    let dir = scratch();
    let data_dir = dir.path().join("kubeadm");
    let (inter, inter_key) = kubeadm_under_intermediate(&data_dir, 3000, 30);
    let hsm = testkit::softhsm::SoftHsm::new();
    let pkcs8 = dir.path().join("issuing.p8");
    ok(openssl()
        .args(["pkcs8", "-topk8", "-nocrypt", "-in"])
        .arg(&inter_key)
        .arg("-out")
        .arg(&pkcs8));
    ok(hsm
        .command("softhsm2-util")
        .arg("--import")
        .arg(&pkcs8)
        .args([
            "--token",
            testkit::softhsm::SoftHsm::LABEL,
            "--label",
            "issuing",
        ])
        .args(["--id", "01", "--pin", testkit::softhsm::PIN]));
    let out = ok(renew("kubeadm", &data_dir)
        .env("SOFTHSM2_CONF", hsm.conf())
        .arg("--issuer-key")
        .arg(testkit::softhsm::SoftHsm::uri("issuing"))
        .arg("--pkcs11-module")
        .arg(testkit::softhsm::SoftHsm::module())
        .arg("--pin-file")
        .arg(hsm.pin_file()));
    assert!(out.contains("signed by \"Corp Issuing\""), "{out}");
    let staged = data_dir.join("rotate-ca/pki/ca.crt");
    assert_same_ca(
        &describe_certs(&data_dir.join("pki/ca.crt"))[0],
        &describe_certs(&staged)[0],
        "ca",
    );
    assert_chains(
        &data_dir.join("corp/root.crt"),
        &inter,
        &staged,
        "the renewed CA",
    );
}

/// A CA that has already expired cannot pass rotate-ca's check in any
/// bundle that starts with it: the renewal is staged in one stage, renewed
/// certificates first, for `rotate-ca --force`, and says so.
#[test]
fn an_expired_k3s_ca_is_renewed_in_one_stage_for_rotate_ca_force() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck()
        .args(["k3s-fixture", "--now", &days_ago(3660), "--out"])
        .arg(&data_dir));
    let live = data_dir.join("server/tls");
    let out = ok(&mut renew("k3s", &data_dir));
    assert!(out.contains("one stage: a current CA has expired"), "{out}");
    assert!(
        out.contains("certificate rotate-ca --force --path="),
        "{out}"
    );
    let staged = data_dir.join("server/rotate-ca/tls");
    assert_eq!(
        printed_hash(&out),
        testkit::k3s_hash(&staged.join("server-ca.crt"))
    );
    let work = dir.path().join("work");
    for stem in CA_STEMS {
        let split = work.join(stem.replace('/', "-"));
        fs::create_dir_all(&split).unwrap();
        let certs = split_bundle(&staged.join(format!("{stem}.crt")), &split);
        assert_eq!(certs.len(), 2, "{stem}: [renewed, current]");
        assert_eq!(
            fs::read(&certs[1]).unwrap(),
            fs::read(live.join(format!("{stem}.crt"))).unwrap()
        );
        assert_same_ca(
            &describe_certs(&certs[1])[0],
            &describe_certs(&certs[0])[0],
            stem,
        );
        let key = live.join(format!("{stem}.key"));
        let (leaf, _) = issue_leaf(&certs[0], &key, &split, "after", "both", false);
        assert_trusted(
            &certs[0],
            &leaf,
            &format!("{stem}: a leaf of the renewed CA"),
        );
    }
    // What rotate-ca would say without --force: the current certificate has expired.
    let (accepted, output) = status(
        gocheck()
            .args(["rotate-check", "--current"])
            .arg(&live)
            .arg("--staged")
            .arg(&staged),
    );
    assert!(!accepted, "{output}");
}
