//! Staging a service-account signing key rotation in a layout's service-account
//! slot ([`SaSlot`]):
//! - k3s, as its docs describe it: a new RSA key first (it signs new tokens),
//!   then the current keys (they keep verifying tokens already issued), in
//!   `<staging>/tls/service.key` for `k3s certificate rotate-ca --path=<staging>`;
//! - kubeadm and k0s: `<staging>/pki/sa.key` holds the new key alone (the one
//!   signing key) and `<staging>/pki/sa.pub` its public key first, then the
//!   current verify keys, for the four steps of KUBEADM-K0S-CONTRACT.md
//!   section 6 (verify set first, then the signing key, wait, then drop).

use std::path::{Path, PathBuf};

use crate::layout::procedure::{Procedure, StagedPaths};
use crate::layout::service_key::{ServiceKey, ServiceKeyFile};
use crate::layout::{DataDir, Layout, SaSlot};
use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::keys::{KeyAlgorithm, PrivateKey};
use crate::store::plan::{Outcome, Plan};
use crate::store::record::RecordRequest;
use crate::store::staging;

/// What `sa-key-rotate` was asked for, its flags typed.
pub struct SaRequest {
    /// Where the current keys are and the product.
    pub data_dir: DataDir,
    /// The current key file; `None`: the layout's, in the live cert dir.
    pub current: Option<PathBuf>,
    /// The staging directory; `None` or empty: the layout's default.
    pub staging_dir: Option<PathBuf>,
    /// Size of the new RSA key.
    pub bits: usize,
    /// Keep at most this many keys in total, the new one included.
    pub keep: Option<usize>,
    /// Also write the public keys of the new set here (k3s).
    pub public_out: Option<PathBuf>,
    /// Replace an existing staged file.
    pub force: bool,
    /// A ceremony record to write with the staged files.
    pub record: Option<RecordRequest>,
    /// Work out what would be written, write nothing.
    pub dry_run: bool,
}

/// Runs `request` from start to end: locks the staging dir (finishing
/// interrupted commits first), plans, writes, and hands the run and what was
/// written to `report`, which prints them while the lock is still held.
pub fn rotate_sa(
    tool: &str,
    request: SaRequest,
    report: impl FnOnce(&SaRotationRun, &Outcome<'_>) -> Result<()>,
) -> Result<()> {
    let data_dir = request.data_dir;
    if request.current.is_none() {
        data_dir.must_have_cert_dir()?;
    }
    let staging_dir =
        super::staging_dir(&data_dir, request.staging_dir, data_dir.sa_staging_dir())?;
    super::locked(tool, &data_dir, &staging_dir, request.dry_run, |lock| {
        let current = request.current.unwrap_or_else(|| {
            data_dir
                .tls_dir()
                .join(data_dir.layout().service_account.key_file())
        });
        let mut run = plan_sa_rotation(&SaRotationOptions {
            data_dir: data_dir.clone(),
            current,
            staging_dir: staging_dir.clone(),
            bits: request.bits,
            keep: request.keep,
            public_out: request.public_out,
            force: request.force,
        })?;
        run.plan.record_to(request.record);
        let outcome = run.plan.write(lock, request.dry_run)?;
        report(&run, &outcome)
    })
}

/// What to plan.
pub struct SaRotationOptions {
    /// Where the live keys are and the product: its layout's service-account
    /// slot ([`SaSlot`]); for [`SaSlot::Pair`], the current verify keys are
    /// the live `sa.pub`, if there is one.
    pub data_dir: DataDir,
    /// The current key file (`${DATA_DIR}/server/tls/service.key`, or `sa.key`).
    pub current: PathBuf,
    /// The staging directory; the files go to its `tls/` or `pki/` (the
    /// layout's cert dir name).
    pub staging_dir: PathBuf,
    /// Size of the new RSA key.
    pub bits: usize,
    /// Keep at most this many keys in total, the new one included.
    pub keep: Option<usize>,
    /// Also write the public keys of the new set here (k3s; kubeadm and k0s
    /// stage `sa.pub` anyway).
    pub public_out: Option<PathBuf>,
    /// Replace an existing staged file.
    pub force: bool,
}

/// A planned service-account key rotation.
pub struct SaRotationRun {
    /// The files to write.
    pub plan: Plan,
    /// The layout rotated.
    pub layout: &'static Layout,
    /// The current key file read.
    pub current: PathBuf,
    /// The new key's type.
    pub new_algorithm: KeyAlgorithm,
    /// Fingerprint (SHA-256 of the SubjectPublicKeyInfo) of the new key.
    pub new_fingerprint: String,
    /// The current keys carried over, in order.
    pub kept: Vec<KeptKey>,
    /// The oldest keys left out by `--keep`.
    pub dropped: Vec<ServiceKey>,
    /// The steps that take the staged keys into the cluster.
    pub procedure: Procedure,
}

/// A current key carried over, and why.
pub struct KeptKey {
    /// The key.
    pub key: ServiceKey,
    /// What it does from now on.
    pub role: Kept,
}

/// What a key carried over does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// It is `sa.key` today: it signs until the new key replaces it.
    SignsToday,
    /// It verifies tokens already issued (`sa.pub`).
    VerifiesIssued,
    /// Its block of the current key file, carried over byte for byte
    /// (k3s's `service.key`).
    Carried,
}

