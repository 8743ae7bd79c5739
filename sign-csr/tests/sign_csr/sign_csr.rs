//! sign-csr against real consumers: a kubeadm `certs generate-csr` output made
//! with openssl (file names, subjects and names as KUBEADM-K0S-CONTRACT.md
//! sections 2 and 3 give them), signed, then checked with Go's crypto/x509
//! (gocheck), openssl, pkilint, kubectl, a real etcd cluster and a real mTLS
//! handshake; refusals leave the tree byte for byte as it was; the generic mode
//! on a k3s server-ca.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::enterprise::{KeyKind, encrypt_pkcs8, genkey, passphrase_file, to_traditional};
use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
use testkit::{
    Json, describe_certs, fails, gocheck, ok, openssl, pkilint_errors, scratch, snapshot,
};

const NODE: &str = "cp-1";
const ADVERTISE: &str = "192.0.2.10";

/// The seven CSRs of `pki/`: base, CA stem, subject, SANs (openssl syntax),
/// usages to verify for.
const PKI: [(&str, &str, &str, &str, &[&str]); 7] = [
    (
        "apiserver",
        "ca",
        "/CN=kube-apiserver",
        "DNS:cp-1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,\
         DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:192.0.2.10",
        &["server"],
    ),
    (
        "apiserver-kubelet-client",
        "ca",
        "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client",
        "",
        &["client"],
    ),
    (
        "front-proxy-client",
        "front-proxy-ca",
        "/CN=front-proxy-client",
        "",
        &["client"],
    ),
    (
        "etcd/server",
        "etcd/ca",
        "/CN=cp-1",
        "DNS:cp-1,DNS:localhost,IP:192.0.2.10,IP:127.0.0.1,IP:::1",
        &["server", "client"],
    ),
    (
        "etcd/peer",
        "etcd/ca",
        "/CN=cp-1",
        "DNS:cp-1,DNS:localhost,IP:192.0.2.10,IP:127.0.0.1,IP:::1",
        &["server", "client"],
    ),
    (
        "etcd/healthcheck-client",
        "etcd/ca",
        "/CN=kube-etcd-healthcheck-client",
        "",
        &["client"],
    ),
    (
        "apiserver-etcd-client",
        "etcd/ca",
        "/CN=kube-apiserver-etcd-client",
        "",
        &["client"],
    ),
];

/// The five partial kubeconfigs: name, subject, user.
const KUBECONFIGS: [(&str, &str, &str); 5] = [
    (
        "admin.conf",
        "/O=kubeadm:cluster-admins/CN=kubernetes-admin",
        "kubernetes-admin",
    ),
    (
        "super-admin.conf",
        "/O=system:masters/CN=kubernetes-super-admin",
        "kubernetes-super-admin",
    ),
    (
        "kubelet.conf",
        "/O=system:nodes/CN=system:node:cp-1",
        "system:node:cp-1",
    ),
    (
        "controller-manager.conf",
        "/CN=system:kube-controller-manager",
        "system:kube-controller-manager",
    ),
    (
        "scheduler.conf",
        "/CN=system:kube-scheduler",
        "system:kube-scheduler",
    ),
];

fn sign_csr() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sign-csr"));
    cmd.env_remove("PRODUCT").env_remove("DATA_DIR");
    cmd
}

fn kubeadm(data: &Path) -> Command {
    let mut cmd = sign_csr();
    cmd.args(["--product", "kubeadm", "--data-dir"]).arg(data);
    cmd
}

/// A key as kubeadm writes it (PKCS#1 or SEC1), mode 0600.
fn key(path: &Path, kind: KeyKind) {
    let pkcs8 = path.with_extension("pkcs8");
    genkey(&pkcs8, kind);
    to_traditional(&pkcs8, path);
    fs::remove_file(pkcs8).unwrap();
}

/// `openssl req -new`: a CSR for `key` with `subject` and `sans` (openssl
/// syntax, none when empty) and any further `-addext` values.
fn csr(key: &Path, subject: &str, sans: &str, extra: &[&str], out: &Path) {
    let mut cmd = openssl();
    cmd.args(["req", "-new", "-key"])
        .arg(key)
        .args(["-subj", subject])
        .arg("-out")
        .arg(out);
    if !sans.is_empty() {
        cmd.args(["-addext", &format!("subjectAltName={sans}")]);
    }
    for ext in extra {
        cmd.args(["-addext", ext]);
    }
    ok(&mut cmd);
}

/// A CA as `kubeadm init phase certs ca` makes it (CN only, CA:TRUE,
/// digitalSignature, keyEncipherment, keyCertSign), made with openssl.
fn ca(pki: &Path, stem: &str, cn: &str, kind: KeyKind, days: u32) {
    let key_path = pki.join(format!("{stem}.key"));
    key(&key_path, kind);
    let usage = if matches!(kind, KeyKind::Rsa(_)) {
        "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"
    } else {
        "keyUsage=critical,digitalSignature,keyCertSign"
    };
    ok(openssl()
        .args(["req", "-x509", "-new", "-sha256", "-key"])
        .arg(&key_path)
        .args(["-subj", &format!("/CN={cn}"), "-days", &days.to_string()])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", usage])
        .arg("-out")
        .arg(pki.join(format!("{stem}.crt"))));
}

/// What client-go writes for a generate-csr kubeconfig: the two data fields
/// are empty, so omitted.
fn partial_kubeconfig(user: &str, key: &Path) -> String {
    let data = ok(openssl().args(["base64", "-A", "-in"]).arg(key));
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    server: https://{ADVERTISE}:6443\n  name: kubernetes\n\
         contexts:\n- context:\n    cluster: kubernetes\n    user: {user}\n  name: {user}@kubernetes\n\
         current-context: {user}@kubernetes\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n\
         \x20   client-key-data: {}\n",
        data.trim()
    )
}

/// `kubeadm certs generate-csr` output under `<dir>/kubernetes`, with the three
/// CAs beside it: `rsa` makes the kubeconfig keys RSA-2048 (kubeadm's
/// default) and ca RSA-2048, else everything is P-256 (fast).
fn generate_csr(dir: &Path, rsa: bool) -> PathBuf {
    let data = dir.join("kubernetes");
    let pki = data.join("pki");
    fs::create_dir_all(pki.join("etcd")).unwrap();
    let leaf_kind = KeyKind::P256;
    let client_kind = if rsa {
        KeyKind::Rsa(2048)
    } else {
        KeyKind::P256
    };
    ca(&pki, "ca", "kubernetes", client_kind, 3650);
    ca(
        &pki,
        "front-proxy-ca",
        "front-proxy-ca",
        KeyKind::P256,
        3650,
    );
    ca(&pki, "etcd/ca", "etcd-ca", KeyKind::P256, 3650);
    for (base, _, subject, sans, _) in PKI {
        let key_path = pki.join(format!("{base}.key"));
        key(&key_path, leaf_kind);
        csr(
            &key_path,
            subject,
            sans,
            &[],
            &pki.join(format!("{base}.csr")),
        );
    }
    for (name, subject, user) in KUBECONFIGS {
        let key_path = dir.join(format!("{}.key", name.replace('.', "-")));
        key(&key_path, client_kind);
        csr(
            &key_path,
            subject,
            "",
            &[],
            &data.join(format!("{name}.csr")),
        );
        fs::write(data.join(name), partial_kubeconfig(user, &key_path)).unwrap();
        fs::remove_file(key_path).unwrap();
    }
    data
}

fn field<'a>(cert: &'a Json, name: &str) -> &'a Json {
    cert.get(name)
        .unwrap_or_else(|| panic!("no {name} in {cert}"))
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Go verifies `cert` for each usage trusting only `ca`; openssl agrees.
fn verify(cert: &Path, ca: &Path, usages: &[&str]) {
    for usage in usages {
        ok(gocheck()
            .args(["verify", "--usage", usage, "--roots"])
            .arg(ca)
            .arg(cert));
        let purpose = if *usage == "server" {
            "sslserver"
        } else {
            "sslclient"
        };
        let out = ok(openssl()
            .args(["verify", "-purpose", purpose, "-CAfile"])
            .arg(ca)
            .arg(cert));
        assert!(out.contains(": OK"), "{out}");
    }
    assert_eq!(lint(cert), "", "pkilint on {}", cert.display());
}

