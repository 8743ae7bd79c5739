//! How a distribution takes new CAs and service-account keys: its own command
//! (k3s's `rotate-ca`), or a procedure by hand with transition files. Each
//! layout says which ([`RotationScheme`]); a manual scheme brings its files'
//! purposes and its procedures ([`ManualRotation`]), so a new distribution
//! that rotates by hand has to write its own.

use super::procedure::{Procedure, StagedPaths};
use super::{CaSlot, Layout, k3s};

/// How a distribution's CAs are rotated.
#[derive(Clone, Copy, Debug)]
pub enum RotationScheme {
    /// k3s's `certificate rotate-ca --path=<staging>`: it reads each CA's
    /// bundle and key and `service.key` from `<staging>/tls`, and accepts a
    /// bundle whose first certificate chains to the current root.
    RotateCa,
    /// No rotation of its own: new CAs, each also cross-signed by the CA it
    /// replaces, and the transition files of a manual procedure, staged
    /// beside the live cert dir.
    Manual(&'static ManualRotation),
}

/// A rotation by hand: which transition files it needs, what each is for,
/// and the steps that use them.
#[derive(Debug)]
pub struct ManualRotation {
    /// The CA whose new certificate and key are also staged as `-new`
    /// copies, for flags that cannot take a bundle while the live file
    /// is still the old CA (kubeadm's kube-controller-manager: `ca`).
    pub new_only: Option<&'static str>,
    /// One line on what a staged file of a CA is for.
    pub purpose: fn(Role, &CaSlot) -> String,
    /// The CA rotation step by step, given the staged and live paths and the
    /// join hashes of the current and the new join CA (kubeadm's
    /// `--discovery-token-ca-cert-hash`), where the layout joins by hash.
    pub ca_procedure: fn(&StagedPaths, Option<&(String, String)>) -> Procedure,
    /// The service-account key rotation step by step (`sa.key`, `sa.pub`).
    pub sa_procedure: fn(&StagedPaths) -> Procedure,
    /// Taking renewed CA certificates (same keys) into the cluster, given the
    /// staged and live paths and the join CA's key pin, unchanged by a
    /// renewal (kubeadm's discovery hash), where the layout joins by one.
    pub renewal_procedure: fn(&StagedPaths, Option<&str>) -> Procedure,
}

impl ManualRotation {
    /// The files staged for `ca`, in the order they are listed.
    pub fn roles(&self, ca: &CaSlot) -> &'static [Role] {
        const ALL: [Role; 6] = [
            Role::NewCert,
            Role::NewKey,
            Role::CrossSigned,
            Role::OldNew,
            Role::NewOnly,
            Role::NewOnlyKey,
        ];
        if self.new_only == Some(ca.stem) {
            &ALL
        } else {
            &ALL[..4]
        }
    }
}

/// Which half of a renewal a `rotate-ca` staging holds. Go never links a
/// certificate to another of the same subject and key, so rotate-ca refuses
/// a bundle that starts with a renewed certificate the live bundle does not
/// hold yet (K3S-CONTRACT.md, "Renewing a CA certificate with the same
/// key"): the renewed certificates go in after the current ones first, and
/// in front of them once that is live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewalStage {
    /// `[current, renewed, ...]`: every node learns the renewed certificates;
    /// k3s still signs with the current ones.
    AddRenewed,
    /// `[renewed, current, ...]`: the renewed certificates, now live, sign.
    RenewedFirst,
    /// `[renewed, current, ...]` at once, for `rotate-ca --force`: a current
    /// certificate has expired, and rotate-ca checks the first certificate
    /// of a staged bundle at the wall clock, so no stage 1 can pass.
    Expired,
}

/// What a file staged for a manual rotation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `<stem>.crt`: the new CA alone, what the distribution reads once the
    /// rotation is done (kubeadm and k0s read only a file's first certificate).
    NewCert,
    /// `<stem>.key`: its key.
    NewKey,
    /// `<stem>-cross-signed.crt`: the new CA issued by the old one; servers
    /// send it after their certificate for clients that trust only the old CA.
    CrossSigned,
    /// `<stem>-old-new.crt`: [old, new], for every flag that takes a bundle.
    OldNew,
    /// `<stem>-new.crt`: a copy of the new CA alone, for flags that cannot take
    /// a bundle while the live `<stem>.crt` is still the old CA.
    NewOnly,
    /// `<stem>-new.key`: the key that goes with [`Role::NewOnly`].
    NewOnlyKey,
}

impl Role {
    /// The file name under `pki/` for the CA `stem`.
    pub fn file_name(self, stem: &str) -> String {
        match self {
            Role::NewCert => format!("{stem}.crt"),
            Role::NewKey => format!("{stem}.key"),
            Role::CrossSigned => format!("{stem}-cross-signed.crt"),
            Role::OldNew => format!("{stem}-old-new.crt"),
            Role::NewOnly => format!("{stem}-new.crt"),
            Role::NewOnlyKey => format!("{stem}-new.key"),
        }
    }

    /// Whether the file is a private key.
    pub fn is_secret(self) -> bool {
        matches!(self, Role::NewKey | Role::NewOnlyKey)
    }
}

impl Layout {
    /// The steps that take a staged CA rotation at `paths` into the cluster
    /// (`join_hashes`: see [`ManualRotation::ca_procedure`]).
    pub fn ca_rotation_procedure(
        &self,
        paths: &StagedPaths,
        join_hashes: Option<&(String, String)>,
    ) -> Procedure {
        match self.rotation {
            RotationScheme::RotateCa => {
                k3s::ca_load_procedure(self, &paths.staging_dir, true, k3s::NewRoot::No)
            }
            RotationScheme::Manual(manual) => (manual.ca_procedure)(paths, join_hashes),
        }
    }

    /// The steps that take renewed CA certificates staged at `paths` into the
    /// cluster: `stage` for a layout that loads them with `rotate-ca`,
    /// `key_pin` the join CA's unchanged pin where nodes join by one.
    pub fn ca_renewal_procedure(
        &self,
        paths: &StagedPaths,
        stage: RenewalStage,
        key_pin: Option<&str>,
    ) -> Procedure {
        match self.rotation {
            RotationScheme::RotateCa => k3s::ca_renewal_procedure(self, &paths.staging_dir, stage),
            RotationScheme::Manual(manual) => (manual.renewal_procedure)(paths, key_pin),
        }
    }

    /// The steps that take a staged service-account key at `paths` into the
    /// cluster.
    pub fn sa_rotation_procedure(&self, paths: &StagedPaths) -> Procedure {
        match self.rotation {
            RotationScheme::RotateCa => k3s::sa_load_procedure(self, &paths.staging_dir),
            RotationScheme::Manual(manual) => (manual.sa_procedure)(paths),
        }
    }

    /// Whether the layout loads staged files with `rotate-ca --path`.
    pub fn rotates_with_rotate_ca(&self) -> bool {
        matches!(self.rotation, RotationScheme::RotateCa)
    }
}
