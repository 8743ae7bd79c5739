//! `sign-csr` on a directory of CSRs stopped at every rename, fsync and syncfs
//! of its commit with SIGTERM and SIGKILL (see `testkit::faults`). The
//! directory holds more CSRs than the writer fsyncs one by one, so the commit
//! makes its files durable with one syncfs: stopping there, or at any rename
//! after it, must still leave every certificate old or every one new.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::Path;

use testkit::faults::suites;
use testkit::{gocheck, ok, scratch};

const EXE: &str = env!("CARGO_BIN_EXE_sign-csr");

/// More than the writer's fsync-each limit (64 files).
const CSRS: usize = 80;

#[test]
fn an_interrupted_signing_of_a_large_directory_is_rolled_back_or_recovered() {
    let dir = scratch();
    let template = dir.path().join("template");
    let tls = testkit::workspace_root().join("fixtures/k3s-default/server/tls");
    fs::create_dir_all(template.join("tls")).unwrap();
    for file in ["server-ca.crt", "server-ca.key"] {
        fs::copy(tls.join(file), template.join("tls").join(file)).unwrap();
    }
    ok(gocheck()
        .args([
            "csrs",
            "--rsa-keys",
            "2",
            "--count",
            &CSRS.to_string(),
            "--out",
        ])
        .arg(template.join("csrs")));
    let args = [
        "--ca",
        "tls/server-ca",
        "--profile",
        "server",
        "--csr",
        "csrs",
    ];
    let points = suites(
        Path::new(EXE),
        &[("a directory of CSRs", &template, &args, 8)],
    );
    eprintln!("sign-csr: {points} fault points");
}
