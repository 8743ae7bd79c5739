//! `ca-check record` on trees written with `--record`: gen-custom-ca's and
//! sign-csr's verify as written; a changed byte, a missing file, an extra file
//! and a wrong mode are each named word for word, exit 1; coreutils'
//! `sha256sum -c` agrees; the record and its text form hold no key material.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{ok, openssl, scratch, tool, tool_binaries};

/// A k3s tree made by gen-custom-ca in `work/k3s`, recorded in
/// `work/ceremony.json`; returns the tls dir and the record.
fn recorded_tree(work: &Path) -> (PathBuf, PathBuf) {
    let data_dir = work.join("k3s");
    let record = work.join("ceremony.json");
    let stdout = ok(tool(
        tool_binaries().join("gen-custom-ca").to_str().unwrap(),
        &data_dir,
    )
    .arg("--record")
    .arg(&record)
    .args(["--note", "root ceremony, ticket CHG-1"]));
    assert!(
        stdout.contains(&format!("create    644  {}", record.display())),
        "{stdout}"
    );
    (data_dir.join("server/tls"), record)
}

/// `ca-check record RECORD [DIR]`: (exit code, stdout).
fn check(record: &Path, dir: Option<&Path>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ca-check"));
    cmd.env_remove("PRODUCT").env_remove("DATA_DIR");
    cmd.arg("record").arg(record).args(dir);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The FAIL lines of a report, their columns' padding squeezed.
fn failures(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| line.split(' ').nth(1) == Some("FAIL"))
        .collect()
}

/// coreutils' `sha256sum -c SUMS`, run in `tree`: whether it passed.
fn sha256sum_check(tree: &Path, sums: &Path) -> bool {
    Command::new("sha256sum")
        .current_dir(tree)
        .arg("--quiet")
        .arg("-c")
        .arg(sums)
        .output()
        .unwrap()
        .status
        .success()
}

fn sha256(path: &Path) -> String {
    let out = ok(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

#[test]
fn record_verifies_a_fresh_tree_and_names_each_change() {
    let work = scratch();
    let (tls, record) = recorded_tree(work.path());
    let sums = work.path().join("ceremony.SHA256SUMS");
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("root-ca.key"), "{stdout}");
    assert!(stdout.ends_with("no failures\n"), "{stdout}");
    assert!(sha256sum_check(&tls, &sums));

    // A changed byte.
    let cert = tls.join("server-ca.crt");
    let before = fs::read(&cert).unwrap();
    let recorded = sha256(&cert);
    let mut changed = before.clone();
    changed[100] ^= 1;
    fs::write(&cert, &changed).unwrap();
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        failures(&stdout),
        [format!(
            "server-ca.crt FAIL changed: its SHA-256 is {}, the record says {recorded}",
            sha256(&cert)
        )]
    );
    assert!(
        !sha256sum_check(&tls, &sums),
        "sha256sum -c missed the byte"
    );
    fs::write(&cert, &before).unwrap();

    // A missing file.
    let key = tls.join("client-ca.key");
    let key_bytes = fs::read(&key).unwrap();
    fs::remove_file(&key).unwrap();
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(failures(&stdout), ["client-ca.key FAIL missing"]);
    fs::write(&key, &key_bytes).unwrap();

    // A wrong mode (the file written back above got the umask's).
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        failures(&stdout),
        ["client-ca.key FAIL mode 0644, the record says 0600"]
    );
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();

    // An extra file, in a subdirectory the record covers.
    fs::write(tls.join("etcd/stray.key"), b"").unwrap();
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        failures(&stdout),
        ["etcd/stray.key FAIL not in the record: an extra file"]
    );
    fs::remove_file(tls.join("etcd/stray.key")).unwrap();

    // Carried elsewhere without the vault's keys, as docs/tasks.md carries
    // it: the tree is named, and it verifies, the keys left behind said so.
    let carried = work.path().join("carried");
    ok(Command::new("cp").arg("-a").arg(&tls).arg(&carried));
    for key in ["root-ca.key", "intermediate-ca.key"] {
        fs::remove_file(carried.join(key)).unwrap();
    }
    let (code, stdout) = check(&record, Some(&carried));
    assert_eq!(code, 0, "{stdout}");
    let squeezed: Vec<String> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        squeezed
            .contains(&"root-ca.key OK not carried: it stays behind (a vault file)".to_string()),
        "{stdout}"
    );
    assert!(sha256sum_check(&carried, &sums));
    let listed = fs::read_to_string(&sums).unwrap();
    assert!(!listed.contains("root-ca.key"), "{listed}");
    assert!(listed.contains("  client-ca.key\n"), "{listed}");
}

