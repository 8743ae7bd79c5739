//! The custom CA tree of `generate-custom-ca-certs.sh`, as a plan.
//!
//! Inputs the user may bring (looked up in `${DATA_DIR}/`, where the script copies
//! from, then in `${DATA_DIR}/server/tls/`, where the docs say to put them):
//!
//! | brought | made |
//! |---|---|
//! | nothing | root, intermediate, five leaf CAs |
//! | `root-ca.pem` + `root-ca.key` | intermediate, five leaf CAs |
//! | `root-ca.pem` + `intermediate-ca.pem` + `intermediate-ca.key` | five leaf CAs |
//!
//! Every input is checked before anything is planned: PEM well-formed, CA:TRUE,
//! within validity, key matches certificate, intermediate issued by the root.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cert::{Certificate, bundle_in, bundle_pem, format_time};
use crate::error::{Error, Result};
use crate::issue::{CaRequest, Signer, issue_ca, run_timestamp};
use crate::keys::PrivateKey;
use crate::pem_file::PemFile;
use crate::plan::Plan;
use crate::service_key::ServiceKeyFile;
use crate::token::k3s_ca_hash_of;
use crate::topology::{
    CUSTOM_INTERMEDIATE, CUSTOM_LEAF_CA, CUSTOM_ROOT, DataDir, LeafCa, SERVICE_ACCOUNT_KEY,
    SERVICE_KEY_FILE, custom_files as files,
};
use crate::verify::check_issued_by;

/// What the user asked for.
pub struct CustomCaOptions {
    /// `DATA_DIR` and `PRODUCT`.
    pub data_dir: DataDir,
    /// Replace the leaf CAs of a tls directory that already has them.
    pub force: bool,
    /// The run's timestamp: start of validity and the `@TS` of every CN.
    pub now: SystemTime,
}

/// Where a CA of the tree came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Made by this run.
    Generated,
    /// Brought by the user, read from this file.
    Reused(PathBuf),
}

/// A planned custom CA tree and what to tell the user about it.
pub struct CustomCaRun {
    /// Every file to write.
    pub plan: Plan,
    /// `${DATA_DIR}/server/tls`.
    pub tls_dir: PathBuf,
    /// Where the root came from.
    pub root: Origin,
    /// Where the intermediate came from.
    pub intermediate: Origin,
    /// How many existing service-account keys follow the new one.
    pub service_keys_kept: usize,
    /// k3s's join-token CA hash of the planned `server-ca.crt`.
    pub ca_hash: String,
    /// Files k3s never reads that belong in a vault (root and intermediate).
    pub vault_files: Vec<PathBuf>,
    /// Things the user should know that do not stop the run.
    pub warnings: Vec<String>,
}

/// A CA brought by the user or made by this run: its certificate and its PEM.
struct Ca {
    cert: Certificate,
    /// The file to write as `X.pem`: the user's bytes when reused.
    pem: Vec<u8>,
    key: Option<PrivateKey>,
    /// The key file bytes to write: the user's bytes when reused.
    key_pem: Option<Vec<u8>>,
    origin: Origin,
}

