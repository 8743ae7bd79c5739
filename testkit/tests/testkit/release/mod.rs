//! The release as a cluster node meets it: `scripts/release` builds `dist/`, a
//! local HTTP server serves it, and the README's install lines run under dash
//! with a PATH that has no Rust toolchain, in a scrubbed environment.
//!
//! `scripts/release` runs once per test process; cargo builds incrementally into
//! the worktree's `target/`, so only the first run is slow. Every test has its
//! own server (a free port), its own INSTALL_DIR, DATA_DIR and TMPDIR: after any
//! run, the TMPDIR must be empty, and after a refused or one-shot run, the
//! INSTALL_DIR too.
//!
//! The release is signed with a throwaway key made per test process
//! ([`test_key`]); the installer is told of it through `K3S_PKI_PUBLIC_KEY`,
//! except where a test checks the key install.sh carries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use testkit::{TOOLS, fails, ok, scratch, workspace_root};

mod mirror;
mod pkcs11;
mod script;
mod signature;
mod sums;
mod targets;

/// The release location the README's install lines name; the tests serve dist/ instead.
const README_URL: &str = "https://github.com/k3s-pki/k3s-pki/releases/latest/download";
/// Every tool is versioned with the workspace, as this crate is.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `dist/`, written by `scripts/release` once per test process, signed with [`test_key`].
fn dist() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        ok(Command::new(root.join("scripts/release"))
            .current_dir(&root)
            .env("K3S_PKI_SIGNING_KEY", &test_key().private));
        root.join("dist")
    })
}

/// A throwaway ed25519 key pair, made once per test process under cargo's
/// target/tmp: the project's private key is never in the repository.
struct TestKey {
    private: PathBuf,
    /// The public key's line, as K3S_PKI_PUBLIC_KEY takes it.
    public: String,
}

fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("release-test-key-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let private = dir.join("key");
        ok(Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "k3s-pki test release",
            ])
            .arg("-f")
            .arg(&private));
        let public = fs::read_to_string(dir.join("key.pub"))
            .unwrap()
            .trim()
            .to_owned();
        TestKey { private, public }
    })
}

/// Signs `dir/SHA256SUMS` again with the test key, after a test changed it, in
/// the release's signature namespace or another.
fn sign(dir: &Path, namespace: &str) {
    let sig = dir.join("SHA256SUMS.sig");
    if sig.exists() {
        fs::remove_file(&sig).unwrap();
    }
    ok(Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(&test_key().private)
        .arg(dir.join("SHA256SUMS")));
}

/// The signature namespace of a release's SHA256SUMS.sig.
const NAMESPACE: &str = "k3s-pki-release";

fn tarball_name() -> String {
    format!("k3s-pki-{VERSION}-linux-amd64.tar.gz")
}

