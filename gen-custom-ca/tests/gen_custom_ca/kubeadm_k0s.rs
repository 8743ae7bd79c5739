//! `gen-custom-ca --product kubeadm|k0s` against KUBEADM-K0S-CONTRACT.md
//! (sections 1, 2, 4 and 8), judged by openssl, Go's crypto/x509 (`gocheck`)
//! and pkilint: the file set, one certificate per `.crt`, key encodings,
//! `sa.pub`, the discovery hash, and the leaves kubeadm and k0s issue from each
//! CA verifying for a client that trusts only the root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{
    Json, describe_certs, describe_keys, fails, file_names, gocheck, mode, ok, openssl,
    pkilint_errors, scratch, snapshot, status,
};

fn tool(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

fn text(cert: &Json, name: &str) -> String {
    cert[name].as_str().unwrap_or_default().to_string()
}

/// One certificate a distribution issues, as the contract lists it.
pub(crate) struct Leaf {
    ca: &'static str,
    cn: &'static str,
    usage: &'static str,
    dns: &'static [&'static str],
    ips: &'static [&'static str],
}

const APISERVER_DNS: &[&str] = &[
    "cp-1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];
const ETCD_DNS: &[&str] = &["cp-1", "localhost"];
const ETCD_IPS: &[&str] = &["192.0.2.10", "127.0.0.1", "::1"];

/// Contract section 2: what kubeadm issues, with its SANs.
pub(crate) const KUBEADM_LEAVES: [Leaf; 8] = [
    Leaf {
        ca: "ca",
        cn: "kube-apiserver",
        usage: "server",
        dns: APISERVER_DNS,
        ips: &["10.96.0.1", "192.0.2.10"],
    },
    client("ca", "kube-apiserver-kubelet-client"),
    client("ca", "kubernetes-admin"),
    client("front-proxy-ca", "front-proxy-client"),
    Leaf {
        ca: "etcd/ca",
        cn: "cp-1",
        usage: "both",
        dns: ETCD_DNS,
        ips: ETCD_IPS,
    },
    Leaf {
        ca: "etcd/ca",
        cn: "cp-1-peer",
        usage: "both",
        dns: ETCD_DNS,
        ips: ETCD_IPS,
    },
    client("etcd/ca", "kube-etcd-healthcheck-client"),
    client("etcd/ca", "kube-apiserver-etcd-client"),
];

/// Contract section 8: what k0s issues (every leaf serverAuth + clientAuth).
pub(crate) const K0S_LEAVES: [Leaf; 5] = [
    Leaf {
        ca: "ca",
        cn: "kubernetes",
        usage: "both",
        dns: &[
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
        ],
        ips: &["127.0.0.1", "10.96.0.1"],
    },
    Leaf {
        ca: "ca",
        cn: "kubernetes-admin",
        usage: "both",
        dns: &[],
        ips: &[],
    },
    Leaf {
        ca: "front-proxy-ca",
        cn: "front-proxy-client",
        usage: "both",
        dns: &[],
        ips: &[],
    },
    Leaf {
        ca: "etcd/ca",
        cn: "etcd-server",
        usage: "both",
        dns: &["localhost"],
        ips: &["127.0.0.1"],
    },
    Leaf {
        ca: "etcd/ca",
        cn: "192.0.2.10",
        usage: "both",
        dns: &[],
        ips: &["192.0.2.10"],
    },
];

const fn client(ca: &'static str, cn: &'static str) -> Leaf {
    Leaf {
        ca,
        cn,
        usage: "client",
        dns: &[],
        ips: &[],
    }
}

/// Issues `leaf` from its CA in `pki` with Go, the CA certificate after it.
fn issue(pki: &Path, out: &Path, leaf: &Leaf) -> PathBuf {
    let file = format!("{}-{}", leaf.ca.replace('/', "-"), leaf.cn);
    let (cert, key) = (
        out.join(format!("{file}.crt")),
        out.join(format!("{file}.key")),
    );
    let mut cmd = gocheck();
    cmd.args(["issue", "--cn", leaf.cn, "--usage", leaf.usage, "--chain"])
        .arg("--ca-cert")
        .arg(pki.join(format!("{}.crt", leaf.ca)))
        .arg("--ca-key")
        .arg(pki.join(format!("{}.key", leaf.ca)))
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(&key);
    for name in leaf.dns {
        cmd.args(["--dns", name]);
    }
    for ip in leaf.ips {
        cmd.args(["--ip", ip]);
    }
    ok(&mut cmd);
    cert
}

/// Each leaf verifies with Go for each of its usages, for a client whose only
/// root is `root(ca)`, given `intermediates(ca)`; and with openssl.
pub(crate) fn assert_leaves_verify(
    pki: &Path,
    leaves: &[Leaf],
    root: impl Fn(&str) -> PathBuf,
    intermediates: impl Fn(&str) -> Vec<PathBuf>,
) {
    let work = scratch();
    for leaf in leaves {
        let cert = issue(pki, work.path(), leaf);
        let usages: &[&str] = match leaf.usage {
            "both" => &["server", "client"],
            one => std::slice::from_ref(match one {
                "server" => &"server",
                _ => &"client",
            }),
        };
        for usage in usages {
            let mut cmd = gocheck();
            cmd.args(["verify", "--usage", usage, "--roots"])
                .arg(root(leaf.ca));
            for file in intermediates(leaf.ca) {
                cmd.arg("--intermediates").arg(file);
            }
            ok(cmd.arg(&cert));
        }
        let mut cmd = openssl();
        cmd.args(["verify", "-CAfile"]).arg(root(leaf.ca));
        for file in intermediates(leaf.ca) {
            cmd.arg("-untrusted").arg(file);
        }
        let verified = ok(cmd.arg("-untrusted").arg(&cert).arg(&cert));
        assert!(verified.trim().ends_with(": OK"), "{verified}");
    }
}

/// The hash kubeadm's docs compute with openssl, for `ca.crt`.
fn openssl_discovery_hash(ca: &Path) -> String {
    let script = "openssl x509 -pubkey -noout -in \"$1\" | openssl pkey -pubin -outform der \
                  | openssl dgst -sha256 -hex";
    let out = ok(Command::new("sh").args(["-c", script, "sh"]).arg(ca));
    let hex = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(hex.len(), 64, "{out}");
    format!("sha256:{hex}")
}

/// What the contract asks of both distributions' sets, whatever the topology:
/// one certificate per `.crt`, the CNs, keys in the traditional encodings at
/// 0600, `sa.pub` = the public half of `sa.key`, pkilint clean.
fn assert_set(pki: &Path, cns: [&str; 3], key_label: &str) {
    for (stem, cn) in ["ca", "front-proxy-ca", "etcd/ca"].into_iter().zip(cns) {
        let crt = pki.join(format!("{stem}.crt"));
        let certs = describe_certs(&crt);
        assert_eq!(certs.len(), 1, "{stem}.crt holds exactly one certificate");
        assert_eq!(text(&certs[0], "subject"), format!("CN={cn}"), "{stem}");
        assert_eq!(certs[0]["is_ca"], true, "{stem}");
        let key = pki.join(format!("{stem}.key"));
        assert_eq!(mode(&key), 0o600, "{stem}.key");
        let blocks = describe_keys(&key);
        assert_eq!(blocks.len(), 1, "{stem}.key");
        assert_eq!(text(&blocks[0], "label"), key_label, "{stem}.key");
        ok(gocheck().arg("keypair").arg(&crt).arg(&key));
        let findings = pkilint_errors(&crt);
        assert!(findings.is_empty(), "pkilint on {stem}.crt:\n{findings}");
    }
    let sa_key = pki.join("sa.key");
    assert_eq!(mode(&sa_key), 0o600);
    let blocks = describe_keys(&sa_key);
    assert_eq!(
        (text(&blocks[0], "label"), text(&blocks[0], "format")),
        ("RSA PRIVATE KEY".to_string(), "pkcs1".to_string())
    );
    assert_eq!(blocks[0]["bits"], 2048);
    let public = ok(openssl().args(["pkey", "-pubout", "-in"]).arg(&sa_key));
    assert_eq!(fs::read_to_string(pki.join("sa.pub")).unwrap(), public);
    let pub_blocks = describe_keys(&pki.join("sa.pub"));
    assert_eq!(text(&pub_blocks[0], "format"), "pkix-public");
}

/// The shared-root sets: root and intermediate, each CA's chain file.
fn shared_root_files() -> Vec<String> {
    let mut expected: Vec<String> = [
        "ca-chain.crt",
        "ca.crt",
        "ca.key",
        "etcd/ca-chain.crt",
        "etcd/ca.crt",
        "etcd/ca.key",
        "front-proxy-ca-chain.crt",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "intermediate-ca.crt",
        "intermediate-ca.key",
        "intermediate-ca.pem",
        "root-ca.crt",
        "root-ca.key",
        "root-ca.pem",
        "sa.key",
        "sa.pub",
    ]
    .map(String::from)
    .to_vec();
    expected.sort();
    expected
}

/// The chain files hold [intermediate, root], and every certificate the tool
/// made lints clean.
fn assert_chains(pki: &Path) {
    let sha = |path: &Path| -> Vec<String> {
        describe_certs(path)
            .iter()
            .map(|c| text(c, "sha256"))
            .collect()
    };
    let expected = [
        sha(&pki.join("intermediate-ca.pem"))[0].clone(),
        sha(&pki.join("root-ca.pem"))[0].clone(),
    ];
    for stem in ["ca", "front-proxy-ca", "etcd/ca"] {
        assert_eq!(
            sha(&pki.join(format!("{stem}-chain.crt"))),
            expected,
            "{stem}"
        );
    }
    for name in ["root-ca.pem", "intermediate-ca.pem"] {
        let findings = pkilint_errors(&pki.join(name));
        assert!(findings.is_empty(), "pkilint on {name}:\n{findings}");
    }
}

pub(crate) fn chain_of(pki: &Path) -> impl Fn(&str) -> Vec<PathBuf> + '_ {
    move |ca| vec![pki.join(format!("{ca}-chain.crt"))]
}

