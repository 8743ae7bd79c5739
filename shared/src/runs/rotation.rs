//! Cross-signed rotation of k3s's self-signed (default) CAs, as
//! `rotate-default-ca-certs.sh` does it, into a staging directory for
//! `k3s certificate rotate-ca --path=<staging>`.
//!
//! For each of the five CAs: the old root is the current `X-ca.crt`/`X-ca.key`
//! (or, after an earlier rotation, the bundle's 2nd certificate and the key file's
//! 2nd key). A new P-256 root is made twice over the same subject and key:
//! self-signed, and cross-signed by the old root, so clients that trust only the
//! old CA still accept what the new CA issues. A new P-256 intermediate under the
//! new root signs from now on. The staged bundle is
//! `[intermediate, root self-signed, root cross-signed, old root]` and the key file
//! `[intermediate key, new root key]`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::k3s::token::{TokenFile, k3s_ca_hash_of};
use crate::layout::{CaSlot, DataDir, Layout, SERVICE_ACCOUNT_KEY};
use crate::pki::cert::{Certificate, bundle_in, bundle_pem, format_time};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{CaRequest, Issuer, days_after, issue_ca, run_timestamp};
use crate::pki::keys::PrivateKey;
use crate::pki::pem::PemFile;
use crate::store::plan::Plan;
use crate::store::staging;

/// Lifetime of the new roots (self- and cross-signed) and intermediates.
pub const ROTATION_VALIDITY_DAYS: u32 = 7300;

/// What the user asked for.
pub struct RotationOptions {
    /// Where the current CAs are (`${DATA_DIR}/server/tls`) and the product.
    pub data_dir: DataDir,
    /// The staging directory; files go into its `tls/`.
    pub staging_dir: PathBuf,
    /// Replace a non-empty staging directory.
    pub force: bool,
    /// The run's timestamp.
    pub now: SystemTime,
}

/// One rotated CA, for the report.
pub struct RotatedCa {
    /// Which CA.
    pub ca: &'static CaSlot,
    /// The root that cross-signs the new one.
    pub old_root: Certificate,
    /// The new root (self-signed).
    pub new_root: Certificate,
    /// The new intermediate that signs from now on.
    pub intermediate: Certificate,
}

/// A planned rotation and what to tell the user.
pub struct RotationRun {
    /// Every staged file.
    pub plan: Plan,
    /// `<staging>/tls`.
    pub staged_tls_dir: PathBuf,
    /// The five CAs.
    pub rotated: Vec<RotatedCa>,
    /// How many current service-account keys follow the new one.
    pub service_keys_kept: usize,
    /// k3s's join-token CA hash of the staged `server-ca.crt`.
    pub ca_hash: String,
    /// The token files, with the new hash in place (or why not).
    pub tokens: Vec<TokenUpdate>,
    /// What the user should know: old roots that expire during the new lifetime.
    pub notes: Vec<String>,
}

