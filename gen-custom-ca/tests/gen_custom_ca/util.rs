//! What the suites of this binary share.
#![allow(clippy::unwrap_used, reason = "tests: a panic is a failure")]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::OnceLock;

use testkit::faults::{State, state, write_state};

/// Writes at `data_dir` (which must not exist) the tree `gen-custom-ca` makes
/// from nothing, for tests that start from such a tree rather than test the run
/// that makes it. The run is made once per test process: each one spends
/// seconds of CPU finding primes for its two RSA-4096 keys. Every copy holds
/// the same keys, which no test changes in place.
pub fn default_tree(data_dir: &Path) {
    static TREE: OnceLock<(u32, State)> = OnceLock::new();
    let (mode, tree) = TREE.get_or_init(|| {
        let dir = testkit::scratch();
        let made = dir.path().join("tree");
        testkit::ok(&mut testkit::tool(
            env!("CARGO_BIN_EXE_gen-custom-ca"),
            &made,
        ));
        (testkit::mode(&made), state(&made))
    });
    write_state(tree, data_dir);
    fs::set_permissions(data_dir, fs::Permissions::from_mode(*mode)).unwrap();
}
