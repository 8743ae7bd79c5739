//! `sa-key-rotate` stopped at every rename and fsync of its commit with SIGTERM
//! and SIGKILL, and three runs at once (see `testkit::faults`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;

use testkit::faults::{fixture_templates, race, suites};
use testkit::{describe_keys, gocheck, ok, scratch};

const EXE: &str = env!("CARGO_BIN_EXE_sa-key-rotate");

/// Issue 10 case 2: an interrupted commit left temporary files holding keys.
#[test]
fn an_interrupted_commit_is_rolled_back_or_recovered_at_every_point() {
    let dir = scratch();
    let (fresh, staged) = fixture_templates(dir.path(), EXE);
    let points = suites(
        Path::new(EXE),
        &[
            ("a fresh staging dir", &fresh, &[], 1),
            ("over a staged key", &staged, &["--force"], 1),
            (
                "with --public-out",
                &fresh,
                &["--public-out", "server/rotate-sa/sa.pub"],
                1,
            ),
        ],
    );
    eprintln!("sa-key-rotate: {points} fault points");
}

/// Issue 10 case 3: concurrent runs printed fingerprints of keys another run
/// overwrote.
#[test]
fn concurrent_runs_each_print_the_truth() {
    let dir = scratch();
    let template = dir.path().join("template");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&template));
    race(
        Path::new(EXE),
        &template,
        &["already exists", "another run is writing"],
        |stdout| {
            let line = stdout
                .lines()
                .find(|l| l.trim_start().starts_with("new "))
                .unwrap_or_else(|| panic!("no new key line:\n{stdout}"));
            line.split_whitespace().nth(2).unwrap().to_string()
        },
        |data_dir| {
            let staged = data_dir.join("server/rotate-sa/tls/service.key");
            describe_keys(&staged)[0]["spki_sha256"]
                .as_str()
                .unwrap()
                .to_string()
        },
    );
}

/// Issue 10 case 4 and the promise that bad input changes nothing: mutants of
/// service.key through the binary.
#[test]
fn mutated_inputs_change_nothing_and_leak_no_key() {
    let dir = scratch();
    let template = dir.path().join("template");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&template));
    let runs =
        testkit::mutate::through_binary(&template, &["server/tls/service.key"], 100, 4, |d| {
            testkit::tool(EXE, d)
        });
    eprintln!("sa-key-rotate: {runs} mutants");
}

/// Issue 10 case 7: `--current` on a FIFO or /dev/zero hung or read forever.
#[test]
fn a_special_file_as_current_key_is_refused_at_once() {
    let dir = scratch();
    let fifo = dir.path().join("fifo.key");
    ok(std::process::Command::new("mkfifo").arg(&fifo));
    for (current, kind) in [
        (fifo.as_path(), "a FIFO"),
        (Path::new("/dev/zero"), "a character device"),
    ] {
        let stderr = testkit::fails(
            testkit::tool(EXE, &dir.path().join("data"))
                .arg("--current")
                .arg(current),
        );
        assert!(stderr.contains(kind), "{stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing created");
}
