//! A scratch SoftHSM2 token (Debian's `softhsm2`, a real PKCS#11 module) for
//! the tests of CA keys held in a token: its own config and token directory
//! under a temp dir (via `SOFTHSM2_CONF`), never the system's.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ok, scratch};

/// The user PIN of every scratch token.
pub const PIN: &str = "1234-user";

/// One initialised token, labelled [`SoftHsm::LABEL`], in its own directory.
pub struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    /// The token's label.
    pub const LABEL: &str = "ceremony";

    /// A fresh token (`softhsm2-util --init-token`) with [`PIN`].
    pub fn new() -> Self {
        let dir = scratch();
        let tokens = dir.path().join("tokens");
        fs::create_dir(&tokens).expect("token dir");
        fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        let hsm = SoftHsm { dir };
        ok(hsm
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", Self::LABEL])
            .args(["--pin", PIN, "--so-pin", "5678-so"]));
        fs::write(hsm.pin_file(), format!("{PIN}\n")).expect("pin file");
        fs::set_permissions(hsm.pin_file(), fs::Permissions::from_mode(0o600)).expect("chmod");
        hsm
    }

    /// The PKCS#11 module: Debian's SoftHSM2 library.
    pub fn module() -> PathBuf {
        let candidates = [
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        ];
        candidates
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .expect("libsofthsm2.so: install Debian's softhsm2 (scripts/test does)")
    }

    /// `SOFTHSM2_CONF` for this token.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// A file (mode 600) whose first line is the PIN.
    pub fn pin_file(&self) -> PathBuf {
        self.dir.path().join("pin")
    }

    /// The token's directory: every file the module keeps.
    pub fn token_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `pkcs11:token=ceremony;object=<label>`.
    pub fn uri(label: &str) -> String {
        format!("pkcs11:token={};object={label}", Self::LABEL)
    }

    /// `program` with this token's `SOFTHSM2_CONF`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", self.conf());
        cmd
    }
}

impl Default for SoftHsm {
    fn default() -> Self {
        Self::new()
    }
}
