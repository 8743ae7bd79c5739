//! `ca-check expiry` on k3s and RKE2 nodes made by `gocheck k3s-fixture`: a
//! server (server/tls, agent/ and the admin kubeconfig) and an agent-only node
//! (agent/ alone). The report is compared with k3s's own file map, transcribed
//! here apart from the layout's copy so that either one being wrong fails; the
//! exit codes and the closing `rotate --service` command are checked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{Json, gocheck, ok, scratch};

/// k3s's `FilesForServices` (k3s-io/k3s, pkg/util/services/services.go at
/// 29667f317b20034d4bb78145a2f9f1a75c90aefa), with the `Runtime` file names of
/// pkg/daemons/control/deps/deps.go `CreateRuntimeCertFiles`, relative to the
/// data dir; `{p}` is the program (k3s, rke2). `certificate-authority` is
/// what `check --service certificate-authority` reads; `rotate` never renews it.
const FILES_FOR_SERVICES: &[(&str, &[&str])] = &[
    (
        "admin",
        &["server/tls/client-admin.crt", "server/tls/client-admin.key"],
    ),
    (
        "api-server",
        &[
            "server/tls/client-kube-apiserver.crt",
            "server/tls/client-kube-apiserver.key",
            "server/tls/serving-kube-apiserver.crt",
            "server/tls/serving-kube-apiserver.key",
        ],
    ),
    (
        "controller-manager",
        &[
            "server/tls/client-controller.crt",
            "server/tls/client-controller.key",
        ],
    ),
    (
        "scheduler",
        &[
            "server/tls/client-scheduler.crt",
            "server/tls/client-scheduler.key",
        ],
    ),
    (
        "etcd",
        &[
            "server/tls/etcd/client.crt",
            "server/tls/etcd/client.key",
            "server/tls/etcd/server-client.crt",
            "server/tls/etcd/server-client.key",
            "server/tls/etcd/peer-server-client.crt",
            "server/tls/etcd/peer-server-client.key",
        ],
    ),
    (
        "cloud-controller",
        &[
            "server/tls/client-{p}-cloud-controller.crt",
            "server/tls/client-{p}-cloud-controller.key",
        ],
    ),
    (
        "{p}-controller",
        &[
            "server/tls/client-{p}-controller.crt",
            "server/tls/client-{p}-controller.key",
            "agent/client-{p}-controller.crt",
            "agent/client-{p}-controller.key",
        ],
    ),
    (
        "supervisor",
        &[
            "server/tls/client-supervisor.crt",
            "server/tls/client-supervisor.key",
        ],
    ),
    (
        "auth-proxy",
        &[
            "server/tls/client-auth-proxy.crt",
            "server/tls/client-auth-proxy.key",
        ],
    ),
    (
        "kubelet",
        &[
            "server/tls/client-kubelet.key",
            "server/tls/serving-kubelet.key",
            "agent/client-kubelet.crt",
            "agent/client-kubelet.key",
            "agent/serving-kubelet.crt",
            "agent/serving-kubelet.key",
        ],
    ),
    (
        "kube-proxy",
        &[
            "server/tls/client-kube-proxy.crt",
            "server/tls/client-kube-proxy.key",
            "agent/client-kube-proxy.crt",
            "agent/client-kube-proxy.key",
        ],
    ),
    (
        "certificate-authority",
        &[
            "server/tls/server-ca.crt",
            "server/tls/server-ca.key",
            "server/tls/client-ca.crt",
            "server/tls/client-ca.key",
            "server/tls/request-header-ca.crt",
            "server/tls/request-header-ca.key",
            "server/tls/etcd/peer-ca.crt",
            "server/tls/etcd/peer-ca.key",
            "server/tls/etcd/server-ca.crt",
            "server/tls/etcd/server-ca.key",
        ],
    ),
];

/// services.go's `Agent` list: what `check` reads on a node without `server/`.
const AGENT_SERVICES: [&str; 3] = ["kube-proxy", "kubelet", "{p}-controller"];

fn ca_check(product: &str, data_dir: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir);
    cmd.args(["--product", product]);
    cmd
}

/// A k3s (or RKE2) node as `gocheck k3s-fixture` makes it, with `extra` flags.
fn node(work: &Path, product: &str, extra: &[&str]) -> PathBuf {
    let data = work.join(product);
    ok(gocheck()
        .args(["k3s-fixture", "--product", product])
        .args(extra)
        .arg("--out")
        .arg(&data));
    data
}