#[test]
fn record_that_cannot_be_read_exits_2() {
    let work = scratch();
    let record = work.path().join("ceremony.json");
    assert_eq!(check(&record, None).0, 2);
    fs::write(&record, b"{\"format\": \"something else\"}").unwrap();
    assert_eq!(check(&record, None).0, 2);
}

/// Every base64 line of the key blocks in `dir`'s `.key` files.
fn key_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e == "key") {
            let text = fs::read_to_string(&entry).unwrap();
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                    .map(str::to_string),
            );
        }
    }
    lines
}

/// The DER of every key block in `dir`'s `.key` files.
fn key_ders(dir: &Path) -> Vec<Vec<u8>> {
    use base64ct::Encoding as _;
    let mut ders = Vec::new();
    for entry in walk(dir) {
        if entry.extension().is_some_and(|e| e == "key") {
            let text = fs::read_to_string(&entry).unwrap();
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("-----") && !l.contains(':') && !l.is_empty())
                .collect();
            ders.push(base64ct::Base64::decode_vec(&body).unwrap());
        }
    }
    ders
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn record_holds_no_key_material() {
    let work = scratch();
    let (tls, record) = recorded_tree(work.path());
    let lines = key_lines(&tls);
    assert!(lines.len() > 20, "the keys were not found: {lines:?}");
    // The keys' bytes too, as the hex a record writes hashes in: every
    // 16-byte piece of each key's DER.
    let pieces: Vec<String> = key_ders(&tls)
        .iter()
        .flat_map(|der| der.chunks_exact(16).map(hex).collect::<Vec<_>>())
        .collect();
    assert!(pieces.len() > 100, "the keys were not decoded");
    for file in [record.clone(), work.path().join("ceremony.txt")] {
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
        assert!(!text.contains("-----BEGIN"), "{}", file.display());
        for line in &lines {
            assert!(!text.contains(line.as_str()), "{}: {line}", file.display());
        }
        for piece in &pieces {
            assert!(
                !text.contains(piece.as_str()),
                "{}: {piece}",
                file.display()
            );
        }
    }
    // What the text form holds for the paper: the note, and each
    // certificate's fingerprint as openssl computes it.
    let text = fs::read_to_string(work.path().join("ceremony.txt")).unwrap();
    assert!(
        text.contains("note      root ceremony, ticket CHG-1\n"),
        "{text}"
    );
    let fingerprint = ok(openssl()
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(tls.join("root-ca.pem")));
    let hex: String = fingerprint
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert!(text.contains(&hex), "{hex} not in\n{text}");
    // The JSON's serial and SPKI pin, as openssl computes them.
    let json: testkit::Json = serde_json::from_str(&fs::read_to_string(&record).unwrap()).unwrap();
    let root = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "root-ca.pem")
        .unwrap();
    let cert = &root["certificates"][0];
    let serial = ok(openssl()
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(tls.join("root-ca.pem")));
    assert_eq!(
        cert["serial"].as_str().unwrap(),
        serial.trim().trim_start_matches("serial=").to_lowercase()
    );
    let public = work.path().join("root.pub.der");
    ok(openssl()
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(tls.join("root-ca.pem"))
        .arg("-out")
        .arg(work.path().join("root.pub.pem")));
    ok(openssl()
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(work.path().join("root.pub.pem"))
        .arg("-out")
        .arg(&public));
    assert_eq!(cert["spki_sha256"].as_str().unwrap(), sha256(&public));
}