/// Reads the current CAs, checks them, and plans the staged rotation; writes nothing.
pub fn plan_rotation(options: &RotationOptions) -> Result<RotationRun> {
    let live_tls = options.data_dir.tls_dir();
    let staged_tls_dir = staging::tls_dir(&options.staging_dir, &live_tls)?;
    if !options.force && staging::is_non_empty_dir(&options.staging_dir) {
        return Err(Error::at(&options.staging_dir, Kind::StagingExists));
    }
    let (timestamp, not_before) = run_timestamp(options.now);
    let new_lifetime_end = days_after(not_before, ROTATION_VALIDITY_DAYS);

    let layout = options.data_dir.layout();
    let old_roots = layout
        .cas
        .iter()
        .map(|ca| read_old_root(layout, &live_tls, ca).map(|root| (ca, root)))
        .collect::<Result<Vec<_>>>()?;
    check_clock(
        options.now,
        old_roots
            .iter()
            .map(|(ca, old)| (layout.cert_file(ca), &old.cert)),
    )?;
    let service_file = layout.service_account.key_file();
    let service_path = live_tls.join(service_file);
    let service = crate::layout::service_key::ServiceKeyFile::read(&service_path)?;

    // New keys: per CA a root and an intermediate key, and the service key.
    let mut wanted = vec![SERVICE_ACCOUNT_KEY];
    wanted.extend(std::iter::repeat_n(
        crate::pki::keys::KeyAlgorithm::EcdsaP256,
        2 * layout.cas.len(),
    ));
    let mut keys = PrivateKey::generate_all(&wanted)?.into_iter();
    let mut next_key = || {
        keys.next()
            .ok_or_else(|| Error::bug("fewer keys generated than asked for"))
    };

    let new_service_key = next_key()?;
    let mut plan = Plan::new();
    plan.forbid_under(live_tls.clone());
    let mut rotated = Vec::new();
    let mut notes = Vec::new();
    for (ca, old) in old_roots {
        let root_key = next_key()?;
        let intermediate_key = next_key()?;
        let staged = rotate_one(
            ca,
            layout,
            timestamp,
            not_before,
            &old,
            &root_key,
            &intermediate_key,
        )?;
        if old.cert.not_after() < new_lifetime_end {
            notes.push(expiry_note(&layout.cert_file(ca), &old.cert, options.now));
        }
        plan.add_public(
            staged_tls_dir.join(layout.cert_file(ca)),
            bundle_pem([
                &staged.intermediate,
                &staged.new_root,
                &staged.cross_signed,
                &old.cert,
            ]),
        );
        let mut key_file = intermediate_key.to_pem()?.as_bytes().to_vec();
        key_file.extend_from_slice(root_key.to_pem()?.as_bytes());
        plan.add_secret(staged_tls_dir.join(layout.key_file(ca)), key_file);
        rotated.push(RotatedCa {
            ca,
            old_root: old.cert,
            new_root: staged.new_root,
            intermediate: staged.intermediate,
        });
    }

    plan.add_secret(
        staged_tls_dir.join(service_file),
        service.after(new_service_key.to_pem()?.as_bytes()),
    );

    let server_ca = plan.planned_pem(&staged_tls_dir.join(format!("{}.crt", layout.join_ca)))?;
    let ca_hash = k3s_ca_hash_of(&server_ca, options.now)?;
    let tokens = options
        .data_dir
        .token_files()
        .into_iter()
        .map(|path| TokenUpdate::for_file(path, &ca_hash))
        .collect();
    Ok(RotationRun {
        plan,
        staged_tls_dir,
        rotated,
        service_keys_kept: service.keys.len(),
        ca_hash,
        tokens,
        notes,
    })
}

/// A join-token file with the new CA hash, or why it could not be updated.
pub enum TokenUpdate {
    /// The token with the new hash.
    Updated {
        /// The token file.
        path: PathBuf,
        /// The new token.
        token: String,
    },
    /// The file does not exist.
    Missing {
        /// The token file.
        path: PathBuf,
    },
    /// The file could not be read or parsed.
    Unusable(Error),
}

impl TokenUpdate {
    fn for_file(path: PathBuf, ca_hash: &str) -> Self {
        if !path.exists() {
            return TokenUpdate::Missing { path };
        }
        match TokenFile::read(&path) {
            Ok(token) => TokenUpdate::Updated {
                token: token.with_ca_hash(ca_hash),
                path,
            },
            Err(error) => TokenUpdate::Unusable(error),
        }
    }
}

/// An old root and its key: the CA that cross-signs the one replacing it.
pub(crate) struct OldRoot {
    pub(crate) cert: Certificate,
    pub(crate) key: PrivateKey,
}

/// The new certificates of one CA.
struct Staged {
    new_root: Certificate,
    cross_signed: Certificate,
    intermediate: Certificate,
}

