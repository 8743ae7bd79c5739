//! End to end, scenario B: a running etcd keeps talking through a default-CA
//! rotation. etcd serves with k3s's own (old) certificates, then trusts the new
//! bundle; old and new client certificates work, and a client that trusts only
//! the old CA accepts a server certificate from the new intermediate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
use testkit::{gocheck, ok, scratch};

const SCENARIO: &str = "scenario B (default-CA rotation, 1-member etcd)";

fn issue_from_new(staged: &Path, out: &Path, name: &str, usage: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        staged.join("etcd/server-ca.crt"),
        staged.join("etcd/server-ca.key"),
    );
    testkit::issue_leaf(&cert, &key, out, name, usage, true)
}

#[test]
fn scenario_b_a_rotation_keeps_a_running_etcd_talking() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let live = data_dir.join("server/tls");
    let old_member = MemberTls {
        cert: live.join("etcd/server-client.crt"),
        key: live.join("etcd/server-client.key"),
        peer_cert: live.join("etcd/peer-server-client.crt"),
        peer_key: live.join("etcd/peer-server-client.key"),
    };
    let old_client = Client {
        trust: live.join("etcd/server-ca.crt"),
        cert: live.join("etcd/client.crt"),
        key: live.join("etcd/client.key"),
    };
    let old_trust = ClusterTrust {
        clients: live.join("etcd/server-ca.crt"),
        peers: live.join("etcd/peer-ca.crt"),
    };
    let mut cluster = step(
        None,
        SCENARIO,
        "start etcd with k3s's certificates",
        EtcdCluster::start(vec![old_member.clone()], old_trust, &old_client),
    );
    step(
        Some(&cluster),
        SCENARIO,
        "put before the rotation",
        old_client.run(&cluster, 0, &["put", "/k3s-pki/b", "before"]),
    );

    let rotated = Command::new(env!("CARGO_BIN_EXE_rotate-default-ca"))
        .env_remove("PRODUCT")
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "{SCENARIO}: rotate-default-ca failed: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let staged = data_dir.join("server/rotate-ca/tls");

    // etcd now trusts the NEW bundle but still serves its OLD certificate.
    let new_trust = ClusterTrust {
        clients: staged.join("etcd/server-ca.crt"),
        peers: staged.join("etcd/peer-ca.crt"),
    };
    // restart() errors carry the log tail themselves.
    step(
        None,
        SCENARIO,
        "restart trusting the new etcd/server-ca.crt",
        cluster.restart(vec![old_member.clone()], new_trust.clone(), &old_client),
    );
    let c = Some(&cluster);
    let read = step(
        c,
        SCENARIO,
        "get with the OLD client certificate",
        old_client.run(&cluster, 0, &["get", "/k3s-pki/b"]),
    );
    assert!(read.contains("before"), "{SCENARIO}: {read}");

    let (cert, key) = issue_from_new(&staged, dir.path(), "new-client", "client");
    let new_client = Client {
        trust: live.join("etcd/server-ca.crt"),
        cert,
        key,
    };
    step(
        c,
        SCENARIO,
        "put with a client certificate from the NEW intermediate",
        new_client.run(&cluster, 0, &["put", "/k3s-pki/b", "after"]),
    );

    // Serve a certificate from the new intermediate (with its chain); a client
    // that trusts only the OLD CA file must accept it through the cross-signed root.
    let (cert, key) = issue_from_new(&staged, dir.path(), "new-server", "both");
    let new_member = MemberTls {
        cert,
        key,
        ..old_member
    };
    step(
        None,
        SCENARIO,
        "restart serving a certificate from the new intermediate",
        cluster.restart(vec![new_member], new_trust, &old_client),
    );
    let read = step(
        Some(&cluster),
        SCENARIO,
        "get as a client trusting only the OLD CA",
        old_client.run(&cluster, 0, &["get", "/k3s-pki/b"]),
    );
    assert!(read.contains("after"), "{SCENARIO}: {read}");
}
