//! `ca-check tree` on trees made with openssl the way the upstream script does
//! (testkit::enterprise::upstream_tree), under constrained enterprise CAs: each
//! constraint that breaks what k3s issues is a FAIL naming it, and Go's
//! crypto/x509 (`gocheck k3s-leaves`, trusting only the root) agrees.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::path::Path;
use std::process::Command;

use testkit::enterprise::{CaExt, KeyKind, root, sub_ca, upstream_tree};
use testkit::scratch;

fn ca_check() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ca-check"));
    cmd.env_remove("PRODUCT").env_remove("DATA_DIR");
    cmd
}

/// Runs `ca-check tree` on `tls`: (exit code, stdout).
fn tree(tls: &Path) -> (i32, String) {
    let out = ca_check().arg("tree").arg(tls).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// An openssl tree: `root_ext` on an RSA root, `intermediate_ext` on a P-384
/// intermediate, the five P-256 CAs under it.
fn openssl_tree(dir: &Path, root_ext: &CaExt, intermediate_ext: &CaExt) -> std::path::PathBuf {
    let corp = root(dir, "Corp Root", KeyKind::Rsa(2048), root_ext);
    let issuing = sub_ca(
        dir,
        "Corp Issuing CA",
        KeyKind::P384,
        &corp,
        intermediate_ext,
    );
    let tls = dir.join("server/tls");
    upstream_tree(&tls, &corp, &issuing);
    tls
}

/// The FAIL lines of a report.
fn failures(report: &str) -> Vec<&str> {
    report.lines().filter(|l| l.contains("FAIL")).collect()
}

#[test]
fn a_good_openssl_tree_passes_and_go_agrees() {
    let dir = scratch();
    let tls = openssl_tree(dir.path(), &CaExt::default(), &CaExt::default());
    let (code, report) = tree(&tls);
    assert_eq!(code, 0, "{report}");
    assert!(failures(&report).is_empty(), "{report}");
    assert!(
        report.contains("every certificate k3s issues verifies"),
        "{report}"
    );
    let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
    assert!(passed, "{go:#}");
}

#[test]
fn a_path_length_0_intermediate_is_a_failure_go_agrees_with() {
    let dir = scratch();
    let ext = CaExt {
        path_len: Some(0),
        ..CaExt::default()
    };
    let tls = openssl_tree(dir.path(), &CaExt::default(), &ext);
    let (code, report) = tree(&tls);
    assert_eq!(code, 1, "{report}");
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|l| l.contains("intermediate-ca.pem") && l.contains("pathLenConstraint 0")),
        "{report}"
    );
    let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
    assert!(!passed, "Go must reject too: {go:#}");
    assert!(go.to_string().contains("too many intermediates"), "{go:#}");
}

#[test]
fn a_name_constrained_root_is_a_failure_for_serving_certificates_only() {
    let dir = scratch();
    let ext = CaExt {
        name_constraints: Some("critical,permitted;DNS:corp.example".into()),
        ..CaExt::default()
    };
    let tls = openssl_tree(dir.path(), &ext, &CaExt::default());
    let (code, report) = tree(&tls);
    assert_eq!(code, 1, "{report}");
    let failed = failures(&report);
    assert_eq!(
        failed.len(),
        1,
        "one finding for the root's constraint:\n{report}"
    );
    assert!(failed[0].contains("root-ca.pem"), "{report}");
    assert!(
        failed[0].contains("nameConstraints permit only DNS corp.example"),
        "{report}"
    );
    assert!(failed[0].contains("needs DNS kubernetes"), "{report}");
    assert!(
        !failed[0].contains("admin"),
        "client certificates have no names: {report}"
    );
    let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
    assert!(!passed);
    assert!(
        go.to_string().contains("not permitted by any constraint"),
        "{go:#}"
    );
}

#[test]
fn a_server_auth_only_intermediate_is_a_failure_for_client_certificates() {
    let dir = scratch();
    let ext = CaExt {
        eku: Some("serverAuth".into()),
        ..CaExt::default()
    };
    let tls = openssl_tree(dir.path(), &CaExt::default(), &ext);
    let (code, report) = tree(&tls);
    assert_eq!(code, 1, "{report}");
    let failed = failures(&report);
    assert!(
        failed.iter().any(|l| l.contains("intermediate-ca.pem")
            && l.contains("extendedKeyUsage allows only serverAuth")
            && l.contains("admin")),
        "{report}"
    );
    let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
    assert!(!passed);
    assert!(go.to_string().contains("incompatible key usage"), "{go:#}");
}