/// Checks the inputs and plans the whole tree; writes nothing.
pub fn plan_custom_ca(options: &CustomCaOptions) -> Result<CustomCaRun> {
    let tls_dir = options.data_dir.tls_dir();
    let mut warnings = refuse_initialised(&tls_dir, options.force)?;
    let brought = Inputs::find(&options.data_dir).read(options.now)?;

    // Every key of the run at once: the RSA prime searches share the cores.
    let mut wanted = vec![SERVICE_ACCOUNT_KEY];
    if brought.root.is_none() {
        wanted.push(CUSTOM_ROOT.key);
    }
    if brought.intermediate.is_none() {
        wanted.push(CUSTOM_INTERMEDIATE.key);
    }
    wanted.extend([CUSTOM_LEAF_CA.key; 5]);
    let mut keys = PrivateKey::generate_all(&wanted)?.into_iter();
    let mut next_key = move || {
        keys.next()
            .ok_or_else(|| Error::crypto("generating keys", "fewer keys than asked for"))
    };
    let new_service_key = next_key()?;

    let (timestamp, not_before) = run_timestamp(options.now);
    let product = options.data_dir.product.name();
    let make = |cn: String, key: &PrivateKey, validity_days, signer| {
        let request = CaRequest {
            common_name: &cn,
            key,
            not_before,
            validity_days,
        };
        issue_ca(&request, signer)
    };
    let root = match brought.root {
        Some(root) => root,
        None => {
            let key = next_key()?;
            let cert = make(
                format!("{product}-root-ca@{timestamp}"),
                &key,
                CUSTOM_ROOT.validity_days,
                Signer::SelfSigned,
            )?;
            generated(cert, key)?
        }
    };
    let intermediate = match brought.intermediate {
        Some(intermediate) => intermediate,
        None => {
            let key = next_key()?;
            let cert = make(
                format!("{product}-intermediate-ca@{timestamp}"),
                &key,
                CUSTOM_INTERMEDIATE.validity_days,
                signer_of(&root)?,
            )?;
            warn_if_outlives(&mut warnings, &cert, &root.cert);
            generated(cert, key)?
        }
    };

    let in_tls = |name: &str| tls_dir.join(name);
    let mut plan = Plan::new();
    plan.add_public(in_tls(files::ROOT_PEM), root.pem.clone());
    plan.add_public(in_tls(files::ROOT_CRT), root.cert.to_pem());
    plan.add_public(in_tls(files::INTERMEDIATE_PEM), intermediate.pem.clone());
    plan.add_public(
        in_tls(files::INTERMEDIATE_CRT),
        bundle_pem([&intermediate.cert, &root.cert]),
    );
    for (name, ca) in [
        (files::ROOT_KEY, &root),
        (files::INTERMEDIATE_KEY, &intermediate),
    ] {
        if let Some(key_pem) = &ca.key_pem {
            plan.add_secret(in_tls(name), key_pem.clone());
        }
    }
    for leaf in LeafCa::ALL {
        let key = next_key()?;
        let cert = make(
            leaf.custom_cn(&options.data_dir.product, timestamp),
            &key,
            CUSTOM_LEAF_CA.validity_days,
            signer_of(&intermediate)?,
        )?;
        warn_if_outlives(&mut warnings, &cert, &intermediate.cert);
        plan.add_public(in_tls(&format!("{}.pem", leaf.file_stem())), cert.to_pem());
        plan.add_secret(in_tls(&leaf.key_file()), key.to_pem()?.as_bytes().to_vec());
        plan.add_public(
            in_tls(&leaf.cert_file()),
            bundle_pem([&cert, &intermediate.cert, &root.cert]),
        );
    }

    let new_service_pem = new_service_key.to_pem()?;
    let (service, service_keys_kept) = match &brought.service_key {
        Some(existing) => (
            existing.after(new_service_pem.as_bytes()),
            existing.keys.len(),
        ),
        None => (new_service_pem.as_bytes().to_vec(), 0),
    };
    plan.add_secret(in_tls(SERVICE_KEY_FILE), service);

    let server_ca = plan.planned_pem(&in_tls(&LeafCa::Server.cert_file()))?;
    let ca_hash = k3s_ca_hash_of(&server_ca, options.now)?;
    let vault_files = [
        files::ROOT_PEM,
        files::ROOT_CRT,
        files::ROOT_KEY,
        files::INTERMEDIATE_PEM,
        files::INTERMEDIATE_CRT,
        files::INTERMEDIATE_KEY,
    ]
    .into_iter()
    .map(in_tls)
    .filter(|path| plan.files().iter().any(|f| &f.path == path))
    .collect();
    Ok(CustomCaRun {
        plan,
        tls_dir: tls_dir.clone(),
        root: root.origin,
        intermediate: intermediate.origin,
        service_keys_kept,
        ca_hash,
        vault_files,
        warnings,
    })
}