/// pkilint's ERROR and FATAL findings, but for one: it takes a single-label DNS
/// name (`kubernetes`, a node name such as `cp-1`) for bad syntax, while RFC
/// 1034's preferred syntax allows one label, and kubeadm's apiserver and etcd
/// certificates must carry exactly these names (in-cluster clients dial
/// `kubernetes`; etcd peers dial the node name).
fn lint(cert: &Path) -> String {
    let findings = pkilint_errors(cert);
    let lines: Vec<&str> = findings.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // pkilint's PKIX linter calls single labels (kubeadm's `kubernetes`,
        // node names) and wildcards invalid syntax; RFC 1034 allows the one,
        // Go and the CA/Browser Forum the other (`*.` over two labels).
        let single_label = |l: &str| {
            l.contains("pkix.invalid_domain_name_syntax")
                && l.rsplit('"')
                    .nth(1)
                    .is_some_and(|name| !name.contains('.') || name.starts_with("*."))
        };
        let next = lines.get(i + 1).copied().unwrap_or_default();
        if single_label(line) || (!line.starts_with(' ') && single_label(next)) {
            continue;
        }
        kept.push(*line);
    }
    kept.join("\n")
}

/// Checks one certificate's profile: issuer, KU, EKU, CA:FALSE, lifetime.
fn check_profile(cert: &Json, issuer_cn: &str, ekus: &[&str], rsa: bool) {
    assert_eq!(field(cert, "issuer_cn"), issuer_cn, "{cert}");
    let mut ku = vec!["digitalSignature"];
    if rsa {
        ku.push("keyEncipherment");
    }
    assert_eq!(strings(field(cert, "key_usage")), ku, "{cert}");
    assert_eq!(field(cert, "key_usage_critical"), true);
    assert_eq!(strings(field(cert, "ext_key_usage")), ekus, "{cert}");
    assert_eq!(field(cert, "is_ca"), false);
    assert_eq!(field(cert, "basic_constraints_valid"), true);
    let days = field(cert, "validity_days").as_f64().unwrap();
    assert!((365.0..365.01).contains(&days), "validity {days} days");
    assert_eq!(field(cert, "ski").as_str().unwrap().len(), 40);
    assert!(!field(cert, "aki").as_str().unwrap().is_empty());
}

