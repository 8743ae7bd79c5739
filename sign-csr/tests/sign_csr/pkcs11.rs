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
