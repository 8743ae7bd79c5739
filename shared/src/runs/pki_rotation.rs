//! A staged rotation of the three CAs of a `pki/` layout (kubeadm, k0s:
//! `ca`, `front-proxy-ca`, `etcd/ca`), for the manual procedures of
//! KUBEADM-K0S-CONTRACT.md sections 7 and 8, which neither distribution
//! automates.
//!
//! Each new CA keeps the layout's CN (k0s renews the leaves of a CA it knows by
//! its CN) and is made twice over the same subject and key, as the k3s
//! rotation does ([`crate::runs::rotation`]): self-signed, and cross-signed by the CA
//! it replaces, so that clients still trusting only the old CA accept what the
//! new one issues once servers send the cross-signed certificate after their
//! own. Next to them, the transition files the procedures point flags at: an
//! old+new trust bundle per CA for the flags that take bundles, and for
//! kubeadm's kube-controller-manager, whose `--client-ca-file` and
//! `--cluster-signing-cert-file` cannot, a copy of the new `ca` alone.
//!
//! Nothing is written under the live `pki/`: everything goes to
//! `<staging>/pki/`, mirroring it.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::layout::DataDir;
use crate::layout::kubeadm::discovery_hash;
pub use crate::layout::rotation::Role;
use crate::layout::{CaSlot, JoinScheme, Layout, RotationScheme};
use crate::pki::cert::{Certificate, bundle_pem};
use crate::pki::error::{Error, Result};
use crate::pki::issue::{CaRequest, days_after, run_timestamp};
use crate::pki::keys::{GeneratedKey, KeyAlgorithm, PrivateKey};
use crate::runs::rotation::{OldRoot, check_clock, expiry_note, new_root_pair, read_ca_pair};
use crate::store::plan::Plan;
use crate::store::staging;

/// What the user asked for.
pub struct PkiRotationOptions {
    /// Where the current CAs are (`${DATA_DIR}/pki`) and the product.
    pub data_dir: DataDir,
    /// The staging directory; files go into its `pki/`.
    pub staging_dir: PathBuf,
    /// The new CAs' key type; `None`: each current CA's when it is one we
    /// generate, else the layout's default.
    pub algorithm: Option<GeneratedKey>,
    /// Replace a non-empty staging directory.
    pub force: bool,
    /// The run's timestamp.
    pub now: SystemTime,
}

/// One rotated CA.
pub struct RotatedPkiCa {
    /// Which CA (`ca`, `front-proxy-ca`, `etcd/ca`).
    pub ca: &'static CaSlot,
    /// The CA it replaces.
    pub old: Certificate,
    /// The new CA (self-signed).
    pub new: Certificate,
    /// The new CA's key type.
    pub algorithm: KeyAlgorithm,
    /// Its staged files, in the order to list them.
    pub files: Vec<(Role, PathBuf)>,
}

/// A planned rotation and what to tell the user.
pub struct PkiRotationRun {
    /// Every staged file.
    pub plan: Plan,
    /// The layout rotated.
    pub layout: &'static Layout,
    /// The live `${DATA_DIR}/pki`, never written.
    pub live_dir: PathBuf,
    /// `<staging>/pki`.
    pub staged_dir: PathBuf,
    /// The three CAs, in the layout's order.
    pub rotated: Vec<RotatedPkiCa>,
    /// kubeadm's `--discovery-token-ca-cert-hash` of the current and of the
    /// new `ca.crt` (`None` for k0s, which joins by token).
    pub discovery_hashes: Option<(String, String)>,
    /// Old CAs that expire before the new ones.
    pub notes: Vec<String>,
}