/// `kubectl config view --raw` of `kubeconfig`: the kubeconfig as kubectl
/// reads it. Once per file, its fields read from the output: a kubectl may ask
/// the file's server for its version first (gcloud's dispatcher waits 3 s for
/// 192.0.2.10).
fn kubectl_view(kubeconfig: &Path) -> Json {
    testkit::json(
        Command::new("kubectl")
            .args(["config", "view", "--raw", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["-o", "json"]),
    )
}

/// One string field of a [`kubectl_view`], by a JSONPath such as `.users[0].name`.
fn kubectl_field(view: &Json, path: &str) -> String {
    let mut value = view;
    for step in path.trim_start_matches('.').split('.') {
        let (key, index) = step.split_once('[').unwrap_or((step, ""));
        value = &value[key];
        if let Some(index) = index.strip_suffix(']') {
            value = &value[index.parse::<usize>().unwrap()];
        }
    }
    value
        .as_str()
        .unwrap_or_else(|| panic!("no {path} in {view}"))
        .to_string()
}

/// The client certificate and key of a filled kubeconfig (`view` is its
/// [`kubectl_view`]), as files.
fn kubeconfig_pair(kubeconfig: &Path, view: &Json, dir: &Path) -> (PathBuf, PathBuf) {
    let stem = kubeconfig
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('.', "-");
    let (cert, key) = (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    );
    testkit::decode_base64_to(
        &kubectl_field(view, ".users[0].user.client-certificate-data"),
        &cert,
    );
    testkit::decode_base64_to(&kubectl_field(view, ".users[0].user.client-key-data"), &key);
    (cert, key)
}

#[test]
fn a_kubeadm_generate_csr_output_is_signed_as_kubeadm_would() {
    let dir = scratch();
    let data = generate_csr(dir.path(), true);
    let before: Vec<(String, String)> = KUBECONFIGS
        .iter()
        .map(|(name, ..)| {
            (
                name.to_string(),
                fs::read_to_string(data.join(name)).unwrap(),
            )
        })
        .collect();
    let out = ok(kubeadm(&data).args(["--advertise-address", ADVERTISE]));
    assert!(out.contains("signed 12 CSR(s)"), "{out}");
    assert!(out.contains("node name cp-1"), "{out}");
    let pki = data.join("pki");
    for (base, ca_stem, subject, sans, usages) in PKI {
        let cert = pki.join(format!("{base}.crt"));
        let ca = pki.join(format!("{ca_stem}.crt"));
        verify(&cert, &ca, usages);
        assert_eq!(testkit::mode(&cert), 0o644);
        let described = &describe_certs(&cert)[0];
        let issuer = match ca_stem {
            "ca" => "kubernetes",
            "front-proxy-ca" => "front-proxy-ca",
            _ => "etcd-ca",
        };
        let ekus: Vec<&str> = usages
            .iter()
            .map(|u| {
                if *u == "server" {
                    "serverAuth"
                } else {
                    "clientAuth"
                }
            })
            .collect();
        check_profile(described, issuer, &ekus, false);
        let cn = subject.rsplit("CN=").next().unwrap();
        assert_eq!(field(described, "subject_cn"), cn);
        let mut names = strings(field(described, "dns_names"));
        names.extend(strings(field(described, "ip_addresses")));
        let wanted: Vec<String> = sans
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.split_once(':').unwrap().1.to_string())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        let mut wanted_sorted = wanted.clone();
        wanted_sorted.sort();
        assert_eq!(sorted, wanted_sorted, "{base}");
        // The certificate matches the key kubeadm will load beside it.
        ok(gocheck()
            .arg("keypair")
            .arg(&cert)
            .arg(pki.join(format!("{base}.key"))));
        let text = ok(openssl()
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&cert));
        assert!(text.contains("CA:FALSE"), "{text}");
    }
    let ca_pem = fs::read_to_string(pki.join("ca.crt")).unwrap();
    // The five kubectl runs at once: each may wait seconds (see kubectl_view).
    let views: Vec<Json> = std::thread::scope(|s| {
        let runs: Vec<_> = KUBECONFIGS
            .iter()
            .map(|(name, ..)| {
                let kubeconfig = data.join(name);
                s.spawn(move || kubectl_view(&kubeconfig))
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (((name, subject, user), (_, original)), view) in
        KUBECONFIGS.iter().zip(&before).zip(&views)
    {
        let kubeconfig = data.join(name);
        assert_eq!(testkit::mode(&kubeconfig), 0o600);
        assert_eq!(kubectl_field(view, ".users[0].name"), *user);
        let ca_file = dir.path().join("embedded-ca.crt");
        testkit::decode_base64_to(
            &kubectl_field(view, ".clusters[0].cluster.certificate-authority-data"),
            &ca_file,
        );
        assert_eq!(fs::read_to_string(&ca_file).unwrap(), ca_pem, "{name}");
        let (cert, key) = kubeconfig_pair(&kubeconfig, view, dir.path());
        ok(gocheck().arg("keypair").arg(&cert).arg(&key));
        verify(&cert, &pki.join("ca.crt"), &["client"]);
        let described = &describe_certs(&cert)[0];
        check_profile(described, "kubernetes", &["clientAuth"], true);
        assert_eq!(
            field(described, "subject_cn"),
            subject.rsplit("CN=").next().unwrap()
        );
        // Every other byte as kubeadm wrote it: only the two lines are new.
        let filled = fs::read_to_string(&kubeconfig).unwrap();
        let kept: String = filled
            .lines()
            .filter(|l| {
                !l.starts_with("    certificate-authority-data: ")
                    && !l.starts_with("    client-certificate-data: ")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(&kept, original, "{name}");
    }
}

#[test]
fn signed_certificates_run_a_real_etcd_cluster_and_an_apiserver_mtls_handshake() {
    let dir = scratch();
    let data = generate_csr(dir.path(), false);
    ok(&mut kubeadm(&data));
    let pki = data.join("pki");
    let etcd = |name: &str| {
        (
            pki.join(format!("etcd/{name}.crt")),
            pki.join(format!("etcd/{name}.key")),
        )
    };
    let (cert, key) = etcd("server");
    let (peer_cert, peer_key) = etcd("peer");
    let members = (0..3)
        .map(|_| MemberTls {
            cert: cert.clone(),
            key: key.clone(),
            peer_cert: peer_cert.clone(),
            peer_key: peer_key.clone(),
        })
        .collect();
    let (client_cert, client_key) = etcd("healthcheck-client");
    let client = Client {
        trust: pki.join("etcd/ca.crt"),
        cert: client_cert,
        key: client_key,
    };
    let trust = ClusterTrust {
        clients: pki.join("etcd/ca.crt"),
        peers: pki.join("etcd/ca.crt"),
    };
    let scenario = "etcd on sign-csr certificates";
    let cluster = step(
        None,
        scenario,
        "start",
        EtcdCluster::start(members, trust, &client),
    );
    let c = Some(&cluster);
    step(
        c,
        scenario,
        "put",
        client.run(&cluster, 0, &["put", "/sign-csr", "kubeadm"]),
    );
    let read = step(
        c,
        scenario,
        "get",
        client.run(&cluster, 2, &["get", "/sign-csr"]),
    );
    assert!(read.contains("kubeadm"), "{read}");

    // The apiserver serves its signed certificate to a client holding the
    // certificate signed from admin.conf.csr; each side trusts only ca.crt.
    let admin = data.join("admin.conf");
    let (admin_cert, admin_key) = kubeconfig_pair(&admin, &kubectl_view(&admin), dir.path());
    for server_name in ["kubernetes.default.svc", NODE] {
        let out = ok(gocheck()
            .arg("handshake")
            .arg("--server-cert")
            .arg(pki.join("apiserver.crt"))
            .arg("--server-key")
            .arg(pki.join("apiserver.key"))
            .arg("--client-ca")
            .arg(pki.join("ca.crt"))
            .arg("--client-cert")
            .arg(&admin_cert)
            .arg("--client-key")
            .arg(&admin_key)
            .arg("--roots")
            .arg(pki.join("ca.crt"))
            .args(["--server-name", server_name]));
        assert!(out.contains("kubernetes-admin"), "{out}");
    }
}

/// Runs kubeadm mode on a tree where `spoil` changed one CSR: refused with one
/// line naming it and saying `why`, exit 1, nothing changed.
fn refused(spoil: impl FnOnce(&Path), csr: &str, why: &str) {
    let (dir, data) = tree_with(spoil);
    let before = snapshot(dir.path());
    let err = fails(&mut kubeadm(&data));
    let csr_path = data.join(csr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": refused: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "sign-csr: error: {}: refused: ",
            csr_path.display()
        )),
        "{err}"
    );
    assert!(lines[0].contains(why), "{err}");
    assert!(
        err.contains("nothing was written: 1 of 12 CSRs refused"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "a refused run changed files");
}

/// A P-256 generate-csr tree changed by `spoil`.
fn tree_with(spoil: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch();
    let data = generate_csr(dir.path(), false);
    spoil(&data);
    (dir, data)
}

/// Replaces `pki/<base>.key` and `.csr` with a new key of `kind` and a CSR of it.
fn recreate(data: &Path, base: &str, kind: KeyKind, subject: &str, sans: &str, extra: &[&str]) {
    let key_path = data.join(format!("pki/{base}.key"));
    fs::remove_file(&key_path).unwrap();
    key(&key_path, kind);
    csr(
        &key_path,
        subject,
        sans,
        extra,
        &data.join(format!("pki/{base}.csr")),
    );
}

#[test]
fn a_csr_whose_signature_was_altered_is_refused() {
    refused(
        |data| {
            let path = data.join("pki/front-proxy-client.csr");
            let der = path.with_extension("der");
            ok(openssl()
                .args(["req", "-outform", "DER", "-in"])
                .arg(&path)
                .arg("-out")
                .arg(&der));
            let mut bytes = fs::read(&der).unwrap();
            let last = bytes.len() - 2;
            bytes[last] ^= 0x55;
            fs::write(&der, bytes).unwrap();
            ok(openssl()
                .args(["req", "-inform", "DER", "-in"])
                .arg(&der)
                .arg("-out")
                .arg(&path));
            fs::remove_file(der).unwrap();
        },
        "pki/front-proxy-client.csr",
        "no proof of possession",
    );
}

#[test]
fn a_csr_asking_for_ca_true_is_refused() {
    refused(
        |data| {
            recreate(
                data,
                "front-proxy-client",
                KeyKind::P256,
                "/CN=front-proxy-client",
                "",
                &["basicConstraints=critical,CA:TRUE"],
            )
        },
        "pki/front-proxy-client.csr",
        "asks for basicConstraints CA:TRUE",
    );
}

#[test]
fn an_rsa_1024_key_is_refused() {
    refused(
        |data| {
            recreate(
                data,
                "apiserver-etcd-client",
                KeyKind::Rsa(1024),
                "/CN=kube-apiserver-etcd-client",
                "",
                &[],
            )
        },
        "pki/apiserver-etcd-client.csr",
        "an RSA-1024 key",
    );
}

#[test]
fn an_apiserver_csr_with_a_foreign_name_is_refused_unless_allowed() {
    let foreign = |data: &Path| {
        recreate(
            data,
            "apiserver",
            KeyKind::P256,
            "/CN=kube-apiserver",
            "DNS:cp-1,DNS:kubernetes,DNS:evil.example.com,IP:10.96.0.1,IP:192.0.2.10",
            &[],
        )
    };
    refused(
        foreign,
        "pki/apiserver.csr",
        "asks for DNS evil.example.com outside the cluster's names",
    );
    // --allow-san widens what the apiserver may hold.
    let (_dir, data) = tree_with(foreign);
    ok(kubeadm(&data).args(["--allow-san", "evil.example.com"]));
    let names = strings(field(
        &describe_certs(&data.join("pki/apiserver.crt"))[0],
        "dns_names",
    ));
    assert!(names.contains(&"evil.example.com".to_string()), "{names:?}");
}

#[test]
fn a_wrong_subject_is_refused_and_an_older_kubeadm_organisation_is_warned() {
    let subject = |subject: &'static str| {
        move |data: &Path| {
            recreate(
                data,
                "apiserver-kubelet-client",
                KeyKind::P256,
                subject,
                "",
                &[],
            )
        }
    };
    refused(
        subject("/O=system:nodes/CN=kube-apiserver-kubelet-client"),
        "pki/apiserver-kubelet-client.csr",
        "expected \"CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins\"",
    );
    // system:masters is what kubeadm wrote before kubeadm:cluster-admins.
    let (_dir, data) = tree_with(subject(
        "/O=system:masters/CN=kube-apiserver-kubelet-client",
    ));
    let out = kubeadm(&data).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "apiserver-kubelet-client.csr: O=system:masters is what older kubeadm releases wrote (current: kubeadm:cluster-admins)"
        ),
        "{err}"
    );
}

#[test]
fn a_certificate_never_outlives_its_ca() {
    let dir = scratch();
    let data = generate_csr(dir.path(), false);
    let pki = data.join("pki");
    ca(&pki, "front-proxy-ca", "front-proxy-ca", KeyKind::P256, 30);
    let out = kubeadm(&data).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let capped = format!(
        "certificates signed by {} end with it on",
        pki.join("front-proxy-ca.crt").display()
    );
    assert!(err.contains(&capped), "{err}");
    let leaf = &describe_certs(&pki.join("front-proxy-client.crt"))[0];
    let ca = &describe_certs(&pki.join("front-proxy-ca.crt"))[0];
    assert_eq!(field(leaf, "not_after"), field(ca, "not_after"));
}

/// k3s's server-ca from the fixtures, copied so nothing under the repository changes.
fn k3s_server_ca(dir: &Path) -> PathBuf {
    k3s_ca(dir, "server-ca")
}

/// The fixture's client-ca, which signs k3s's client certificates.
fn k3s_client_ca(dir: &Path) -> PathBuf {
    k3s_ca(dir, "client-ca")
}

/// The fixture's CA `stem`, copied to `<dir>/tls`: `<dir>/tls/<stem>`.
fn k3s_ca(dir: &Path, stem: &str) -> PathBuf {
    let tls = testkit::workspace_root().join("fixtures/k3s-default/server/tls");
    let out = dir.join("tls");
    fs::create_dir_all(&out).unwrap();
    for extension in ["crt", "key"] {
        let file = format!("{stem}.{extension}");
        fs::copy(tls.join(&file), out.join(&file)).unwrap();
    }
    out.join(stem)
}

/// `n` CSRs in `dir`, alternately P-256 and RSA-2048, each for `host-<i>`.
fn csr_dir(dir: &Path, n: usize) -> PathBuf {
    let csrs = dir.join("csrs");
    fs::create_dir_all(&csrs).unwrap();
    for i in 0..n {
        let kind = if i % 2 == 0 {
            KeyKind::P256
        } else {
            KeyKind::Rsa(2048)
        };
        let key_path = dir.join(format!("host-{i}.key"));
        key(&key_path, kind);
        csr(
            &key_path,
            &format!("/CN=host-{i}"),
            &format!("DNS:host-{i}.example.com,IP:10.0.0.{i}"),
            &[],
            &csrs.join(format!("host-{i}.csr")),
        );
    }
    csrs
}

#[test]
fn a_directory_of_csrs_is_signed_by_a_k3s_server_ca_for_serving() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = csr_dir(dir.path(), 3);
    let out = ok(sign_csr()
        .arg("--ca")
        .arg(&ca)
        .args(["--profile", "server", "--csr"])
        .arg(&csrs));
    assert!(out.contains("signed 3 CSR(s)"), "{out}");
    for i in 0..3 {
        let cert = csrs.join(format!("host-{i}.crt"));
        verify(&cert, &ca.with_extension("crt"), &["server"]);
        let described = &describe_certs(&cert)[0];
        assert_eq!(
            strings(field(described, "dns_names")),
            [format!("host-{i}.example.com")]
        );
        assert_eq!(strings(field(described, "ext_key_usage")), ["serverAuth"]);
        let refused = gocheck()
            .args(["verify", "--usage", "client", "--roots"])
            .arg(ca.with_extension("crt"))
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            !refused.status.success(),
            "a server certificate must not verify for clientAuth"
        );
    }
}

