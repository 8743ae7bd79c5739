//! CA keys in a PKCS#11 token (SoftHSM2, a real module): a root made in the
//! token signs a tree every root-only client accepts (Go, openssl, a TLS
//! handshake), RSA and ECDSA, while no file written holds its private key;
//! a wrong PIN, a missing key or module is one line, nothing written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::softhsm::SoftHsm;
use testkit::{fails, ok, openssl, scratch};

use crate::enterprise::assert_root_only_clients_accept;

/// `gen-custom-ca` on `data_dir`, reaching `hsm` by flags.
fn tool(hsm: &SoftHsm, data_dir: &Path) -> Command {
    tool_with(hsm, data_dir, &SoftHsm::module(), &hsm.pin_file())
}

/// [`tool`] with another module and PIN file.
fn tool_with(hsm: &SoftHsm, data_dir: &Path, module: &Path, pin_file: &Path) -> Command {
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), data_dir);
    cmd.env("SOFTHSM2_CONF", hsm.conf())
        .env_remove("PKCS11_MODULE")
        .arg("--pkcs11-module")
        .arg(module)
        .arg("--pin-file")
        .arg(pin_file);
    cmd
}

fn tls(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls")
}

/// The DER SubjectPublicKeyInfo of a certificate, as openssl reads it.
fn cert_public_key(cert: &Path) -> Vec<u8> {
    let work = scratch();
    let pem = work.path().join("pub.pem");
    ok(openssl()
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(cert)
        .arg("-out")
        .arg(&pem));
    der_of_public(&pem)
}

