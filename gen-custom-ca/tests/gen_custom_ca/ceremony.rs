//! Issue 23's two-stage ceremony: `--request-intermediate` on the cluster's
//! machine makes the issuing CA's key and request, an offline openssl root
//! (playing the corporate PKI) signs it under its profile, and the next run
//! finishes the tree from the returned certificate. A profile that cannot
//! serve the distribution, or a certificate for another key, is refused
//! naming the requirement it breaks, and nothing is written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::enterprise::{Ca, CaExt, KeyKind, root, sign_request};
use testkit::{describe_certs, describe_keys, fails, mode, ok, openssl, scratch, snapshot};

const SUBJECT: &str = "CN=Cluster Issuing CA,O=Example Corp";

fn tool(data_dir: &Path, product: &str) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

/// The request run on the cluster's machine; returns its stdout and the
/// cert dir holding the pending key and the request.
fn request(machine: &Path, product: &str, cert_dir: &str) -> (String, PathBuf) {
    let stdout = ok(tool(machine, product).args([
        "--request-intermediate",
        "--subject",
        SUBJECT,
        "--intermediate-algorithm",
        "ECDSA-P256",
    ]));
    (stdout, machine.join(cert_dir))
}

/// The PKI signs the request with `ext`; the certificate and the root go
/// back into the machine's data dir, where the finishing run looks.
fn sign_and_return(pki: &Path, corp: &Ca, tls: &Path, machine: &Path, ext: &CaExt) {
    let issued = pki.join("issued.pem");
    sign_request(&tls.join("intermediate-ca.csr"), &issued, corp, ext);
    fs::copy(&issued, machine.join("intermediate-ca.pem")).unwrap();
    fs::copy(&corp.cert, machine.join("root-ca.pem")).unwrap();
}

fn corp_root(pki: &Path) -> Ca {
    fs::create_dir_all(pki).unwrap();
    root(pki, "Corp Root", KeyKind::P256, &CaExt::default())
}

#[test]
fn a_k3s_request_signed_by_an_offline_root_finishes_into_a_tree_root_only_clients_accept() {
    let dir = scratch();
    let machine = dir.path().join("machine");
    let (stdout, tls) = request(&machine, "k3s", "server/tls");
    // The checklist for the PKI team, from the pre-flight's own needs.
    for needed in [
        "CA:TRUE",
        "keyCertSign",
        "pathLenConstraint: absent or at least 1",
        "serverAuth and clientAuth",
        "DNS kubernetes.default.svc.cluster.local",
        "IP 10.43.0.1",
    ] {
        assert!(stdout.contains(needed), "{needed}:\n{stdout}");
    }
    let csr = tls.join("intermediate-ca.csr");
    let text = ok(openssl()
        .args(["req", "-verify", "-noout", "-text", "-in"])
        .arg(&csr));
    assert!(text.contains("CA:TRUE"), "{text}");
    assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
    let pending = tls.join("intermediate-ca.key");
    assert_eq!(mode(&pending), 0o600);
    let pending_bytes = fs::read(&pending).unwrap();
    // Run again before the certificate is back: told the request is pending.
    let stderr = fails(&mut tool(&machine, "k3s"));
    assert!(
        stderr.contains("intermediate-ca.csr is pending"),
        "{stderr}"
    );

    // The PKI, on another machine: its root never comes near the cluster.
    let pki = dir.path().join("pki");
    let corp = corp_root(&pki);
    let profile = CaExt {
        path_len: Some(1),
        ..CaExt::default()
    };
    sign_and_return(&pki, &corp, &tls, &machine, &profile);

    let stdout = ok(&mut tool(&machine, "k3s"));
    assert!(!tls.join("root-ca.key").exists(), "no root key anywhere");
    assert_eq!(fs::read(&pending).unwrap(), pending_bytes, "key kept");
    let intermediate = &describe_certs(&tls.join("intermediate-ca.pem"))[0];
    assert_eq!(
        intermediate["subject"],
        "CN=Cluster Issuing CA,O=Example Corp"
    );
    crate::enterprise::assert_root_only_clients_accept(&machine, &stdout, &testkit::ca_pems(&tls));
}