#[test]
fn the_client_profile_drops_names_and_says_so_and_encrypted_ca_keys_are_read() {
    let dir = scratch();
    let ca = k3s_client_ca(dir.path());
    let encrypted = dir.path().join("client-ca-encrypted.key");
    encrypt_pkcs8(&ca.with_extension("key"), &encrypted, "s3cret");
    let password = dir.path().join("password");
    passphrase_file(&password, "s3cret");
    let csrs = csr_dir(dir.path(), 1);
    let out_dir = dir.path().join("out");
    let client = |csr: &Path| {
        let mut cmd = sign_csr();
        cmd.arg("--ca-cert")
            .arg(ca.with_extension("crt"))
            .arg("--ca-key")
            .arg(&encrypted)
            .arg("--password-file")
            .arg(&password)
            .args(["--profile", "client", "--csr"])
            .arg(csr);
        cmd
    };
    let out = client(&csrs.join("host-0.csr"))
        .arg("--out")
        .arg(out_dir.join("client.crt"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "a client certificate carries no names; dropped DNS host-0.example.com, IP 10.0.0.0"
        ),
        "{err}"
    );
    let cert = out_dir.join("client.crt");
    verify(&cert, &ca.with_extension("crt"), &["client"]);
    let described = &describe_certs(&cert)[0];
    assert!(strings(field(described, "dns_names")).is_empty());
    assert!(strings(field(described, "ip_addresses")).is_empty());
    // The wrong passphrase: one line naming the key, nothing written.
    fs::write(&password, "wrong\n").unwrap();
    let before = snapshot(dir.path());
    let err = fails(&mut client(&csrs));
    assert!(err.contains(&encrypted.display().to_string()), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn generic_refusals_name_each_csr_and_write_nothing() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = csr_dir(dir.path(), 1);
    for (name, ext) in [
        ("signer", "keyUsage=critical,digitalSignature,keyCertSign"),
        ("uri", "subjectAltName=URI:spiffe://cluster.local/ns/x"),
    ] {
        let key_path = dir.path().join(format!("{name}.key"));
        key(&key_path, KeyKind::P256);
        csr(
            &key_path,
            &format!("/CN={name}"),
            "",
            &[ext],
            &csrs.join(format!("{name}.csr")),
        );
    }
    let before = snapshot(dir.path());
    let err = fails(
        sign_csr()
            .arg("--ca")
            .arg(&ca)
            .args(["--profile", "peer", "--csr"])
            .arg(&csrs),
    );
    let line = |name: &str, why: &str| {
        format!(
            "sign-csr: error: {}: refused: {why}",
            csrs.join(format!("{name}.csr")).display()
        )
    };
    assert!(
        err.contains(&line("signer", "asks for keyUsage keyCertSign")),
        "{err}"
    );
    assert!(
        err.contains(&line("uri", "asks for a URI subject alternative name")),
        "{err}"
    );
    assert!(
        err.contains("nothing was written: 2 of 3 CSRs refused"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

/// `--product` is read as the other tools read it; only kubeadm writes CSRs.
#[test]
fn products_without_csrs_and_unknown_products_are_refused_by_name() {
    let err = fails(sign_csr().args(["--product", "k3s"]));
    assert!(
        err.contains("--product k3s: only kubeadm writes CSRs to sign"),
        "{err}"
    );
    let err = fails(sign_csr().args(["--product", "kubeadmin"]));
    assert!(err.contains("unknown product \"kubeadmin\""), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// The subjectAltName of `names`, each a dNSName of exactly these bytes, in
/// openssl's `DER:` syntax: names openssl's own syntax cannot spell (a NUL,
/// a newline, an empty name) go into a correctly self-signed CSR.
fn dns_names_der(names: &[&[u8]]) -> String {
    let mut body = Vec::new();
    for name in names {
        assert!(name.len() < 128);
        body.push(0x82);
        body.push(u8::try_from(name.len()).unwrap());
        body.extend_from_slice(name);
    }
    assert!(body.len() < 128);
    let mut der = vec![0x30, u8::try_from(body.len()).unwrap()];
    der.extend(body);
    let hex: String = der.iter().map(|b| format!("{b:02X}")).collect();
    format!("subjectAltName=DER:{hex}")
}

/// A P-256 CSR in `dir` for `/CN=<name>` with the dNSNames `names`.
fn csr_with_names(dir: &Path, name: &str, names: &[&[u8]]) -> PathBuf {
    let key_path = dir.join(format!("{name}.key"));
    if !key_path.exists() {
        key(&key_path, KeyKind::P256);
    }
    let path = dir.join(format!("{name}.csr"));
    csr(
        &key_path,
        &format!("/CN={name}"),
        "",
        &[&dns_names_der(names)],
        &path,
    );
    path
}

fn generic(ca: &Path, profile: &str, csr: &Path) -> Command {
    let mut cmd = sign_csr();
    cmd.arg("--ca")
        .arg(ca)
        .args(["--profile", profile, "--csr"])
        .arg(csr);
    cmd
}

/// DNS names follow the preferred name syntax (RFC 5280 4.2.1.6, RFC 1034 as
/// RFC 1123 relaxed it), a wildcard only as the whole leftmost label over two
/// labels or more: each other name is refused in one line naming the CSR and
/// the name, escaped, and nothing is written. What is signed is what Go
/// verifies and pkilint passes (its PKIX linter calls every wildcard invalid
/// syntax; Go and the CA/Browser Forum accept `*.example.com`).
#[test]
fn dns_names_outside_the_preferred_name_syntax_are_refused_naming_csr_and_name() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = dir.path().join("csrs");
    fs::create_dir_all(&csrs).unwrap();
    let bad: [(&[u8], &str); 12] = [
        (b"good.example\0.evil.com", "good.example\\u{0}.evil.com"),
        (b"", ""),
        (b"*", "*"),
        (b"*.*.com", "*.*.com"),
        (b"a.*.com", "a.*.com"),
        (b"*.com", "*.com"),
        (b"has space.example", "has space.example"),
        (b"new\nline.example", "new\\nline.example"),
        (b"esc\x1b[31m.example", "esc\\u{1b}[31m.example"),
        (b".", "."),
        (b"example.com.", "example.com."),
        (b"-a.example", "-a.example"),
    ];
    for (i, (name, shown)) in bad.iter().enumerate() {
        let one = dir.path().join(format!("one-{i}"));
        fs::create_dir_all(&one).unwrap();
        let path = csr_with_names(&one, "bad", &[b"ok.example.com", name]);
        let snap = snapshot(dir.path());
        let err = fails(&mut generic(&ca, "server", &path));
        let line = format!(
            "sign-csr: error: {}: refused: asks for the DNS name \"{shown}\", which is not a host name: ",
            path.display()
        );
        assert!(err.contains(&line), "{shown}: {err}");
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(!err.contains('\x1b') && !err.contains('\0'), "{err:?}");
        assert_eq!(snapshot(dir.path()), snap);
    }
    // What is accepted: a single label, a wildcard over two labels, an A-label.
    let good = csr_with_names(
        &csrs,
        "good",
        &[
            b"kubernetes",
            b"*.apps.example.com",
            b"xn--bcher-kva.example",
        ],
    );
    ok(&mut generic(&ca, "server", &good));
    let cert = good.with_extension("crt");
    verify(&cert, &ca.with_extension("crt"), &["server"]);
    assert_eq!(
        strings(field(&describe_certs(&cert)[0], "dns_names")),
        ["kubernetes", "*.apps.example.com", "xn--bcher-kva.example"]
    );
    assert_eq!(lint(&cert), "");
}

/// A DER TLV: `tag`, the length of `content`, `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut der = vec![tag];
    let len = content.len();
    if len < 128 {
        der.push(u8::try_from(len).unwrap());
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | u8::try_from(bytes.len()).unwrap());
        der.extend(bytes);
    }
    der.extend_from_slice(content);
    der
}

/// The TLVs inside the DER `seq` (a SEQUENCE's contents), each whole.
fn children(seq: &[u8]) -> Vec<&[u8]> {
    let (mut rest, mut out) = (seq, Vec::new());
    while !rest.is_empty() {
        let (head, len) = match rest[1] {
            n if n < 128 => (2, usize::from(n)),
            n => {
                let k = usize::from(n & 0x7f);
                (
                    2 + k,
                    rest[2..2 + k]
                        .iter()
                        .fold(0, |a, b| a << 8 | usize::from(*b)),
                )
            }
        };
        out.push(&rest[..head + len]);
        rest = &rest[head + len..];
    }
    out
}

/// The contents of the TLV `der`.
fn contents(der: &[u8]) -> &[u8] {
    let head = if der[1] < 128 {
        2
    } else {
        2 + usize::from(der[1] & 0x7f)
    };
    &der[head..]
}

/// A CSR whose subject is `rdns` (each an attribute OID's DER bytes and a
/// UTF8String value), self-signed with the P-256 `key_path` (ECDSA with
/// SHA-256, by openssl): subjects openssl refuses to write (longer than
/// RFC 5280's bounds) in a request whose signature verifies.
fn csr_with_subject(key_path: &Path, rdns: &[(&[u8], &str)], out: &Path) {
    let template = out.with_extension("template");
    csr(key_path, "/CN=x", "", &[], &template);
    ok(openssl()
        .args(["req", "-outform", "DER", "-in"])
        .arg(&template)
        .arg("-out")
        .arg(out.with_extension("der")));
    let whole = fs::read(out.with_extension("der")).unwrap();
    let info = children(contents(&whole))[0].to_vec();
    let parts = children(contents(&info));
    let mut name = Vec::new();
    for (oid, value) in rdns {
        let atv = tlv(
            0x30,
            &[tlv(0x06, oid), tlv(0x0c, value.as_bytes())].concat(),
        );
        name.extend(tlv(0x31, &atv));
    }
    let info = tlv(
        0x30,
        &[parts[0], &tlv(0x30, &name), parts[2], &tlv(0xa0, &[])].concat(),
    );
    let info_path = out.with_extension("info");
    fs::write(&info_path, &info).unwrap();
    let sig_path = out.with_extension("sig");
    ok(openssl()
        .args(["dgst", "-sha256", "-sign"])
        .arg(key_path)
        .arg("-out")
        .arg(&sig_path)
        .arg(&info_path));
    let signature = [&[0u8][..], &fs::read(&sig_path).unwrap()].concat();
    let ecdsa_sha256 = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let csr_der = tlv(0x30, &[info, ecdsa_sha256, tlv(0x03, &signature)].concat());
    let der_path = out.with_extension("der");
    fs::write(&der_path, csr_der).unwrap();
    ok(openssl()
        .args(["req", "-inform", "DER", "-in"])
        .arg(&der_path)
        .arg("-out")
        .arg(out));
    for ext in ["template", "der", "info", "sig"] {
        fs::remove_file(out.with_extension(ext)).unwrap();
    }
}

/// Subject attributes within RFC 5280's upper bounds (openssl writes none
/// longer): a 65-character CN or OU is refused, naming the attribute and the
/// bound; a 64-character CN is signed, and pkilint passes it.
#[test]
fn subject_attributes_longer_than_rfc_5280_allows_are_refused() {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    let dir = scratch();
    let ca = k3s_client_ca(dir.path());
    let key_path = dir.path().join("k.key");
    key(&key_path, KeyKind::P256);
    let long = dir.path().join("long.csr");
    csr_with_subject(&key_path, &[(CN, &"a".repeat(65))], &long);
    ok(openssl()
        .args(["req", "-verify", "-noout", "-in"])
        .arg(&long));
    let before = snapshot(dir.path());
    let err = fails(&mut generic(&ca, "client", &long));
    assert!(
        err.contains(&format!(
            "{}: refused: its subject's CN is 65 characters long; RFC 5280 allows 64",
            long.display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
    let ou = dir.path().join("ou.csr");
    csr_with_subject(&key_path, &[(OU, &"b".repeat(65)), (CN, "y")], &ou);
    let err = fails(&mut generic(&ca, "client", &ou));
    assert!(
        err.contains("its subject's OU is 65 characters long"),
        "{err}"
    );
    let fits = dir.path().join("fits.csr");
    csr_with_subject(&key_path, &[(CN, &"é".repeat(64))], &fits);
    ok(&mut generic(&ca, "client", &fits));
    assert_eq!(lint(&fits.with_extension("crt")), "");
}

/// A plan never writes over a file the run reads, however the path is
/// spelled: compared by device and inode, refused before anything is
/// written, naming the output and the input's role.
#[test]
fn outputs_that_are_inputs_are_refused_naming_both_roles() {
    let dir = scratch();
    let server_ca = k3s_server_ca(dir.path());
    // The CA, and a requester's ca.csr, in one directory.
    let shared = dir.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::copy(server_ca.with_extension("crt"), shared.join("ca.crt")).unwrap();
    fs::copy(server_ca.with_extension("key"), shared.join("ca.key")).unwrap();
    let requester = dir.path().join("requester.key");
    key(&requester, KeyKind::P256);
    csr(
        &requester,
        "/CN=ca",
        "DNS:ca.example.com",
        &[],
        &shared.join("ca.csr"),
    );
    let ca = shared.join("ca");
    let before = snapshot(dir.path());
    let err = fails(&mut generic(&ca, "server", &shared));
    assert!(
        err.contains(&format!(
            "sign-csr: error: {} is the CA certificate this run reads: nothing was written",
            shared.join("ca.crt").display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(snapshot(dir.path()), before);
    // --csr . from inside the directory.
    let err = fails(generic(Path::new("ca"), "server", Path::new(".")).current_dir(&shared));
    assert!(
        err.contains("ca.crt is the CA certificate this run reads"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
    // --out is the CA's directory.
    let csrs = dir.path().join("csrs");
    fs::create_dir_all(&csrs).unwrap();
    fs::copy(shared.join("ca.csr"), csrs.join("ca.csr")).unwrap();
    let before = snapshot(dir.path());
    let err = fails(generic(&ca, "server", &csrs).arg("--out").arg(&shared));
    assert!(
        err.contains("ca.crt is the CA certificate this run reads"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
    // A symbolic link to the CA key and a hard link to the CSR, as outputs.
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(shared.join("ca.key"), out.join("ca.crt")).unwrap();
    let before = snapshot(dir.path());
    let err = fails(generic(&ca, "server", &csrs).arg("--out").arg(&out));
    assert!(
        err.contains(&format!(
            "{} is the CA key this run reads",
            out.join("ca.crt").display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
    let single = csrs.join("ca.csr");
    let linked = dir.path().join("linked.crt");
    fs::hard_link(&single, &linked).unwrap();
    let before = snapshot(dir.path());
    let err = fails(generic(&ca, "server", &single).arg("--out").arg(&linked));
    assert!(
        err.contains(&format!("{} is a CSR this run reads", linked.display())),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
    // The passphrase file as the output.
    let password = dir.path().join("password");
    fs::write(&password, "unused\n").unwrap();
    fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let err = fails(
        generic(&ca, "server", &single)
            .arg("--out")
            .arg(&password)
            .arg("--password-file")
            .arg(&password),
    );
    assert!(
        err.contains(&format!(
            "{} is the passphrase file this run reads",
            password.display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

/// CSR file names and what the CSRs hold reach the report escaped: a file
/// named with a newline and an escape sequence neither forges a line nor
/// colours the terminal, signed or refused.
#[test]
fn csr_names_cannot_forge_report_lines_or_drive_the_terminal() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = dir.path().join("csrs");
    fs::create_dir_all(&csrs).unwrap();
    let hostile = "a\nsign-csr: error: forged\x1b[31m.csr";
    let key_path = dir.path().join("h.key");
    key(&key_path, KeyKind::P256);
    csr(
        &key_path,
        "/CN=h",
        "DNS:h.example.com",
        &[],
        &csrs.join(hostile),
    );
    let out = ok(&mut generic(&ca, "server", &csrs));
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(
        !out.lines()
            .any(|l| l.starts_with("sign-csr: error: forged")),
        "{out}"
    );
    assert!(
        out.contains("a\\nsign-csr: error: forged\\u{1b}[31m.csr"),
        "{out}"
    );
    // Refused: one line for the CSR, one for the count.
    fs::write(csrs.join(hostile), "not a CSR").unwrap();
    let err = fails(&mut generic(&ca, "server", &csrs));
    assert!(!err.contains('\x1b'), "{err:?}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        !err.lines()
            .any(|l| l.starts_with("sign-csr: error: forged")),
        "{err}"
    );
}

/// A batch that runs longer than a second shows its progress on a terminal
/// (script(1) gives one), one line rewritten in place and erased at the end;
/// the same run with stderr not a terminal prints no progress. Each CSR is
/// made slow by strace delaying every open by 10 ms, so the batch runs
/// for seconds on any machine.
#[test]
fn a_long_batch_shows_progress_on_a_terminal_and_nothing_elsewhere() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = dir.path().join("csrs");
    ok(gocheck()
        .args(["csrs", "--count", "400", "--rsa-keys", "2", "--out"])
        .arg(&csrs));
    let slow = format!(
        "strace -f -o /dev/null -e trace=open,openat -e inject=open,openat:delay_exit=10000 {} \
         --ca {} --profile server --dry-run --csr {}",
        env!("CARGO_BIN_EXE_sign-csr"),
        ca.display(),
        csrs.display()
    );
    let on_terminal = Command::new("script")
        .args(["-qefc", &slow, "/dev/null"])
        .env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .output()
        .expect("script(1), from Debian's bsdutils");
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    let head: String = screen.chars().take(600).collect();
    assert!(on_terminal.status.success(), "{head}");
    assert!(
        screen.contains("\rsign-csr: checked and signed ") && screen.contains(" of 400 CSRs"),
        "{screen:?}"
    );
    assert!(
        screen.contains("\r\x1b[K"),
        "the progress line is not erased: {screen:?}"
    );
    assert!(screen.contains("would sign 400 CSR(s)"), "{screen}");
    let piped = Command::new("sh")
        .args(["-c", &slow])
        .env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .output()
        .unwrap();
    assert!(piped.status.success());
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !err.contains("checked and signed") && !err.contains('\r'),
        "{err:?}"
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("would sign 400 CSR(s)"));
}

/// CSRs self-signed with SHA-1 (RSA and ECDSA on P-256 and P-384) are signed,
/// as Go's `CertificateRequest.CheckSignature` (`gocheck csr-check`) and
/// `openssl req -verify` take them; the certificate itself is signed with SHA-256 and Go verifies it. A
/// SHA-1 signature that does not verify is refused.
#[test]
fn csrs_self_signed_with_sha1_are_accepted_as_go_accepts_them() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let csrs = dir.path().join("csrs");
    fs::create_dir_all(&csrs).unwrap();
    for (name, kind) in [
        ("rsa", KeyKind::Rsa(2048)),
        ("p256", KeyKind::P256),
        ("p384", KeyKind::P384),
    ] {
        let key_path = dir.path().join(format!("{name}.key"));
        key(&key_path, kind);
        let path = csrs.join(format!("{name}.csr"));
        ok(openssl()
            .args(["req", "-new", "-sha1", "-key"])
            .arg(&key_path)
            .args(["-subj", &format!("/CN={name}")])
            .args(["-addext", &format!("subjectAltName=DNS:{name}.example.com")])
            .arg("-out")
            .arg(&path));
        ok(openssl()
            .args(["req", "-verify", "-noout", "-in"])
            .arg(&path));
        let go = ok(gocheck().arg("csr-check").arg(&path));
        assert!(go.contains("SHA1"), "{go}");
    }
    let out = ok(&mut generic(&ca, "server", &csrs));
    assert!(out.contains("signed 3 CSR(s)"), "{out}");
    for name in ["rsa", "p256", "p384"] {
        let cert = csrs.join(format!("{name}.crt"));
        verify(&cert, &ca.with_extension("crt"), &["server"]);
        let text = ok(openssl()
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&cert));
        assert!(
            text.contains("Signature Algorithm: ecdsa-with-SHA256"),
            "{text}"
        );
    }
    // The RSA request with its signature altered.
    let path = csrs.join("rsa.csr");
    let der = path.with_extension("der");
    ok(openssl()
        .args(["req", "-outform", "DER", "-in"])
        .arg(&path)
        .arg("-out")
        .arg(&der));
    let mut bytes = fs::read(&der).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x55;
    fs::write(&der, bytes).unwrap();
    ok(openssl()
        .args(["req", "-inform", "DER", "-in"])
        .arg(&der)
        .arg("-out")
        .arg(&path));
    fs::remove_file(der).unwrap();
    let err = fails(&mut generic(&ca, "server", &path));
    assert!(
        err.contains(&format!(
            "{}: refused: its signature does not verify",
            path.display()
        )),
        "{err}"
    );
    let go = gocheck().arg("csr-check").arg(&path).output().unwrap();
    assert!(!go.status.success(), "Go takes the altered request");
}

/// Issue 18: CSRs self-signed with RSASSA-PSS (`openssl req -sigopt
/// rsa_padding_mode:pss`) are signed when Go's `CheckSignature` takes them (a
/// salt as long as the hash), and refused in words when it does not
/// (openssl's default maximal salt), as `gocheck csr-check` judges each.
#[test]
fn csrs_self_signed_with_rsa_pss_are_judged_as_go_judges_them() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let key_path = dir.path().join("pss.key");
    key(&key_path, KeyKind::Rsa(2048));
    let request = |name: &str, sigopts: &[&str]| {
        let path = dir.path().join(format!("{name}.csr"));
        let mut cmd = openssl();
        cmd.args(["req", "-new", "-sha256", "-key"])
            .arg(&key_path)
            .args(["-subj", &format!("/CN={name}")])
            .args(["-addext", &format!("subjectAltName=DNS:{name}.example.com")]);
        for opt in sigopts {
            cmd.args(["-sigopt", opt]);
        }
        ok(cmd.arg("-out").arg(&path));
        path
    };
    let go_shape = request(
        "pss-go",
        &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"],
    );
    let max_salt = request("pss-max", &["rsa_padding_mode:pss", "rsa_pss_saltlen:max"]);
    ok(gocheck().arg("csr-check").arg(&go_shape));
    let out = ok(&mut generic(&ca, "server", &go_shape));
    assert!(out.contains("signed 1 CSR(s)"), "{out}");
    verify(
        &go_shape.with_extension("crt"),
        &ca.with_extension("crt"),
        &["server"],
    );
    let go = gocheck().arg("csr-check").arg(&max_salt).output().unwrap();
    assert!(!go.status.success(), "Go takes the maximal salt");
    let err = fails(&mut generic(&ca, "server", &max_salt));
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        err.contains("RSASSA-PSS") && err.contains("222-byte salt"),
        "{err}"
    );
    assert!(!max_salt.with_extension("crt").exists());
}

/// Issue 18: the CA sign-csr signs with meets the rules gen-custom-ca's inputs
/// meet: an RSA-1024 CA (which openssl clients at Debian's default security
/// level refuse in any chain) is refused, naming the file and the size.
#[test]
fn a_ca_with_an_rsa_1024_key_does_not_sign() {
    let dir = scratch();
    ca(dir.path(), "weak", "Weak CA", KeyKind::Rsa(1024), 365);
    let csrs = csr_dir(dir.path(), 1);
    let err = fails(&mut generic(&dir.path().join("weak"), "server", &csrs));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("weak.crt") && err.contains("RSA-1024") && err.contains("2048 to 8192"),
        "{err}"
    );
    let written = fs::read_dir(&csrs)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "crt")
        })
        .count();
    assert_eq!(written, 0);
}

/// `sign-csr --ca <ca> --profile <profile> --csr <csr>` with `flags`: its exit
/// status and stderr.
fn sign_with(ca: &Path, profile: &str, csr: &Path, flags: &[&str]) -> (bool, String) {
    let out = generic(ca, profile, csr).args(flags).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What sign-csr says when it refuses the one CSR `csr` for `why`.
fn refusal_of(csr: &Path, why: &str) -> String {
    format!(
        "sign-csr: error: {}: {why}\nsign-csr: nothing was written: 1 of 1 CSRs refused\n",
        csr.display()
    )
}

/// Seed 001's approver checks for a kubelet serving CSR: the common name, the
/// addresses and the DNS names. What is signed verifies for serverAuth (Go,
/// openssl) and lints clean; each other CSR is refused in one line naming it
/// and what is wrong, and nothing is written.
#[test]
fn kubelet_serving_csrs_carry_the_nodes_identity_and_only_its_names() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let node_key = dir.path().join("node.key");
    key(&node_key, KeyKind::P256);
    let node = "/O=system:nodes/CN=system:node:worker-1";
    let subnet = ["--allow-san", "10.0.0.0/24"];

    let good = dir.path().join("good.csr");
    csr(&node_key, node, "DNS:worker-1,IP:10.0.0.21", &[], &good);
    let (signed, err) = sign_with(&ca, "kubelet-serving", &good, &subnet);
    assert!(signed, "{err}");
    let cert = good.with_extension("crt");
    verify(&cert, &ca.with_extension("crt"), &["server"]);
    let described = &describe_certs(&cert)[0];
    assert_eq!(
        field(described, "subject"),
        "CN=system:node:worker-1,O=system:nodes"
    );
    assert_eq!(strings(field(described, "ext_key_usage")), ["serverAuth"]);

    let before = snapshot(dir.path());
    for (name, subject, sans, flags, why) in [
        (
            "foreign",
            node,
            "DNS:worker-1,DNS:kubernetes.default.svc,IP:10.96.0.1,DNS:*.google.com",
            &subnet[..],
            "refused: asks for DNS kubernetes.default.svc, IP 10.96.0.1, DNS *.google.com, \
             not in what this signer allows (the node's own name, DNS worker-1, IP \
             10.0.0.0/24); if they are the requester's, add them with --allow-san",
        ),
        (
            "other-node",
            "/O=system:nodes/CN=system:node:worker-2",
            "DNS:worker-1",
            &[],
            "refused: asks for DNS worker-1, not in what this signer allows (the node's own \
             name, DNS worker-2, no --allow-san given); if they are the requester's, add \
             them with --allow-san",
        ),
        (
            "not-a-node",
            "/O=system:nodes/CN=worker-1",
            "DNS:worker-1",
            &[],
            "refused: subject is \"CN=worker-1,O=system:nodes\", expected \
             \"CN=system:node:<node name>,O=system:nodes\"",
        ),
        (
            "masters",
            "/O=system:masters/CN=system:node:worker-1",
            "DNS:worker-1",
            &[],
            "refused: subject is \"CN=system:node:worker-1,O=system:masters\", expected \
             \"CN=system:node:<node name>,O=system:nodes\"",
        ),
        (
            "nameless",
            node,
            "",
            &[],
            "refused: asks for a serving certificate without a subject alternative name: \
             clients (Go since 1.15, browsers) ignore the CN; ask for the names clients \
             connect to",
        ),
    ] {
        let path = dir.path().join(format!("{name}.csr"));
        csr(&node_key, subject, sans, &[], &path);
        let before_csr = snapshot(dir.path());
        let (signed, err) = sign_with(&ca, "kubelet-serving", &path, flags);
        assert!(!signed, "{name}: signed");
        assert_eq!(err, refusal_of(&path, why), "{name}");
        assert_eq!(snapshot(dir.path()), before_csr, "{name}");
    }
    // The kubelet's client certificate: the same identity, no names.
    let client_ca = k3s_client_ca(dir.path());
    let client = dir.path().join("client.csr");
    csr(&node_key, node, "DNS:worker-1", &[], &client);
    let (signed, err) = sign_with(&client_ca, "kubelet-client", &client, &[]);
    assert!(signed, "{err}");
    assert!(err.contains("a client certificate carries no names; dropped DNS worker-1"));
    verify(
        &client.with_extension("crt"),
        &client_ca.with_extension("crt"),
        &["client"],
    );
    let plain = dir.path().join("plain.csr");
    csr(&node_key, "/CN=alice", "", &[], &plain);
    let (signed, err) = sign_with(&client_ca, "kubelet-client", &plain, &[]);
    assert!(
        !signed && err.contains("expected \"CN=system:node:<node name>"),
        "{err}"
    );
    drop(before);
}

/// In the generic mode `--allow-san` is an allow-list (a name, `*.domain`,
/// an address, a network), and a serving certificate needs a name.
#[test]
fn the_server_profile_keeps_to_the_allow_list_and_needs_a_name() {
    let dir = scratch();
    let ca = k3s_server_ca(dir.path());
    let key_path = dir.path().join("k.key");
    key(&key_path, KeyKind::P256);
    let apps = [
        "--allow-san",
        "*.apps.example.com",
        "--allow-san",
        "192.0.2.0/28",
    ];
    let shop = dir.path().join("shop.csr");
    csr(
        &key_path,
        "/CN=shop",
        "DNS:shop.apps.example.com,IP:192.0.2.5",
        &[],
        &shop,
    );
    let (signed, err) = sign_with(&ca, "server", &shop, &apps);
    assert!(signed, "{err}");
    verify(
        &shop.with_extension("crt"),
        &ca.with_extension("crt"),
        &["server"],
    );
    for (name, sans, refused) in [
        (
            "deep",
            "DNS:a.shop.apps.example.com",
            "DNS a.shop.apps.example.com",
        ),
        (
            "outside",
            "DNS:shop.apps.example.com,IP:192.0.2.16",
            "IP 192.0.2.16",
        ),
    ] {
        let path = dir.path().join(format!("{name}.csr"));
        csr(&key_path, "/CN=shop", sans, &[], &path);
        let (signed, err) = sign_with(&ca, "server", &path, &apps);
        assert!(!signed, "{name}");
        assert_eq!(
            err,
            refusal_of(
                &path,
                &format!(
                    "refused: asks for {refused}, not in what this signer allows (DNS \
                     *.apps.example.com, IP 192.0.2.0/28); if they are the requester's, add \
                     them with --allow-san"
                )
            )
        );
        assert!(!path.with_extension("crt").exists());
    }
    // Without an allow-list the names are the requester's, but there must be one.
    let nameless = dir.path().join("nameless.csr");
    csr(&key_path, "/CN=shop.apps.example.com", "", &[], &nameless);
    let (signed, err) = sign_with(&ca, "server", &nameless, &[]);
    assert!(
        !signed && err.contains("without a subject alternative name"),
        "{err}"
    );
    let (signed, err) = sign_with(&ca, "server", &shop, &["--allow-san", "10.0.0.0/33"]);
    assert!(
        !signed && err.contains("the prefix length must be 0 to 32"),
        "{err}"
    );
}

/// system:masters bypasses RBAC for as long as the certificate lives: signed
/// only with --allow-super-user, and then with a warning.
#[test]
fn a_super_user_group_needs_the_explicit_flag_and_is_warned_even_then() {
    let dir = scratch();
    let ca = k3s_client_ca(dir.path());
    let key_path = dir.path().join("k.key");
    key(&key_path, KeyKind::P256);
    for group in ["system:masters", "kubeadm:cluster-admins"] {
        let path = dir.path().join(format!("{}.csr", group.replace(':', "-")));
        csr(
            &key_path,
            &format!("/O=dev/O={group}/CN=alice"),
            "",
            &[],
            &path,
        );
        let before = snapshot(dir.path());
        let (signed, err) = sign_with(&ca, "client", &path, &[]);
        assert!(!signed, "{group}");
        assert!(
            err.starts_with(&format!(
                "sign-csr: error: {}: refused: asks for O={group}, which ",
                path.display()
            )) && err.ends_with(
                ": refused without --allow-super-user (give people their own groups and RBAC \
                 bindings instead)\nsign-csr: nothing was written: 1 of 1 CSRs refused\n"
            ),
            "{err}"
        );
        assert_eq!(snapshot(dir.path()), before);
        let (signed, err) = sign_with(&ca, "client", &path, &["--allow-super-user"]);
        assert!(signed, "{err}");
        assert!(
            err.contains(&format!("signed with O={group}, which "))
                && err.contains("(--allow-super-user): keep it short-lived"),
            "{err}"
        );
    }
}

/// k3s #7016: a client certificate from server-ca is "Unauthorized"; a
/// serving one from client-ca is trusted by nobody. Refused naming the right
/// CA, nothing written.
#[test]
fn on_k3s_each_profile_is_signed_by_its_own_ca() {
    let dir = scratch();
    let server_ca = k3s_server_ca(dir.path());
    let client_ca = k3s_client_ca(dir.path());
    let key_path = dir.path().join("k.key");
    key(&key_path, KeyKind::P256);
    let path = dir.path().join("x.csr");
    csr(&key_path, "/CN=x", "DNS:x.example.com", &[], &path);
    let before = snapshot(dir.path());
    for (ca, profile, why) in [
        (
            &server_ca,
            "client",
            "is the cluster's server-ca, but the API server trusts only client-ca for client \
             certificates and answers \"Unauthorized\" (k3s #7016): sign --profile client with \
             --ca <tls dir>/client-ca",
        ),
        (
            &client_ca,
            "server",
            "is the cluster's client-ca, but agents, kubelets and kubectl trust only server-ca \
             for serving certificates: sign --profile server with --ca <tls dir>/server-ca",
        ),
    ] {
        let (signed, err) = sign_with(ca, profile, &path, &[]);
        assert!(!signed, "{profile}");
        assert_eq!(
            err,
            format!(
                "sign-csr: error: {}: {why}\n",
                ca.with_extension("crt").display()
            )
        );
        assert_eq!(snapshot(dir.path()), before);
    }
}

/// A CertificateSigningRequest as `kubectl get csr -o json` lists it: the
/// request `csr` for `signer`, asked by `username` in `groups`, with
/// `usages`, approved unless `condition` says otherwise.
fn csr_object(
    name: &str,
    csr: &Path,
    signer: &str,
    username: &str,
    groups: &[&str],
    usages: &[&str],
    condition: &str,
) -> Json {
    use base64ct::Encoding as _;
    serde_json::json!({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {
            "name": name,
            "creationTimestamp": "2026-12-06T01:00:00Z",
            "resourceVersion": "4711",
            "uid": "0b4a7cde-1111-4222-8333-944455556666",
        },
        "spec": {
            "groups": groups,
            "request": base64ct::Base64::encode_string(&fs::read(csr).unwrap()),
            "signerName": signer,
            "usages": usages,
            "username": username,
        },
        "status": {
            "conditions": [{
                "lastTransitionTime": "2026-12-06T01:01:00Z",
                "lastUpdateTime": "2026-12-06T01:01:00Z",
                "message": "approved by the test",
                "reason": "KubectlApprove",
                "status": "True",
                "type": condition,
            }],
        },
    })
}

/// `kubernetes-validate --strict` (Kubernetes' OpenAPI schemas, offline):
/// what the API server's decoder would take as certificates.k8s.io/v1.
fn assert_valid_k8s_object(file: &Path) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .arg(file)
        .output()
        .expect("running kubernetes-validate (scripts/test installs it from PyPI)");
    assert!(out.status.success(), "{}: {out:?}", file.display());
}

/// Issue 22's list: a valid kubelet-serving CSR and a client CSR are signed;
/// one with a foreign SAN, one whose CN is not the requesting node's, one
/// not approved and one denied are refused with their reasons and not
/// written. What is written is certificates.k8s.io/v1 as Kubernetes' schema
/// has it, and its certificate verifies for the usage its signer gives.
#[test]
fn kubernetes_csr_objects_are_signed_by_their_signers_rules() {
    let dir = scratch();
    let pki = dir.path().join("pki");
    fs::create_dir_all(&pki).unwrap();
    ca(&pki, "ca", "kubernetes", KeyKind::P256, 3650);
    let node_key = dir.path().join("node.key");
    key(&node_key, KeyKind::P256);
    let node = "/O=system:nodes/CN=system:node:worker-1";
    let request = |name: &str, subject: &str, sans: &str| {
        let path = dir.path().join(format!("{name}.csr"));
        csr(&node_key, subject, sans, &[], &path);
        path
    };
    let serving = "kubernetes.io/kubelet-serving";
    let client = "kubernetes.io/kube-apiserver-client";
    let node_groups = ["system:nodes", "system:authenticated"];
    let serving_usages = ["digital signature", "server auth"];
    let client_usages = ["digital signature", "client auth"];
    let items = vec![
        csr_object(
            "csr-good",
            &request("good", node, "DNS:worker-1,IP:10.0.0.21"),
            serving,
            "system:node:worker-1",
            &node_groups,
            &serving_usages,
            "Approved",
        ),
        csr_object(
            "csr-foreign",
            &request("foreign", node, "DNS:worker-1,DNS:kubernetes.default.svc"),
            serving,
            "system:node:worker-1",
            &node_groups,
            &serving_usages,
            "Approved",
        ),
        csr_object(
            "csr-other-node",
            &request("other", node, "DNS:worker-1"),
            serving,
            "system:node:worker-2",
            &node_groups,
            &serving_usages,
            "Approved",
        ),
        csr_object(
            "csr-alice",
            &request("alice", "/O=dev/CN=alice", ""),
            client,
            "kubernetes-admin",
            &["kubeadm:cluster-admins", "system:authenticated"],
            &client_usages,
            "Approved",
        ),
        csr_object(
            "csr-pending",
            &request("pending", "/O=dev/CN=bob", ""),
            client,
            "kubernetes-admin",
            &["system:authenticated"],
            &client_usages,
            "Failed",
        ),
        csr_object(
            "csr-denied",
            &request("denied", "/O=dev/CN=eve", ""),
            client,
            "kubernetes-admin",
            &["system:authenticated"],
            &client_usages,
            "Denied",
        ),
    ];
    let list = dir.path().join("csrs.json");
    let document = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": items,
    });
    fs::write(&list, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    let out_dir = dir.path().join("signed");
    fs::create_dir(&out_dir).unwrap();
    let out = sign_csr()
        .arg("--ca")
        .arg(pki.join("ca"))
        .arg("--k8s-csr")
        .arg(&list)
        .arg("--out")
        .arg(&out_dir)
        .args(["--allow-san", "10.0.0.0/24"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let at = |name: &str| format!("sign-csr: {} (CSR {name}): refused: ", list.display());
    let expected = [
        format!(
            "{}asks for DNS kubernetes.default.svc, not in what this signer allows (the \
             node's own name, DNS worker-1, IP 10.0.0.0/24); if they are the requester's, add \
             them with --allow-san",
            at("csr-foreign")
        ),
        format!(
            "{}requested by \"system:node:worker-2\", not by the node it names \
             (\"system:node:worker-1\" in group system:nodes)",
            at("csr-other-node")
        ),
        format!(
            "{}it was denied or failed in the cluster",
            at("csr-pending")
        ),
        format!("{}it was denied or failed in the cluster", at("csr-denied")),
        "sign-csr: 4 of 6 CSR objects refused and not written".to_string(),
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected, "{stderr}");
    assert_eq!(
        testkit::file_names(&out_dir),
        ["csr-alice.signed.json", "csr-good.signed.json"]
    );
    let ca_cert = pki.join("ca.crt");
    for (name, usage, subject) in [
        (
            "csr-good",
            "server",
            "CN=system:node:worker-1,O=system:nodes",
        ),
        ("csr-alice", "client", "CN=alice,O=dev"),
    ] {
        let file = out_dir.join(format!("{name}.signed.json"));
        assert_valid_k8s_object(&file);
        let signed: Json = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        let original = items
            .iter()
            .find(|item| item["metadata"]["name"] == name)
            .unwrap();
        // Everything as read, the certificate added.
        let mut without = signed.clone();
        without["status"]
            .as_object_mut()
            .unwrap()
            .remove("certificate");
        assert_eq!(&without, original, "{name}");
        let cert = dir.path().join(format!("{name}.crt"));
        testkit::decode_base64_to(signed["status"]["certificate"].as_str().unwrap(), &cert);
        verify(&cert, &ca_cert, &[usage]);
        assert_eq!(field(&describe_certs(&cert)[0], "subject"), subject);
        assert!(
            stdout.contains(&format!(
                "  kubectl replace --raw \
                 /apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status -f {}\n",
                file.display()
            )),
            "{stdout}"
        );
    }
    // One object that is not approved yet: the order to follow.
    let pending = dir.path().join("pending.json");
    let mut object = csr_object(
        "csr-new",
        &dir.path().join("alice.csr"),
        client,
        "kubernetes-admin",
        &["system:authenticated"],
        &client_usages,
        "Approved",
    );
    object["status"] = serde_json::json!({});
    fs::write(&pending, object.to_string()).unwrap();
    let out = sign_csr()
        .arg("--ca")
        .arg(pki.join("ca"))
        .arg("--k8s-csr")
        .arg(&pending)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!(
            "sign-csr: {} (CSR csr-new): refused: it is not approved: approve it in the cluster \
             (kubectl certificate approve csr-new), then export it again",
            pending.display()
        )),
        "{out:?}"
    );
    assert!(!dir.path().join("csr-new.signed.json").exists());
}