/// A tls dir that holds leaf CA files belongs to an initialised cluster: refused
/// without `force`, and with it, a warning.
fn refuse_initialised(tls_dir: &Path, force: bool) -> Result<Vec<String>> {
    let existing: Vec<PathBuf> = LeafCa::ALL
        .iter()
        .flat_map(|ca| [ca.cert_file(), ca.key_file()])
        .map(|name| tls_dir.join(name))
        .filter(|path| path.exists())
        .collect();
    if existing.is_empty() {
        return Ok(Vec::new());
    }
    if !force {
        return Err(Error::Initialised {
            dir: tls_dir.to_path_buf(),
            found: existing,
        });
    }
    Ok(vec![format!(
        "--force: replacing the leaf CAs in {}. On a cluster that has been started this \
         breaks every certificate it issued; use a staging DATA_DIR and \
         `k3s certificate rotate-ca` instead.",
        tls_dir.display()
    )])
}

/// What the user brought, checked: the CAs to reuse and the service keys to keep.
struct Brought {
    root: Option<Ca>,
    intermediate: Option<Ca>,
    service_key: Option<ServiceKeyFile>,
}

/// The input files found, by role.
struct Inputs {
    root_pem: Option<PathBuf>,
    root_key: Option<PathBuf>,
    intermediate_pem: Option<PathBuf>,
    intermediate_key: Option<PathBuf>,
    service_key: Option<PathBuf>,
}

impl Inputs {
    /// `${DATA_DIR}/X` wins over `${DATA_DIR}/server/tls/X`, as the script copies
    /// the former over the latter.
    fn find(data_dir: &DataDir) -> Self {
        let tls = data_dir.tls_dir();
        let find = |name: &str| {
            [data_dir.root.join(name), tls.join(name)]
                .into_iter()
                .find(|p| p.is_file())
        };
        Inputs {
            root_pem: find(files::ROOT_PEM),
            root_key: find(files::ROOT_KEY),
            intermediate_pem: find(files::INTERMEDIATE_PEM),
            intermediate_key: find(files::INTERMEDIATE_KEY),
            service_key: find(SERVICE_KEY_FILE),
        }
    }

