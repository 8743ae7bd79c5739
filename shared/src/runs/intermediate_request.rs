//! The cluster's half of a ceremony in which the organisation's PKI signs the
//! issuing CA: make its key and a CA request, and say what the signed
//! certificate must allow ([`SubCaNeeds`], what pre-flight will check).
//!
//! Request, then finish: this run leaves `intermediate-ca.key` (encrypted when
//! asked) and `intermediate-ca.csr` in the layout's cert dir. The PKI returns
//! `intermediate-ca.pem`; with it and `root-ca.pem` in `${DATA_DIR}`, the next
//! plain run ([`crate::runs::custom_ca`]) finds the pending key as a brought
//! issuing CA's, checks it matches the certificate, pre-flights the tree and
//! builds it. Finishing is that run, not a second code path.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::checks::preflight::{SubCaNeeds, sub_ca_needs};
use crate::layout::DataDir;
use crate::layout::custom_tree::{INTERMEDIATE_KEY, INTERMEDIATE_PEM, ROOT_PEM};
use crate::pki::csr::{ca_request_pem, requested_subject};
use crate::pki::error::{Error, Kind, Result};
use crate::pki::keys::PrivateKey;
use crate::runs::custom_ca::{CustomCaFlags, CustomCaOptions, lock_data_dir, refuse_initialised};
use crate::store::lock::TargetLock;
use crate::store::plan::Plan;

/// The request file, beside the pending key.
pub const INTERMEDIATE_CSR: &str = "intermediate-ca.csr";

/// A planned request and what to tell the user.
pub struct RequestRun {
    /// The key and the request.
    pub plan: Plan,
    /// The pending key.
    pub key: PathBuf,
    /// The request to hand to the PKI.
    pub csr: PathBuf,
    /// Where the returned `intermediate-ca.pem` and `root-ca.pem` go.
    pub data_dir: PathBuf,
    /// The subject asked for, RFC 4514.
    pub subject: String,
    /// What the signed certificate must allow.
    pub needs: SubCaNeeds,
    /// Whether the key is written encrypted.
    pub encrypted: bool,
    /// Things to know that do not stop the run.
    pub warnings: Vec<String>,
}

/// `gen-custom-ca --request-intermediate`: locks the data dir and plans the
/// pending key and its request for `subject`.
pub fn lock_and_plan_request(
    tool: &str,
    data_dir: DataDir,
    flags: CustomCaFlags,
    subject: &str,
    now: SystemTime,
    dry_run: bool,
) -> Result<(TargetLock, RequestRun)> {
    if flags.root_key_out.is_some() {
        return Err(Error::usage(
            "--root-key-out writes a generated root's key; with --request-intermediate your \
             PKI's root signs, and no root is made",
        ));
    }
    if flags.self_signed_cas {
        return Err(Error::usage(
            "--request-intermediate asks a PKI for the issuing CA of a shared root; \
             --self-signed-cas has none",
        ));
    }
    let subject = requested_subject(subject)
        .map_err(|problem| Error::usage(format!("--subject {problem}")))?;
    let lock = lock_data_dir(tool, &data_dir, dry_run)?;
    let options = CustomCaOptions::from_flags(data_dir, now, flags)?;
    let layout = options.data_dir.layout();
    let tls = options.data_dir.tls_dir();
    let mut warnings = refuse_initialised(layout, &tls, options.force)?;
    let key_path = tls.join(INTERMEDIATE_KEY);
    let pending: Vec<PathBuf> = [INTERMEDIATE_KEY, INTERMEDIATE_PEM]
        .iter()
        .flat_map(|name| [options.data_dir.root.join(name), tls.join(name)])
        .filter(|path| path.is_file())
        .collect();
    if let Some(found) = pending.first() {
        if !options.force {
            return Err(Error::at(
                found,
                Kind::Inputs(format!(
                    "an issuing CA or a pending request's key is already here: finish it \
                     (bring the signed {INTERMEDIATE_PEM} and {ROOT_PEM}, then run without \
                     --request-intermediate), or --force to make a new key (a request made \
                     for the old one can then never be finished)"
                )),
            ));
        }
        warnings.push(format!(
            "--force: {} replaced; a certificate signed for the old request will not match",
            found.display()
        ));
    }
    let key = PrivateKey::generate(options.intermediate.key)?;
    let key_pem = if options.encrypt_keys {
        key.to_encrypted_pem(options.passphrases.get_new(&key_path)?)?
    } else {
        key.to_pem()?
    };
    let csr_pem = ca_request_pem(&subject, &key)?;
    let csr_path = tls.join(INTERMEDIATE_CSR);
    let mut plan = Plan::new();
    plan.add_secret(key_path.clone(), key_pem.as_bytes().to_vec());
    // The pending key waits here for the certificate; only the request travels.
    plan.stays_behind(key_path.clone());
    plan.add_public(csr_path.clone(), csr_pem.into_bytes());
    Ok((
        lock,
        RequestRun {
            plan,
            key: key_path,
            csr: csr_path,
            data_dir: options.data_dir.root.clone(),
            subject: subject.to_string(),
            needs: sub_ca_needs(layout, &options.cluster),
            encrypted: options.encrypt_keys,
            warnings,
        },
    ))
}
