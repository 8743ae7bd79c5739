//! A staged rotation of the CAs of a layout that rotates by hand (kubeadm,
//! k0s: `ca`, `front-proxy-ca`, `etcd/ca`), for the procedures of
//! KUBEADM-K0S-CONTRACT.md sections 7 and 8, which neither distribution
//! automates.
//!
//! Each new CA keeps the layout's CN (k0s renews the leaves of a CA it knows by
//! its CN) and is the new root of [`super`], self-signed and cross-signed, so
//! that clients still trusting only the old CA accept what the new one issues
//! once servers send the cross-signed certificate after their own. Next to
//! them, the transition files the procedures point flags at
//! ([`ManualRotation::roles`]): an old+new trust bundle per CA for the flags
//! that take bundles, and for kubeadm's kube-controller-manager, whose
//! `--client-ca-file` and `--cluster-signing-cert-file` cannot, a copy of the
//! new `ca` alone. Everything goes to `<staging>/pki/`, mirroring the live one.

use std::path::{Path, PathBuf};

use super::{Keys, OldRoot, RotationRun, SchemeRun, Start, read_ca_pair};
use crate::layout::rotation::{ManualRotation, Role};
use crate::layout::{CaSlot, Layout};
use crate::pki::cert::{Certificate, bundle_pem};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::keys::{GeneratedKey, KeyAlgorithm};

/// What a rotation by hand staged.
pub struct ManualRun {
    /// The CAs, in the layout's order.
    pub rotated: Vec<RotatedCa>,
    /// The join hashes (kubeadm's `--discovery-token-ca-cert-hash`) of the
    /// current and of the new join CA (`None` for a layout that joins by token).
    pub discovery_hashes: Option<(String, String)>,
}

/// One rotated CA.
pub struct RotatedCa {
    /// Which CA (`ca`, `front-proxy-ca`, `etcd/ca`).
    pub ca: &'static CaSlot,
    /// The CA it replaces.
    pub old: Certificate,
    /// The new CA (self-signed).
    pub new: Certificate,
    /// The new CA's key type.
    pub algorithm: KeyAlgorithm,
    /// Its staged files, in the order to list them.
    pub files: Vec<StagedFile>,
}

/// A staged file and what it is for.
pub struct StagedFile {
    /// Where it is staged.
    pub path: PathBuf,
    /// One line on what it is for.
    pub purpose: String,
}

/// Plans the staged `pki/`: per CA the new CA and the transition files of
/// `manual`.
pub(super) fn plan(start: Start<'_>, manual: &ManualRotation) -> Result<RotationRun> {
    let layout = start.layout;
    let paths = &start.paths;
    let algorithms: Vec<KeyAlgorithm> = start
        .current
        .iter()
        .map(|(_, old)| match start.options.algorithm {
            Some(chosen) => chosen.algorithm(),
            None => {
                let current = old.key.algorithm();
                let generated = GeneratedKey::ALL.iter().any(|g| g.algorithm() == current);
                if generated {
                    current
                } else {
                    layout.ca_default.key
                }
            }
        })
        .collect();
    let mut keys = Keys::generate(&algorithms)?;

    let mut plan = start.plan();
    let mut rotated = Vec::new();
    let mut notes = Vec::new();
    for (ca, old) in &start.current {
        let key = keys.next()?;
        let new = start.new_root(
            ca,
            old,
            &layout.ca_common_name(ca, start.timestamp),
            &key,
            layout.ca_default.validity_days,
            &mut notes,
        )?;
        let key_pem = key.to_pem()?;
        let mut files = Vec::new();
        for &role in manual.roles(ca) {
            let contents = match role {
                Role::NewCert | Role::NewOnly => new.cert.to_pem().into_bytes(),
                Role::NewKey | Role::NewOnlyKey => key_pem.as_bytes().to_vec(),
                Role::CrossSigned => new.cross_signed.to_pem().into_bytes(),
                Role::OldNew => bundle_pem([&old.cert, &new.cert]).into_bytes(),
            };
            let path = paths.staged(&role.file_name(ca.stem));
            if role.is_secret() {
                plan.add_secret(path.clone(), contents);
            } else {
                plan.add_public(path.clone(), contents);
            }
            files.push(StagedFile {
                path,
                purpose: (manual.purpose)(role, ca),
            });
        }
        rotated.push(RotatedCa {
            ca,
            old: old.cert.clone(),
            new: new.cert,
            algorithm: key.algorithm(),
            files,
        });
    }
    let join_ca = rotated.iter().find(|r| r.ca.stem == layout.join_ca);
    // Nodes joining during the rotation may pin either CA's key.
    let discovery_hashes = match join_ca {
        Some(ca) => {
            let old = layout.join.key_pin(&ca.old)?;
            old.zip(layout.join.key_pin(&ca.new)?)
        }
        None => None,
    };
    let procedure = layout.ca_rotation_procedure(paths, discovery_hashes.as_ref());
    Ok(RotationRun {
        plan,
        layout,
        paths: start.paths,
        notes,
        scheme: SchemeRun::Manual(ManualRun {
            rotated,
            discovery_hashes,
        }),
        procedure,
    })
}

/// The current CA `ca` and its key: the first certificate of `<stem>.crt`
/// (the one kubeadm and k0s use) and the first key of `<stem>.key`.
pub(super) fn read_old_ca(layout: &Layout, live_dir: &Path, ca: &CaSlot) -> Result<OldRoot> {
    let stem = ca.stem;
    let cert_path = live_dir.join(layout.cert_file(ca));
    let key_path = live_dir.join(layout.key_file(ca));
    if cert_path.is_file() && !key_path.exists() {
        return Err(Error::at(
            key_path,
            Kind::Inputs(format!(
                "missing: {stem}.crt without its key is {}'s external-CA mode; only the \
                 holder of that key can cross-sign a new CA, so rotate it where the key is",
                layout.name()
            )),
        ));
    }
    let (mut bundle, mut keys) = read_ca_pair(&cert_path, &key_path)?;
    let cert = bundle.swap_remove(0);
    cert.require_ca(&cert_path)?;
    Ok(OldRoot {
        cert,
        key: keys.swap_remove(0),
    })
}