fn der_of_public(pem: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// No file under `dir` holds the private key of `cert`: each private key
/// block of every file is read by openssl and its public half compared.
fn assert_no_file_holds_the_key_of(dir: &Path, cert: &Path) {
    let public = cert_public_key(cert);
    let work = scratch();
    let mut keys_seen = 0;
    for file in files_under(dir) {
        let text = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("-----BEGIN ") {
            let block = &rest[start..];
            let end = block.find("-----END ").unwrap();
            let end = end + block[end..].find("\n").map_or(block.len() - end, |n| n + 1);
            let pem = &block[..end];
            rest = &block[end..];
            if !pem.lines().next().unwrap().contains("PRIVATE KEY") {
                continue;
            }
            keys_seen += 1;
            let key = work.path().join("key.pem");
            let public_of_key = work.path().join("key.pub");
            fs::write(&key, pem).unwrap();
            ok(openssl()
                .args(["pkey", "-pubout", "-in"])
                .arg(&key)
                .arg("-out")
                .arg(&public_of_key));
            assert_ne!(
                der_of_public(&public_of_key),
                public,
                "{} holds the private key of {}",
                file.display(),
                cert.display()
            );
        }
    }
    // The tree's own keys (the five CAs, service.key) were looked at: the
    // check can fail.
    assert!(
        keys_seen >= 6,
        "only {keys_seen} private keys seen under {}",
        dir.display()
    );
}

/// A root generated in the token (`algorithm`), an intermediate generated in
/// memory under it, the k3s tree under that.
fn token_root_signs_a_tree(algorithm: &str) {
    let hsm = SoftHsm::new();
    let work = scratch();
    let data_dir = work.path().join("cluster");
    let stdout = ok(tool(&hsm, &data_dir)
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .args(["--generate-in-token", "--root-algorithm", algorithm])
        .args(["--intermediate-algorithm", "ECDSA-P256"]));
    assert!(
        stdout.contains("The root CA's key stays in the token pkcs11:token=ceremony;object=root"),
        "{stdout}"
    );
    let tls = tls(&data_dir);
    assert!(
        !tls.join("root-ca.key").exists(),
        "no root-ca.key is written"
    );
    assert!(!data_dir.join("root-ca.key").exists());
    let issued: Vec<PathBuf> = ["root-ca.pem", "intermediate-ca.pem"]
        .iter()
        .map(|f| tls.join(f))
        .collect();
    assert_root_only_clients_accept(&data_dir, &stdout, &issued);
    assert_no_file_holds_the_key_of(&data_dir, &tls.join("root-ca.pem"));

    // The token's key is the certificate's: a second run brings root-ca.pem
    // with the token key (which must match it), and signs a new intermediate
    // whose key is generated in the token beside it.
    let again = work.path().join("again");
    fs::create_dir_all(&again).unwrap();
    fs::copy(tls.join("root-ca.pem"), again.join("root-ca.pem")).unwrap();
    let stdout = ok(tool(&hsm, &again)
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .arg("--intermediate-key")
        .arg(SoftHsm::uri("issuing"))
        .args(["--generate-in-token", "--intermediate-algorithm", algorithm]));
    let tls = self::tls(&again);
    assert!(!tls.join("intermediate-ca.key").exists());
    assert_root_only_clients_accept(&again, &stdout, &[tls.join("intermediate-ca.pem")]);
    assert_no_file_holds_the_key_of(&again, &tls.join("root-ca.pem"));
    assert_no_file_holds_the_key_of(&again, &tls.join("intermediate-ca.pem"));
}

#[test]
fn an_rsa_root_generated_in_the_token_signs_a_tree_and_no_file_holds_its_key() {
    token_root_signs_a_tree("RSA-3072");
}

#[test]
fn an_ecdsa_root_generated_in_the_token_signs_a_tree_and_no_file_holds_its_key() {
    token_root_signs_a_tree("ECDSA-P384");
}

/// Root and intermediate both in the token: every signature of the CAs above
/// the five is the token's; then the intermediate alone, brought with its
/// certificate, signs a new set of CAs (no root key needed).
#[test]
fn an_intermediate_in_the_token_signs_the_cas_of_a_later_run() {
    let hsm = SoftHsm::new();
    let work = scratch();
    let first = work.path().join("first");
    let stdout = ok(tool(&hsm, &first)
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .arg("--intermediate-key")
        .arg(SoftHsm::uri("issuing"))
        .args(["--generate-in-token", "--root-algorithm", "ECDSA-P384"])
        .args(["--intermediate-algorithm", "RSA-2048"]));
    let tls1 = tls(&first);
    assert!(!tls1.join("intermediate-ca.key").exists());
    assert_root_only_clients_accept(&first, &stdout, &[]);
    assert_no_file_holds_the_key_of(&first, &tls1.join("intermediate-ca.pem"));

    let later = work.path().join("later");
    fs::create_dir_all(&later).unwrap();
    for f in ["root-ca.pem", "intermediate-ca.pem"] {
        fs::copy(tls1.join(f), later.join(f)).unwrap();
    }
    let stdout = ok(tool(&hsm, &later)
        .arg("--intermediate-key")
        .arg(SoftHsm::uri("issuing")));
    assert_root_only_clients_accept(&later, &stdout, &[]);
    assert_no_file_holds_the_key_of(&later, &tls1.join("intermediate-ca.pem"));
    assert_no_file_holds_the_key_of(&later, &tls1.join("root-ca.pem"));
}

/// One line on stderr, exit 1, nothing written (the data dir is not even made).
fn assert_refused(mut cmd: Command, data_dir: &Path, expected: &str) {
    let stderr = fails(&mut cmd);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    assert!(lines[0].contains(expected), "{expected:?} in:\n{stderr}");
    assert!(
        !stderr.contains(testkit::softhsm::PIN),
        "no PIN in:\n{stderr}"
    );
    assert!(
        !data_dir.exists(),
        "nothing written in {}",
        data_dir.display()
    );
}

#[test]
fn a_wrong_pin_a_missing_key_or_module_is_one_line_and_nothing_is_written() {
    let hsm = SoftHsm::new();
    let work = scratch();
    // A key to look for.
    ok(tool(&hsm, &work.path().join("made"))
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .args(["--generate-in-token", "--root-algorithm", "ECDSA-P256"]));
    let data_dir = work.path().join("refused");

    let wrong_pin = work.path().join("wrong-pin");
    fs::write(&wrong_pin, "0000-wrong\n").unwrap();
    fs::set_permissions(
        &wrong_pin,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut cmd = tool_with(&hsm, &data_dir, &SoftHsm::module(), &wrong_pin);
    cmd.arg("--root-key").arg(SoftHsm::uri("root"));
    assert_refused(
        cmd,
        &data_dir,
        "pkcs11:token=ceremony;object=root: the token refused the PIN",
    );

    let mut cmd = tool(&hsm, &data_dir);
    cmd.arg("--root-key").arg(SoftHsm::uri("nothing-here"));
    assert_refused(
        cmd,
        &data_dir,
        "pkcs11:token=ceremony;object=nothing-here: the token holds no such private key",
    );

    let mut cmd = tool_with(
        &hsm,
        &data_dir,
        Path::new("/nonexistent/libnone.so"),
        &hsm.pin_file(),
    );
    cmd.arg("--root-key").arg(SoftHsm::uri("root"));
    assert_refused(
        cmd,
        &data_dir,
        "/nonexistent/libnone.so: no such PKCS#11 module",
    );

    // No module named anywhere: the flag, the URI and PKCS11_MODULE are named.
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), &data_dir);
    cmd.env("SOFTHSM2_CONF", hsm.conf())
        .env_remove("PKCS11_MODULE")
        .arg("--root-key")
        .arg(SoftHsm::uri("root"));
    assert_refused(cmd, &data_dir, "no PKCS#11 module to reach the token");

    // Generating a key the token already holds would hide which one signs.
    let mut cmd = tool(&hsm, &data_dir);
    cmd.arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .arg("--generate-in-token");
    assert_refused(cmd, &data_dir, "the token already holds this key");

    // A refused run leaves no key it generated: the root made before the
    // intermediate's name is found taken is destroyed again, so the same
    // run, corrected, can be made.
    let mut cmd = tool(&hsm, &data_dir);
    cmd.arg("--root-key")
        .arg(SoftHsm::uri("fresh"))
        .arg("--intermediate-key")
        .arg(SoftHsm::uri("root"))
        .arg("--generate-in-token");
    assert_refused(
        cmd,
        &data_dir,
        "object=root: the token already holds this key",
    );
    let mut cmd = tool(&hsm, &data_dir);
    cmd.arg("--root-key").arg(SoftHsm::uri("fresh"));
    assert_refused(
        cmd,
        &data_dir,
        "object=fresh: the token holds no such private key",
    );

    // A dry run would leave keys in the token.
    let mut cmd = tool(&hsm, &data_dir);
    cmd.arg("--root-key")
        .arg(SoftHsm::uri("fresh"))
        .args(["--generate-in-token", "--dry-run"]);
    assert_refused(cmd, &data_dir, "--dry-run with --generate-in-token");

    // A brought root whose key is not the token's.
    let other = work.path().join("other");
    fs::create_dir_all(&other).unwrap();
    let stranger = testkit::enterprise::root(
        work.path(),
        "stranger",
        testkit::enterprise::KeyKind::P256,
        &testkit::enterprise::CaExt::default(),
    );
    fs::copy(&stranger.cert, other.join("root-ca.pem")).unwrap();
    let before = testkit::snapshot(&other);
    let mut cmd = tool(&hsm, &other);
    cmd.arg("--root-key").arg(SoftHsm::uri("root"));
    let stderr = fails(&mut cmd);
    assert!(stderr.contains("this key is not the one of"), "{stderr}");
    assert_eq!(testkit::snapshot(&other), before, "nothing written");
}