#[test]
fn a_missing_directory_could_not_be_checked() {
    let dir = scratch();
    let (code, _) = tree(&dir.path().join("nowhere"));
    assert_eq!(code, 2, "could not check: exit 2");
    let out = ca_check().args(["tree"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "bad arguments: exit 2");
}

/// Node names and addresses go into k3s's serving, etcd and kubelet serving
/// certificates; given with `--node-name` and `--node-ip`, pre-flight checks
/// them against the root's name constraints, as Go does for the same node.
#[test]
fn node_names_and_addresses_are_checked_against_name_constraints() {
    let dir = scratch();
    let ext = CaExt {
        name_constraints: Some(
            "critical,excluded;DNS:forbidden.example,excluded;IP:192.168.66.0/255.255.255.0".into(),
        ),
        ..CaExt::default()
    };
    let tls = openssl_tree(dir.path(), &ext, &CaExt::default());
    let roots = tls.join("root-ca.pem");
    let with = |flags: &[&str]| {
        let out = ca_check()
            .arg("tree")
            .arg(&tls)
            .args(flags)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code().unwrap_or(-1), report)
    };
    let (code, report) = with(&[
        "--node-name",
        "node-1.corp.example",
        "--node-ip",
        "10.0.0.5",
    ]);
    assert_eq!(code, 0, "{report}");
    let (passed, go) = testkit::k3s_leaves_with(
        &tls,
        &roots,
        &[
            "--node-name",
            "node-1.corp.example",
            "--node-ip",
            "10.0.0.5",
        ],
    );
    assert!(passed, "{go:#}");

    // k3s lowercases node names.
    let (code, report) = with(&["--node-name", "Node-1.Forbidden.Example"]);
    assert_eq!(code, 1, "{report}");
    let failed = failures(&report).join("\n");
    assert!(
        failed.contains("needs DNS node-1.forbidden.example"),
        "{report}"
    );
    assert!(failed.contains("kubelet serving"), "{report}");
    assert!(failed.contains("etcd"), "{report}");
    let (passed, go) =
        testkit::k3s_leaves_with(&tls, &roots, &["--node-name", "node-1.forbidden.example"]);
    assert!(!passed, "Go agrees: {go:#}");

    let (code, report) = with(&["--node-ip", "192.168.66.7"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        failures(&report).join("\n").contains("IP 192.168.66.7"),
        "{report}"
    );
    let (passed, go) = testkit::k3s_leaves_with(&tls, &roots, &["--node-ip", "192.168.66.7"]);
    assert!(!passed, "Go agrees: {go:#}");

    // kubeadm's pre-flight has no node names to check: the flags are refused.
    let out = ca_check()
        .env("PRODUCT", "kubeadm")
        .args(["tree", "--node-name", "cp-1"])
        .arg(&tls)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("are read for k3s and RKE2"), "{stderr}");
}

/// `intermediate-ca.pem` holding a line of `depth` CAs under the root (issuing
/// CA first, as three-tier PKIs export it), a leaf CA under it and Go's leaf
/// under that: Go's path builder spends one signature check per certificate
/// above the leaf and stops after 100. So Go takes 98 CAs in the file (leaf,
/// server CA, 98, root: 100 checks) and refuses 99; `ca-check tree` must say
/// the same on both sides of that line.
#[test]
fn a_chain_deeper_than_gos_signature_budget_is_a_failure_exactly_where_go_refuses() {
    let dir = scratch();
    let corp = root(dir.path(), "Corp Root", KeyKind::P256, &CaExt::default());
    let mut line = vec![];
    for i in 0..99 {
        let issuer = line.last().unwrap_or(&corp);
        let ca = sub_ca(
            dir.path(),
            &format!("CA {i}"),
            KeyKind::P256,
            issuer,
            &CaExt::default(),
        );
        line.push(ca);
    }
    for depth in [98, 99] {
        let bottom = &line[depth - 1];
        let parts: Vec<&Path> = line[..depth]
            .iter()
            .rev()
            .map(|c| c.cert.as_path())
            .collect();
        let chain = dir.path().join(format!("chain-{depth}.pem"));
        testkit::enterprise::chain_file(&chain, &parts);
        let issuing = testkit::enterprise::Ca {
            cert: chain,
            key: bottom.key.clone(),
            kind: bottom.kind,
        };
        let tls = dir.path().join(format!("tree-{depth}/server/tls"));
        upstream_tree(&tls, &corp, &issuing);
        let (code, report) = tree(&tls);
        let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
        if depth == 98 {
            assert_eq!(code, 0, "{report}");
            assert!(passed, "Go accepts 98: {go:#}");
        } else {
            assert_eq!(code, 1, "{report}");
            assert!(
                failures(&report).iter().any(
                    |l| l.contains("intermediate-ca.pem") && l.contains("100 signature checks")
                ),
                "{report}"
            );
            assert!(!passed, "Go refuses 99: {go:#}");
            assert!(
                go.to_string().contains("signature check attempts limit"),
                "{go:#}"
            );
        }
    }
}

