//! Issue 18: a CA dated as RFC 5280 allows, outside the `der` crate's 1970-2049
//! UTCTime: openssl's `ca -startdate 19600101000000Z -enddate 99991231235959Z`.
//! sign-csr reads it, signs with it, and openssl and Go verify the leaf.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::process::Command;

use testkit::enterprise::{KeyKind, dated_root, genkey};
use testkit::{describe_certs, gocheck, ok, openssl, scratch};

#[test]
fn a_ca_dated_from_1960_to_9999_signs_and_the_leaf_verifies() {
    let dir = scratch();
    let ca = dated_root(
        dir.path(),
        "Old CA",
        KeyKind::P256,
        "19600101000000Z",
        "99991231235959Z",
    );
    let key = dir.path().join("host.key");
    genkey(&key, KeyKind::P256);
    let csr = dir.path().join("host.csr");
    ok(openssl()
        .args(["req", "-new", "-subj", "/CN=host", "-key"])
        .arg(&key)
        .args(["-addext", "subjectAltName=DNS:host.example.com"])
        .arg("-out")
        .arg(&csr));
    let cert = dir.path().join("host.crt");
    ok(Command::new(env!("CARGO_BIN_EXE_sign-csr"))
        .env_remove("PRODUCT")
        .env_remove("DATA_DIR")
        .arg("--ca-cert")
        .arg(&ca.cert)
        .arg("--ca-key")
        .arg(&ca.key)
        .args(["--profile", "server", "--csr"])
        .arg(&csr)
        .arg("--out")
        .arg(&cert));
    let verified = ok(openssl()
        .args(["verify", "-CAfile"])
        .arg(&ca.cert)
        .arg(&cert));
    assert!(verified.trim().ends_with(": OK"), "{verified}");
    ok(gocheck()
        .args(["verify", "--usage", "server", "--roots"])
        .arg(&ca.cert)
        .arg(&cert));
    assert_eq!(
        describe_certs(&ca.cert)[0]["not_before"],
        "1960-01-01T00:00:00Z"
    );
}