/// The module from `PKCS11_MODULE` and the PIN from the URI's pin-source.
#[test]
fn the_module_comes_from_the_environment_and_the_pin_from_the_uri() {
    let hsm = SoftHsm::new();
    let work = scratch();
    let data_dir = work.path().join("cluster");
    let uri = format!(
        "{};id=%01%02?pin-source={}",
        SoftHsm::uri("root"),
        hsm.pin_file().display()
    );
    let mut cmd = testkit::tool(env!("CARGO_BIN_EXE_gen-custom-ca"), &data_dir);
    ok(cmd
        .env("SOFTHSM2_CONF", hsm.conf())
        .env("PKCS11_MODULE", SoftHsm::module())
        .arg("--root-key")
        .arg(&uri)
        .args(["--generate-in-token", "--root-algorithm", "ECDSA-P256"]));
    assert!(tls(&data_dir).join("root-ca.pem").is_file());
}

/// Without --pin-file or pin-source, the PIN is asked on the terminal
/// (script(1)'s pseudo-terminal), without echo, naming the token.
#[test]
fn the_pin_is_asked_on_the_terminal_without_echo() {
    let hsm = SoftHsm::new();
    let work = scratch();
    let data_dir = work.path().join("cluster");
    let line = format!(
        "{} --pkcs11-module {} --root-key '{}' --generate-in-token --root-algorithm ECDSA-P256",
        env!("CARGO_BIN_EXE_gen-custom-ca"),
        SoftHsm::module().display(),
        SoftHsm::uri("root")
    );
    let (status, transcript) = testkit::terminal::type_at_prompt(
        hsm.command("script")
            .args(["-qefc", &line, "/dev/null"])
            .env_remove("PRODUCT")
            .env_remove("PKCS11_MODULE")
            .env("DATA_DIR", &data_dir),
        "PIN for token \"ceremony\": ",
        format!("{}\n", testkit::softhsm::PIN).as_bytes(),
    );
    assert!(status.success(), "{transcript}");
    assert!(
        !transcript.contains(testkit::softhsm::PIN),
        "the PIN was echoed: {transcript}"
    );
    assert!(tls(&data_dir).join("root-ca.pem").is_file());
    assert!(!tls(&data_dir).join("root-ca.key").exists());
}
