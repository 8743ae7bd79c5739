//! End to end: a custom CA tree from `gen-custom-ca` carries real mutual-TLS
//! traffic on a three-member etcd cluster. Scenario A: the default tree.
//! Scenario C: an enterprise three-tier P-384 chain (root -> policy CA ->
//! issuing CA, no root key) with P-384 leaf CAs, and a client that trusts only
//! the organisation's root. Scenario K: kubeadm's `etcd/ca` signs server, peer
//! and client certificates, trusted as kubeadm configures etcd.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::etcd::{Client, ClusterTrust, EtcdCluster, MemberTls, step};
use testkit::{ok, scratch};

/// Issues a certificate for 127.0.0.1/localhost under a CA of the tree; with
/// `chain` the CA bundle follows it (what a server shows a root-only client).
fn issue(
    tls: &Path,
    out: &Path,
    ca: &str,
    name: &str,
    usage: &str,
    chain: bool,
) -> (PathBuf, PathBuf) {
    let (cert, key) = (tls.join(format!("{ca}.crt")), tls.join(format!("{ca}.key")));
    testkit::issue_leaf(&cert, &key, out, name, usage, chain)
}

/// k3s's two etcd CAs; kubeadm has one for both.
const K3S_ETCD: EtcdCas = EtcdCas {
    server: "etcd/server-ca",
    peer: "etcd/peer-ca",
};

/// The CAs (file stems) that sign etcd's server and client certificates, and
/// its peer certificates.
struct EtcdCas {
    server: &'static str,
    peer: &'static str,
}

fn gen_custom_ca(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gen-custom-ca"));
    cmd.env_remove("PRODUCT").arg("--data-dir").arg(data_dir);
    cmd
}

#[test]
fn scenario_a_custom_ca_carries_mutual_tls_on_a_three_member_etcd() {
    let dir = scratch();
    let data_dir = dir.path().join("data");
    crate::util::default_tree(&data_dir);
    let tls = data_dir.join("server/tls");
    let trust = tls.join("etcd/server-ca.crt");
    three_members_replicate(
        "scenario A (custom CA, 3-member etcd)",
        &tls,
        dir.path(),
        &trust,
        &K3S_ETCD,
    );
}

#[test]
fn scenario_k_kubeadm_etcd_ca_carries_mutual_tls_on_a_three_member_etcd() {
    let dir = scratch();
    let data_dir = dir.path().join("kubernetes");
    ok(gen_custom_ca(&data_dir).args(["--product", "kubeadm"]));
    let pki = data_dir.join("pki");
    // kubeadm's etcd: --trusted-ca-file, --peer-trusted-ca-file and the
    // apiserver's --etcd-cafile are all etcd/ca.crt.
    three_members_replicate(
        "scenario K (kubeadm etcd/ca, 3-member etcd)",
        &pki,
        dir.path(),
        &pki.join("etcd/ca.crt"),
        &EtcdCas {
            server: "etcd/ca",
            peer: "etcd/ca",
        },
    );
}

#[test]
fn scenario_c_a_three_tier_p384_enterprise_chain_carries_etcd_for_root_only_clients() {
    use testkit::enterprise::{Ca, CaExt, KeyKind, chain_file, root, sub_ca};
    let dir = scratch();
    let work = dir.path();
    let corp = root(work, "Corp Root", KeyKind::P384, &CaExt::default());
    let policy = sub_ca(
        work,
        "Corp Policy CA",
        KeyKind::P384,
        &corp,
        &CaExt::default(),
    );
    let issuing = sub_ca(
        work,
        "Corp Issuing CA",
        KeyKind::P384,
        &policy,
        &CaExt::default(),
    );
    let chain = work.join("issuing-chain.pem");
    chain_file(&chain, &[&issuing.cert, &policy.cert]);
    let data_dir = work.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::copy(&corp.cert, data_dir.join("root-ca.pem")).unwrap();
    let issuing = Ca {
        cert: chain,
        ..issuing
    };
    std::fs::copy(&issuing.cert, data_dir.join("intermediate-ca.pem")).unwrap();
    std::fs::copy(&issuing.key, data_dir.join("intermediate-ca.key")).unwrap();
    ok(gen_custom_ca(&data_dir).args(["--leaf-ca-algorithm", "ECDSA-P384"]));
    let tls = data_dir.join("server/tls");
    // The client trusts the organisation's root alone; servers show their chain.
    three_members_replicate(
        "scenario C (three-tier P-384 enterprise chain, 3-member etcd)",
        &tls,
        work,
        &tls.join("root-ca.pem"),
        &K3S_ETCD,
    );
}

/// Three members with server and peer certificates from the etcd CAs `cas` of
/// `tls` (servers present their chain), a client whose CA file is
/// `client_trust`: a value written through one member is read through another,
/// and a client certificate from a foreign CA is refused.
fn three_members_replicate(
    scenario: &str,
    tls: &Path,
    out: &Path,
    client_trust: &Path,
    cas: &EtcdCas,
) {
    let members = (0..3)
        .map(|i| {
            let (cert, key) = issue(tls, out, cas.server, &format!("server-{i}"), "both", true);
            let (peer_cert, peer_key) =
                issue(tls, out, cas.peer, &format!("peer-{i}"), "both", true);
            MemberTls {
                cert,
                key,
                peer_cert,
                peer_key,
            }
        })
        .collect();
    let (cert, key) = issue(
        tls,
        out,
        cas.server,
        "kube-apiserver-etcd-client",
        "client",
        true,
    );
    let client = Client {
        trust: client_trust.to_path_buf(),
        cert,
        key,
    };
    let trust = ClusterTrust {
        clients: tls.join(format!("{}.crt", cas.server)),
        peers: tls.join(format!("{}.crt", cas.peer)),
    };
    let cluster = step(
        None,
        scenario,
        "start three members",
        EtcdCluster::start(members, trust, &client),
    );
    let c = Some(&cluster);
    step(
        c,
        scenario,
        "put through member 0",
        client.run(&cluster, 0, &["put", "/k3s-pki/a", "custom-ca"]),
    );
    let read = step(
        c,
        scenario,
        "get through member 2",
        client.run(&cluster, 2, &["get", "/k3s-pki/a"]),
    );
    assert!(
        read.contains("custom-ca"),
        "{scenario}: replicated value, got {read}"
    );
    let members = step(
        c,
        scenario,
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
        trust: client_trust.to_path_buf(),
        cert,
        key,
    };
    let refused = stranger.run(&cluster, 0, &["get", "/k3s-pki/a"]);
    assert!(
        refused.is_err(),
        "{scenario}: a client certificate from a foreign CA must be refused\n{}",
        cluster.log_tail()
    );
}