/// `python3 -m http.server` on 127.0.0.1, killed when dropped (also on a panic).
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn serve(dir: &Path) -> Server {
        // Port 0: the kernel picks a free port, and the server prints it.
        let child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 for the HTTP server");
        let mut server = Server {
            child,
            url: String::new(),
        };
        let mut line = String::new();
        BufReader::new(server.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|word| *word != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("no port in the server's first line: {line:?}"));
        server.url = format!("http://127.0.0.1:{port}");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shells the installer is run under where a test holds for both.
#[derive(Clone, Copy, Debug)]
enum Shell {
    Dash,
    Ash,
}
const SHELLS: [Shell; 2] = [Shell::Dash, Shell::Ash];

/// A node's directories: where tools are installed, where data goes, the TMPDIR,
/// and a bin dir put first on PATH whose `sh` is dash.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let node = Node { dir: scratch() };
        for sub in ["install", "data", "tmp", "bin"] {
            fs::create_dir(node.dir.path().join(sub)).unwrap();
        }
        symlink("/usr/bin/dash", node.path("bin").join("sh")).unwrap();
        node
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// `line` under dash with only PATH (no cargo on it), TMPDIR, INSTALL_DIR,
    /// DATA_DIR and K3S_PKI_URL in the environment.
    fn sh(&self, url: &str, path: &str, line: &str) -> Command {
        self.shell(Command::new("/usr/bin/dash"), url, path, line)
    }

    /// `line` under `shell` (a command that takes `-c`), environment as [`Node::sh`].
    fn shell(&self, mut cmd: Command, url: &str, path: &str, line: &str) -> Command {
        cmd.arg("-c")
            .arg(line)
            .env_clear()
            .env("PATH", path)
            .env("TMPDIR", self.path("tmp"))
            .env("INSTALL_DIR", self.path("install"))
            .env("DATA_DIR", self.path("data"))
            .env("K3S_PKI_URL", url)
            .env("K3S_PKI_PUBLIC_KEY", &test_key().public);
        cmd
    }

    /// `line` under busybox ash with a PATH of busybox applets only (no
    /// ssh-keygen among them), environment as [`Node::sh`].
    fn ash(&self, url: &str, line: &str) -> Command {
        let applets = self.path("busybox");
        if !applets.exists() {
            fs::create_dir(&applets).unwrap();
            let list = ok(Command::new("busybox").arg("--list"));
            for applet in list.lines() {
                symlink("/bin/busybox", applets.join(applet)).unwrap();
            }
        }
        let mut ash = Command::new("/bin/busybox");
        ash.arg("ash");
        self.shell(ash, url, &applets.display().to_string(), line)
    }

    /// The install line from `url` under `shell`: dash with curl, or busybox
    /// ash with its wget.
    fn install(&self, shell: Shell, url: &str) -> Command {
        match shell {
            Shell::Dash => self.sh(
                url,
                &self.system_path(),
                &format!("curl -sfL {url}/install.sh | sh -"),
            ),
            Shell::Ash => self.ash(url, &format!("wget -qO- {url}/install.sh | sh -")),
        }
    }

    /// The default node PATH: dash as sh, then the system directories.
    fn system_path(&self) -> String {
        format!("{}:/usr/bin:/bin", self.path("bin").display())
    }

    /// A PATH of only these system tools, each linked into `sub`.
    fn only(&self, sub: &str, tools: &[&str]) -> String {
        let dir = self.path(sub);
        fs::create_dir(&dir).unwrap();
        for tool in tools {
            let target = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{tool} is not installed (scripts/test installs it)"));
            symlink(target, dir.join(tool)).unwrap();
        }
        dir.display().to_string()
    }

    fn installed(&self) -> Vec<String> {
        entries(&self.path("install"))
    }

    fn assert_tmp_empty(&self) {
        assert_eq!(entries(&self.path("tmp")), Vec::<String>::new(), "TMPDIR");
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The README line holding `needle`, from the README's first code block (the
/// install lines come first), with the release location replaced by `url`.
fn readme_line(needle: &str, url: &str) -> String {
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let first_block = readme
        .split("```")
        .nth(1)
        .expect("a code block in the README");
    let line = first_block
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` line in the README's first code block"));
    assert!(line.contains(README_URL), "{line}");
    line.replace(README_URL, url)
}

/// The install line pipes into `sh -` (the one-shot line into `sh -s`).
const INSTALL: &str = "| sh - ";
const ONE_SHOT: &str = "| sh -s -- run gen-custom-ca";

/// Asserts a refusal: exit 1, the last line on stderr one error naming the
/// problem, any line before it a note of the installer's (what it checked).
fn assert_refused(cmd: &mut Command, problem: &str) -> String {
    let stderr = fails(cmd);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("k3s-pki install: error: ") && last.contains(problem),
        "expected `{problem}`:\n{stderr}"
    );
    assert_eq!(stderr.matches("error").count(), 1, "one error:\n{stderr}");
    assert!(
        stderr.lines().all(|l| l.starts_with("k3s-pki install: ")),
        "every line the installer's:\n{stderr}"
    );
    stderr
}

/// Runs `cmd`, asserts it succeeded, returns its stdout and stderr.
fn succeeds(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{cmd:?}:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn readme_install_line_installs_static_tools_that_make_a_valid_tree() {
    let server = Server::serve(dist());
    let node = Node::new();
    let path = node.system_path();
    assert!(
        !node
            .sh("", &path, "command -v cargo")
            .status()
            .unwrap()
            .success(),
        "cargo must not be on the node's PATH"
    );
    let install = readme_line(INSTALL, &server.url);
    let stdout = ok(&mut node.sh(&server.url, &path, &install));
    let install_dir = node.path("install");
    assert!(
        stdout.contains(&format!("installed into {}", install_dir.display())),
        "{stdout}"
    );
    let mut sorted = TOOLS.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(node.installed(), sorted);

    for tool in TOOLS {
        let binary = install_dir.join(tool);
        assert_eq!(testkit::mode(&binary), 0o755, "{tool}");
        let file = ok(Command::new("file").arg("-b").arg(&binary));
        assert!(
            file.contains("static") && file.contains(", stripped"),
            "{tool}: {file}"
        );
        let (_, ldd) = testkit::status(Command::new("ldd").arg(&binary));
        assert!(
            ldd.contains("statically linked") || ldd.contains("not a dynamic executable"),
            "{tool}: {ldd}"
        );
        let version = ok(node
            .sh("", &path, &format!("{tool} --version"))
            .env("PATH", format!("{}:{path}", install_dir.display())));
        assert!(
            version.starts_with(&format!("{tool} {VERSION}")),
            "{version}"
        );
        assert!(
            stdout.contains(version.trim()),
            "the installer lists {version}"
        );
        let help = ok(Command::new(&binary).arg("--help"));
        assert!(help.contains("--version"), "{tool} --help:\n{help}");
    }

    // The installed tools, as a node runs them: DATA_DIR from the environment.
    let on_path = format!("{}:{path}", install_dir.display());
    ok(&mut node.sh("", &on_path, "gen-custom-ca"));
    ok(&mut node.sh("", &on_path, "ca-check tree \"$DATA_DIR/server/tls\""));

    // Installing again replaces the tools in place and leaves nothing else behind.
    ok(&mut node.sh(&server.url, &path, &install));
    assert_eq!(node.installed(), sorted);
    node.assert_tmp_empty();
}

#[test]
fn readme_one_shot_line_makes_a_valid_tree_and_installs_nothing() {
    let server = Server::serve(dist());
    let node = Node::new();
    let path = node.system_path();
    let one_shot = readme_line(ONE_SHOT, &server.url);
    let stdout = ok(&mut node.sh(&server.url, &path, &one_shot));
    let tls = node.path("data").join("server/tls");
    assert!(stdout.contains(&tls.display().to_string()), "{stdout}");

    // The same shape runs ca-check with arguments, and passes its exit code through.
    let check = one_shot.replace(
        ONE_SHOT,
        "| sh -s -- run ca-check tree \"$DATA_DIR/server/tls\"",
    );
    let report = ok(&mut node.sh(&server.url, &path, &check));
    assert!(report.contains("no failures"), "{report}");
    let empty = node.path("empty");
    fs::create_dir(&empty).unwrap();
    let check_empty = one_shot.replace(
        ONE_SHOT,
        &format!("| sh -s -- run ca-check tree {}", empty.display()),
    );
    fails(&mut node.sh(&server.url, &path, &check_empty));

    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
    node.assert_tmp_empty();
}

/// dist/ copied into `dir` without the files named in `leave_out`, to be changed.
fn copy_dist(dir: &Path, leave_out: &[&str]) {
    fs::create_dir(dir).unwrap();
    for name in entries(dist()) {
        if !name.starts_with('.') && !leave_out.contains(&name.as_str()) {
            fs::copy(dist().join(&name), dir.join(&name)).unwrap();
        }
    }
}

#[test]
fn a_changed_tarball_is_refused_and_nothing_installed() {
    let node = Node::new();
    let served = node.path("served");
    copy_dist(&served, &[]);
    let tarball = served.join(tarball_name());
    let mut bytes = fs::read(&tarball).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&tarball, bytes).unwrap();
    let server = Server::serve(&served);
    let path = node.system_path();

    for line in [
        readme_line(INSTALL, &server.url),
        readme_line(ONE_SHOT, &server.url),
    ] {
        assert_refused(&mut node.sh(&server.url, &path, &line), "checksum mismatch");
        assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
        assert_eq!(
            entries(&node.path("data")),
            Vec::<String>::new(),
            "DATA_DIR"
        );
        node.assert_tmp_empty();
    }
}

#[test]
fn a_missing_sha256sums_is_refused() {
    let node = Node::new();
    let served = node.path("served");
    copy_dist(&served, &["SHA256SUMS"]);
    let server = Server::serve(&served);
    let install = readme_line(INSTALL, &server.url);
    assert_refused(
        &mut node.sh(&server.url, &node.system_path(), &install),
        "cannot download http://127.0.0.1:",
    );
    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
    node.assert_tmp_empty();
}

/// The commands install.sh needs besides a downloader and a checksum tool.
const BASICS: [&str; 9] = [
    "uname", "mktemp", "rm", "mkdir", "tar", "gzip", "chmod", "mv", "wc",
];

#[test]
fn wget_and_openssl_serve_when_curl_and_sha256sum_are_missing() {
    let server = Server::serve(dist());
    let node = Node::new();
    let mut tools = BASICS.to_vec();
    tools.extend(["cp", "wget", "openssl"]);
    let path = format!(
        "{}:{}",
        node.path("bin").display(),
        node.only("wget-bin", &tools)
    );
    let line = format!(
        "wget -qO- {}/install.sh | sh -s -- run ca-check --version",
        server.url
    );
    let stdout = ok(&mut node.sh(&server.url, &path, &line));
    assert!(
        stdout.starts_with(&format!("ca-check {VERSION}")),
        "{stdout}"
    );
    node.assert_tmp_empty();
}

#[test]
fn busybox_ash_and_its_applets_install() {
    let server = Server::serve(dist());
    let node = Node::new();
    // A PATH of busybox applets only: its ash, wget, sha256sum, tar, gzip, ...
    let line = format!("wget -qO- {}/install.sh | sh -", server.url);
    ok(&mut node.ash(&server.url, &line));
    let mut sorted = TOOLS.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(node.installed(), sorted);
    node.assert_tmp_empty();
}

#[test]
fn no_downloader_or_an_unknown_architecture_is_refused() {
    let node = Node::new();
    let mut tools = BASICS.to_vec();
    tools.extend(["cp", "sha256sum"]);
    let path = format!(
        "{}:{}",
        node.path("bin").display(),
        node.only("plain-bin", &tools)
    );
    let script = dist().join("install.sh");
    let run = |path: &str| {
        let mut cmd = node.sh(
            "http://127.0.0.1:9",
            path,
            "sh -s -- run ca-check --version",
        );
        cmd.stdin(fs::File::open(&script).unwrap());
        cmd
    };
    assert_refused(&mut run(&path), "neither curl nor wget");

    // A machine we build nothing for: uname -m says mips.
    let fake = node.path("fake-uname");
    fs::create_dir(&fake).unwrap();
    fs::write(fake.join("uname"), "#!/bin/sh\necho mips\n").unwrap();
    fs::set_permissions(fake.join("uname"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fake.display(), node.system_path());
    assert_refused(&mut run(&path), "unsupported architecture 'mips'");

    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
    node.assert_tmp_empty();
}

#[test]
fn an_air_gapped_machine_installs_from_a_directory() {
    let node = Node::new();
    let copy = node.path("usb");
    copy_dist(&copy, &[]);
    let url = format!("file://{}", copy.display());
    let line = format!("sh {}/install.sh", copy.display());
    let stdout = ok(&mut node.sh(&url, &node.system_path(), &line));
    assert!(stdout.contains("installed into"), "{stdout}");
    assert_eq!(node.installed().len(), TOOLS.len());
    node.assert_tmp_empty();
}

#[test]
fn names_from_the_command_line_are_shown_on_one_line() {
    let node = Node::new();
    let script = dist().join("install.sh");
    for (args, shown) in [
        ("'bad\u{1b}[31mcmd\nx'", "unknown command 'bad?[31mcmd?x'"),
        ("run 'ca\tcheck'", "unknown tool 'ca?check'"),
    ] {
        let mut cmd = node.sh(
            "http://127.0.0.1:9",
            &node.system_path(),
            &format!("sh {} {args}", script.display()),
        );
        assert_refused(&mut cmd, shown);
    }
}
