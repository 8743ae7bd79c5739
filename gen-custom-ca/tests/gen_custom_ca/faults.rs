//! `gen-custom-ca` stopped at every rename and fsync of its commit with SIGTERM
//! and SIGKILL, and three runs at once (see `testkit::faults`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};

use testkit::faults::{assert_pairs_match, race, suites};
use testkit::{k3s_hash, printed_hash, scratch};

const EXE: &str = env!("CARGO_BIN_EXE_gen-custom-ca");

/// A run from nothing whose generated root and intermediate are quick to make.
const FROM_NOTHING: &[&str] = &[
    "--root-algorithm",
    "ECDSA-P256",
    "--intermediate-algorithm",
    "ECDSA-P256",
];

/// A full tree, and a data dir holding only its root and intermediate (the
/// user's, brought into an empty tls dir: a commit like one from scratch
/// without two RSA-4096 keys per run).
fn templates(root: &Path) -> (PathBuf, PathBuf) {
    let tree = root.join("tree");
    crate::util::default_tree(&tree);
    let brought = root.join("brought");
    fs::create_dir(&brought).unwrap();
    for name in ["root-ca.pem", "intermediate-ca.pem", "intermediate-ca.key"] {
        fs::copy(tree.join("server/tls").join(name), brought.join(name)).unwrap();
    }
    (tree, brought)
}

/// Issue 10 case 2: interrupted commits left mixed trees, temporary files and
/// backups holding keys.
#[test]
fn an_interrupted_commit_is_rolled_back_or_recovered_at_every_point() {
    let dir = scratch();
    let (tree, brought) = templates(dir.path());
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let points = suites(
        Path::new(EXE),
        &[
            ("over an existing tree", &tree, &["--force"], 1),
            ("into an empty tls dir", &brought, &[], 1),
            // The commit above plus root-ca.key: every 25th point. The root
            // and intermediate are P-256, not the default RSA-4096: the
            // writer makes the same calls on the same files in the same
            // order (strace shows it), at a tenth of the CPU per run.
            ("from nothing", &empty, FROM_NOTHING, 25),
        ],
    );
    eprintln!("gen-custom-ca: {points} fault points");
}

/// Issue 10 case 3: two `gen-custom-ca --force` at once left mismatched pairs
/// in the live tree.
#[test]
fn concurrent_runs_each_print_the_truth() {
    let dir = scratch();
    let (_, brought) = templates(dir.path());
    race(
        Path::new(EXE),
        &brought,
        &["initialised cluster", "another run is writing"],
        printed_hash,
        |data_dir| {
            assert_pairs_match(data_dir);
            k3s_hash(&data_dir.join("server/tls/server-ca.crt"))
        },
    );
}

/// Issue 10 case 4 and the promise that bad input changes nothing: mutants of
/// the root and intermediate a user brings, through the binary.
#[test]
fn mutated_inputs_change_nothing_and_leak_no_key() {
    let dir = scratch();
    let (_, brought) = templates(dir.path());
    let files = ["root-ca.pem", "intermediate-ca.pem", "intermediate-ca.key"];
    let runs = testkit::mutate::through_binary(&brought, &files, 20, 5, |d| testkit::tool(EXE, d));
    eprintln!("gen-custom-ca: {runs} mutants");
}
