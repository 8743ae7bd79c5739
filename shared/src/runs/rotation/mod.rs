//! Staged rotations of a distribution's CAs, whichever way it takes them
//! ([`RotationScheme`]): for k3s's `certificate rotate-ca`, new roots and
//! intermediates in `<staging>/tls` ([`rotate_ca`]); for kubeadm and k0s, new
//! CAs and the transition files of their procedures by hand in
//! `<staging>/pki` ([`manual`]).
//!
//! Both read the current CAs and refuse a clock behind them, and replace each
//! with a new root made twice over the same subject and key: self-signed, and
//! cross-signed by the CA it replaces, so that clients still trusting only the
//! old CA accept what the new one issues. That, the staging-dir checks, the
//! key generation and the notes on old CAs that expire first are written
//! here, once. Nothing is ever written under the live cert dir.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::procedure::{Procedure, StagedPaths};
use crate::layout::{CaSlot, DataDir, Layout, RotationScheme};
use crate::pki::cert::{Certificate, bundle_in, format_time};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::exports::missing_block;
use crate::pki::issue::{CaRequest, Issuer, days_after, issue_ca, run_timestamp};
use crate::pki::keys::{GeneratedKey, KeyAlgorithm, PendingKeys, PrivateKey};
use crate::pki::pem::PemFile;
use crate::store::plan::{Outcome, Plan};
use crate::store::record::RecordRequest;
use crate::store::staging;

pub mod manual;
pub mod renewal;
pub mod rotate_ca;

/// What `rotate-default-ca` was asked for, its flags typed.
pub struct RotationRequest {
    /// Where the current CAs are and the product.
    pub data_dir: DataDir,
    /// The staging directory; `None` or empty: the layout's default.
    pub staging_dir: Option<PathBuf>,
    /// The new CAs' key type, for layouts that rotate by hand.
    pub algorithm: Option<GeneratedKey>,
    /// Replace a non-empty staging directory.
    pub force: bool,
    /// A ceremony record to write with the staged files.
    pub record: Option<RecordRequest>,
    /// Work out what would be written, write nothing.
    pub dry_run: bool,
}