#[test]
fn a_path_length_0_profile_is_refused_naming_the_requirement_and_nothing_is_written() {
    for (product, cert_dir, broken) in [
        (
            "k3s",
            "server/tls",
            "k3s's kube-apiserver serving certificate",
        ),
        ("kubeadm", "pki", "kubeadm's apiserver certificate"),
    ] {
        let dir = scratch();
        let machine = dir.path().join("machine");
        let (_, tls) = request(&machine, product, cert_dir);
        let pki = dir.path().join("pki");
        let corp = corp_root(&pki);
        let profile = CaExt {
            path_len: Some(0),
            ..CaExt::default()
        };
        sign_and_return(&pki, &corp, &tls, &machine, &profile);
        let before = snapshot(&machine);
        let stderr = fails(&mut tool(&machine, product));
        for expected in [
            &format!(
                "{}: pathLenConstraint 0",
                machine.join("intermediate-ca.pem").display()
            ),
            "too many intermediates",
            broken,
        ] {
            assert!(
                stderr.contains(expected),
                "{product}: {expected}:\n{stderr}"
            );
        }
        assert_eq!(snapshot(&machine), before, "{product}: nothing written");
    }
}

#[test]
fn a_certificate_for_another_request_is_refused_as_not_matching_the_pending_key() {
    let dir = scratch();
    let machine = dir.path().join("machine");
    let (_, tls) = request(&machine, "k3s", "server/tls");
    let other = dir.path().join("other");
    let (_, other_tls) = request(&other, "k3s", "server/tls");
    let pki = dir.path().join("pki");
    let corp = corp_root(&pki);
    sign_and_return(&pki, &corp, &other_tls, &machine, &CaExt::default());
    let before = snapshot(&machine);
    let stderr = fails(&mut tool(&machine, "k3s"));
    assert!(
        stderr.contains(&format!(
            "{}: the private key does not match the certificate in {}",
            tls.join("intermediate-ca.key").display(),
            machine.join("intermediate-ca.pem").display()
        )),
        "{stderr}"
    );
    assert_eq!(snapshot(&machine), before, "nothing written");
}

#[test]
fn a_second_request_over_a_pending_key_is_refused_and_an_encrypted_request_keeps_its_key_encrypted()
{
    let dir = scratch();
    let machine = dir.path().join("machine");
    let password = dir.path().join("password");
    testkit::enterprise::passphrase_file(&password, "correct horse");
    ok(tool(&machine, "k3s")
        .args([
            "--request-intermediate",
            "--subject",
            SUBJECT,
            "--encrypt-keys",
        ])
        .args(["--intermediate-algorithm", "ECDSA-P256", "--password-file"])
        .arg(&password));
    let key = machine.join("server/tls/intermediate-ca.key");
    assert_eq!(describe_keys(&key)[0]["encrypted"], true);
    let before = snapshot(&machine);
    let stderr =
        fails(tool(&machine, "k3s").args(["--request-intermediate", "--subject", SUBJECT]));
    assert!(
        stderr.contains("pending request's key is already here"),
        "{stderr}"
    );
    assert_eq!(snapshot(&machine), before);
    let stderr =
        fails(tool(&machine, "k3s").args(["--request-intermediate", "--subject", "O=No CN"]));
    assert!(stderr.contains("names no CN"), "{stderr}");
}

/// kubeadm and k0s: request, the PKI signs, finish; the leaves each
/// distribution issues verify for a client that trusts only the root.
fn kubeadm_or_k0s_ceremony(product: &str, leaves: &[crate::kubeadm_k0s::Leaf]) {
    let dir = scratch();
    let machine = dir.path().join(product);
    let (stdout, pki_dir) = request(&machine, product, "pki");
    assert!(stdout.contains("ca, front-proxy-ca, etcd/ca"), "{stdout}");
    let pki = dir.path().join("pki");
    let corp = corp_root(&pki);
    sign_and_return(&pki, &corp, &pki_dir, &machine, &CaExt::default());
    ok(&mut tool(&machine, product));
    let root = corp.cert.clone();
    crate::kubeadm_k0s::assert_leaves_verify(
        &pki_dir,
        leaves,
        |_| root.clone(),
        crate::kubeadm_k0s::chain_of(&pki_dir),
    );
    testkit::assert_lint_clean(&[
        pki_dir.join("ca.crt"),
        pki_dir.join("front-proxy-ca.crt"),
        pki_dir.join("etcd/ca.crt"),
    ]);
}

