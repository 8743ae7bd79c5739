//! `ca-check token` on the tokens an operator configured on a node
//! (issue 20): config.yaml and its drop-ins, the service's environment file,
//! the unit's `--token`, and a pasted token. Each stale one is named by file,
//! line and key; no secret is ever printed. Every test reads the node's files
//! under a scratch `--root`, never this machine's /etc.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use testkit::{gocheck, k3s_hash, ok, scratch};

/// The password of every token these tests write: it must never be printed.
const SECRET: &str = "s3cr3t-Pa55w0rd";

fn tool(data_dir: &Path) -> Command {
    testkit::tool(env!("CARGO_BIN_EXE_ca-check"), data_dir)
}

/// A k3s data dir as k3s makes it, its join CA's hash, and a node root.
fn node(dir: &Path) -> (PathBuf, String, PathBuf) {
    let data_dir = dir.join("data");
    ok(gocheck().args(["k3s-fixture", "--out"]).arg(&data_dir));
    let hash = k3s_hash(&data_dir.join("server/tls/server-ca.crt"));
    let root = dir.join("node");
    fs::create_dir_all(&root).unwrap();
    (data_dir, hash, root)
}

fn token(hash: &str, user: &str) -> String {
    format!("K10{hash}::{user}:{SECRET}")
}

/// A hash no CA of these tests has: what a token carries after a CA change.
fn old_hash() -> String {
    "ab".repeat(32)
}

fn put(root: &Path, file: &str, text: &str) -> PathBuf {
    let path = root.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

/// Runs `token --root <root>` with `args`; the output, after checking that
/// no secret is in it.
fn check(data_dir: &Path, root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = tool(data_dir)
        .arg("token")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    judged(out)
}

fn judged(out: Output) -> (Option<i32>, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(SECRET), "a secret was printed:\n{text}");
    (out.status.code(), text)
}

/// The one output line that starts with `start`.
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(start)).collect();
    assert_eq!(lines.len(), 1, "one line starting {start:?} in:\n{text}");
    lines[0]
}

#[test]
fn stale_tokens_are_named_by_file_line_and_key_in_every_place() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    let old = old_hash();
    let config = put(
        &root,
        "etc/rancher/k3s/config.yaml",
        &format!(
            "write-kubeconfig-mode: \"0644\"\ntoken: \"{}\"\nagent-token: {} # joins agents\n",
            token(&hash, "server"),
            token(&old, "node")
        ),
    );
    // A drop-in read after config.yaml: its token is the one k3s uses.
    let dropin = put(
        &root,
        "etc/rancher/k3s/config.yaml.d/50-join.yaml",
        &format!(
            "server: https://10.0.0.10:6443\ntoken: '{}'\n",
            token(&old, "server")
        ),
    );
    put(
        &root,
        "etc/rancher/k3s/config.yaml.d/README",
        "token: not-read\n",
    );
    let env = put(
        &root,
        "etc/systemd/system/k3s-agent.service.env",
        &format!(
            "K3S_URL='https://10.0.0.10:6443'\nK3S_TOKEN='{}'\n",
            token(&old, "node")
        ),
    );
    let unit = put(
        &root,
        "etc/systemd/system/k3s.service",
        &format!(
            "[Service]\nEnvironment=\"K3S_AGENT_TOKEN={}\"\n\
             ExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--token' \\\n\t'{}'\n",
            token(&old, "node"),
            token(&hash, "server")
        ),
    );
    // `systemctl edit k3s-agent` writes an override beside the unit.
    let dropin_unit = put(
        &root,
        "etc/systemd/system/k3s-agent.service.d/override.conf",
        &format!("[Service]\nEnvironment=K3S_TOKEN={}\n", token(&old, "node")),
    );
    let pasted = token(&old, "server");
    let (code, text) = check(&data_dir, &root, &["--token", &pasted]);
    assert_eq!(code, Some(1), "{text}");
    let stale = |start: &str| {
        let found = line(&text, start);
        assert!(found.contains(&format!("STALE: carries {old}")), "{found}");
        assert!(
            found.contains(&format!("K10{hash}::<user>:<password>")),
            "{found}"
        );
    };
    stale(&format!("{}:3: agent-token: ", config.display()));
    stale(&format!("{}:2: token: ", dropin.display()));
    stale(&format!("{}:2: K3S_TOKEN: ", env.display()));
    stale("the token given with --token: ");
    stale(&format!("{}:2: K3S_AGENT_TOKEN: ", unit.display()));
    stale(&format!("{}:2: K3S_TOKEN: ", dropin_unit.display()));
    assert!(
        line(&text, &format!("{}:2: token: ", config.display())).ends_with(&format!(
            "not used: {}:2 sets it later (k3s reads config.yaml, then its drop-ins by name)",
            dropin.display()
        )),
        "{text}"
    );
    assert!(
        line(&text, &format!("{}:6: --token: ", unit.display())).ends_with("carries it (current)"),
        "{text}"
    );
    assert!(!text.contains("not-read"), "{text}");
}