#[test]
fn kubeadm_gets_its_three_cas_under_one_root_the_sa_pair_and_the_discovery_hash() {
    let dir = scratch();
    let data_dir = dir.path().join("kubernetes");
    let stdout = ok(&mut tool("kubeadm", &data_dir));
    let pki = data_dir.join("pki");
    assert_eq!(file_names(&pki), shared_root_files());
    assert_set(
        &pki,
        ["kubernetes", "front-proxy-ca", "etcd-ca"],
        "RSA PRIVATE KEY",
    );
    assert_chains(&pki);
    let root = pki.join("root-ca.pem");
    assert_leaves_verify(&pki, &KUBEADM_LEAVES, |_| root.clone(), chain_of(&pki));

    let hash = openssl_discovery_hash(&pki.join("ca.crt"));
    assert!(
        stdout.contains(&format!("--discovery-token-ca-cert-hash {hash}")),
        "the printed hash is the SPKI hash openssl computes ({hash}):\n{stdout}"
    );
    assert!(stdout.contains("kubeadm layout"), "{stdout}");
    assert!(stdout.contains("kubeadm init --upload-certs"), "{stdout}");
    assert!(stdout.contains("kubeadm join <endpoint>:6443"), "{stdout}");
    assert!(
        stdout.contains(&pki.join("etcd/ca-chain.crt").display().to_string()),
        "says where the chain is: {stdout}"
    );
}