#[test]
fn a_kubeadm_request_signed_by_an_offline_root_finishes_into_its_three_cas() {
    kubeadm_or_k0s_ceremony("kubeadm", &crate::kubeadm_k0s::KUBEADM_LEAVES);
}

#[test]
fn a_k0s_request_signed_by_an_offline_root_finishes_into_its_three_cas() {
    kubeadm_or_k0s_ceremony("k0s", &crate::kubeadm_k0s::K0S_LEAVES);
}

/// `sign-csr --profile sub-ca` at the offline root, on `csr`, with `flags`.
fn sign_sub_ca(corp: &Ca, csr: &Path, out: &Path, product: &str, flags: &[&str]) -> Command {
    let mut cmd = Command::new(testkit::tool_binaries().join("sign-csr"));
    cmd.env_remove("PRODUCT")
        .args(["--profile", "sub-ca", "--product", product, "--ca-cert"])
        .arg(&corp.cert)
        .arg("--ca-key")
        .arg(&corp.key)
        .arg("--csr")
        .arg(csr)
        .arg("--out")
        .arg(out)
        .args(flags);
    cmd
}

#[test]
fn the_offline_root_signs_with_sign_csr_refusing_profiles_k3s_cannot_use() {
    let dir = scratch();
    let machine = dir.path().join("machine");
    let (_, tls) = request(&machine, "k3s", "server/tls");
    let pki = dir.path().join("pki");
    let corp = corp_root(&pki);
    let csr = pki.join("intermediate-ca.csr");
    fs::copy(tls.join("intermediate-ca.csr"), &csr).unwrap();
    let out = pki.join("intermediate-ca.pem");
    let before = snapshot(&pki);
    for (flags, expected) in [
        (
            &["--path-len", "0"][..],
            "pathLenConstraint 0 allows 0 CA(s) below it",
        ),
        (
            &["--permit", "corp.example", "--permit", "10.0.0.0/8"][..],
            "nameConstraints permit only DNS corp.example, IP 10.0.0.0/8; k3s's kube-apiserver \
             serving certificate (from server-ca) needs DNS kubernetes",
        ),
        (
            &["--eku", "serverAuth"][..],
            "extendedKeyUsage allows only serverAuth, which Go applies to every certificate \
             below it, but clientAuth is needed",
        ),
    ] {
        let stderr = fails(&mut sign_sub_ca(&corp, &csr, &out, "k3s", flags));
        assert!(
            stderr.contains("refusing to sign a subordinate CA whose profile cannot serve k3s"),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{flags:?}: {expected}\n{stderr}");
        assert_eq!(snapshot(&pki), before, "{flags:?}: nothing written");
    }

    // A constrained profile that serves k3s: every address k3s's certificates
    // carry (DNS names stay unconstrained: a DNS constraint would have to
    // permit the single labels kubernetes and localhost, which pkilint flags).
    // The node's address (10.0.0.10, which gocheck's k3s leaves carry) is
    // named with --tls-san: left out, the pre-flight refuses the profile.
    let mut flags = vec!["--path-len", "1", "--eku", "serverAuth,clientAuth"];
    for name in ["127.0.0.1", "::1", "10.43.0.0/16", "10.0.0.0/24"] {
        flags.extend(["--permit", name]);
    }
    let without_node = fails(&mut sign_sub_ca(
        &corp,
        &csr,
        &out,
        "k3s",
        &[&flags[..], &["--tls-san", "192.0.2.7"]].concat(),
    ));
    assert!(
        without_node.contains("needs IP 192.0.2.7"),
        "{without_node}"
    );
    flags.extend(["--tls-san", "10.0.0.10"]);
    let stdout = ok(&mut sign_sub_ca(&corp, &csr, &out, "k3s", &flags));
    assert!(stdout.contains("pathlen:1"), "{stdout}");
    assert_eq!(mode(&out), 0o644);
    let text = ok(openssl().args(["x509", "-noout", "-text", "-in"]).arg(&out));
    assert!(text.contains("Name Constraints: critical"), "{text}");
    let verified = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(&corp.cert)
        .arg(&out));
    assert!(verified.trim().ends_with(": OK"), "{verified}");
    testkit::assert_lint_clean(std::slice::from_ref(&out));

    // Back on the cluster's machine: the tree is finished and every
    // root-only client accepts it, name constraints and EKU included.
    fs::copy(&out, machine.join("intermediate-ca.pem")).unwrap();
    fs::copy(&corp.cert, machine.join("root-ca.pem")).unwrap();
    let stdout = ok(&mut tool(&machine, "k3s"));
    crate::enterprise::assert_root_only_clients_accept(&machine, &stdout, &testkit::ca_pems(&tls));
}