/// The RSA sizes accepted for a new service-account key.
pub const ALLOWED_BITS: [usize; 3] = [2048, 3072, 4096];

/// Checks the inputs and plans the staged key file; writes nothing.
pub fn plan_sa_rotation(options: &SaRotationOptions) -> Result<SaRotationRun> {
    if !ALLOWED_BITS.contains(&options.bits) {
        let flag = Location::Flag {
            name: "--bits",
            value: Some(options.bits.to_string()),
        };
        return Err(Error::at(
            flag,
            Kind::Usage("use 2048 (what k3s makes), 3072 or 4096".into()),
        ));
    }
    if let Some(keep) = options.keep {
        if keep < 2 {
            let flag = Location::Flag {
                name: "--keep",
                value: Some(keep.to_string()),
            };
            return Err(Error::at(
                flag,
                Kind::Usage(
                    "keep at least 2 keys (the new one and the one that signs today), \
                     or every token issued so far stops working"
                        .into(),
                ),
            ));
        }
    }
    // The flags decide the key: its search starts now, on its own thread,
    // while the current keys are read and checked (see `PendingKeys`).
    let new_algorithm = KeyAlgorithm::Rsa(options.bits);
    let mut pending = PrivateKey::start_all(&[new_algorithm])?;
    let layout = options.data_dir.layout();
    let live = options.data_dir.tls_dir();
    let dir = staging::cert_dir(&options.staging_dir, &live)?;
    let (staged_key, staged_public) = match layout.service_account {
        SaSlot::KeyFile(name) => (dir.join(name), None),
        SaSlot::Pair { key, public } => {
            if options.public_out.is_some() {
                return Err(Error::usage(format!(
                    "--public-out is for k3s: the staged {public} already holds the new set"
                )));
            }
            (dir.join(key), Some(dir.join(public)))
        }
    };
    if let Some(public_out) = &options.public_out {
        staging::refuse_live(public_out, &live)?;
    }
    for staged in std::iter::once(&staged_key).chain(&staged_public) {
        if !options.force && staged.exists() {
            return Err(Error::at(staged, Kind::StagingExists));
        }
    }
    let current = ServiceKeyFile::read(&options.current)?;
    let signing = current.signing_key().map(|k| k.public_key_der.clone());
    let candidates = match layout.service_account {
        SaSlot::KeyFile(_) => current.keys.clone(),
        SaSlot::Pair { public, .. } => verify_set(&current, &live.join(public))?,
    };
    let (kept, dropped) = select_kept(candidates, signing.as_deref(), options.keep);
    let kept = kept
        .into_iter()
        .map(|key| {
            let role = match layout.service_account {
                SaSlot::Pair { .. } if signing.as_ref() == Some(&key.public_key_der) => {
                    Kept::SignsToday
                }
                SaSlot::Pair { .. } => Kept::VerifiesIssued,
                SaSlot::KeyFile(_) => Kept::Carried,
            };
            KeptKey { key, role }
        })
        .collect::<Vec<_>>();

    let new_key = pending.take()?;
    let new_public = new_key.public_key_der()?;
    let new_pem = new_key.to_pem()?;
    let mut public = crate::pki::pem::encode("PUBLIC KEY", &new_public);
    for kept in &kept {
        public.push_str(&kept.key.public_pem());
    }
    let mut plan = Plan::new();
    plan.forbid_under(live.clone());
    plan.uses(options.current.clone(), "the current service-account key");
    match layout.service_account {
        SaSlot::KeyFile(_) => {}
        SaSlot::Pair { public, .. } => {
            let live_public = live.join(public);
            if live_public.is_file() {
                plan.uses(live_public, "the current verify keys");
            }
        }
    }
    match &staged_public {
        None => {
            let mut contents = new_pem.as_bytes().to_vec();
            for KeptKey { key, .. } in &kept {
                contents.extend_from_slice(&key.text);
                if !key.text.ends_with(b"\n") {
                    contents.push(b'\n');
                }
            }
            plan.add_secret(staged_key.clone(), contents);
            if let Some(public_out) = &options.public_out {
                plan.add_public(public_out.clone(), public);
            }
        }
        Some(staged_public) => {
            plan.add_secret(staged_key.clone(), new_pem.as_bytes().to_vec());
            plan.add_public(staged_public.clone(), public);
        }
    }
    let procedure = layout.sa_rotation_procedure(&StagedPaths {
        data_dir: options.data_dir.root.clone(),
        staging_dir: options.staging_dir.clone(),
        staged_dir: dir,
        live_dir: live,
    });
    Ok(SaRotationRun {
        plan,
        layout,
        current: options.current.clone(),
        new_algorithm,
        new_fingerprint: crate::pki::keys::sha256_hex(&new_public),
        kept,
        dropped,
        procedure,
    })
}

