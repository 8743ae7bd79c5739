//! The README's task sections (and those of docs/tasks.md, where the README
//! sends the rest), run as a reader would paste them.
//!
//! Every ```sh block of the README that follows a `<!-- readme-test: STATE -->`
//! line runs under `bash -euo pipefail`, so one failing command fails the
//! test. STATE is what the machine holds first: `fresh` (nothing),
//! `k3s-running` (a k3s data directory as k3s makes it, from `gocheck
//! k3s-fixture`), `k3s-ca-expiring` (the same, first started ten years ago:
//! its CAs end within a month), `org-ca` (an organisation's root and issuing CA in
//! /srv/pki, made with openssl, the root key kept elsewhere), or `continued`
//! (the machine the block before left).
//!
//! Each block runs in a scratch directory standing in for `/`: the system
//! paths it names (/var/lib/rancher/k3s, /etc/kubernetes, /var/lib/k0s, /srv,
//! /media, /tmp) are rewritten to lie under it, and `DATA_DIR` points at the
//! scratch /var/lib/rancher/k3s, where the tools' default would be. The six
//! tools are the workspace's own builds. What needs a real cluster is a stub
//! that records its arguments: `systemctl`, `kubectl`, `k0s`, `curl` (the k3s
//! installer it fetches does nothing), `kubeadm` (whose `certs generate-csr`
//! writes an apiserver and a front-proxy-client key and CSR with openssl, as
//! kubeadm would) and `k3s`, whose `certificate rotate-ca --path=P` applies
//! k3s's own checks to `P/tls` with the Go oracle (`gocheck rotate-check`
//! against the live server/tls) and fails as k3s would refuse; the next
//! `systemctl restart k3s` writes what it stored as k3s's start does
//! (`gocheck k3s-restart`: the files, re-issued leaves, re-hashed tokens).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::enterprise::{CaExt, KeyKind, root, sub_ca};
use testkit::{gocheck, gocheck_path, ok, scratch, tool_binaries, workspace_root};

/// The marker a tested block follows.
const MARKER: &str = "<!-- readme-test: ";

/// The system paths a block may name, rewritten to lie under its scratch root.
const SYSTEM_PATHS: [&str; 6] = [
    "/var/lib/rancher/k3s",
    "/etc/kubernetes",
    "/var/lib/k0s",
    "/srv",
    "/media",
    "/tmp",
];

/// One tested block: what it starts from, its commands, where it is.
struct Block {
    state: String,
    script: String,
    line: usize,
}

/// Every tested block of the README, in order. Panics on a ```sh block of the
/// Tasks section without a marker, so that no task goes untested.
fn tested_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut in_tasks = false;
    let mut state: Option<String> = None;
    let mut lines = readme.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if line.starts_with("## ") {
            in_tasks = line == "## Tasks";
        }
        if let Some(rest) = line.strip_prefix(MARKER) {
            let name = rest.strip_suffix(" -->").expect("a marker ends with -->");
            state = Some(name.to_owned());
            continue;
        }
        if line == "```sh" {
            let Some(state) = state.take() else {
                assert!(
                    !in_tasks,
                    "README line {}: a task's ```sh block without `{MARKER}STATE -->`",
                    index + 1
                );
                continue;
            };
            let script: Vec<&str> = lines
                .by_ref()
                .map(|(_, line)| line)
                .take_while(|line| *line != "```")
                .collect();
            blocks.push(Block {
                state,
                script: script.join("\n"),
                line: index + 1,
            });
        } else {
            assert!(
                state.is_none() || line.trim().is_empty(),
                "README line {}: a marker must come right before a ```sh block",
                index + 1
            );
        }
    }
    blocks
}

