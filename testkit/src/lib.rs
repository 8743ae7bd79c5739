//! Test support shared by the tools' integration tests.
//!
//! Everything here checks our output with something other than our own code:
//! `openssl`, the repository's Go oracle (`gocheck/`, Go's crypto/x509 and
//! crypto/tls, what k3s uses) and pkilint. The test command (`scripts/test`)
//! installs them; a missing tool fails the test rather than skipping it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a panic is a test failure"
)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

pub mod enterprise;
pub mod etcd;
pub mod faults;
pub mod mutate;
pub mod softhsm;
pub mod terminal;

pub use serde_json::Value as Json;

/// The workspace root (the directory holding `Cargo.toml` and `gocheck/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives in the workspace")
        .to_path_buf()
}

/// The six tools, by the names they are installed under.
pub const TOOLS: [&str; 6] = [
    "gen-custom-ca",
    "rotate-default-ca",
    "sa-key-rotate",
    "ca-check",
    "sign-csr",
    "kubeconfig-user",
];

/// The directory holding the six tools' debug builds, built once per test
/// process (`cargo build`, a no-op when `cargo test --workspace` has built
/// them): for tests of more than one tool, which no crate's
/// `CARGO_BIN_EXE_<name>` reaches.
pub fn tool_binaries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(&root).args(["build", "--quiet"]);
        for tool in TOOLS {
            build.args(["--bin", tool]);
        }
        ok(&mut build);
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("debug")
    })
}

/// A fresh temporary directory, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("k3s-pki-test-")
        .tempdir()
        .expect("temporary directory")
}

/// The Go oracle, built into `target/gocheck/` once per version of its sources
/// and of Go, and reused by every later test process (each of them used to
/// link it again: a second of CPU, while its first tests waited).
pub fn gocheck_path() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let src = root.join("gocheck");
        let out_dir = root.join("target").join("gocheck");
        fs::create_dir_all(&out_dir).unwrap();
        let go = || {
            let mut cmd = Command::new("go");
            cmd.current_dir(&src)
                .env("GOFLAGS", "-mod=mod")
                .env("GOPROXY", "off");
            cmd
        };
        let run = |cmd: &mut Command| {
            let output = cmd
                .output()
                .expect("running `go` (scripts/test puts Go 1.26 on PATH from target/test-env)");
            assert!(
                output.status.success(),
                "`{}` failed:\n{}",
                describe(cmd),
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        };
        // The binary is named after what it is built from: the Go version and
        // every file of gocheck/ (a flat, stdlib-only module).
        let mut hasher = DefaultHasher::new();
        let version = run(go().arg("version"));
        require_go_line(&String::from_utf8_lossy(&version), &src);
        version.hash(&mut hasher);
        let mut files: Vec<PathBuf> = fs::read_dir(&src)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        for file in files {
            file.file_name().hash(&mut hasher);
            fs::read(&file).unwrap().hash(&mut hasher);
        }
        let path = out_dir.join(format!("gocheck-{:016x}", hasher.finish()));
        if !path.exists() {
            // Build under a unique name, then rename: test binaries may run in parallel.
            let temp = out_dir.join(format!(".building-{}", std::process::id()));
            run(go().args(["build", "-o"]).arg(&temp).arg("."));
            fs::rename(&temp, &path).unwrap();
        }
        path
    })
}