/// kubeadm's and k0s's current verify keys: those of `sa.pub` (`public`), in
/// order, with the key `sa.key` signs with first when `sa.pub` lacks it (its
/// tokens must keep verifying); without `sa.pub`, that key alone.
fn verify_set(signing: &ServiceKeyFile, public: &Path) -> Result<Vec<ServiceKey>> {
    let mut keys = if public.exists() {
        ServiceKeyFile::read_verify_keys(public)?.keys
    } else {
        Vec::new()
    };
    if let Some(key) = signing.signing_key() {
        if !keys.iter().any(|k| k.public_key_der == key.public_key_der) {
            keys.insert(0, key.clone());
        }
    }
    Ok(keys)
}

/// The current keys to carry over: all of them, or the newest `keep - 1`, always
/// including the key that signs today (`signing`, its public key).
fn select_kept(
    mut kept: Vec<ServiceKey>,
    signing: Option<&[u8]>,
    keep: Option<usize>,
) -> (Vec<ServiceKey>, Vec<ServiceKey>) {
    let Some(keep) = keep else {
        return (kept, Vec::new());
    };
    let room = keep.saturating_sub(1);
    if kept.len() <= room {
        return (kept, Vec::new());
    }
    let mut dropped = kept.split_off(room);
    let is_signing = |k: &ServiceKey| Some(k.public_key_der.as_slice()) == signing;
    if !kept.iter().any(is_signing) {
        // Only when the signing key is not among the newest (public keys
        // before it in service.key, or an sa.pub that lists it late).
        if let Some(position) = dropped.iter().position(is_signing) {
            let signing = dropped.remove(position);
            if let Some(last) = kept.pop() {
                dropped.insert(0, last);
            }
            kept.push(signing);
        }
    }
    (kept, dropped)
}
