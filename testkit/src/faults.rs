//! Fault injection: a writing tool stopped with SIGTERM or SIGKILL at each
//! rename and each fsync or syncfs of its commit (`strace -e inject=...:signal=...:when=N`),
//! and what must hold afterwards:
//! - after SIGTERM the directory is exactly as before: same files, bytes, modes,
//!   directories, nothing extra;
//! - after SIGKILL the next run recovers first; then every target is either
//!   as before or new (never a mix), every `.key` matches its `.pem`/`.crt`
//!   (openssl), and no hidden file is left anywhere.
//!
//! The points are counted on a clean run of the same scenario first.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{openssl, scratch};

/// The syscalls of a commit that the suite stops the tool at: renames and
/// syncs. strace counts `when=N` per syscall, so each is injected on its own.
pub const SYSCALLS: [&str; 6] = [
    "rename",
    "renameat",
    "renameat2",
    "fsync",
    "fdatasync",
    "syncfs",
];

/// One way to run a writing tool.
pub struct Scenario<'a> {
    /// For messages.
    pub name: &'a str,
    /// The tool's binary.
    pub exe: &'a Path,
    /// Copied afresh as `DATA_DIR` for every run.
    pub template: &'a Path,
    /// The tool's arguments; relative paths are relative to the data dir.
    pub args: &'a [&'a str],
    /// Only every `step`-th point (1 = all), for slow scenarios.
    pub step: usize,
}

/// A directory tree: every entry with its kind, mode, and bytes or link target.
pub type State = BTreeMap<PathBuf, (char, u32, Vec<u8>)>;

