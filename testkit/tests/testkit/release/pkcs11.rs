//! The released binaries are static (glibc, static-pie), and a PKCS#11 module
//! is a shared library they load with `dlopen`: proven here with SoftHSM2, the
//! installed `gen-custom-ca` making a root in a token and a tree under it.
//! glibc's static `dlopen` loads the host's libc for the module, which works
//! when the host's glibc is the one the release was linked with (the build
//! machine's); docs/gen-custom-ca.md says so.

use testkit::softhsm::SoftHsm;

use super::*;

#[test]
fn the_released_gen_custom_ca_loads_a_pkcs11_module_and_signs_in_the_token() {
    let node = Node::new();
    let copy = node.path("usb");
    copy_dist(&copy, &[]);
    let url = format!("file://{}", copy.display());
    let line = format!("sh {}/install.sh", copy.display());
    ok(&mut node.sh(&url, &node.system_path(), &line));
    let binary = node.path("install").join("gen-custom-ca");
    let file = ok(Command::new("file").arg("-b").arg(&binary));
    assert!(file.contains("static"), "{file}");

    let hsm = SoftHsm::new();
    let data_dir = node.path("cluster");
    let stdout = ok(hsm
        .command(&binary)
        .env("DATA_DIR", &data_dir)
        .env_remove("PRODUCT")
        .env("PKCS11_MODULE", SoftHsm::module())
        .arg("--pin-file")
        .arg(hsm.pin_file())
        .arg("--root-key")
        .arg(SoftHsm::uri("root"))
        .args(["--generate-in-token", "--root-algorithm", "ECDSA-P384"]));
    assert!(
        stdout.contains("The root CA's key stays in the token"),
        "{stdout}"
    );
    let tls = data_dir.join("server/tls");
    assert!(!tls.join("root-ca.key").exists());
    for stem in ["intermediate-ca", "server-ca", "client-ca"] {
        let verified = ok(Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(tls.join("root-ca.pem"))
            .arg("-untrusted")
            .arg(tls.join("intermediate-ca.pem"))
            .arg(tls.join(format!("{stem}.pem"))));
        assert!(verified.trim().ends_with(": OK"), "{verified}");
    }
}
