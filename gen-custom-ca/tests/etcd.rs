//! End to end, scenario A: a custom CA tree from `gen-custom-ca` carries real
//! mutual-TLS traffic on a three-member etcd cluster.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
use testkit::{ok, scratch};

const SCENARIO: &str = "scenario A (custom CA, 3-member etcd)";

/// Issues a certificate for 127.0.0.1/localhost under a CA of the tree.
fn issue(tls: &Path, out: &Path, ca: &str, name: &str, usage: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (tls.join(format!("{ca}.crt")), tls.join(format!("{ca}.key")));
    testkit::issue_leaf(&cert, &key, out, name, usage, false)
}

#[test]
fn scenario_a_custom_ca_carries_mutual_tls_on_a_three_member_etcd() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    ok(Command::new(env!("CARGO_BIN_EXE_gen-custom-ca"))
        .env_remove("PRODUCT")
        .arg("--data-dir")
        .arg(&data_dir));
    let tls = data_dir.join("server/tls");
    let out = dir.path();
    let members = (0..3)
        .map(|i| {
            let (cert, key) = issue(&tls, out, "etcd/server-ca", &format!("server-{i}"), "both");
            let (peer_cert, peer_key) =
                issue(&tls, out, "etcd/peer-ca", &format!("peer-{i}"), "both");
            MemberTls {
                cert,
                key,
                peer_cert,
                peer_key,
            }
        })
        .collect();
    let (cert, key) = issue(
        &tls,
        out,
        "etcd/server-ca",
        "kube-apiserver-etcd-client",
        "client",
    );
    let client = Client {
        trust: tls.join("etcd/server-ca.crt"),
        cert,
        key,
    };
    let trust = ClusterTrust {
        clients: tls.join("etcd/server-ca.crt"),
        peers: tls.join("etcd/peer-ca.crt"),
    };
    let cluster = step(
        None,
        SCENARIO,
        "start three members",
        EtcdCluster::start(members, trust, &client),
    );
    let c = Some(&cluster);
    step(
        c,
        SCENARIO,
        "put through member 0",
        client.run(&cluster, 0, &["put", "/k3s-pki/a", "custom-ca"]),
    );
    let read = step(
        c,
        SCENARIO,
        "get through member 2",
        client.run(&cluster, 2, &["get", "/k3s-pki/a"]),
    );
    assert!(
        read.contains("custom-ca"),
        "{SCENARIO}: replicated value, got {read}"
    );
    let members = step(
        c,
        SCENARIO,
        "list members",
        client.run(&cluster, 1, &["member", "list"]),
    );
    assert_eq!(
        members.lines().filter(|l| l.contains("started")).count(),
        3,
        "{members}"
    );

    // A client certificate from a CA outside the tree is refused.
    let (cert, key) = testkit::stranger(out);
    let stranger = Client {
        trust: tls.join("etcd/server-ca.crt"),
        cert,
        key,
    };
    let refused = stranger.run(&cluster, 0, &["get", "/k3s-pki/a"]);
    assert!(
        refused.is_err(),
        "{SCENARIO}: a client certificate from a foreign CA must be refused\n{}",
        cluster.log_tail()
    );
}