/// The state of every entry under `dir`, hidden ones and directories included.
pub fn state(dir: &Path) -> State {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if meta.is_dir() {
                out.insert(rel, ('d', mode, Vec::new()));
                stack.push(path);
            } else if meta.is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(rel, ('l', 0, target.into_os_string().into_encoded_bytes()));
            } else {
                out.insert(rel, ('f', mode, fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// Writes `state` out as the tree `dir` (which must not exist): the same
/// entries, kinds, modes, bytes and link targets, so that [`state`] of `dir`
/// equals `state`.
pub fn write_state(state: &State, dir: &Path) {
    fs::create_dir(dir).unwrap();
    // Sorted paths put each directory before what it holds.
    for (rel, (kind, mode, bytes)) in state {
        let path = dir.join(rel);
        match kind {
            'd' => fs::create_dir(&path).unwrap(),
            'l' => std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(bytes), &path).unwrap(),
            _ => {
                fs::write(&path, bytes).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
            }
        }
    }
    // Directory modes last: one without write permission could not be filled.
    for (rel, (kind, mode, _)) in state.iter().rev() {
        if *kind == 'd' {
            fs::set_permissions(dir.join(rel), fs::Permissions::from_mode(*mode)).unwrap();
        }
    }
}

/// A tree read into memory once and written out for each run: the same to
/// everything [`state`] compares as `cp -a`, without a process per copy
/// (hundreds per suite).
struct Template {
    /// The mode of the tree's top directory, which [`state`] leaves out.
    mode: u32,
    state: State,
}

impl Template {
    fn of(dir: &Path) -> Template {
        Template {
            mode: crate::mode(dir),
            state: state(dir),
        }
    }

    /// Writes the tree as `dir`, which must not exist.
    fn write(&self, dir: &Path) {
        write_state(&self.state, dir);
        fs::set_permissions(dir, fs::Permissions::from_mode(self.mode)).unwrap();
    }
}

/// Copies a tree with its modes.
pub fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

fn run(scenario: &Scenario<'_>, data_dir: &Path, strace: &[String]) -> std::process::Output {
    // The last -o wins. (--seccomp-bpf would be faster, but strace 6 then
    // injects nothing.)
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null"])
        .args(strace)
        .arg("--")
        .arg(scenario.exe)
        .args(scenario.args)
        .current_dir(data_dir)
        .env_remove("PRODUCT")
        .env("DATA_DIR", data_dir);
    cmd.output()
        .expect("running strace (scripts/test installs it)")
}

/// How many calls of each of [`SYSCALLS`] a clean run makes, counted on a
/// traced run of `data_dir`.
fn count(scenario: &Scenario<'_>, data_dir: &Path, log: &Path) -> Vec<(&'static str, usize)> {
    let out = run(
        scenario,
        data_dir,
        &[
            "-o".into(),
            log.display().to_string(),
            "-e".into(),
            format!("trace={}", SYSCALLS.join(",")),
        ],
    );
    assert!(
        out.status.success(),
        "{}: clean run failed: {out:?}",
        scenario.name
    );
    let log = fs::read_to_string(log).unwrap();
    SYSCALLS
        .iter()
        .map(|name| {
            let call = format!("{name}(");
            let calls = log
                .lines()
                .filter(|l| !l.contains("resumed>"))
                .filter(|l| l.split_whitespace().any(|w| w.starts_with(&call)))
                .count();
            (*name, calls)
        })
        .collect()
}

/// Pairs of (key, certificate) files that must belong together: `X.key` with
/// `X.pem`, else `X.crt` (its first certificate).
fn pairs(dir: &Path, state: &State) -> Vec<(PathBuf, PathBuf)> {
    state
        .keys()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .filter_map(|key| {
            ["pem", "crt"]
                .iter()
                .map(|ext| key.with_extension(ext))
                .find(|cert| state.contains_key(cert))
                .map(|cert| (dir.join(key), dir.join(cert)))
        })
        .collect()
}

/// openssl's public key of a certificate and of the first key of a key file.
fn public_keys(key: &Path, cert: &Path) -> (String, String) {
    let run =
        |cmd: &mut Command| String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
    (
        run(openssl().args(["pkey", "-pubout", "-in"]).arg(key)),
        run(openssl()
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(cert)),
    )
}

/// What went wrong at one point, if anything.
fn check_point(
    scenario: &Scenario<'_>,
    template: &Template,
    set: &str,
    n: usize,
    signal: &str,
    targets: &[PathBuf],
    after_clean: &State,
) -> Option<String> {
    let dir = scratch();
    let data_dir = dir.path().join("d");
    template.write(&data_dir);
    let before = state(&data_dir);
    let inject = format!("inject={set}:signal={signal}:when={n}");
    let trace = format!("trace={set}");
    let out = run(
        scenario,
        &data_dir,
        &["-e".into(), trace, "-e".into(), inject.clone()],
    );
    let at = format!("{} {inject}", scenario.name);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if signal == "TERM" {
        if out.status.success() {
            return Some(format!("{at}: exit 0 though interrupted: {stderr}"));
        }
        let after = state(&data_dir);
        if after != before {
            let differ: Vec<_> = after
                .keys()
                .chain(before.keys())
                .filter(|k| after.get(*k) != before.get(*k))
                .collect();
            return Some(format!("{at}: directory changed: {differ:?}; {stderr}"));
        }
        return None;
    }
    // The next run recovers before anything else: a dry run suffices.
    let mut again = Command::new(scenario.exe);
    again
        .args(scenario.args)
        .args(["--dry-run"])
        .current_dir(&data_dir)
        .env_remove("PRODUCT")
        .env("DATA_DIR", &data_dir);
    let next = again.output().unwrap();
    let recovered = state(&data_dir);
    let hidden: Vec<_> = recovered
        .keys()
        .filter(|p| {
            p.components()
                .any(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
        })
        .collect();
    if !hidden.is_empty() {
        return Some(format!(
            "{at}: hidden files after recovery: {hidden:?}; {}",
            String::from_utf8_lossy(&next.stderr)
        ));
    }
    let extra: Vec<_> = recovered
        .keys()
        .filter(|k| !before.contains_key(*k) && !after_clean.contains_key(*k))
        .collect();
    if !extra.is_empty() {
        return Some(format!(
            "{at}: unexpected entries after recovery: {extra:?}"
        ));
    }
    let changed: Vec<_> = targets
        .iter()
        .filter(|t| recovered.get(*t) != before.get(*t))
        .collect();
    if !changed.is_empty() && changed.len() != targets.len() {
        return Some(format!(
            "{at}: a mixed tree after recovery: {} of {} targets new: {changed:?}",
            changed.len(),
            targets.len()
        ));
    }
    if !changed.is_empty() {
        for (key, cert) in pairs(&data_dir, &recovered) {
            let (a, b) = public_keys(&key, &cert);
            if a.is_empty() || a != b {
                return Some(format!(
                    "{at}: {} does not match {}",
                    key.display(),
                    cert.display()
                ));
            }
        }
    }
    None
}

/// Runs every point of `scenario` (renames and syncs, SIGTERM and SIGKILL) on
/// `threads` threads; returns the number of points, and panics listing failures.
pub fn suite(scenario: &Scenario<'_>, threads: usize) -> usize {
    let dir = scratch();
    let data_dir = dir.path().join("d");
    copy_tree(scenario.template, &data_dir);
    let before = state(&data_dir);
    let calls = count(scenario, &data_dir, &dir.path().join("trace"));
    let after_clean = state(&data_dir);
    let targets: Vec<PathBuf> = after_clean
        .keys()
        .filter(|k| after_clean[*k].0 == 'f' && before.get(*k) != after_clean.get(*k))
        .cloned()
        .collect();
    assert!(
        !targets.is_empty(),
        "{}: the clean run wrote nothing",
        scenario.name
    );
    let mut points = Vec::new();
    for kind in ["rename", "fsync"] {
        let total: usize = calls
            .iter()
            .filter(|(name, _)| name.contains(kind))
            .map(|(_, n)| n)
            .sum();
        assert!(total > 0, "{}: no {kind} calls", scenario.name);
    }
    for &(syscall, calls) in &calls {
        // Sampled points start mid-stride, inside the commit rather than at its
        // journal. A syscall made fewer times than the stride (the one syncfs of
        // a large commit) is stopped at every call: a stride would skip it.
        let step = if calls < scenario.step {
            1
        } else {
            scenario.step.max(1)
        };
        for n in (1 + (step - 1) / 2..=calls).step_by(step) {
            for signal in ["TERM", "KILL"] {
                points.push((syscall, n, signal));
            }
        }
    }
    let template = Template::of(scenario.template);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                while let Some(&(set, n, signal)) = points.get(next.fetch_add(1, Ordering::SeqCst))
                {
                    if let Some(failure) =
                        check_point(scenario, &template, set, n, signal, &targets, &after_clean)
                    {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} fault points failed:\n{}",
        failures.len(),
        points.len(),
        failures.join("\n")
    );
    points.len()
}

/// Runs `n` copies of `run` at once; their outputs in start order.
pub fn concurrently<T: Send>(n: usize, run: impl Fn() -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(&run)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Every `X.key` under `dir` matches its `X.pem` or `X.crt` (openssl).
pub fn assert_pairs_match(dir: &Path) {
    let tree = state(dir);
    for (key, cert) in pairs(dir, &tree) {
        let (a, b) = public_keys(&key, &cert);
        assert!(
            !a.is_empty() && a == b,
            "{} does not match {}",
            key.display(),
            cert.display()
        );
    }
}

/// [`suite`] over each `(name, template, args, step)` of one tool; the total
/// number of points.
pub fn suites(exe: &Path, scenarios: &[(&str, &Path, &[&str], usize)]) -> usize {
    let mut points = 0;
    for &(name, template, args, step) in scenarios {
        let started = std::time::Instant::now();
        points += suite(
            &Scenario {
                name,
                exe,
                template,
                args,
                step,
            },
            3,
        );
        eprintln!("{name}: {:?}", started.elapsed());
    }
    points
}

/// Races: 20 rounds of three runs of `exe` at once on a copy of `template`,
/// odd rounds with `--force`. Without it exactly one run may win; with it the
/// runs succeed one after the other. Either way the files on disk are whole
/// (`on_disk` asserts what it needs and says what they hold) and a run that
/// exited 0 printed (`printed`) what they hold; the others refused with
/// one of `refusals`.
pub fn race(
    exe: &Path,
    template: &Path,
    refusals: &[&str],
    printed: impl Fn(&str) -> String,
    on_disk: impl Fn(&Path) -> String,
) {
    let dir = scratch();
    let template = Template::of(template);
    for round in 0..20 {
        let data_dir = dir.path().join(format!("round-{round}"));
        template.write(&data_dir);
        let force = round % 2 == 1;
        let outputs = concurrently(3, || {
            let mut cmd = crate::tool(&exe.display().to_string(), &data_dir);
            if force {
                cmd.arg("--force");
            }
            cmd.output().unwrap()
        });
        let truth = on_disk(&data_dir);
        let told: Vec<String> = outputs
            .iter()
            .filter(|o| o.status.success())
            .map(|o| printed(&String::from_utf8_lossy(&o.stdout)))
            .collect();
        if force {
            assert!(told.contains(&truth), "round {round}: {told:?} vs {truth}");
        } else {
            assert_eq!(told, [truth], "round {round}: one run wins");
        }
        for out in outputs.iter().filter(|o| !o.status.success()) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                refusals.iter().any(|r| stderr.contains(r)),
                "round {round}: {stderr}"
            );
        }
    }
}

/// A k3s data dir as k3s makes it (`gocheck k3s-fixture`) and a copy of it on
/// which `exe` has already staged once: the templates of a staging tool.
pub fn fixture_templates(root: &Path, exe: &str) -> (PathBuf, PathBuf) {
    let fresh = root.join("fresh");
    crate::ok(crate::gocheck().args(["k3s-fixture", "--out"]).arg(&fresh));
    let staged = root.join("staged");
    copy_tree(&fresh, &staged);
    crate::ok(&mut crate::tool(exe, &staged));
    (fresh, staged)
}