/// The files `k3s certificate check` reads certificates from (it reads every
/// file of the map and skips those without one: the keys), by service.
fn checked_files(product: &str, services: &[&str]) -> Vec<(String, String)> {
    FILES_FOR_SERVICES
        .iter()
        .filter(|(service, _)| services.is_empty() || services.contains(service))
        .flat_map(|(service, files)| {
            files
                .iter()
                .filter(|file| file.ends_with(".crt"))
                .map(move |file| {
                    (
                        service.replace("{p}", product),
                        file.replace("{p}", product),
                    )
                })
        })
        .collect()
}

fn rows(document: &Json) -> &Vec<Json> {
    document["certificates"].as_array().unwrap()
}

/// The rows of `file`: (service, CA) of each.
fn rows_of<'a>(document: &'a Json, file: &str) -> Vec<&'a Json> {
    rows(document)
        .iter()
        .filter(|row| row["file"] == file)
        .collect()
}

/// The acceptance test of issue 20: on a server, every file `k3s certificate
/// check` reads is in the report, each leaf named by the service k3s's map
/// gives it (CAs by none), and every leaf the report names a service for is
/// in that map; the admin kubeconfig is read as `admin`. For k3s and RKE2.
#[test]
fn a_server_report_holds_every_file_of_k3s_certificate_check() {
    let work = scratch();
    for product in ["k3s", "rke2"] {
        let data = node(work.path(), product, &[]);
        let kubeconfig = data.join(format!("{product}.yaml"));
        let document = testkit::json(
            ca_check(product, &data)
                .args(["expiry", "-o", "json", "--kubeconfig"])
                .arg(&kubeconfig),
        );
        assert_eq!(document["directory"], data.display().to_string());
        let expected = checked_files(product, &[]);
        assert_eq!(expected.len(), 22, "17 leaf and 5 CA files in the map");
        for (service, file) in &expected {
            let found = rows_of(&document, file);
            assert!(
                !found.is_empty(),
                "{product}: {file} ({service}) not in the report"
            );
            for row in found {
                let named = if service == "certificate-authority" {
                    Json::Null
                } else {
                    Json::from(service.as_str())
                };
                assert_eq!(row["service"], named, "{product}: {file}");
            }
        }
        for row in rows(&document) {
            let file = row["file"].as_str().unwrap();
            if let Some(service) = row["service"].as_str() {
                assert!(
                    expected.iter().any(|(s, f)| s == service && f == file)
                        || (file == format!("{product}.yaml") && service == "admin"),
                    "{product}: {file} named {service}, which k3s's map does not say"
                );
            }
        }
        let admin = rows_of(&document, &format!("{product}.yaml"));
        assert_eq!(admin.len(), 1, "{document}");
        assert_eq!(admin[0]["subject"], "system:admin");
        assert_eq!(admin[0]["service"], "admin");
        // The agent's CA copies are listed too, renewed by no service.
        for file in ["agent/client-ca.crt", "agent/server-ca.crt"] {
            assert_eq!(rows_of(&document, file)[0]["service"], Json::Null, "{file}");
        }
        assert_eq!(document["problems"], serde_json::json!([]));
        assert_eq!(document["renew"], Json::Null, "nothing is due");
        assert_eq!(document["due_days"], 90);
    }
}