/// `script` with the system paths under `root`, in one pass, so that a path
/// already rooted is not rooted again.
fn rooted(script: &str, root: &Path) -> String {
    let root = root.display().to_string();
    let mut out = String::with_capacity(script.len());
    let mut previous = None;
    for (at, c) in script.char_indices() {
        // At the start of a word only: after a space, `=`, `(` or a line break.
        let word_start = previous.is_none_or(|p| matches!(p, ' ' | '=' | '(' | '\n'));
        if word_start
            && SYSTEM_PATHS
                .iter()
                .any(|path| script[at..].starts_with(path))
        {
            out.push_str(&root);
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

/// The stubs of what needs a real cluster, in `bin`; each appends its
/// command line to `log`.
fn write_stubs(bin: &Path, log: &Path) {
    fs::create_dir_all(bin).unwrap();
    let record = format!("echo \"$(basename \"$0\") $*\" >> '{}'", log.display());
    let k3s = format!(
        r#"{record}
if [ "$1 $2" = "certificate rotate-ca" ]; then
  shift 2
  path= force=
  for arg; do
    case "$arg" in --path=*) path="${{arg#--path=}}" ;; --force) force=1 ;; esac
  done
  [ -n "$path" ] || {{ echo "stub k3s: rotate-ca without --path" >&2; exit 1; }}
  [ -n "$force" ] && exit 0
  '{gocheck}' rotate-check --current "$DATA_DIR/server/tls" --staged "$path/tls" >/dev/null || exit 1
  echo "$path" > "$DATA_DIR/.stub-rotate-ca"
fi"#,
        gocheck = gocheck_path().display()
    );
    // k3s writes what rotate-ca stored at its next start: the restart of a
    // server applies it as k3s would (gocheck k3s-restart).
    let systemctl = format!(
        r#"{record}
if [ "$1 $2" = "restart k3s" ] && [ -f "$DATA_DIR/.stub-rotate-ca" ]; then
  '{gocheck}' k3s-restart --data-dir "$DATA_DIR" --path "$(cat "$DATA_DIR/.stub-rotate-ca")" >/dev/null
  rm "$DATA_DIR/.stub-rotate-ca"
fi"#,
        gocheck = gocheck_path().display()
    );
    let kubeadm = format!(
        r#"{record}
if [ "$1 $2" = "certs generate-csr" ]; then
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in --cert-dir) pki="$2"; shift ;; esac
    shift
  done
  csr() {{ openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$2" "${{@:3}}" 2>/dev/null; }}
  csr apiserver kube-apiserver -addext "subjectAltName=DNS:cp1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:10.0.0.10"
  csr front-proxy-client front-proxy-client
fi"#
    );
    let stubs = [
        ("k3s", k3s),
        ("kubeadm", kubeadm),
        ("systemctl", systemctl),
        ("kubectl", record.clone()),
        ("k0s", record.clone()),
        ("curl", record.clone()),
    ];
    for (name, body) in stubs {
        let path = bin.join(name);
        fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Puts the machine under `root` in `state`.
fn prepare(state: &str, root: &Path) {
    for dir in ["srv", "media", "tmp", "etc", "var/lib"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    match state {
        "fresh" | "continued" => {}
        "k3s-running" => {
            ok(gocheck()
                .args(["k3s-fixture", "--out"])
                .arg(root.join("var/lib/rancher/k3s")));
        }
        "k3s-ca-expiring" => {
            // First started ten years ago, less a month: the CAs end in a month.
            let started = ok(Command::new("date").args(["-u", "-d", "-3620 days", "+%FT%TZ"]));
            let data_dir = root.join("var/lib/rancher/k3s");
            ok(gocheck()
                .args(["k3s-fixture", "--now", started.trim(), "--out"])
                .arg(&data_dir));
            // Its last start re-issued the leaves, as every start does.
            ok(gocheck()
                .args(["k3s-restart", "--data-dir"])
                .arg(&data_dir)
                .arg("--path")
                .arg(root.join("nothing-staged")));
        }
        "org-ca" => {
            let pki = root.join("srv/pki");
            let vault = root.join("vault");
            fs::create_dir_all(&pki).unwrap();
            fs::create_dir_all(&vault).unwrap();
            let corp = root_ca(&vault);
            fs::copy(&corp.cert, pki.join("root-ca.pem")).unwrap();
            sub_ca(
                &pki,
                "intermediate-ca",
                KeyKind::P256,
                &corp,
                &CaExt::default(),
            );
        }
        other => panic!("unknown readme-test state {other:?}"),
    }
}

/// The organisation's root, in its vault.
fn root_ca(vault: &Path) -> testkit::enterprise::Ca {
    root(vault, "corp-root", KeyKind::Rsa(2048), &CaExt::default())
}

/// The pages whose task sections are run: the README's front page, and the
/// tasks it points to.
const TASK_PAGES: [&str; 2] = ["README.md", "docs/tasks.md"];

#[test]
fn every_task_of_the_readme_runs() {
    let pages: Vec<(&str, Vec<Block>)> = TASK_PAGES
        .iter()
        .map(|page| {
            let text = fs::read_to_string(workspace_root().join(page)).unwrap();
            (*page, tested_blocks(&text))
        })
        .collect();
    let count: usize = pages.iter().map(|(_, blocks)| blocks.len()).sum();
    assert!(
        count >= 10,
        "the task sections should hold at least 10 tested blocks, found {count}"
    );
    for (page, blocks) in &pages {
        run_blocks(page, blocks);
    }
}

/// Runs the tested `blocks` of `page` in order, a `continued` block on the
/// machine the block before left.
fn run_blocks(page: &str, blocks: &[Block]) {
    let tools = tool_binaries();
    let mut machine: Option<(tempfile::TempDir, PathBuf)> = None;
    for block in blocks {
        if block.state != "continued" || machine.is_none() {
            let dir = scratch();
            let root = dir.path().join("root");
            machine = Some((dir, root));
        }
        let (dir, root) = machine.as_ref().unwrap();
        prepare(&block.state, root);
        let stubs = dir.path().join("stubs");
        let log = dir.path().join("stubs.log");
        write_stubs(&stubs, &log);
        let path = format!(
            "{}:{}:/usr/local/bin:/usr/bin:/bin",
            stubs.display(),
            tools.display()
        );
        let script = rooted(&block.script, root);
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(root)
            .env_clear()
            .env("PATH", path)
            .env("HOME", dir.path())
            .env("TMPDIR", root.join("tmp"))
            .env("DATA_DIR", root.join("var/lib/rancher/k3s"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{page} block at line {} ({}) failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}\nstubs called:\n{}",
            block.line,
            block.state,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

/// The stub k3s refuses what k3s would: a staged tree that does not chain
/// to the current roots. Without this, a README rotation that stages the
/// wrong thing would still pass.
#[test]
fn the_k3s_stub_refuses_what_rotate_ca_refuses() {
    let dir = scratch();
    let root = dir.path().join("root");
    prepare("k3s-running", &root);
    let stubs = dir.path().join("stubs");
    write_stubs(&stubs, &dir.path().join("stubs.log"));
    let other = dir.path().join("other");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&other));
    let status = Command::new(stubs.join("k3s"))
        .args(["certificate", "rotate-ca"])
        .arg(format!("--path={}", other.join("server").display()))
        .env("DATA_DIR", root.join("var/lib/rancher/k3s"))
        .status()
        .unwrap();
    assert!(!status.success());
}

#[test]
fn system_paths_are_rooted_at_word_starts_only() {
    let root = Path::new("/s");
    assert_eq!(
        rooted(
            "cp /srv/a /etc/kubernetes/pki/\nk3s x --path=/srv/b (/tmp/c)",
            root
        ),
        "cp /s/srv/a /s/etc/kubernetes/pki/\nk3s x --path=/s/srv/b (/s/tmp/c)"
    );
    assert_eq!(rooted("/media/usb", root), "/s/media/usb");
    assert_eq!(
        rooted("https://get.k3s.io/srv", root),
        "https://get.k3s.io/srv"
    );
}