/// Runs `request` from start to end: refuses what the layout cannot do,
/// locks the staging dir (finishing interrupted commits first), plans,
/// writes, and hands the run and what was written to `report`, which prints
/// them while the lock is still held.
pub fn rotate(
    tool: &str,
    request: RotationRequest,
    report: impl FnOnce(&RotationRun, &Outcome<'_>) -> Result<()>,
) -> Result<()> {
    let RotationRequest {
        data_dir,
        staging_dir,
        algorithm,
        force,
        record,
        dry_run,
    } = request;
    if algorithm.is_some() {
        rotate_ca::refuse_algorithm(data_dir.layout())?;
    }
    data_dir.must_have_cert_dir()?;
    let now = crate::pki::clock::now()?;
    let staging_dir = super::staging_dir(&data_dir, staging_dir, data_dir.ca_staging_dir())?;
    // k3s's rotation makes the same keys whatever the current CAs are: their
    // searches start before the lock is taken (dropped, they stop).
    let keys = match data_dir.layout().rotation {
        RotationScheme::RotateCa => Some(rotate_ca::start_keys(data_dir.layout())?),
        RotationScheme::Manual(_) => None,
    };
    super::locked(tool, &data_dir, &staging_dir, dry_run, |lock| {
        let options = RotationOptions {
            data_dir: data_dir.clone(),
            staging_dir: staging_dir.clone(),
            algorithm,
            force,
            now,
        };
        let mut run = plan_rotation_with(&options, keys)?;
        if record.is_some() {
            record_inputs(&mut run);
        }
        run.plan.record_to(record);
        let outcome = run.plan.write(lock, dry_run)?;
        report(&run, &outcome)
    })
}

/// Names in `run`'s plan, for its record, the current CA and service-account
/// files a rotation reads from the live cert dir.
fn record_inputs(run: &mut RotationRun) {
    let layout = run.layout;
    for ca in layout.cas {
        let cert = run.paths.live(&layout.cert_file(ca));
        let key = run.paths.live(&layout.key_file(ca));
        for (path, role) in [
            (cert, "a current CA certificate"),
            (key, "a current CA key"),
        ] {
            if path.is_file() {
                run.plan.uses(path, role);
            }
        }
    }
    let service = run.paths.live(layout.service_account.key_file());
    if service.is_file() {
        run.plan.uses(service, "the current service-account key");
    }
}

/// What to plan.
pub struct RotationOptions {
    /// Where the current CAs are and the product.
    pub data_dir: DataDir,
    /// The staging directory; files go into its copy of the cert dir (`tls/`,
    /// `pki/`).
    pub staging_dir: PathBuf,
    /// The new CAs' key type where the layout rotates by hand; `None`: each
    /// current CA's when it is one we generate, else the layout's default.
    /// k3s's rotation makes P-256 CAs whatever this says ([`rotate`] refuses it).
    pub algorithm: Option<GeneratedKey>,
    /// Replace a non-empty staging directory.
    pub force: bool,
    /// The run's timestamp.
    pub now: SystemTime,
}

/// A planned rotation and what to tell the user.
pub struct RotationRun {
    /// Every staged file.
    pub plan: Plan,
    /// The layout rotated.
    pub layout: &'static Layout,
    /// Where the staged files are and where they go.
    pub paths: StagedPaths,
    /// What the user should know: old CAs that expire before the new ones.
    pub notes: Vec<String>,
    /// What the rotation staged, as its scheme does it.
    pub scheme: SchemeRun,
    /// The steps that take it into the cluster.
    pub procedure: Procedure,
}

/// What a rotation staged, by scheme.
pub enum SchemeRun {
    /// For `rotate-ca`.
    RotateCa(rotate_ca::RotateCaRun),
    /// For a procedure by hand.
    Manual(manual::ManualRun),
}

/// Reads the current CAs, checks them, and plans the staged rotation; writes nothing.
pub fn plan_rotation(options: &RotationOptions) -> Result<RotationRun> {
    plan_rotation_with(options, None)
}

/// [`plan_rotation`], with the scheme's keys when they were started already
/// (see [`rotate_ca::start_keys`]).
fn plan_rotation_with(options: &RotationOptions, keys: Option<Keys>) -> Result<RotationRun> {
    let layout = options.data_dir.layout();
    let live_dir = options.data_dir.tls_dir();
    let staged_dir = staging::cert_dir(&options.staging_dir, &live_dir)?;
    if !options.force && staging::is_non_empty_dir(&options.staging_dir) {
        return Err(Error::at(&options.staging_dir, Kind::StagingExists));
    }
    let current = layout
        .cas
        .iter()
        .map(|ca| {
            let old = match layout.rotation {
                RotationScheme::RotateCa => rotate_ca::read_old_root(layout, &live_dir, ca),
                RotationScheme::Manual(_) => manual::read_old_ca(layout, &live_dir, ca),
            };
            old.map(|old| (ca, old))
        })
        .collect::<Result<Vec<_>>>()?;
    check_clock(
        options.now,
        current
            .iter()
            .map(|(ca, old)| (layout.cert_file(ca), &old.cert)),
    )?;
    let (timestamp, not_before) = run_timestamp(options.now);
    let start = Start {
        options,
        layout,
        paths: StagedPaths {
            data_dir: options.data_dir.root.clone(),
            staging_dir: options.staging_dir.clone(),
            staged_dir,
            live_dir,
        },
        current,
        timestamp,
        not_before,
        keys,
    };
    match layout.rotation {
        RotationScheme::RotateCa => rotate_ca::plan(start),
        RotationScheme::Manual(manual) => manual::plan(start, manual),
    }
}

/// What both schemes start from: the checked current CAs and the run's time.
struct Start<'a> {
    options: &'a RotationOptions,
    layout: &'static Layout,
    paths: StagedPaths,
    /// Each CA and the one that cross-signs its replacement, in the layout's order.
    current: Vec<(&'static CaSlot, OldRoot)>,
    /// Whole unix seconds, for CNs.
    timestamp: u64,
    /// The start of validity of everything issued.
    not_before: SystemTime,
    /// The scheme's keys, when they were started before the lock was taken.
    keys: Option<Keys>,
}

impl Start<'_> {
    /// A plan that refuses to write under the live cert dir.
    fn plan(&self) -> Plan {
        let mut plan = Plan::new();
        plan.forbid_under(self.paths.live_dir.clone());
        plan
    }

    /// The new root `common_name` over `key` for `validity_days` that
    /// replaces `old` as `ca`: self-signed, and cross-signed by `old`; an old
    /// root that expires before it gets a note.
    fn new_root(
        &self,
        ca: &CaSlot,
        old: &OldRoot,
        common_name: &str,
        key: &PrivateKey,
        validity_days: u32,
        notes: &mut Vec<String>,
    ) -> Result<NewRoot> {
        let request = CaRequest {
            common_name,
            key,
            not_before: self.not_before,
            not_after: days_after(self.not_before, validity_days),
        };
        let cert = issue_ca(&request, Issuer::SelfSigned(key))?;
        let cross_signed = issue_ca(
            &request,
            Issuer::Ca {
                cert: &old.cert,
                key: &old.key,
            },
        )?;
        if old.cert.not_after() < request.not_after {
            notes.push(expiry_note(
                &self.layout.cert_file(ca),
                &old.cert,
                self.options.now,
            ));
        }
        Ok(NewRoot { cert, cross_signed })
    }
}

