//! Staging a service-account signing key rotation, as the k3s docs describe it:
//! a new RSA key first (it signs new tokens), then the current keys (they keep
//! verifying tokens already issued), in `<staging>/tls/service.key` for
//! `k3s certificate rotate-ca --path=<staging>`.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::plan::Plan;
use crate::service_key::{ServiceKey, ServiceKeyFile};
use crate::staging;
use crate::topology::SERVICE_KEY_FILE;

/// What the user asked for.
pub struct SaRotationOptions {
    /// The current key file (usually `${DATA_DIR}/server/tls/service.key`).
    pub current: PathBuf,
    /// The live tls directory, never written.
    pub live_tls: PathBuf,
    /// The staging directory; the file goes to `<staging>/tls/service.key`.
    pub staging_dir: PathBuf,
    /// Size of the new RSA key.
    pub bits: usize,
    /// Keep at most this many keys in total, the new one included.
    pub keep: Option<usize>,
    /// Also write the public keys of the new set here.
    pub public_out: Option<PathBuf>,
    /// Replace an existing staged file.
    pub force: bool,
}

/// A planned service-account key rotation.
pub struct SaRotationRun {
    /// The files to write.
    pub plan: Plan,
    /// `<staging>/tls/service.key`.
    pub staged_file: PathBuf,
    /// Fingerprint (SHA-256 of the SubjectPublicKeyInfo) of the new key.
    pub new_fingerprint: String,
    /// The current keys carried over, in order.
    pub kept: Vec<ServiceKey>,
    /// The oldest keys left out by `--keep`.
    pub dropped: Vec<ServiceKey>,
}

/// The RSA sizes accepted for a new service-account key.
pub const ALLOWED_BITS: [usize; 3] = [2048, 3072, 4096];

/// Checks the inputs and plans the staged key file; writes nothing.
pub fn plan_sa_rotation(options: &SaRotationOptions) -> Result<SaRotationRun> {
    if !ALLOWED_BITS.contains(&options.bits) {
        return Err(Error::Inputs {
            path: options.current.clone(),
            problem: format!(
                "--bits {}: use 2048 (what k3s makes), 3072 or 4096",
                options.bits
            ),
        });
    }
    if let Some(keep) = options.keep {
        if keep < 2 {
            return Err(Error::Inputs {
                path: options.current.clone(),
                problem: format!(
                    "--keep {keep}: keep at least 2 keys (the new one and the one that signs today), \
                     or every token issued so far stops working"
                ),
            });
        }
    }
    let staged_tls = staging::tls_dir(&options.staging_dir, &options.live_tls)?;
    if let Some(public_out) = &options.public_out {
        staging::refuse_live(public_out, &options.live_tls)?;
    }
    let staged_file = staged_tls.join(SERVICE_KEY_FILE);
    if !options.force && staged_file.exists() {
        return Err(Error::StagingExists { dir: staged_file });
    }
    let current = ServiceKeyFile::read(&options.current)?;
    let (kept, dropped) = select_kept(&current, options.keep);

    let new_key = PrivateKey::generate(KeyAlgorithm::Rsa(options.bits))?;
    let new_public = new_key.public_key_der()?;
    let mut contents = new_key.to_pem()?.as_bytes().to_vec();
    for key in &kept {
        contents.extend_from_slice(&key.text);
        if !key.text.ends_with(b"\n") {
            contents.push(b'\n');
        }
    }
    let mut plan = Plan::new();
    plan.forbid_under(options.live_tls.clone());
    plan.add_secret(staged_file.clone(), contents);
    if let Some(public_out) = &options.public_out {
        let mut public = crate::pem_file::encode("PUBLIC KEY", &new_public);
        for key in &kept {
            public.push_str(&key.public_pem());
        }
        plan.add_public(public_out.clone(), public);
    }
    Ok(SaRotationRun {
        plan,
        staged_file,
        new_fingerprint: crate::keys::sha256_hex(&new_public),
        kept,
        dropped,
    })
}

/// The current keys to carry over: all of them, or the newest `keep - 1`, always
/// including the key that signs today.
fn select_kept(
    current: &ServiceKeyFile,
    keep: Option<usize>,
) -> (Vec<ServiceKey>, Vec<ServiceKey>) {
    let mut kept = current.keys.clone();
    let Some(keep) = keep else {
        return (kept, Vec::new());
    };
    let room = keep.saturating_sub(1);
    if kept.len() <= room {
        return (kept, Vec::new());
    }
    let mut dropped = kept.split_off(room);
    if let Some(signing) = current.signing_key() {
        if !kept.iter().any(|k| k.block == signing.block) {
            // Only when public keys come before the first private key.
            if let Some(position) = dropped.iter().position(|k| k.block == signing.block) {
                let signing = dropped.remove(position);
                if let Some(last) = kept.pop() {
                    dropped.insert(0, last);
                }
                kept.push(signing);
            }
        }
    }
    (kept, dropped)
}