#[test]
fn current_tokens_pass_in_every_place() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    let config = put(
        &root,
        "etc/rancher/k3s/config.yaml",
        &format!("token: {}\n", token(&hash, "server")),
    );
    let dropin = put(
        &root,
        "etc/rancher/k3s/config.yaml.d/10-agents.yml",
        &format!("agent-token: \"{}\"\n", token(&hash, "node")),
    );
    let env = put(
        &root,
        "etc/systemd/system/k3s.service.env",
        &format!("K3S_TOKEN='{}'\n", token(&hash, "server")),
    );
    // A bare password carries no hash: nothing to check, not stale.
    let openrc = put(
        &root,
        "etc/rancher/k3s/k3s-agent.env",
        &format!("K3S_TOKEN={SECRET}\n"),
    );
    let unit = put(
        &root,
        "etc/systemd/system/k3s-agent.service",
        &format!(
            "ExecStart=/usr/local/bin/k3s agent --token={}\n",
            token(&hash, "node")
        ),
    );
    let (code, text) = check(&data_dir, &root, &["--token", &token(&hash, "node")]);
    assert_eq!(code, Some(0), "{text}");
    for start in [
        format!("{}:1: token: ", config.display()),
        format!("{}:1: agent-token: ", dropin.display()),
        format!("{}:1: K3S_TOKEN: ", env.display()),
        format!("{}:1: --token: ", unit.display()),
        "the token given with --token: ".to_string(),
    ] {
        assert!(
            line(&text, &start).ends_with("carries it (current)"),
            "{text}"
        );
    }
    assert!(
        line(&text, &format!("{}:1: K3S_TOKEN: ", openrc.display()))
            .contains("carries no CA hash (a bare password"),
        "{text}"
    );
}

/// A pasted token read from standard input (`--token -`), kept out of `ps`.
#[test]
fn a_token_read_from_standard_input_is_checked() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    let mut child = tool(&data_dir)
        .args(["token", "--token", "-", "--root"])
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        token(&old_hash(), "node")
    )
    .unwrap();
    let (code, text) = judged(child.wait_with_output().unwrap());
    assert_eq!(code, Some(1), "{text}");
    assert!(
        line(&text, "the token given with --token: ").contains("STALE"),
        "{text}"
    );
    let (code, text) = check(&data_dir, &root, &["--token", &token(&hash, "server")]);
    assert_eq!(code, Some(0), "{text}");
}

/// Missing default files are not problems; a named file that is missing, a
/// token-file that names nothing readable, and an unreadable file are.
#[test]
fn missing_defaults_pass_and_unreadable_files_are_problems() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("No token configured on this node"), "{text}");

    let named = root.join("elsewhere/config.yaml");
    let (code, text) = check(&data_dir, &root, &["--config", named.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        line(&text, &named.display().to_string()).contains("No such file"),
        "{text}"
    );

    // token-file names a file on the node: read under --root.
    put(
        &root,
        "etc/k3s/join",
        &format!("{}\n", token(&old_hash(), "server")),
    );
    let config = put(
        &root,
        "etc/rancher/k3s/config.yaml",
        "token-file: /etc/k3s/join\n",
    );
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(1), "{text}");
    let found = line(&text, &root.join("etc/k3s/join").display().to_string());
    assert!(
        found.contains(&format!(
            "(named by token-file at {}:1): STALE",
            config.display()
        )),
        "{text}"
    );
    put(
        &root,
        "etc/k3s/join",
        &format!("{}\n", token(&hash, "server")),
    );
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(0), "{text}");

    // An environment file that is a directory: one line naming it, exit 1.
    let env = root.join("etc/systemd/system/k3s.service.env");
    fs::create_dir_all(&env).unwrap();
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(1), "{text}");
    line(&text, &env.display().to_string());
    // A malformed secure token: named, its value not echoed.
    fs::remove_dir(&env).unwrap();
    put(
        &root,
        "etc/systemd/system/k3s.service.env",
        &format!("K3S_TOKEN=K10{SECRET}\n"),
    );
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        line(&text, &format!("{}:1: K3S_TOKEN: ", env.display())).contains("not a k3s token"),
        "{text}"
    );
}

/// RKE2 reads RKE2_TOKEN from its own files, and /etc/rancher/rke2.
#[test]
fn rke2_tokens_are_read_from_rke2s_files() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    put(
        &root,
        "etc/rancher/k3s/config.yaml",
        &format!("token: {}\n", token(&old_hash(), "x")),
    );
    let env = put(
        &root,
        "etc/default/rke2-agent",
        &format!(
            "RKE2_TOKEN={}\nK3S_TOKEN={}\n",
            token(&old_hash(), "node"),
            token(&old_hash(), "node")
        ),
    );
    let config = put(
        &root,
        "etc/rancher/rke2/config.yaml",
        &format!("token: {}\n", token(&hash, "server")),
    );
    let (code, text) = judged(
        tool(&data_dir)
            .args(["--product", "rke2", "token", "--root"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(
        line(&text, &format!("{}:1: RKE2_TOKEN: ", env.display())).contains("STALE"),
        "{text}"
    );
    assert!(
        line(&text, &format!("{}:1: token: ", config.display())).ends_with("(current)"),
        "{text}"
    );
    assert!(
        !text.contains("K3S_TOKEN") && !text.contains("rancher/k3s"),
        "{text}"
    );
}

/// A `config.yaml.d` is read up to a bound: past it, one line names the
/// directory (exit 1) instead of reading without end.
#[test]
fn too_many_dropins_are_one_problem() {
    let dir = scratch();
    let (data_dir, hash, root) = node(dir.path());
    let dropins = root.join("etc/rancher/k3s/config.yaml.d");
    for index in 0..=shared::checks::token::MAX_DROPINS {
        put(
            &dropins,
            &format!("{index:03}.yaml"),
            &format!("token: {}\n", token(&hash, "server")),
        );
    }
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        line(&text, &dropins.display().to_string()).contains("holds more than 100 drop-ins"),
        "{text}"
    );
    fs::remove_file(dropins.join("000.yaml")).unwrap();
    let (code, text) = check(&data_dir, &root, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.matches("not used").count(), 99, "{text}");
}