#[test]
fn k0s_gets_one_set_for_every_controller_with_its_cns_and_the_pre_shared_token_command() {
    let dir = scratch();
    let data_dir = dir.path().join("k0s");
    let stdout = ok(&mut tool("k0s", &data_dir));
    let pki = data_dir.join("pki");
    assert_eq!(file_names(&pki), shared_root_files());
    assert_set(
        &pki,
        ["kubernetes-ca", "kubernetes-front-proxy-ca", "etcd-ca"],
        "RSA PRIVATE KEY",
    );
    assert_chains(&pki);
    let root = pki.join("root-ca.pem");
    assert_leaves_verify(&pki, &K0S_LEAVES, |_| root.clone(), chain_of(&pki));
    assert!(stdout.contains("k0s layout"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "k0s token pre-shared --role worker --cert {} --url https://<ip>:6443/",
            pki.join("ca.crt").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("front-proxy-ca.crt front-proxy-ca.key"),
        "front-proxy-ca is part of the shared set: {stdout}"
    );
}

#[test]
fn self_signed_cas_are_three_roots_without_a_shared_one() {
    let dir = scratch();
    let data_dir = dir.path().join("kubernetes");
    let stdout = ok(tool("kubeadm", &data_dir).arg("--self-signed-cas"));
    let pki = data_dir.join("pki");
    let mut expected: Vec<String> = [
        "ca.crt",
        "ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "sa.key",
        "sa.pub",
    ]
    .map(String::from)
    .to_vec();
    expected.sort();
    assert_eq!(file_names(&pki), expected);
    assert_set(
        &pki,
        ["kubernetes", "front-proxy-ca", "etcd-ca"],
        "RSA PRIVATE KEY",
    );
    for stem in ["ca", "front-proxy-ca", "etcd/ca"] {
        let cert = &describe_certs(&pki.join(format!("{stem}.crt")))[0];
        assert_eq!(text(cert, "issuer"), text(cert, "subject"), "{stem}");
        ok(gocheck()
            .args(["verify", "--roots"])
            .arg(pki.join(format!("{stem}.crt")))
            .arg(pki.join(format!("{stem}.crt"))));
    }
    // Each CA trusts only its own leaves: an etcd client certificate does not
    // verify against the cluster CA.
    assert_leaves_verify(
        &pki,
        &KUBEADM_LEAVES,
        |ca| pki.join(format!("{ca}.crt")),
        |_| Vec::new(),
    );
    let work = scratch();
    let etcd_client = issue(&pki, work.path(), &KUBEADM_LEAVES[7]);
    let (verified, _) = status(
        gocheck()
            .args(["verify", "--usage", "client", "--roots"])
            .arg(pki.join("ca.crt"))
            .arg(&etcd_client),
    );
    assert!(!verified, "self-signed CAs keep their trust apart");
    assert!(!stdout.contains("Make a secure copy"), "{stdout}");
}

#[test]
fn kubeadm_on_an_enterprise_p384_issuing_ca_without_the_root_key_with_an_encrypted_key() {
    use testkit::enterprise::{CaExt, KeyKind, encrypt_pkcs8, root, sub_ca};
    let dir = scratch();
    let work = dir.path();
    let corp = root(work, "Corp Root", KeyKind::Rsa(3072), &CaExt::default());
    let issuing = sub_ca(
        work,
        "Corp Issuing CA",
        KeyKind::P384,
        &corp,
        &CaExt::default(),
    );
    let data_dir = work.join("kubernetes");
    fs::create_dir_all(&data_dir).unwrap();
    fs::copy(&corp.cert, data_dir.join("root-ca.pem")).unwrap();
    fs::copy(&issuing.cert, data_dir.join("intermediate-ca.pem")).unwrap();
    encrypt_pkcs8(
        &issuing.key,
        &data_dir.join("intermediate-ca.key"),
        "correct horse",
    );
    let password = work.join("password");
    testkit::enterprise::passphrase_file(&password, "correct horse");
    let stdout = ok(tool("kubeadm", &data_dir)
        .args(["--leaf-ca-algorithm", "ECDSA-P384", "--password-file"])
        .arg(&password));
    let pki = data_dir.join("pki");
    assert!(!pki.join("root-ca.key").exists(), "no root key was brought");
    assert!(stdout.contains("intermediate CA: reused from"), "{stdout}");
    assert_set(
        &pki,
        ["kubernetes", "front-proxy-ca", "etcd-ca"],
        "EC PRIVATE KEY",
    );
    let ca = &describe_certs(&pki.join("ca.crt"))[0];
    assert_eq!(text(ca, "issuer"), "CN=Corp Issuing CA,O=Example Corp");
    assert_eq!(ca["public_key_bits"], 384);
    // The encrypted issuing key is written back as it came.
    assert_eq!(
        describe_keys(&pki.join("intermediate-ca.key"))[0]["encrypted"],
        true
    );
    let root = corp.cert.clone();
    assert_leaves_verify(&pki, &KUBEADM_LEAVES, |_| root.clone(), chain_of(&pki));
    let hash = openssl_discovery_hash(&pki.join("ca.crt"));
    assert!(stdout.contains(&hash), "{stdout}");
}

#[test]
fn an_initialised_kubeadm_dir_is_refused_without_force_and_nothing_changes() {
    let dir = scratch();
    let data_dir = dir.path().join("kubernetes");
    let pki = data_dir.join("pki");
    fs::create_dir_all(&pki).unwrap();
    let work = scratch();
    testkit::stranger(work.path());
    fs::copy(work.path().join("stranger-ca.pem"), pki.join("ca.crt")).unwrap();
    let before = snapshot(&data_dir);
    let stderr = fails(&mut tool("kubeadm", &data_dir));
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("initialised cluster"), "{stderr}");
    assert!(stderr.contains("pki/ca.crt"), "names the file: {stderr}");
    assert!(stderr.contains("kubeadm has no CA rotation"), "{stderr}");
    assert_eq!(snapshot(&data_dir), before, "nothing changed");

    let stdout = ok(tool("kubeadm", &data_dir).arg("--force"));
    assert!(stdout.contains("replace"), "{stdout}");
    assert_eq!(describe_certs(&pki.join("ca.crt")).len(), 1);
}

#[test]
fn self_signed_cas_refuse_a_brought_root_and_k3s_refuses_the_flag() {
    let dir = scratch();
    let data_dir = dir.path().join("kubernetes");
    fs::create_dir_all(&data_dir).unwrap();
    let work = scratch();
    testkit::stranger(work.path());
    fs::copy(
        work.path().join("stranger-ca.pem"),
        data_dir.join("root-ca.pem"),
    )
    .unwrap();
    let stderr = fails(tool("kubeadm", &data_dir).arg("--self-signed-cas"));
    assert!(stderr.contains("root-ca.pem"), "{stderr}");
    assert!(!data_dir.join("pki").exists());
    let stderr = fails(tool("k3s", &dir.path().join("k3s")).arg("--self-signed-cas"));
    assert!(stderr.contains("for kubeadm and k0s"), "{stderr}");
}