#[test]
fn a_sub_ca_profile_for_k3s_names_is_refused_for_kubeadm_whose_service_ip_it_does_not_permit() {
    let dir = scratch();
    let machine = dir.path().join("kubernetes");
    let (_, pki_dir) = request(&machine, "kubeadm", "pki");
    let pki = dir.path().join("pki");
    let corp = corp_root(&pki);
    let out = pki.join("intermediate-ca.pem");
    let mut cmd = sign_sub_ca(
        &corp,
        &pki_dir.join("intermediate-ca.csr"),
        &out,
        "kubeadm",
        &["--permit", "10.43.0.0/16", "--permit", "127.0.0.1"],
    );
    let stderr = fails(&mut cmd);
    assert!(stderr.contains("cannot serve kubeadm"), "{stderr}");
    assert!(stderr.contains("needs"), "{stderr}");
    assert!(stderr.contains("IP 10.96.0.1"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_generated_roots_key_goes_to_root_key_out_and_never_into_the_tree() {
    let dir = scratch();
    let data_dir = dir.path().join("ceremony");
    let usb = dir.path().join("usb");
    fs::create_dir_all(&usb).unwrap();
    let stdout = ok(tool(&data_dir, "k3s")
        .args([
            "--root-algorithm",
            "ECDSA-P256",
            "--intermediate-algorithm",
            "ECDSA-P256",
        ])
        .arg("--root-key-out")
        .arg(&usb)
        .arg("--record")
        .arg(dir.path().join("ceremony.json")));
    let tls = data_dir.join("server/tls");
    // The record lists the root key with the vault's, never among the files carried.
    let sums = fs::read_to_string(dir.path().join("ceremony.SHA256SUMS")).unwrap();
    assert!(sums.contains("root-ca.pem"), "{sums}");
    assert!(!sums.contains("root-ca.key"), "{sums}");
    let key = usb.join("root-ca.key");
    assert!(!tls.join("root-ca.key").exists(), "the tree never holds it");
    assert!(stdout.contains("never into"), "{stdout}");
    assert_eq!(mode(&key), 0o600);
    let public = |args: &[&str], file: &Path| ok(openssl().args(args).arg(file));
    assert_eq!(
        public(&["pkey", "-pubout", "-in"], &key),
        public(
            &["x509", "-noout", "-pubkey", "-in"],
            &tls.join("root-ca.pem")
        ),
        "the key written out is the root's"
    );
    crate::enterprise::assert_root_only_clients_accept(&data_dir, &stdout, &testkit::ca_pems(&tls));

    // Never over a root key already there, never inside the tree, never
    // for a brought root; nothing written on any refusal.
    let again = dir.path().join("again");
    let stderr = fails(tool(&again, "k3s").arg("--root-key-out").arg(&usb));
    assert!(stderr.contains("already holds a root key"), "{stderr}");
    assert!(!again.join("server").exists());
    let inside = again.join("server/keys");
    let stderr = fails(tool(&again, "k3s").arg("--root-key-out").arg(&inside));
    assert!(stderr.contains("lies inside the data dir"), "{stderr}");
    assert!(!inside.exists());
    let brought = dir.path().join("brought");
    let corp = corp_root(&dir.path().join("pki"));
    fs::create_dir_all(&brought).unwrap();
    fs::copy(&corp.cert, brought.join("root-ca.pem")).unwrap();
    fs::copy(&corp.key, brought.join("root-ca.key")).unwrap();
    let before = snapshot(&brought);
    let elsewhere = dir.path().join("usb2");
    let stderr = fails(tool(&brought, "k3s").arg("--root-key-out").arg(&elsewhere));
    assert!(stderr.contains("the root is brought"), "{stderr}");
    assert_eq!(snapshot(&brought), before);
    assert!(!elsewhere.exists());
}