#[test]
fn record_of_sign_csr_covers_its_csrs_and_a_dry_run_writes_none() {
    let work = scratch();
    let (tls, _) = recorded_tree(work.path());
    let csrs = work.path().join("csrs");
    fs::create_dir(&csrs).unwrap();
    ok(openssl()
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=bob",
            "-keyout",
        ])
        .arg(work.path().join("bob.key"))
        .arg("-out")
        .arg(csrs.join("bob.csr")));
    let sign = || {
        let mut cmd = Command::new(tool_binaries().join("sign-csr"));
        cmd.arg("--ca")
            .arg(tls.join("client-ca"))
            .args(["--profile", "client", "--csr"])
            .arg(&csrs)
            .arg("--record")
            .arg(work.path().join("bob.json"));
        cmd
    };
    let stdout = ok(sign().arg("--dry-run"));
    assert!(
        stdout.contains("no record: a dry run writes nothing"),
        "{stdout}"
    );
    assert!(!work.path().join("bob.json").exists());
    ok(&mut sign());
    let record = work.path().join("bob.json");
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("bob.crt"), "{stdout}");
    assert!(stdout.contains("bob.csr"), "{stdout}");
    let json = fs::read_to_string(&record).unwrap();
    assert!(json.contains("\"role\": \"the CA key\""), "{json}");
    assert!(sha256sum_check(&csrs, &work.path().join("bob.SHA256SUMS")));
    // --note alone goes nowhere: refused.
    let mut cmd = Command::new(tool_binaries().join("sign-csr"));
    let stderr = testkit::fails(cmd.args(["--note", "x", "--csr"]).arg(&csrs));
    assert!(
        stderr.contains("--note goes into a ceremony record"),
        "{stderr}"
    );
}

#[test]
fn record_of_a_staged_rotation_names_the_live_files_it_read() {
    let work = scratch();
    let data_dir = work.path().join("k3s");
    ok(Command::new("cp")
        .arg("-a")
        .arg(testkit::workspace_root().join("fixtures/k3s-default"))
        .arg(&data_dir));
    let record = work.path().join("rotation.json");
    ok(tool(
        tool_binaries().join("rotate-default-ca").to_str().unwrap(),
        &data_dir,
    )
    .arg("--record")
    .arg(&record));
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("etcd/peer-ca.crt"), "{stdout}");
    let json = fs::read_to_string(&record).unwrap();
    let live_key = data_dir.join("server/tls/server-ca.key");
    assert!(
        json.contains(&format!("\"path\": \"{}\"", live_key.display())),
        "{json}"
    );
    assert!(json.contains(&sha256(&live_key)), "{json}");
    let staged = data_dir.join("server/rotate-ca/tls");
    assert!(sha256sum_check(
        &staged,
        &work.path().join("rotation.SHA256SUMS")
    ));
}

/// kubeconfig-user writes a key into the kubeconfig: the record holds the
/// file's checksum, never the key (nor the admin kubeconfig it did not read,
/// --server given).
#[test]
fn record_of_kubeconfig_user_holds_its_checksum_not_its_key() {
    let work = scratch();
    let (_, _) = recorded_tree(work.path());
    let out = work.path().join("people/alice.kubeconfig");
    let record = work.path().join("alice.json");
    ok(tool(
        tool_binaries().join("kubeconfig-user").to_str().unwrap(),
        &work.path().join("k3s"),
    )
    .args([
        "--user",
        "alice",
        "--server",
        "https://k3s.example:6443",
        "--out",
    ])
    .arg(&out)
    .arg("--record")
    .arg(&record));
    let (code, stdout) = check(&record, None);
    assert_eq!(code, 0, "{stdout}");
    let kubeconfig = fs::read_to_string(&out).unwrap();
    let key = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .expect("a client key in the kubeconfig");
    for file in [record.clone(), work.path().join("alice.txt")] {
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&key[..40]), "{}", file.display());
        assert!(text.contains(&sha256(&out)), "{}", file.display());
    }
    assert!(sha256sum_check(
        &work.path().join("people"),
        &work.path().join("alice.SHA256SUMS")
    ));
}