/// An agent-only node (no server/): the agent's files, by the agent's
/// services; no "reading directory failed"; the default kubeconfig's absence
/// is a note; the renewal stops and starts the agent's unit.
#[test]
fn an_agent_only_node_lists_the_agent_files() {
    let work = scratch();
    let data = node(work.path(), "k3s", &["--agent-only"]);
    assert!(!data.join("server").exists());
    let out = ca_check("k3s", &data)
        .args(["expiry", "-o", "json", "--warn-days", "400"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let document: Json = serde_json::from_slice(&out.stdout).unwrap();
    let mut files: Vec<&str> = rows(&document)
        .iter()
        .map(|row| row["file"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    let mut expected: Vec<String> = checked_files("k3s", &AGENT_SERVICES)
        .into_iter()
        .map(|(_, file)| file)
        .filter(|file| file.starts_with("agent/"))
        .chain(["agent/client-ca.crt".into(), "agent/server-ca.crt".into()])
        .collect();
    expected.sort_unstable();
    assert_eq!(files, expected);
    assert_eq!(
        document["notes"],
        serde_json::json!([
            "/etc/rancher/k3s/k3s.yaml: not found (k3s writes it on servers; --kubeconfig names another)"
        ])
    );
    assert_eq!(
        document["renew"]["commands"],
        serde_json::json!([
            "systemctl stop k3s-agent",
            "k3s certificate rotate --service kube-proxy,kubelet,k3s-controller",
            "systemctl start k3s-agent"
        ])
    );
}

/// Exit codes: 0 all fine; 1 expired, or due within the window when asked,
/// or an explicit kubeconfig missing; 2 could not check. The table ends with
/// the one command that renews what is due, and only that.
#[test]
fn expiry_exit_codes_and_the_renewal_command() {
    let work = scratch();
    let data = node(work.path(), "k3s", &[]);
    let kubeconfig = data.join("k3s.yaml");
    let run = |args: &[&str]| {
        let out = ca_check("k3s", &data)
            .arg("expiry")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), table)
    };
    let (code, table) = run(&[]);
    assert_eq!(code, Some(0), "{table}");
    assert!(!table.contains("certificate rotate"), "{table}");
    // k3s's window (90 days) holds nothing of a fresh node; 400 days holds
    // every leaf.
    assert_eq!(run(&["--fail-due"]).0, Some(0));
    let (code, table) = run(&["--fail-due", "--due-days", "400"]);
    assert_eq!(code, Some(1), "{table}");
    assert!(
        table.contains(
            "  systemctl stop k3s\n  k3s certificate rotate --service api-server,admin,auth-proxy,\
             cloud-controller,controller-manager,etcd,scheduler,supervisor,kube-proxy,kubelet,\
             k3s-controller\n  systemctl start k3s\n"
        ),
        "{table}"
    );
    assert_eq!(
        run(&["--due-days", "400"]).0,
        Some(0),
        "due without --fail-due"
    );

    // An expired kubelet client certificate: exit 1, and the command renews
    // the kubelet alone.
    let agent = data.join("agent");
    ok(gocheck()
        .args(["issue", "--cn", "system:node:server-1", "--usage", "client"])
        .args(["--not-before", "2020-01-01T00:00:00Z", "--days", "30"])
        .arg("--ca-cert")
        .arg(data.join("server/tls/client-ca.crt"))
        .arg("--ca-key")
        .arg(data.join("server/tls/client-ca.key"))
        .arg("--out-cert")
        .arg(agent.join("client-kubelet.crt"))
        .arg("--out-key")
        .arg(agent.join("client-kubelet.key")));
    let (code, table) = run(&[]);
    assert_eq!(code, Some(1), "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with("agent/client-kubelet.crt "))
        .unwrap();
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words[words.len() - 2..], ["kubelet", "EXPIRED"], "{row}");
    assert!(
        table.ends_with(
            "Renew what is in the warning window or due (90 days), stopped first: rotate \
             deletes the files and the start re-issues them:\n  systemctl stop k3s\n  \
             k3s certificate rotate --service kubelet\n  systemctl start k3s\n"
        ),
        "{table}"
    );

    // A kubeconfig asked for and absent: a problem naming it, exit 1.
    let absent = work.path().join("absent.yaml");
    let out = ca_check("k3s", &data)
        .args(["expiry", "--kubeconfig"])
        .arg(&absent)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        table.contains(&format!("{}: cannot read: ", absent.display())),
        "{table}"
    );

    // Neither server/ nor agent/: could not check, naming the server's dir.
    let empty = work.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = ca_check("k3s", &empty).arg("expiry").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server/tls: the k3s certificate directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // kubeadm reads its kubeconfigs from its data dir: --kubeconfig is refused.
    let out = ca_check("kubeadm", &data)
        .args(["expiry", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 20: a folder holding only k3s.yaml reported "no certificates".
#[test]
fn a_folder_holding_only_the_kubeconfig_lists_its_certificate() {
    let work = scratch();
    let data = node(work.path(), "k3s", &[]);
    let folder = work.path().join("only");
    fs::create_dir_all(&folder).unwrap();
    fs::copy(data.join("k3s.yaml"), folder.join("k3s.yaml")).unwrap();
    for args in [&[][..], &["--kubeconfig"]] {
        let mut cmd = ca_check("k3s", &data);
        cmd.args(["expiry", "-o", "json"]).args(args);
        if !args.is_empty() {
            cmd.arg(folder.join("k3s.yaml"));
        }
        let document = testkit::json(cmd.arg(&folder));
        let files: Vec<&str> = rows(&document)
            .iter()
            .map(|row| row["file"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["k3s.yaml"], "{args:?}: read once");
        assert_eq!(rows(&document)[0]["service"], "admin");
        assert_eq!(rows(&document)[0]["subject"], "system:admin");
    }
}
