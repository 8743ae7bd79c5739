//! `--ca-key pkcs11:...`: a CA whose key is in a token (SoftHSM2) signs CSRs
//! there; a token key that is not the certificate's is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;
use std::process::Command;

use testkit::softhsm::SoftHsm;
use testkit::{fails, ok, openssl, scratch, snapshot};

fn sign_csr(hsm: &SoftHsm) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sign-csr"));
    cmd.env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .env("SOFTHSM2_CONF", hsm.conf())
        .arg("--pkcs11-module")
        .arg(SoftHsm::module())
        .arg("--pin-file")
        .arg(hsm.pin_file());
    cmd
}

/// A root (ECDSA P-384) and an intermediate (`algorithm`) made in the token
/// by gen-custom-ca; returns its tls dir.
fn token_cas(hsm: &SoftHsm, data_dir: &Path, algorithm: &str) -> std::path::PathBuf {
    let gen_custom_ca = testkit::tool_binaries().join("gen-custom-ca");
    let mut cmd = testkit::tool(gen_custom_ca.to_str().unwrap(), data_dir);
    ok(cmd
        .env("SOFTHSM2_CONF", hsm.conf())
        .arg("--pkcs11-module")
        .arg(SoftHsm::module())
        .arg("--pin-file")
        .arg(hsm.pin_file())
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .arg("--intermediate-key")
        .arg(SoftHsm::uri("issuing"))
        .args(["--generate-in-token", "--root-algorithm", "ECDSA-P384"])
        .args(["--intermediate-algorithm", algorithm]));
    data_dir.join("server/tls")
}

fn signs_with(algorithm: &str) {
    let hsm = SoftHsm::new();
    let dir = scratch();
    let tls = token_cas(&hsm, &dir.path().join("cas"), algorithm);
    let (key, csr, cert) = (
        dir.path().join("web.key"),
        dir.path().join("web.csr"),
        dir.path().join("web.crt"),
    );
    ok(openssl()
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-subj",
            "/CN=web",
            "-addext",
            "subjectAltName=DNS:web.example",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    ok(sign_csr(&hsm)
        .arg("--ca-cert")
        .arg(tls.join("intermediate-ca.pem"))
        .arg("--ca-key")
        .arg(SoftHsm::uri("issuing"))
        .args(["--profile", "server", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(&cert));
    let verified = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(tls.join("root-ca.pem"))
        .arg("-untrusted")
        .arg(tls.join("intermediate-ca.pem"))
        .arg(&cert));
    assert!(verified.trim().ends_with(": OK"), "{verified}");
    testkit::assert_lint_clean(std::slice::from_ref(&cert));

    // The root's token key with the intermediate's certificate: refused.
    let before = snapshot(dir.path());
    let err = fails(
        sign_csr(&hsm)
            .arg("--ca-cert")
            .arg(tls.join("intermediate-ca.pem"))
            .arg("--ca-key")
            .arg(SoftHsm::uri("root"))
            .args(["--profile", "server", "--csr"])
            .arg(&csr)
            .arg("--out")
            .arg(dir.path().join("other.crt")),
    );
    assert!(
        err.contains("pkcs11:token=ceremony;object=root: this key is not the one of"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before, "nothing written");
}

#[test]
fn an_rsa_ca_key_in_the_token_signs_csrs() {
    signs_with("RSA-2048");
}

#[test]
fn an_ecdsa_ca_key_in_the_token_signs_csrs() {
    signs_with("ECDSA-P256");
}

/// The ceremony's offline root in a token: `--profile sub-ca` signs the
/// cluster's intermediate request with the token's root, the certificate
/// verifies under the root (openssl) and finishes into a tree (gen-custom-ca
/// runs its pre-flight on it), and no file holds the root's key.
#[test]
fn a_root_in_the_token_signs_a_subordinate_ca_request() {
    let hsm = SoftHsm::new();
    let dir = scratch();
    let tls = token_cas(&hsm, &dir.path().join("cas"), "ECDSA-P256");
    let root = tls.join("root-ca.pem");
    let gen_custom_ca = testkit::tool_binaries().join("gen-custom-ca");
    let machine = dir.path().join("machine");
    ok(
        testkit::tool(gen_custom_ca.to_str().unwrap(), &machine).args([
            "--request-intermediate",
            "--subject",
            "CN=Cluster Issuing CA",
        ]),
    );
    let machine_tls = machine.join("server/tls");
    let issued = machine_tls.join("intermediate-ca.pem");
    ok(sign_csr(&hsm)
        .args(["--profile", "sub-ca", "--product", "k3s", "--ca-cert"])
        .arg(&root)
        .arg("--ca-key")
        .arg(SoftHsm::uri("root"))
        .arg("--csr")
        .arg(machine_tls.join("intermediate-ca.csr"))
        .arg("--out")
        .arg(&issued)
        .args(["--tls-san", "10.0.0.10"]));
    let verified = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg(&issued));
    assert!(verified.contains(": OK"), "{verified}");
    std::fs::copy(&root, machine_tls.join("root-ca.pem")).unwrap();
    ok(testkit::tool(gen_custom_ca.to_str().unwrap(), &machine).args(["--tls-san", "10.0.0.10"]));
    let chained = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(&root)
        .arg("-untrusted")
        .arg(&issued)
        .arg(machine_tls.join("server-ca.pem")));
    assert!(chained.contains(": OK"), "{chained}");
    for tree in [&tls, &machine_tls] {
        assert!(!tree.join("root-ca.key").exists(), "{}", tree.display());
    }
}