/// A new root, twice over the same subject and key.
struct NewRoot {
    /// Self-signed.
    cert: Certificate,
    /// Issued by the CA it replaces.
    cross_signed: Certificate,
}

/// Keys asked for all at once (the RSA prime searches share the cores, on
/// their own thread), handed out in the order asked for: an RSA key is
/// waited for only where it is first needed (see `PendingKeys`).
struct Keys(PendingKeys);

impl Keys {
    fn generate(algorithms: &[KeyAlgorithm]) -> Result<Self> {
        Ok(Keys(PrivateKey::start_all(algorithms)?))
    }

    fn next(&mut self) -> Result<PrivateKey> {
        self.0.take()
    }
}

/// An old root and its key: the CA that cross-signs the one replacing it.
struct OldRoot {
    cert: Certificate,
    key: PrivateKey,
}

/// Refuses a clock behind any of the current CAs (`(file, certificate)`): it
/// would cross-sign with CAs not yet valid.
fn check_clock<'a>(
    now: SystemTime,
    current: impl IntoIterator<Item = (String, &'a Certificate)>,
) -> Result<()> {
    crate::pki::clock::check(now)?;
    match current.into_iter().find(|(_, old)| now < old.not_before()) {
        Some((file, old)) => Err(Error::new(Kind::Clock(format!(
            "it says {}, before the current root \"{}\" of {file} became valid ({}): \
             set the clock (timedatectl, NTP) and run again",
            format_time(now),
            old.subject_cn(),
            format_time(old.not_before())
        )))),
        None => Ok(()),
    }
}

/// The certificates of a CA file and the private keys of its key file, the
/// first key checked against the first certificate (the pair the distribution
/// signs with).
fn read_ca_pair(cert_path: &Path, key_path: &Path) -> Result<(Vec<Certificate>, Vec<PrivateKey>)> {
    let bundle = bundle_in(&PemFile::read(cert_path)?)?;
    let key_file = PemFile::read(key_path)?;
    let keys = key_file
        .blocks
        .iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"))
        .map(|b| PrivateKey::from_block(key_path, b))
        .collect::<Result<Vec<_>>>()?;
    let first_key = keys
        .first()
        .ok_or_else(|| Error::at(key_path, Kind::Key(missing_block(&key_file, "PRIVATE KEY"))))?;
    if !first_key.matches(bundle[0].public_key())? {
        let cert = cert_path.to_path_buf();
        return Err(Error::at(key_path, Kind::KeyMismatch { cert }));
    }
    Ok((bundle, keys))
}

/// What to say about an old root `file` that expires before the new CA does.
fn expiry_note(file: &str, old: &Certificate, now: SystemTime) -> String {
    let until = format_time(old.not_after());
    if old.not_after() < now {
        format!(
            "{file}: the old root \"{}\" expired on {until}. Clients that trust only it already \
             reject this cluster, and the cross-signed root gives no continuity: once the \
             rotation is in place, give every node the new CA (see below).",
            old.subject_cn()
        )
    } else {
        format!(
            "{file}: the old root \"{}\" expires on {until}. Until then, clients that trust only \
             the old CA accept certificates from the new one through the cross-signed root; \
             after that they need the new bundle.",
            old.subject_cn()
        )
    }
}
