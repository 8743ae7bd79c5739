//! `scripts/release` itself, on a copy of the files it reads with a stand-in
//! cargo (seconds, not a release build): where it takes the binaries from,
//! and that it signs or refuses to run unsigned.

use super::*;

/// A stand-in for cargo: `pkgid` answers a version, `build` writes six small
/// scripts where cargo would, honouring `--target-dir` and then
/// `CARGO_TARGET_DIR` as cargo does.
const FAKE_CARGO: &str = r#"#!/bin/sh
case $1 in
pkgid) echo 'path+file:///fake#9.9.9' ;;
build)
	dir=${CARGO_TARGET_DIR:-target} triple=
	while [ $# -gt 0 ]; do
		case $1 in
		--target-dir) dir=$2; shift ;;
		--target) triple=$2; shift ;;
		esac
		shift
	done
	mkdir -p "$dir/$triple/release"
	for t in gen-custom-ca rotate-default-ca sa-key-rotate ca-check sign-csr kubeconfig-user; do
		printf '#!/bin/sh\necho "%s stand-in"\n' "$t" >"$dir/$triple/release/$t"
		chmod 0755 "$dir/$triple/release/$t"
	done ;;
*) exit 2 ;;
esac
"#;

/// A directory holding what scripts/release reads, and the stand-in cargo.
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    fn new() -> Checkout {
        let dir = scratch();
        let root = workspace_root();
        fs::create_dir_all(dir.path().join("repo/scripts")).unwrap();
        for file in [
            "scripts/release",
            "scripts/install.sh",
            "scripts/release-key.pub",
            "README.md",
            "LICENSE",
        ] {
            fs::copy(root.join(file), dir.path().join("repo").join(file)).unwrap();
        }
        let cargo = dir.path().join("cargo");
        fs::write(&cargo, FAKE_CARGO).unwrap();
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
        Checkout { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// scripts/release run from `cwd`, with the stand-in cargo and the test key.
    fn release(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new(self.path("repo/scripts/release"));
        cmd.current_dir(cwd)
            .env("CARGO", self.path("cargo"))
            .env("K3S_PKI_SIGNING_KEY", &test_key().private)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        cmd
    }

    /// ca-check as the release's tarball holds it.
    fn released_ca_check(&self) -> String {
        let out = self.path("unpacked");
        fs::create_dir_all(&out).unwrap();
        ok(Command::new("tar")
            .arg("-xzf")
            .arg(self.path("repo/dist/k3s-pki-9.9.9-linux-amd64.tar.gz"))
            .arg("-C")
            .arg(&out));
        fs::read_to_string(out.join("k3s-pki-9.9.9-linux-amd64/ca-check")).unwrap()
    }
}

#[test]
fn the_release_takes_the_binaries_from_cargo_target_dir() {
    let checkout = Checkout::new();
    let elsewhere = checkout.path("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    // Absolute, and relative to where it is run from, as cargo reads it.
    for (dir, given) in [
        (checkout.path("absolute"), checkout.path("absolute")),
        (elsewhere.join("relative"), PathBuf::from("relative")),
    ] {
        let mut release = checkout.release(&elsewhere);
        release.env("CARGO_TARGET_DIR", &given);
        ok(&mut release);
        assert!(
            dir.join("x86_64-unknown-linux-gnu/release/ca-check")
                .exists(),
            "{}",
            dir.display()
        );
        assert!(checkout.released_ca_check().contains("ca-check stand-in"));
        assert!(!checkout.path("repo/target").exists(), "nothing in target/");
    }
}

#[test]
fn the_release_signs_sha256sums_and_refuses_to_run_without_a_key() {
    let checkout = Checkout::new();
    let repo = checkout.path("repo");
    let mut unsigned = checkout.release(&repo);
    unsigned.env_remove("K3S_PKI_SIGNING_KEY");
    let stderr = fails(&mut unsigned);
    assert!(
        stderr.contains("K3S_PKI_SIGNING_KEY is not set: a release's SHA256SUMS is signed"),
        "{stderr}"
    );
    assert!(!repo.join("dist").exists(), "nothing built");

    let out = checkout.release(&repo).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The test key is not the project's: said.
    assert!(
        stderr.contains("is not the key of scripts/release-key.pub: installers refuse this release unless K3S_PKI_PUBLIC_KEY names its public key"),
        "{stderr}"
    );
    let signers = checkout.path("allowed_signers");
    fs::write(
        &signers,
        format!(
            "release@k3s-pki namespaces=\"{NAMESPACE}\" {}\n",
            test_key().public
        ),
    )
    .unwrap();
    let dist = repo.join("dist");
    ok(Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-I",
            "release@k3s-pki",
            "-n",
            NAMESPACE,
            "-f",
        ])
        .arg(&signers)
        .arg("-s")
        .arg(dist.join("SHA256SUMS.sig"))
        .stdin(fs::File::open(dist.join("SHA256SUMS")).unwrap()));
}