/// Reads the current CAs, checks them, and plans the staged rotation; writes nothing.
pub fn plan_pki_rotation(options: &PkiRotationOptions) -> Result<PkiRotationRun> {
    let layout = options.data_dir.layout();
    let live_dir = options.data_dir.tls_dir();
    let staged_dir = staging::cert_dir(&options.staging_dir, &live_dir)?;
    if !options.force && staging::is_non_empty_dir(&options.staging_dir) {
        return Err(Error::StagingExists {
            dir: options.staging_dir.clone(),
        });
    }
    let new_only = match layout.rotation {
        RotationScheme::Manual(manual) => manual.new_only,
        RotationScheme::RotateCa => None,
    };
    let olds = layout
        .cas
        .iter()
        .map(|slot| read_old_ca(layout, &live_dir, slot.stem))
        .collect::<Result<Vec<_>>>()?;
    check_clock(
        options.now,
        layout
            .cas
            .iter()
            .zip(&olds)
            .map(|(slot, old)| (layout.cert_file(slot), &old.cert)),
    )?;

    let algorithms: Vec<KeyAlgorithm> = olds
        .iter()
        .map(|old| match options.algorithm {
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
    // Every key at once: the RSA prime searches share the cores.
    let keys = PrivateKey::generate_all(&algorithms)?;

    let (timestamp, not_before) = run_timestamp(options.now);
    let not_after = days_after(not_before, layout.ca_default.validity_days);
    let mut plan = Plan::new();
    plan.forbid_under(live_dir.clone());
    let mut rotated = Vec::new();
    let mut notes = Vec::new();
    for ((slot, old), key) in layout.cas.iter().zip(olds).zip(keys) {
        let common_name = layout.ca_common_name(slot, timestamp);
        let request = CaRequest {
            common_name: &common_name,
            key: &key,
            not_before,
            not_after,
        };
        let (new, cross_signed) = new_root_pair(&request, &old)?;
        if old.cert.not_after() < not_after {
            notes.push(expiry_note(&layout.cert_file(slot), &old.cert, options.now));
        }
        let key_pem = key.to_pem()?;
        let mut contents: Vec<(Role, Vec<u8>)> = vec![
            (Role::NewCert, new.to_pem().into_bytes()),
            (Role::NewKey, key_pem.as_bytes().to_vec()),
            (Role::CrossSigned, cross_signed.to_pem().into_bytes()),
            (Role::OldNew, bundle_pem([&old.cert, &new]).into_bytes()),
        ];
        if new_only == Some(slot.stem) {
            contents.push((Role::NewOnly, new.to_pem().into_bytes()));
            contents.push((Role::NewOnlyKey, key_pem.as_bytes().to_vec()));
        }
        let mut files = Vec::new();
        for (role, bytes) in contents {
            let path = staged_dir.join(role.file_name(slot.stem));
            match role {
                Role::NewKey | Role::NewOnlyKey => plan.add_secret(path.clone(), bytes),
                _ => plan.add_public(path.clone(), bytes),
            }
            files.push((role, path));
        }
        rotated.push(RotatedPkiCa {
            ca: slot,
            old: old.cert,
            new,
            algorithm: key.algorithm(),
            files,
        });
    }
    let join_ca = rotated.iter().find(|r| r.ca.stem == layout.join_ca);
    let discovery_hashes = match (layout.join, join_ca) {
        (JoinScheme::KubeadmDiscovery, Some(cluster)) => {
            Some((discovery_hash(&cluster.old)?, discovery_hash(&cluster.new)?))
        }
        _ => None,
    };
    Ok(PkiRotationRun {
        plan,
        layout,
        live_dir,
        staged_dir,
        rotated,
        discovery_hashes,
        notes,
    })
}

/// The current CA `stem` and its key: the first certificate of `<stem>.crt`
/// (the one kubeadm and k0s use) and the first key of `<stem>.key`.
fn read_old_ca(layout: &Layout, live_dir: &std::path::Path, stem: &str) -> Result<OldRoot> {
    let cert_path = live_dir.join(format!("{stem}.crt"));
    let key_path = live_dir.join(format!("{stem}.key"));
    if cert_path.is_file() && !key_path.exists() {
        return Err(Error::Inputs {
            path: key_path,
            problem: format!(
                "missing: {stem}.crt without its key is {}'s external-CA mode; only the \
                 holder of that key can cross-sign a new CA, so rotate it where the key is",
                layout.name()
            ),
        });
    }
    let (mut bundle, mut keys) = read_ca_pair(&cert_path, &key_path)?;
    let cert = bundle.swap_remove(0);
    cert.require_ca(&cert_path)?;
    Ok(OldRoot {
        cert,
        key: keys.swap_remove(0),
    })
}
