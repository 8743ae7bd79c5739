//! `rotate-default-ca` stopped at every rename and fsync of its commit with
//! SIGTERM and SIGKILL, and three runs at once (see `testkit::faults`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;

use testkit::faults::{assert_pairs_match, fixture_templates, race, suites};
use testkit::{gocheck, k3s_hash, ok, printed_hash, scratch};

const EXE: &str = env!("CARGO_BIN_EXE_rotate-default-ca");

/// Issue 10 case 2: interrupted commits left mixed staging trees and
/// temporary files holding keys.
#[test]
fn an_interrupted_commit_is_rolled_back_or_recovered_at_every_point() {
    let dir = scratch();
    let (fresh, staged) = fixture_templates(dir.path(), EXE);
    let points = suites(
        Path::new(EXE),
        &[
            ("a fresh staging dir", &fresh, &[], 1),
            ("over a staging dir", &staged, &["--force"], 1),
        ],
    );
    eprintln!("rotate-default-ca: {points} fault points");
}

/// Issue 10 case 3: three runs at once all exited 0, and two printed join
/// tokens for files another run overwrote.
#[test]
fn concurrent_runs_each_print_the_truth() {
    let dir = scratch();
    let template = dir.path().join("template");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&template));
    race(
        Path::new(EXE),
        &template,
        &["already exists", "another run is writing"],
        printed_hash,
        |data_dir| {
            let staged = data_dir.join("server/rotate-ca/tls");
            assert_pairs_match(&staged);
            k3s_hash(&staged.join("server-ca.crt"))
        },
    );
}

/// Issue 10 case 4 and the promise that bad input changes nothing: mutants of
/// the current CA files, service.key and token through the binary.
#[test]
fn mutated_inputs_change_nothing_and_leak_no_key() {
    let dir = scratch();
    let template = dir.path().join("template");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&template));
    let files = [
        "server/tls/server-ca.crt",
        "server/tls/server-ca.key",
        "server/tls/etcd/peer-ca.key",
        "server/tls/service.key",
        "server/token",
    ];
    let runs = testkit::mutate::through_binary(&template, &files, 30, 3, |d| testkit::tool(EXE, d));
    eprintln!("rotate-default-ca: {runs} mutants");
}

/// Issue 10 case 1: `server/rotate-ca/tls/etcd -> ../../tls/etcd` made
/// `rotate-default-ca --force` replace the live etcd CA files.
#[test]
fn a_symlink_inside_the_staging_dir_cannot_reach_the_live_tls_dir() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let staged = data_dir.join("server/rotate-ca/tls");
    std::fs::create_dir_all(&staged).unwrap();
    std::os::unix::fs::symlink("../../tls/etcd", staged.join("etcd")).unwrap();
    let before = testkit::faults::state(&data_dir);
    let stderr = testkit::fails(testkit::tool(EXE, &data_dir).arg("--force"));
    assert!(
        stderr.contains("resolves into the live tls directory"),
        "{stderr}"
    );
    assert!(
        testkit::faults::state(&data_dir) == before,
        "nothing changed"
    );
}

/// Issue 10 case 11: directories were created with the umask's mode, not 0700.
#[test]
fn created_directories_are_0700_whatever_the_umask() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let script = format!("umask 0277; exec '{EXE}'");
    ok(std::process::Command::new("sh")
        .args(["-c", &script])
        .env_remove("PRODUCT")
        .env("DATA_DIR", &data_dir));
    for sub in ["", "/tls", "/tls/etcd"] {
        let path = data_dir.join(format!("server/rotate-ca{sub}"));
        assert_eq!(testkit::mode(&path), 0o700, "{}", path.display());
    }
}