/// Refuses to build the oracle with a Go older than the `go` line of
/// gocheck's go.mod (the line k3s ships): an older toolchain (Debian 12's
/// 1.19) builds it all the same, and judges with another crypto/x509.
fn require_go_line(version: &str, src: &Path) {
    let minor =
        |text: &str| -> Option<u32> { text.strip_prefix("1.")?.split('.').next()?.parse().ok() };
    let go_mod = fs::read_to_string(src.join("go.mod")).unwrap();
    let wanted = go_mod
        .lines()
        .find_map(|line| line.strip_prefix("go "))
        .and_then(|line| minor(line.trim()))
        .expect("a `go 1.N` line in gocheck/go.mod");
    let have = version
        .split_whitespace()
        .find_map(|word| word.strip_prefix("go1.").map(|rest| format!("1.{rest}")))
        .and_then(|v| minor(&v));
    assert!(
        have.is_some_and(|have| have >= wanted),
        "the Go oracle needs Go 1.{wanted} or later (gocheck/go.mod), and `go` on PATH is {}: \
         run scripts/test, or put target/test-env/bin first on PATH",
        version.trim()
    );
}

/// A command for the Go oracle.
pub fn gocheck() -> Command {
    Command::new(gocheck_path())
}

/// A command for the openssl CLI.
pub fn openssl() -> Command {
    Command::new("openssl")
}

fn describe(cmd: &Command) -> String {
    let args: Vec<_> = cmd.get_args().map(OsStr::to_string_lossy).collect();
    format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", describe(cmd)))
}