fn rotate_one(
    ca: &CaSlot,
    layout: &Layout,
    timestamp: u64,
    not_before: SystemTime,
    old: &OldRoot,
    root_key: &PrivateKey,
    intermediate_key: &PrivateKey,
) -> Result<Staged> {
    let root_cn = layout.rotated_root_common_name(ca, timestamp);
    let root_request = CaRequest {
        common_name: &root_cn,
        key: root_key,
        not_before,
        not_after: days_after(not_before, ROTATION_VALIDITY_DAYS),
    };
    let (new_root, cross_signed) = new_root_pair(&root_request, old)?;
    let intermediate_cn = layout.ca_common_name(ca, timestamp);
    let intermediate = issue_ca(
        &CaRequest {
            common_name: &intermediate_cn,
            key: intermediate_key,
            not_before,
            not_after: days_after(not_before, ROTATION_VALIDITY_DAYS),
        },
        Issuer::Ca {
            cert: &new_root,
            key: root_key,
        },
    )?;
    Ok(Staged {
        new_root,
        cross_signed,
        intermediate,
    })
}

/// The new root over `request`, twice: self-signed, and cross-signed by `old`
/// (same subject and key), so that clients trusting only `old` accept what the
/// new root issues.
pub(crate) fn new_root_pair(
    request: &CaRequest<'_>,
    old: &OldRoot,
) -> Result<(Certificate, Certificate)> {
    let new_root = issue_ca(request, Issuer::SelfSigned(request.key))?;
    let cross_signed = issue_ca(
        request,
        Issuer::Ca {
            cert: &old.cert,
            key: &old.key,
        },
    )?;
    Ok((new_root, cross_signed))
}

/// Refuses a clock behind any of the current CAs (`(file, certificate)`): it
/// would cross-sign with CAs not yet valid.
pub(crate) fn check_clock<'a>(
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
pub(crate) fn read_ca_pair(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<Certificate>, Vec<PrivateKey>)> {
    let bundle = bundle_in(&PemFile::read(cert_path)?)?;
    let key_file = PemFile::read(key_path)?;
    let keys = key_file
        .blocks
        .iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"))
        .map(|b| PrivateKey::from_block(key_path, b))
        .collect::<Result<Vec<_>>>()?;
    let first_key = keys.first().ok_or_else(|| {
        Error::at(
            key_path,
            Kind::Key("no PRIVATE KEY block in the file".into()),
        )
    })?;
    if !first_key.matches(bundle[0].public_key())? {
        let cert = cert_path.to_path_buf();
        return Err(Error::at(key_path, Kind::KeyMismatch { cert }));
    }
    Ok((bundle, keys))
}

/// Finds and checks the root that will cross-sign the new one.
fn read_old_root(layout: &Layout, live_tls: &Path, ca: &CaSlot) -> Result<OldRoot> {
    let cert_path = live_tls.join(layout.cert_file(ca));
    let key_path = live_tls.join(layout.key_file(ca));
    let (bundle, keys) = read_ca_pair(&cert_path, &key_path)?;
    let position = if bundle.len() == 1 { 0 } else { 1 };
    let custom_tree = || {
        Error::at(
            &cert_path,
            Kind::Inputs(format!(
                "this cluster uses custom CAs (the bundle chains \"{}\" to \"{}\" and the key file \
                 has no key for it), not k3s's self-signed ones: rotate it with `gen-custom-ca` \
                 and the same root into a staging DATA_DIR, then `k3s certificate rotate-ca`",
                bundle[0].subject_cn(),
                bundle[1].subject_cn()
            )),
        )
    };
    let key = match keys.into_iter().nth(position) {
        Some(key) => key,
        None => return Err(custom_tree()),
    };
    let cert = bundle[position].clone();
    if position == 1 && !key.matches(cert.public_key())? {
        return Err(custom_tree());
    }
    cert.require_ca(&cert_path)?;
    Ok(OldRoot { cert, key })
}

/// What to say about an old root `file` that expires before the new CA does.
pub(crate) fn expiry_note(file: &str, old: &Certificate, now: SystemTime) -> String {
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
