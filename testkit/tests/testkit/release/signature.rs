//! SHA256SUMS.sig: verified with the key install.sh carries (or the one
//! K3S_PKI_PUBLIC_KEY names, said when used) wherever ssh-keygen can, refused
//! when it does not verify or is missing; where it cannot, stderr says the check
//! is for integrity only.

use super::*;

/// The public key install.sh carries: the project's, committed.
fn release_key() -> String {
    fs::read_to_string(workspace_root().join("scripts/release-key.pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A key's SHA256 fingerprint, as ssh-keygen prints it.
fn fingerprint(public: &str) -> String {
    let node = scratch();
    let file = node.path().join("key.pub");
    fs::write(&file, format!("{public}\n")).unwrap();
    let line = ok(Command::new("ssh-keygen").arg("-l").arg("-f").arg(&file));
    line.split_whitespace().nth(1).unwrap().to_owned()
}

#[test]
fn the_signature_is_verified_and_said_or_integrity_only_is_said() {
    let server = Server::serve(dist());
    let test_fp = fingerprint(&test_key().public);
    for shell in SHELLS {
        let node = Node::new();
        let (_, stderr) = succeeds(&mut node.install(shell, &server.url));
        match shell {
            Shell::Dash => {
                assert!(
                    stderr.contains(&format!(
                        "K3S_PKI_PUBLIC_KEY is set: verifying SHA256SUMS with that key, {test_fp}, not the release key this installer carries"
                    )) && stderr.contains(&format!(
                        "SHA256SUMS signature verified: signed by the K3S_PKI_PUBLIC_KEY key, {test_fp}"
                    )),
                    "{stderr}"
                );
            }
            Shell::Ash => assert!(
                stderr.contains(
                    "no ssh-keygen here: SHA256SUMS checked for integrity only, its signature not verified"
                ),
                "{stderr}"
            ),
        }
        assert_eq!(node.installed().len(), TOOLS.len());
    }
}

#[test]
fn the_carried_key_is_the_projects_and_is_the_one_checked() {
    let script = fs::read_to_string(dist().join("install.sh")).unwrap();
    let carried = format!("release_key='{}'", release_key());
    assert!(script.contains(&carried), "install.sh carries {carried}");

    // The test release is not signed by the project's key: refused without the override.
    let server = Server::serve(dist());
    let node = Node::new();
    let mut install = node.install(Shell::Dash, &server.url);
    install.env_remove("K3S_PKI_PUBLIC_KEY");
    assert_refused(
        &mut install,
        &format!(
            "/SHA256SUMS.sig is not a signature of SHA256SUMS by the release key, {}",
            fingerprint(&release_key())
        ),
    );
    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");

    // An install.sh carrying the test key instead verifies it as the release key.
    let served = node.path("served");
    copy_dist(&served, &["install.sh"]);
    let own = script.replace(&carried, &format!("release_key='{}'", test_key().public));
    fs::write(served.join("install.sh"), own).unwrap();
    let server = Server::serve(&served);
    let mut install = node.install(Shell::Dash, &server.url);
    install.env_remove("K3S_PKI_PUBLIC_KEY");
    let (_, stderr) = succeeds(&mut install);
    assert_eq!(
        stderr,
        format!(
            "k3s-pki install: SHA256SUMS signature verified: signed by the release key, {}\n",
            fingerprint(&test_key().public)
        )
    );
    node.assert_tmp_empty();
}

#[test]
fn a_tarball_changed_with_its_checksum_is_refused_by_the_signature() {
    // SHA256SUMS comes from the same place as the tarball: changed together,
    // only the signature tells.
    let node = Node::new();
    let served = node.path("served");
    copy_dist(&served, &[]);
    let tarball = served.join(tarball_name());
    let old_sum = sha256(&tarball);
    let mut bytes = fs::read(&tarball).unwrap();
    let end = bytes.len() - 1;
    bytes[end] ^= 0x01;
    fs::write(&tarball, bytes).unwrap();
    let sums = served.join("SHA256SUMS");
    let text = fs::read_to_string(&sums).unwrap();
    fs::write(&sums, text.replace(&old_sum, &sha256(&tarball))).unwrap();
    let server = Server::serve(&served);
    assert_refused(
        &mut node.install(Shell::Dash, &server.url),
        "/SHA256SUMS.sig is not a signature of SHA256SUMS by the K3S_PKI_PUBLIC_KEY key",
    );

    // Signed by the right key for another purpose (ssh-keygen's `file` namespace).
    sign(&served, "file");
    assert_refused(
        &mut node.install(Shell::Dash, &server.url),
        "/SHA256SUMS.sig is not a signature of SHA256SUMS",
    );

    // Removing the signature is no way around it where ssh-keygen is.
    fs::remove_file(served.join("SHA256SUMS.sig")).unwrap();
    assert_refused(
        &mut node.install(Shell::Dash, &server.url),
        "/SHA256SUMS.sig: the signature of SHA256SUMS, required where ssh-keygen can verify it",
    );
    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
    node.assert_tmp_empty();
}

fn sha256(file: &Path) -> String {
    let out = ok(Command::new("sha256sum").arg(file));
    out.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn an_old_ssh_keygen_or_a_bad_override_key_is_said() {
    let server = Server::serve(dist());
    let node = Node::new();
    // OpenSSH before 8.1: no -Y, getopt's answer.
    let old = node.path("old-ssh");
    fs::create_dir(&old).unwrap();
    fs::write(
        old.join("ssh-keygen"),
        "#!/bin/sh\necho 'ssh-keygen: unknown option -- Y' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(old.join("ssh-keygen"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", old.display(), node.system_path());
    let line = format!("curl -sfL {}/install.sh | sh -", server.url);
    let (_, stderr) = succeeds(&mut node.sh(&server.url, &path, &line));
    assert!(
        stderr.contains("this ssh-keygen predates OpenSSH 8.1 and cannot verify signatures: SHA256SUMS checked for integrity only"),
        "{stderr}"
    );

    let node = Node::new();
    for bad in [
        "not a key",
        "ssh-ed25519 AAAA'; rm -rf /",
        "ssh-ed25519 AAAAC3Nz",
    ] {
        let mut install = node.install(Shell::Dash, &server.url);
        install.env("K3S_PKI_PUBLIC_KEY", bad);
        assert_refused(
            &mut install,
            "the K3S_PKI_PUBLIC_KEY key is not an OpenSSH public key",
        );
    }
    assert_eq!(node.installed(), Vec::<String>::new(), "INSTALL_DIR");
    node.assert_tmp_empty();
}