/// Certificate policies as Go 1.24+ validates them while building the chain:
/// an issuing CA whose policyConstraints require an explicit policy fails every
/// leaf k3s issues (they carry no certificatePolicies); policies alone, or a
/// requirement that starts below k3s's leaves, pass. `ca-check tree` and Go agree.
#[test]
fn policy_constraints_that_break_k3s_leaves_are_a_failure_go_agrees_with() {
    let dir = scratch();
    let policies = |extra: &[&str]| CaExt {
        extra: extra.iter().map(|l| l.to_string()).collect(),
        ..CaExt::default()
    };
    // (extensions of the issuing CA, extensions of the root, whether Go accepts)
    let cases: [(CaExt, CaExt, bool); 4] = [
        (
            policies(&["certificatePolicies = 1.3.6.1.4.1.99999.1"]),
            CaExt::default(),
            true,
        ),
        (
            policies(&[
                "certificatePolicies = 1.3.6.1.4.1.99999.1",
                "policyConstraints = critical, requireExplicitPolicy:0",
            ]),
            CaExt::default(),
            false,
        ),
        // Counted below the issuing CA: the five CAs, then the leaves, then
        // the end of the path takes one more; the root's own constraints are
        // never read (a trust anchor).
        (
            policies(&[
                "certificatePolicies = 1.3.6.1.4.1.99999.1",
                "policyConstraints = critical, requireExplicitPolicy:2",
            ]),
            CaExt::default(),
            false,
        ),
        (
            policies(&[
                "certificatePolicies = 1.3.6.1.4.1.99999.1",
                "policyConstraints = critical, requireExplicitPolicy:3",
            ]),
            policies(&["policyConstraints = critical, requireExplicitPolicy:0"]),
            true,
        ),
    ];
    for (i, (issuing_ext, root_ext, go_accepts)) in cases.into_iter().enumerate() {
        let case = dir.path().join(format!("case-{i}"));
        std::fs::create_dir_all(&case).unwrap();
        let tls = openssl_tree(&case, &root_ext, &issuing_ext);
        let (code, report) = tree(&tls);
        let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
        assert_eq!(passed, go_accepts, "case {i}: Go says {go:#}");
        if go_accepts {
            assert_eq!(code, 0, "case {i}: {report}");
        } else {
            assert_eq!(code, 1, "case {i}: {report}");
            assert!(
                failures(&report)
                    .iter()
                    .any(|l| l.contains("requires an explicit certificate policy")),
                "case {i}: {report}"
            );
            assert!(
                go.to_string().contains("invalid policies"),
                "case {i}: {go:#}"
            );
        }
    }
}

/// An issuing CA with a critical extension Go does not handle: Go refuses every
/// leaf under it; `ca-check tree` fails naming the extension and the file.
#[test]
fn an_issuing_ca_with_an_unhandled_critical_extension_is_a_failure_go_agrees_with() {
    let dir = scratch();
    let ext = CaExt {
        extra: vec!["1.2.3.4 = critical, ASN1:NULL".into()],
        ..CaExt::default()
    };
    let tls = openssl_tree(dir.path(), &CaExt::default(), &ext);
    let (code, report) = tree(&tls);
    assert_eq!(code, 1, "{report}");
    assert!(
        failures(&report)
            .iter()
            .any(|l| l.contains("intermediate-ca.pem")
                && l.contains("critical extension Go does not handle (1.2.3.4)")),
        "{report}"
    );
    let (passed, go) = testkit::k3s_leaves(&tls, &tls.join("root-ca.pem"));
    assert!(!passed, "Go refuses too: {go:#}");
    assert!(
        go.to_string().contains("unhandled critical extension"),
        "{go:#}"
    );
}

/// Issue 18: a `root-ca.pem` holding a second certificate (here another root)
/// is a failure, as gen-custom-ca refuses it: the file is the cluster's trust
/// anchor, so every certificate in it is a root for every client given it.
#[test]
fn a_root_ca_pem_holding_two_certificates_is_a_failure() {
    let dir = scratch();
    let tls = openssl_tree(dir.path(), &CaExt::default(), &CaExt::default());
    let other = root(dir.path(), "Other Root", KeyKind::P256, &CaExt::default());
    let mut pem = std::fs::read(tls.join("root-ca.pem")).unwrap();
    pem.extend(std::fs::read(&other.cert).unwrap());
    std::fs::write(tls.join("root-ca.pem"), pem).unwrap();
    let (code, report) = tree(&tls);
    assert_eq!(code, 1, "{report}");
    assert!(
        failures(&report)
            .iter()
            .any(|l| l.starts_with("root-ca.pem") && l.contains("holds 2 certificates")),
        "{report}"
    );
}