/// Runs `cmd`, asserts it succeeded, returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "`{}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd`, asserts it failed with exit code 1, returns its stderr.
pub fn fails(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert_eq!(
        out.status.code(),
        Some(1),
        "`{}` should have failed with exit code 1:\nstdout:\n{}\nstderr:\n{}",
        describe(cmd),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd` and returns (success, stdout + stderr), for checks whose failure is expected.
pub fn status(cmd: &mut Command) -> (bool, String) {
    let out = output(cmd);
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Runs `cmd`, asserts success, parses stdout as JSON.
pub fn json(cmd: &mut Command) -> Json {
    let text = ok(cmd);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// `gocheck describe FILE`: one JSON object per certificate, parsed by Go.
pub fn describe_certs(path: &Path) -> Vec<Json> {
    match json(gocheck().arg("describe").arg(path)) {
        Json::Array(items) => items,
        other => panic!("describe returned {other}"),
    }
}

/// `gocheck describe-key FILE`: one JSON object per PEM block.
pub fn describe_keys(path: &Path) -> Vec<Json> {
    match json(gocheck().arg("describe-key").arg(path)) {
        Json::Array(items) => items,
        other => panic!("describe-key returned {other}"),
    }
}

/// `gocheck k3s-leaves --tls TLS --roots ROOTS`: every certificate k3s would
/// issue from the five CAs of `tls`, verified by Go as a client trusting only
/// the certificates of `roots`. Returns whether all verified and the JSON
/// array of `{"ca", "leaf", "usage", "ok", "error"}`, one per leaf and usage.
pub fn k3s_leaves(tls: &Path, roots: &Path) -> (bool, Json) {
    k3s_leaves_with(tls, roots, &[])
}

/// [`k3s_leaves`] with more of gocheck's flags (`--node-name`, `--tls-san`, ...).
pub fn k3s_leaves_with(tls: &Path, roots: &Path, flags: &[&str]) -> (bool, Json) {
    let mut cmd = gocheck();
    cmd.arg("k3s-leaves")
        .arg("--tls")
        .arg(tls)
        .arg("--roots")
        .arg(roots)
        .args(flags);
    let out = output(&mut cmd);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "`{}` could not check ({}):\n{}",
        describe(&cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let results = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    (out.status.success(), results)
}

/// pkilint's `lint_pkix_cert lint` findings of severity ERROR or FATAL for the
/// first certificate of `cert`; empty when clean.
///
/// What `python3 -m pkilint.bin.lint_pkix_cert lint -s ERROR CERT` prints,
/// from the same `main()` with the same arguments, but in one Python process
/// per test process (`pkilint_lint.py`): importing pkilint costs 0.7 s of CPU,
/// and the suite lints hundreds of certificates.
pub fn pkilint_errors(cert: &Path) -> String {
    static LINTER: Mutex<Option<Linter>> = Mutex::new(None);
    // A test that panicked while linting leaves a broken pipe, not a wrong answer.
    let mut linter = LINTER.lock().unwrap_or_else(PoisonError::into_inner);
    let linter = linter.get_or_insert_with(Linter::start);
    let path = cert.to_str().expect("a UTF-8 certificate path");
    writeln!(linter.stdin, "{}", Json::from(path)).expect("writing to pkilint");
    linter.stdin.flush().expect("writing to pkilint");
    let mut line = String::new();
    linter.stdout.read_line(&mut line).expect("reading pkilint");
    if line.is_empty() {
        let mut stderr = String::new();
        let _ = linter.stderr.read_to_string(&mut stderr);
        assert!(
            !stderr.contains("No module named"),
            "pkilint is not installed: {stderr}"
        );
        panic!("pkilint exited ({:?}): {stderr}", linter.child.wait());
    }
    let answer: Json = serde_json::from_str(&line).expect("pkilint's answer");
    answer["stdout"]
        .as_str()
        .expect("pkilint's stdout")
        .trim()
        .to_string()
}

/// The Python process behind [`pkilint_errors`]; it ends when the test process
/// does (its stdin closes).
struct Linter {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: ChildStderr,
}

impl Linter {
    fn start() -> Linter {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(include_str!("pkilint_lint.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pkilint (scripts/test installs it with pip)");
        Linter {
            stdin: child.stdin.take().expect("piped"),
            stdout: BufReader::new(child.stdout.take().expect("piped")),
            stderr: child.stderr.take().expect("piped"),
            child,
        }
    }
}

/// Asserts pkilint finds no ERROR or FATAL in any of `certs` (certificates a
/// tool issued).
pub fn assert_lint_clean(certs: &[PathBuf]) {
    for path in certs {
        let findings = pkilint_errors(path);
        assert!(
            findings.is_empty(),
            "pkilint on {}:\n{findings}",
            path.display()
        );
    }
}

/// `<tls_dir>/<stem>.pem` of the five CAs k3s reads.
pub fn ca_pems(tls_dir: &Path) -> Vec<PathBuf> {
    CA_STEMS
        .iter()
        .map(|stem| tls_dir.join(format!("{stem}.pem")))
        .collect()
}

/// Every regular file under `dir` with its bytes and mode: compare two snapshots
/// to prove a failed run changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let bytes = fs::read(entry.path()).unwrap_or_default();
                files.insert(entry.path(), (bytes, meta.permissions().mode() & 0o7777));
            }
        }
    }
    files
}

/// Every regular file under `dir`, as a path relative to it, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = snapshot(dir)
        .into_keys()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    names.sort();
    names
}

/// Writes the base64 `data` (a kubeconfig's `*-data`, a CSR object's
/// certificate) decoded by openssl to `out`, and returns `out`.
pub fn decode_base64_to(data: &str, out: &Path) -> PathBuf {
    let encoded = out.with_extension("b64");
    std::fs::write(&encoded, data).unwrap();
    ok(openssl()
        .args(["base64", "-d", "-A", "-in"])
        .arg(&encoded)
        .arg("-out")
        .arg(out));
    out.to_path_buf()
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Writes every certificate of a PEM bundle into its own file under `dir`
/// (`<stem>.0.pem`, ...), for tools that read one certificate per file.
pub fn split_bundle(bundle: &Path, dir: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string(bundle).unwrap();
    let stem = bundle.file_stem().unwrap().to_string_lossy().into_owned();
    let end = "-----END CERTIFICATE-----";
    text.split_inclusive(end)
        .filter(|part| part.contains("-----BEGIN CERTIFICATE-----"))
        .enumerate()
        .map(|(i, part)| {
            let path = dir.join(format!("{stem}.{i}.pem"));
            fs::write(&path, format!("{}\n", part.trim_start())).unwrap();
            path
        })
        .collect()
}

/// `gocheck issue`: a P-256 leaf certificate for `localhost` and `127.0.0.1`,
/// signed by the first certificate and key of `ca_cert`/`ca_key`, written as
/// `<out_dir>/<name>.crt` and `.key`. `usage` is server, client or both; with
/// `chain` the whole `ca_cert` file follows the leaf.
pub fn issue_leaf(
    ca_cert: &Path,
    ca_key: &Path,
    out_dir: &Path,
    name: &str,
    usage: &str,
    chain: bool,
) -> (PathBuf, PathBuf) {
    let file = name.replace(['/', ':'], "-");
    let (cert, key) = (
        out_dir.join(format!("{file}.crt")),
        out_dir.join(format!("{file}.key")),
    );
    let mut cmd = gocheck();
    cmd.args(["issue", "--cn", name, "--usage", usage])
        .args(["--dns", "localhost", "--ip", "127.0.0.1"])
        .arg("--ca-cert")
        .arg(ca_cert)
        .arg("--ca-key")
        .arg(ca_key)
        .arg("--out-cert")
        .arg(&cert)
        .arg("--out-key")
        .arg(&key);
    if chain {
        cmd.arg("--chain");
    }
    ok(&mut cmd);
    (cert, key)
}

/// One side of a TLS connection: its certificate (with chain) and key.
pub struct Party<'a> {
    /// The certificate file.
    pub cert: &'a Path,
    /// Its key.
    pub key: &'a Path,
}

/// `gocheck handshake`: a real mutual-TLS handshake on loopback. The server
/// shows `server` and accepts client certificates chaining to `client_ca`; the
/// client shows `client` and trusts only `roots`.
pub fn handshake(
    server: &Party<'_>,
    client_ca: &Path,
    client: &Party<'_>,
    roots: &Path,
) -> Command {
    let mut cmd = gocheck();
    cmd.arg("handshake")
        .arg("--server-cert")
        .arg(server.cert)
        .arg("--server-key")
        .arg(server.key)
        .arg("--client-ca")
        .arg(client_ca)
        .arg("--client-cert")
        .arg(client.cert)
        .arg("--client-key")
        .arg(client.key)
        .arg("--roots")
        .arg(roots);
    cmd
}

/// `gocheck mkca`: a self-signed P-256 CA unrelated to anything under test, and a
/// client certificate it issued: what a stranger would present.
pub fn stranger(out_dir: &Path) -> (PathBuf, PathBuf) {
    let (ca, ca_key) = (
        out_dir.join("stranger-ca.pem"),
        out_dir.join("stranger-ca.key"),
    );
    ok(gocheck()
        .args(["mkca", "--cn", "stranger-ca", "--out-cert"])
        .arg(&ca)
        .arg("--out-key")
        .arg(&ca_key));
    issue_leaf(&ca, &ca_key, out_dir, "stranger", "client", false)
}

/// The five CAs k3s reads, as file stems under `server/tls`.
pub const CA_STEMS: [&str; 5] = [
    "client-ca",
    "server-ca",
    "request-header-ca",
    "etcd/peer-ca",
    "etcd/server-ca",
];

/// A tool's binary with a scrubbed environment: `DATA_DIR` set to `data_dir`
/// (tests never touch /var/lib) and no `PRODUCT`.
pub fn tool(binary: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_remove("PRODUCT").env("DATA_DIR", data_dir);
    cmd
}

/// k3s's join-token CA hash of a bundle, computed by Go.
pub fn k3s_hash(bundle: &Path) -> String {
    ok(gocheck().arg("hashca").arg(bundle)).trim().to_string()
}

/// The CA hash of the `K10<hash>::` line a tool printed.
pub fn printed_hash(stdout: &str) -> String {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("K10") && l.ends_with("::"))
        .unwrap_or_else(|| panic!("no K10<hash>:: line in:\n{stdout}"))
        .trim_start_matches("K10")
        .trim_end_matches(':')
        .to_string()
}
