//! `rotate-default-ca --product kubeadm|k0s` on trees made as
//! `gen-custom-ca --product kubeadm|k0s --self-signed-cas` makes them, judged
//! against KUBEADM-K0S-CONTRACT.md sections 4, 7 and 8 by Go (chain
//! verification and a real TLS handshake), openssl, pkilint and a real
//! three-member etcd taken through the printed etcd steps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use shared::layout::{DataDir, Product};
use shared::runs::custom_ca::{CustomCaOptions, plan_custom_ca};
use testkit::{
    Json, Party, describe_certs, fails, file_names, gocheck, handshake, issue_leaf, mode, ok,
    openssl, pkilint_errors, scratch, snapshot, split_bundle, status,
};

const STEMS: [&str; 3] = ["ca", "front-proxy-ca", "etcd/ca"];

fn tool(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_rotate-default-ca"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

/// `<root>/<product>` with the pki/ that `gen-custom-ca --product <product>
/// --self-signed-cas` writes (the same library run, its plan written as is).
fn live_tree(root: &Path, product: Product) -> PathBuf {
    let data_dir = root.join(product.name());
    let options = CustomCaOptions {
        self_signed_cas: true,
        ..CustomCaOptions::new(
            DataDir {
                root: data_dir.clone(),
                product,
            },
            std::time::SystemTime::now(),
        )
    };
    let run = plan_custom_ca(&options).unwrap();
    for file in run.plan.files() {
        fs::create_dir_all(file.path.parent().unwrap()).unwrap();
        fs::write(&file.path, file.contents.as_slice()).unwrap();
        fs::set_permissions(&file.path, fs::Permissions::from_mode(file.mode)).unwrap();
    }
    data_dir
}

fn text(value: &Json, name: &str) -> String {
    value[name].as_str().unwrap_or_default().to_string()
}

/// The staged file set: per CA the new pair, the cross-signed CA and the
/// old+new bundle, and `extra`.
fn expected_files(extra: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = STEMS
        .iter()
        .flat_map(|stem| {
            ["crt", "key", "-cross-signed.crt", "-old-new.crt"].map(|end| match end {
                "crt" | "key" => format!("{stem}.{end}"),
                _ => format!("{stem}{end}"),
            })
        })
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
    names.sort();
    names
}

/// The SPKI hash kubeadm pins, as its docs compute it with openssl.
pub(crate) fn openssl_discovery_hash(ca: &Path) -> String {
    let script = "openssl x509 -pubkey -noout -in \"$1\" | openssl pkey -pubin -outform der \
                  | openssl dgst -sha256 -hex";
    let out = ok(Command::new("sh").args(["-c", script, "sh"]).arg(ca));
    format!("sha256:{}", out.trim().rsplit(' ').next().unwrap())
}

pub(crate) fn verify(roots: &Path, intermediates: Option<&Path>, cert: &Path) -> (bool, String) {
    let mut cmd = gocheck();
    cmd.args(["verify", "--usage", "any", "--roots"]).arg(roots);
    if let Some(file) = intermediates {
        cmd.arg("--intermediates").arg(file);
    }
    status(cmd.arg(cert))
}

/// What every staged rotation of a pki/ layout must satisfy, whatever the
/// distribution: the file set, one certificate per `.crt`, keys 0600 matching
/// their certificates, the bundle [old, new], the cross-signed CA (new subject
/// and key, issued by the old CA), old leaves trusted through the bundle and
/// new ones through the cross-signed CA by clients trusting only the old CA,
/// pkilint clean, and the live pki/ untouched.
fn assert_rotation(
    dir: &Path,
    product: Product,
    extra: &[&str],
    cns: [&str; 3],
) -> (PathBuf, String) {
    let data_dir = live_tree(dir, product);
    let live = data_dir.join("pki");
    let work = dir.join("work");
    fs::create_dir_all(&work).unwrap();
    // Leaves issued by the old CAs before the rotation.
    let old_leaves: Vec<PathBuf> = STEMS
        .iter()
        .map(|stem| {
            let (ca, key) = (
                live.join(format!("{stem}.crt")),
                live.join(format!("{stem}.key")),
            );
            issue_leaf(&ca, &key, &work, &format!("old-{stem}"), "both", false).0
        })
        .collect();
    let before = snapshot(&live);

    let stdout = ok(&mut tool(product.name(), &data_dir));
    let staged = data_dir.join("rotate-ca/pki");
    assert_eq!(
        snapshot(&live),
        before,
        "nothing written into the live pki/"
    );
    assert_eq!(file_names(&staged), expected_files(extra));
    assert!(
        stdout.contains(&format!("{} layout", product.name())),
        "{stdout}"
    );

    for ((stem, cn), old_leaf) in STEMS.iter().zip(cns).zip(&old_leaves) {
        let at = |end: &str| staged.join(format!("{stem}{end}"));
        let old = &describe_certs(&live.join(format!("{stem}.crt")))[0];
        let new = describe_certs(&at(".crt"));
        assert_eq!(new.len(), 1, "{stem}.crt holds one certificate");
        let new = &new[0];
        assert_eq!(text(new, "subject"), format!("CN={cn}"), "{stem}: same CN");
        assert_eq!(
            text(new, "issuer"),
            text(new, "subject"),
            "{stem}: self-signed"
        );
        assert_ne!(text(new, "ski"), text(old, "ski"), "{stem}: a new key");
        assert_eq!(mode(&at(".key")), 0o600, "{stem}.key");
        ok(gocheck().arg("keypair").arg(at(".crt")).arg(at(".key")));

        let cross = describe_certs(&at("-cross-signed.crt"));
        assert_eq!(
            cross.len(),
            1,
            "{stem}-cross-signed.crt holds one certificate"
        );
        let cross = &cross[0];
        assert_eq!(text(cross, "subject"), text(new, "subject"), "{stem}");
        assert_eq!(text(cross, "ski"), text(new, "ski"), "{stem}: the new key");
        assert_eq!(
            text(cross, "aki"),
            text(old, "ski"),
            "{stem}: issued by the old CA"
        );

        let bundle = describe_certs(&at("-old-new.crt"));
        let shas: Vec<String> = bundle.iter().map(|c| text(c, "sha256")).collect();
        assert_eq!(
            shas,
            [text(old, "sha256"), text(new, "sha256")],
            "{stem}-old-new.crt = [old, new]"
        );

        // An old leaf verifies against the staged bundle.
        let (passed, output) = verify(&at("-old-new.crt"), None, old_leaf);
        assert!(passed, "{stem}: old leaf against old+new:\n{output}");
        // A new leaf verifies for a client trusting only the old CA, through
        // the cross-signed certificate, and not without it.
        let new_leaf = issue_leaf(
            &at(".crt"),
            &at(".key"),
            &work,
            &format!("new-{stem}"),
            "both",
            false,
        )
        .0;
        let old_ca = live.join(format!("{stem}.crt"));
        let (passed, output) = verify(&old_ca, Some(&at("-cross-signed.crt")), &new_leaf);
        assert!(
            passed,
            "{stem}: new leaf through the cross-signed CA:\n{output}"
        );
        let (passed, _) = verify(&old_ca, None, &new_leaf);
        assert!(
            !passed,
            "{stem}: without the cross-signed CA the old CA alone refuses"
        );
        let verified = ok(openssl()
            .args(["verify", "-CAfile"])
            .arg(&old_ca)
            .arg("-untrusted")
            .arg(at("-cross-signed.crt"))
            .arg(&new_leaf));
        assert!(verified.trim().ends_with(": OK"), "{verified}");

        let lint = work.join(format!("lint-{}", stem.replace('/', "-")));
        fs::create_dir_all(&lint).unwrap();
        for path in [at(".crt"), at("-cross-signed.crt")] {
            for cert in split_bundle(&path, &lint) {
                let findings = pkilint_errors(&cert);
                assert!(
                    findings.is_empty(),
                    "pkilint on {}:\n{findings}",
                    path.display()
                );
            }
        }
    }
    (data_dir, stdout)
}

#[test]
fn kubeadm_gets_new_cas_cross_signed_by_the_old_ones_and_the_transition_files() {
    let dir = scratch();
    let (data_dir, stdout) = assert_rotation(
        dir.path(),
        Product::Kubeadm,
        &["ca-new.crt", "ca-new.key"],
        ["kubernetes", "front-proxy-ca", "etcd-ca"],
    );
    let staged = data_dir.join("rotate-ca/pki");
    // The new-only copies for kube-controller-manager are the new CA and key.
    assert_eq!(
        fs::read(staged.join("ca-new.crt")).unwrap(),
        fs::read(staged.join("ca.crt")).unwrap()
    );
    assert_eq!(
        fs::read(staged.join("ca-new.key")).unwrap(),
        fs::read(staged.join("ca.key")).unwrap()
    );
    assert_eq!(mode(&staged.join("ca-new.key")), 0o600);

    // Both discovery hashes during the transition, as openssl computes them.
    let old = openssl_discovery_hash(&data_dir.join("pki/ca.crt"));
    let new = openssl_discovery_hash(&staged.join("ca.crt"));
    assert_ne!(old, new);
    assert!(
        stdout.contains(&format!(
            "--discovery-token-ca-cert-hash {old} --discovery-token-ca-cert-hash {new}"
        )),
        "old and new hashes ({old}, {new}):\n{stdout}"
    );
    // The procedure names the real files at its steps, in the contract's order.
    let pki = data_dir.join("pki");
    let steps = [
        format!("--root-ca-file={}", pki.join("ca-old-new.crt").display()),
        format!(
            "--cluster-signing-cert-file={}",
            pki.join("ca-new.crt").display()
        ),
        format!("--client-ca-file={}", pki.join("ca-old-new.crt").display()),
        format!(
            "install -m 0600 {} {}",
            staged.join("ca.key").display(),
            pki.join("ca.key").display()
        ),
        "kube-public edit configmap cluster-info".to_string(),
        "etcd --trusted-ca-file".to_string(),
    ];
    let mut from = 0;
    for step in &steps {
        let at = stdout[from..]
            .find(step.as_str())
            .unwrap_or_else(|| panic!("{step:?} after byte {from}:\n{stdout}"));
        from += at + step.len();
    }
    for name in [
        "ca-old-new.crt",
        "ca-cross-signed.crt",
        "etcd/ca-old-new.crt",
    ] {
        assert!(
            stdout.contains(&staged.join(name).display().to_string()),
            "{name} listed:\n{stdout}"
        );
    }
}

#[test]
fn k0s_gets_the_same_staging_and_the_shortened_stop_place_start_procedure() {
    let dir = scratch();
    let (data_dir, stdout) = assert_rotation(
        dir.path(),
        Product::K0s,
        &[],
        ["kubernetes-ca", "kubernetes-front-proxy-ca", "etcd-ca"],
    );
    let (staged, live) = (data_dir.join("rotate-ca/pki"), data_dir.join("pki"));
    for stem in STEMS {
        assert!(
            stdout.contains(&format!(
                "install -m 0600 {} {}",
                staged.join(format!("{stem}.key")).display(),
                live.join(format!("{stem}.key")).display()
            )),
            "{stem}:\n{stdout}"
        );
    }
    assert!(stdout.contains("k0s stop"), "{stdout}");
    assert!(
        stdout.contains("k0s token create --role worker"),
        "{stdout}"
    );
    assert!(!stdout.contains("discovery-token-ca-cert-hash"), "{stdout}");
}

/// Contract section 7's two transitions over a real TLS handshake: a server
/// certificate from the new CA, sent with the cross-signed CA, is accepted by a
/// client trusting only the old CA; an old client certificate is accepted by a
/// server trusting the staged old+new bundle.
#[test]
fn a_real_handshake_crosses_the_rotation_both_ways() {
    let dir = scratch();
    let data_dir = live_tree(dir.path(), Product::Kubeadm);
    let live = data_dir.join("pki");
    let (old_client, old_client_key) = issue_leaf(
        &live.join("ca.crt"),
        &live.join("ca.key"),
        dir.path(),
        "kubernetes-admin",
        "client",
        false,
    );
    ok(&mut tool("kubeadm", &data_dir));
    let staged = data_dir.join("rotate-ca/pki");
    let (leaf, server_key) = issue_leaf(
        &staged.join("ca.crt"),
        &staged.join("ca.key"),
        dir.path(),
        "kube-apiserver",
        "server",
        false,
    );
    // What step 8 makes of apiserver.crt: the leaf, then the cross-signed CA.
    let server_cert = dir.path().join("apiserver.crt");
    let mut chain = fs::read(&leaf).unwrap();
    chain.extend(fs::read(staged.join("ca-cross-signed.crt")).unwrap());
    fs::write(&server_cert, chain).unwrap();
    let run = |server: &Path, roots: &Path| {
        status(&mut handshake(
            &Party {
                cert: server,
                key: &server_key,
            },
            &staged.join("ca-old-new.crt"),
            &Party {
                cert: &old_client,
                key: &old_client_key,
            },
            roots,
        ))
    };
    let (passed, output) = run(&server_cert, &live.join("ca.crt"));
    assert!(
        passed,
        "old-CA client, new server, old client cert:\n{output}"
    );
    // Guards: without the cross-signed CA in the chain the old-CA client
    // refuses, and a server trusting only the new CA refuses the old client.
    let (passed, _) = run(&leaf, &live.join("ca.crt"));
    assert!(!passed, "the cross-signed CA is what carries the trust");
    let (passed, _) = status(&mut handshake(
        &Party {
            cert: &server_cert,
            key: &server_key,
        },
        &staged.join("ca.crt"),
        &Party {
            cert: &old_client,
            key: &old_client_key,
        },
        &live.join("ca.crt"),
    ));
    assert!(
        !passed,
        "the new CA alone does not trust old client certificates"
    );
}

#[test]
fn an_existing_staging_dir_is_refused_unless_forced_and_the_live_pki_always() {
    let dir = scratch();
    let data_dir = live_tree(dir.path(), Product::K0s);
    ok(&mut tool("k0s", &data_dir));
    let before = snapshot(&data_dir);
    let stderr = fails(&mut tool("k0s", &data_dir));
    assert!(stderr.contains("rotate-ca already exists"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(snapshot(&data_dir), before, "nothing changed");
    ok(tool("k0s", &data_dir).arg("--force"));

    let before = snapshot(&data_dir);
    let stderr = fails(
        tool("k0s", &data_dir)
            .arg("--output")
            .arg(&data_dir)
            .arg("--force"),
    );
    assert!(stderr.contains("inside the live"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before, "nothing changed");
}

#[test]
fn a_missing_key_is_kubeadm_external_ca_mode_and_refused_by_name() {
    let dir = scratch();
    let data_dir = live_tree(dir.path(), Product::Kubeadm);
    fs::remove_file(data_dir.join("pki/front-proxy-ca.key")).unwrap();
    let before = snapshot(dir.path());
    let stderr = fails(&mut tool("kubeadm", &data_dir));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("front-proxy-ca.key"), "{stderr}");
    assert!(stderr.contains("external-CA mode"), "{stderr}");
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn new_cas_keep_the_current_key_type_unless_asked() {
    let dir = scratch();
    let data_dir = live_tree(dir.path(), Product::Kubeadm);
    let staged = data_dir.join("rotate-ca/pki");
    ok(tool("kubeadm", &data_dir).args(["--algorithm", "ECDSA-P256"]));
    let key = testkit::describe_keys(&staged.join("etcd/ca.key"));
    assert_eq!(text(&key[0], "label"), "EC PRIVATE KEY");
    ok(tool("kubeadm", &data_dir).arg("--force"));
    let key = testkit::describe_keys(&staged.join("etcd/ca.key"));
    assert_eq!(
        text(&key[0], "label"),
        "RSA PRIVATE KEY",
        "the current CA's type"
    );
    assert_eq!(key[0]["bits"], 2048);
    let stderr = fails(
        testkit::tool(env!("CARGO_BIN_EXE_rotate-default-ca"), &data_dir).args([
            "--product",
            "k3s",
            "--algorithm",
            "RSA-2048",
        ]),
    );
    assert!(
        stderr.contains("--algorithm is for kubeadm and k0s"),
        "{stderr}"
    );
}

/// The procedure's etcd steps E1-E3 on a real three-member etcd, one member at
/// a time as printed: trust the old+new bundle; serve certificates from the
/// new etcd CA with the cross-signed CA appended; trust the new CA alone. The
/// cluster stays healthy and keeps its data at every step; until E3 a client
/// that trusts only the old CA still reads, and after it an old client
/// certificate is refused.
#[test]
fn the_etcd_steps_roll_a_real_three_member_cluster_onto_the_new_ca() {
    use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
    const SCENARIO: &str = "kubeadm etcd CA rotation, E1-E3 on 3 members";
    let dir = scratch();
    let data_dir = live_tree(dir.path(), Product::Kubeadm);
    let (old_ca, old_key) = (
        data_dir.join("pki/etcd/ca.crt"),
        data_dir.join("pki/etcd/ca.key"),
    );
    let certs = dir.path().join("certs");
    fs::create_dir_all(&certs).unwrap();
    // Member certificates as kubeadm issues them: server and peer, both usages.
    let members = |ca: &Path, key: &Path, tag: &str, append: Option<&Path>| -> Vec<MemberTls> {
        (0..3)
            .map(|i| {
                let (cert, key_file) = issue_leaf(
                    ca,
                    key,
                    &certs,
                    &format!("{tag}-m{i}-server"),
                    "both",
                    false,
                );
                let (peer_cert, peer_key) =
                    issue_leaf(ca, key, &certs, &format!("{tag}-m{i}-peer"), "both", false);
                if let Some(extra) = append {
                    for file in [&cert, &peer_cert] {
                        let mut pem = fs::read(file).unwrap();
                        pem.extend(fs::read(extra).unwrap());
                        fs::write(file, pem).unwrap();
                    }
                }
                MemberTls {
                    cert,
                    key: key_file,
                    peer_cert,
                    peer_key,
                }
            })
            .collect()
    };
    let trust = |file: &Path| ClusterTrust {
        clients: file.to_path_buf(),
        peers: file.to_path_buf(),
    };
    let old_members = members(&old_ca, &old_key, "old", None);
    let (cert, key) = issue_leaf(
        &old_ca,
        &old_key,
        &certs,
        "old-healthcheck",
        "client",
        false,
    );
    let old_client = Client {
        trust: old_ca.clone(),
        cert,
        key,
    };
    let mut cluster = step(
        None,
        SCENARIO,
        "start 3 members on the old etcd CA",
        EtcdCluster::start(old_members.clone(), trust(&old_ca), &old_client),
    );
    step(
        Some(&cluster),
        SCENARIO,
        "put before the rotation",
        old_client.run(&cluster, 0, &["put", "/k3s-pki/e", "before"]),
    );

    ok(&mut tool("kubeadm", &data_dir));
    let staged = data_dir.join("rotate-ca/pki/etcd");
    let (old_new, new_ca, new_key, cross) = (
        staged.join("ca-old-new.crt"),
        staged.join("ca.crt"),
        staged.join("ca.key"),
        staged.join("ca-cross-signed.crt"),
    );

    // One step of the procedure: each member in turn restarted with `tls`
    // and `trust` while the others run (restart errors carry the log tail).
    let roll = |cluster: &mut EtcdCluster,
                name: &str,
                tls: &[MemberTls],
                trust: ClusterTrust,
                probe: &Client| {
        for (i, member) in tls.iter().enumerate() {
            step(
                None,
                SCENARIO,
                &format!("{name}, member {i}"),
                cluster.restart_member(i, member.clone(), trust.clone(), probe),
            );
        }
    };
    roll(
        &mut cluster,
        "E1: trust the old+new bundle",
        &old_members,
        trust(&old_new),
        &old_client,
    );
    let new_members = members(&new_ca, &new_key, "new", Some(&cross));
    roll(
        &mut cluster,
        "E2: serve certificates from the new CA",
        &new_members,
        trust(&old_new),
        &old_client,
    );
    for i in 0..3 {
        let read = step(
            Some(&cluster),
            SCENARIO,
            &format!("E2: a client trusting only the old CA reads from member {i}"),
            old_client.run(&cluster, i, &["get", "/k3s-pki/e"]),
        );
        assert!(read.contains("before"), "{SCENARIO}: {read}");
    }
    let (cert, key) = issue_leaf(
        &new_ca,
        &new_key,
        &certs,
        "new-healthcheck",
        "client",
        false,
    );
    let new_client = Client {
        trust: new_ca.clone(),
        cert,
        key,
    };
    roll(
        &mut cluster,
        "E3: trust the new CA alone",
        &new_members,
        trust(&new_ca),
        &new_client,
    );
    step(
        Some(&cluster),
        SCENARIO,
        "put after the rotation",
        new_client.run(&cluster, 2, &["put", "/k3s-pki/e", "after"]),
    );
    let read = step(
        Some(&cluster),
        SCENARIO,
        "get after the rotation",
        new_client.run(&cluster, 0, &["get", "/k3s-pki/e"]),
    );
    assert!(read.contains("after"), "{SCENARIO}: {read}");
    let refused = old_client.run(&cluster, 1, &["get", "/k3s-pki/e"]);
    assert!(
        refused.is_err(),
        "{SCENARIO}: an old client certificate after E3: {refused:?}"
    );
}
