//! `rotate-default-ca` stopped at every rename and fsync of its commit with
//! SIGTERM and SIGKILL, and three runs at once (see `testkit::faults`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;

use testkit::faults::{assert_pairs_match, copy_tree, k3s_hash, race, suites};
use testkit::{gocheck, ok, printed_hash, scratch};

const EXE: &str = env!("CARGO_BIN_EXE_rotate-default-ca");

/// Issue 10 case 2: interrupted commits left mixed staging trees and
/// temporary files holding keys.
#[test]
fn an_interrupted_commit_is_rolled_back_or_recovered_at_every_point() {
    let dir = scratch();
    let fresh = dir.path().join("fresh");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&fresh));
    let staged = dir.path().join("staged");
    copy_tree(&fresh, &staged);
    ok(&mut testkit::tool(EXE, &staged));
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