    /// Reads and checks every input before anything is generated: each CA is
    /// usable, each key matches its certificate, the intermediate was issued by
    /// the root, and the combination can sign the leaf CAs.
    fn read(&self, now: SystemTime) -> Result<Brought> {
        let read = |path: &Option<PathBuf>| path.as_deref().map(|p| read_ca(p, now)).transpose();
        let (mut root, mut intermediate) = (read(&self.root_pem)?, read(&self.intermediate_pem)?);
        let service_key = self
            .service_key
            .as_deref()
            .map(ServiceKeyFile::read)
            .transpose()?;
        let missing = |path: &Option<PathBuf>, problem: String| Error::Inputs {
            path: path.clone().unwrap_or_default(),
            problem,
        };
        match (&mut root, &self.root_key) {
            (Some(root), Some(key)) => attach_key(root, key)?,
            (None, Some(_)) => {
                return Err(missing(
                    &self.root_key,
                    format!(
                        "{} without {}: bring both",
                        files::ROOT_KEY,
                        files::ROOT_PEM
                    ),
                ));
            }
            _ => {}
        }
        match (&mut intermediate, &root) {
            (Some(_), None) => {
                return Err(missing(
                    &self.intermediate_pem,
                    format!(
                        "{} without {}: bring the root certificate that issued it",
                        files::INTERMEDIATE_PEM,
                        files::ROOT_PEM
                    ),
                ));
            }
            (Some(intermediate), Some(root)) => {
                check_issued_by(&intermediate.cert, &root.cert).map_err(|problem| {
                    Error::NotIssuedBy {
                        cert: self.intermediate_pem.clone().unwrap_or_default(),
                        issuer: self.root_pem.clone().unwrap_or_default(),
                        problem,
                    }
                })?;
                let Some(key) = &self.intermediate_key else {
                    let hint = if root.key.is_some() {
                        format!(
                            "bring {}, or remove {} to have a new intermediate made from the root key",
                            files::INTERMEDIATE_KEY,
                            files::INTERMEDIATE_PEM
                        )
                    } else {
                        format!("bring {}", files::INTERMEDIATE_KEY)
                    };
                    return Err(missing(
                        &self.intermediate_pem,
                        format!(
                            "no {} to sign the leaf CAs with: {hint}",
                            files::INTERMEDIATE_KEY
                        ),
                    ));
                };
                attach_key(intermediate, key)?;
            }
            (None, _) if self.intermediate_key.is_some() => {
                return Err(missing(
                    &self.intermediate_key,
                    format!(
                        "{} without {}: bring both, or neither",
                        files::INTERMEDIATE_KEY,
                        files::INTERMEDIATE_PEM
                    ),
                ));
            }
            (None, Some(root)) if root.key.is_none() => {
                let root_pem = self.root_pem.clone().unwrap_or_default();
                return Err(Error::Inputs {
                    path: root_pem.with_file_name(files::ROOT_KEY),
                    problem: format!(
                        "cannot make an intermediate without the root key: bring {} (or {} and {})",
                        files::ROOT_KEY,
                        files::INTERMEDIATE_PEM,
                        files::INTERMEDIATE_KEY
                    ),
                });
            }
            (None, _) => {}
        }
        Ok(Brought {
            root,
            intermediate,
            service_key,
        })
    }
}

fn read_ca(path: &Path, now: SystemTime) -> Result<Ca> {
    let file = PemFile::read(path)?;
    let cert = bundle_in(&file)?.swap_remove(0);
    cert.require_usable_ca(path, now)?;
    Ok(Ca {
        cert,
        pem: file.bytes,
        key: None,
        key_pem: None,
        origin: Origin::Reused(path.to_path_buf()),
    })
}

fn attach_key(ca: &mut Ca, key_path: &Path) -> Result<()> {
    let file = PemFile::read(key_path)?;
    let key = PrivateKey::first_in(&file)?;
    if !key.matches(ca.cert.public_key())? {
        let cert = match &ca.origin {
            Origin::Reused(path) => path.clone(),
            Origin::Generated => PathBuf::new(),
        };
        return Err(Error::KeyMismatch {
            cert,
            key: key_path.to_path_buf(),
        });
    }
    ca.key = Some(key);
    ca.key_pem = Some(file.bytes.clone());
    Ok(())
}

fn generated(cert: Certificate, key: PrivateKey) -> Result<Ca> {
    let key_pem = key.to_pem()?.as_bytes().to_vec();
    Ok(Ca {
        pem: cert.to_pem().into_bytes(),
        cert,
        key: Some(key),
        key_pem: Some(key_pem),
        origin: Origin::Generated,
    })
}

fn signer_of(ca: &Ca) -> Result<Signer<'_>> {
    match &ca.key {
        Some(key) => Ok(Signer::Ca {
            cert: &ca.cert,
            key,
        }),
        None => Err(Error::crypto("signing", "the issuing CA has no key")),
    }
}

fn warn_if_outlives(warnings: &mut Vec<String>, cert: &Certificate, issuer: &Certificate) {
    if cert.not_after() > issuer.not_after() {
        warnings.push(format!(
            "\"{}\" is valid until {}, but its issuer \"{}\" expires on {}: \
             the chain stops verifying then",
            cert.subject_cn(),
            format_time(cert.not_after()),
            issuer.subject_cn(),
            format_time(issuer.not_after())
        ));
    }
}
