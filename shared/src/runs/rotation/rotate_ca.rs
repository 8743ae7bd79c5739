//! Cross-signed rotation of k3s's self-signed (default) CAs, as
//! `rotate-default-ca-certs.sh` does it, into a staging directory for
//! `k3s certificate rotate-ca --path=<staging>`.
//!
//! For each of the five CAs: the old root is the current `X-ca.crt`/`X-ca.key`
//! (or, after an earlier rotation, the bundle's 2nd certificate and the key file's
//! 2nd key). The new P-256 root (self-signed and cross-signed, see
//! [`super`]) gets a new P-256 intermediate, which signs from now on. The
//! staged bundle is `[intermediate, root self-signed, root cross-signed, old root]`
//! and the key file `[intermediate key, new root key]`.

use std::path::{Path, PathBuf};

use super::{Keys, OldRoot, RotationRun, SchemeRun, Start, read_ca_pair};
use crate::layout::k3s::token::{TokenFile, k3s_ca_hash_of};
use crate::layout::service_key::ServiceKeyFile;
use crate::layout::{CaSlot, Layout, SERVICE_ACCOUNT_KEY};
use crate::pki::cert::{Certificate, bundle_pem};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{CaRequest, Issuer, days_after, issue_ca};
use crate::pki::keys::KeyAlgorithm;

/// Lifetime of the new roots (self- and cross-signed) and intermediates.
pub const ROTATION_VALIDITY_DAYS: u32 = 7300;

/// What a rotation for `rotate-ca` staged.
pub struct RotateCaRun {
    /// The five CAs.
    pub rotated: Vec<RotatedCa>,
    /// How many current service-account keys follow the new one.
    pub service_keys_kept: usize,
    /// k3s's join-token CA hash of the staged `server-ca.crt`.
    pub ca_hash: String,
    /// The token files, with the new hash in place (or why not).
    pub tokens: Vec<TokenUpdate>,
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

/// Refuses a key type for k3s's CAs: its rotation makes P-256 CAs, as the
/// upstream script does.
pub(super) fn refuse_algorithm(layout: &Layout) -> Result<()> {
    if layout.rotates_with_rotate_ca() {
        return Err(Error::usage(
            "--algorithm is for kubeadm and k0s: k3s's rotation makes P-256 CAs, \
             as rotate-default-ca-certs.sh does",
        ));
    }
    Ok(())
}

/// Starts making a rotation's keys, the same whatever the current CAs are:
/// per CA a P-256 root and intermediate key, then the RSA service key, whose
/// search runs on its own thread while the CAs are read, issued and planned.
pub(super) fn start_keys(layout: &Layout) -> Result<Keys> {
    let mut wanted = vec![KeyAlgorithm::EcdsaP256; 2 * layout.cas.len()];
    wanted.push(SERVICE_ACCOUNT_KEY);
    Keys::generate(&wanted)
}

/// Plans the staged `tls/`: the CAs' bundles and keys, then `service.key`
/// with a new key in front of the current ones.
pub(super) fn plan(mut start: Start<'_>) -> Result<RotationRun> {
    let layout = start.layout;
    let mut keys = match start.keys.take() {
        Some(keys) => keys,
        None => start_keys(layout)?,
    };
    let paths = &start.paths;
    let service_file = layout.service_account.key_file();
    let service = ServiceKeyFile::read(&paths.live(service_file))?;

    let mut plan = start.plan();
    let mut rotated = Vec::new();
    let mut notes = Vec::new();
    for (ca, old) in &start.current {
        let root_key = keys.next()?;
        let intermediate_key = keys.next()?;
        let root = start.new_root(
            ca,
            old,
            &layout.rotated_root_common_name(ca, start.timestamp),
            &root_key,
            ROTATION_VALIDITY_DAYS,
            &mut notes,
        )?;
        let intermediate = issue_ca(
            &CaRequest {
                common_name: &layout.ca_common_name(ca, start.timestamp),
                key: &intermediate_key,
                not_before: start.not_before,
                not_after: days_after(start.not_before, ROTATION_VALIDITY_DAYS),
            },
            Issuer::Ca {
                cert: &root.cert,
                key: &root_key,
            },
        )?;
        plan.add_public(
            paths.staged(&layout.cert_file(ca)),
            bundle_pem([&intermediate, &root.cert, &root.cross_signed, &old.cert]),
        );
        let mut key_file = intermediate_key.to_pem()?.as_bytes().to_vec();
        key_file.extend_from_slice(root_key.to_pem()?.as_bytes());
        plan.add_secret(paths.staged(&layout.key_file(ca)), key_file);
        rotated.push(RotatedCa {
            ca,
            old_root: old.cert.clone(),
            new_root: root.cert,
            intermediate,
        });
    }

    let server_ca = plan.planned_pem(&paths.staged(&format!("{}.crt", layout.join_ca)))?;
    let ca_hash = k3s_ca_hash_of(&server_ca, start.options.now)?;
    let tokens = start
        .options
        .data_dir
        .token_files()
        .into_iter()
        .map(|path| TokenUpdate::for_file(path, &ca_hash))
        .collect();
    let procedure = layout.ca_rotation_procedure(paths, None);

    // Last: the one file that waits for the RSA search, made only when the
    // commit has written every other file (or a dry run lists it).
    let service_keys_kept = service.keys.len();
    plan.add_secret_late(paths.staged(service_file), move || {
        Ok(service.after(keys.next()?.to_pem()?.as_bytes()))
    })?;
    Ok(RotationRun {
        plan,
        layout,
        paths: start.paths,
        notes,
        scheme: SchemeRun::RotateCa(RotateCaRun {
            rotated,
            service_keys_kept,
            ca_hash,
            tokens,
        }),
        procedure,
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
    /// The token of `path` with `ca_hash` in place, or why not.
    pub(super) fn for_file(path: PathBuf, ca_hash: &str) -> Self {
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

/// Finds and checks the root that will cross-sign the new one.
pub(super) fn read_old_root(layout: &Layout, live_tls: &Path, ca: &CaSlot) -> Result<OldRoot> {
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
