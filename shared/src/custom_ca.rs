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
use crate::token::k3s_ca_hash;
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
    let mut warnings = Vec::new();
    let existing: Vec<PathBuf> = LeafCa::ALL
        .iter()
        .flat_map(|ca| [ca.cert_file(), ca.key_file()])
        .map(|name| tls_dir.join(name))
        .filter(|path| path.exists())
        .collect();
    if !existing.is_empty() {
        if !options.force {
            return Err(Error::Initialised {
                dir: tls_dir,
                found: existing,
            });
        }
        warnings.push(format!(
            "--force: replacing the leaf CAs in {}. On a cluster that has been started this \
             breaks every certificate it issued; use a staging DATA_DIR and \
             `k3s certificate rotate-ca` instead.",
            tls_dir.display()
        ));
    }

    let inputs = Inputs::find(&options.data_dir);
    let (timestamp, not_before) = run_timestamp(options.now);
    let product = &options.data_dir.product;

    // Read and check everything the user brought before generating anything.
    let brought_root = inputs
        .root_pem
        .as_deref()
        .map(|p| read_ca(p, options.now))
        .transpose()?;
    let brought_intermediate = inputs
        .intermediate_pem
        .as_deref()
        .map(|p| read_ca(p, options.now))
        .transpose()?;
    let service_key = inputs
        .service_key
        .as_deref()
        .map(ServiceKeyFile::read)
        .transpose()?;

    let mut root = match (brought_root, &inputs.root_key) {
        (Some(mut root), Some(key_path)) => {
            attach_key(&mut root, key_path)?;
            Some(root)
        }
        (Some(root), None) => Some(root),
        (None, Some(key_path)) => {
            return Err(Error::Inputs {
                path: key_path.clone(),
                problem: format!(
                    "{} without {}: bring both",
                    files::ROOT_KEY,
                    files::ROOT_PEM
                ),
            });
        }
        (None, None) => None,
    };
    let root_path = inputs.root_pem.clone().unwrap_or_default();
    let intermediate = match brought_intermediate {
        Some(mut intermediate) => {
            let Some(root) = &root else {
                return Err(Error::Inputs {
                    path: inputs.intermediate_pem.clone().unwrap_or_default(),
                    problem: format!(
                        "{} without {}: bring the root certificate that issued it",
                        files::INTERMEDIATE_PEM,
                        files::ROOT_PEM
                    ),
                });
            };
            check_issued_by(&intermediate.cert, &root.cert).map_err(|problem| {
                Error::NotIssuedBy {
                    cert: inputs.intermediate_pem.clone().unwrap_or_default(),
                    issuer: root_path.clone(),
                    problem,
                }
            })?;
            let Some(key_path) = &inputs.intermediate_key else {
                let path = inputs.intermediate_pem.clone().unwrap_or_default();
                let hint = if root.key.is_some() {
                    format!(
                        "bring {}, or remove {} to have a new intermediate made from the root key",
                        files::INTERMEDIATE_KEY,
                        files::INTERMEDIATE_PEM
                    )
                } else {
                    format!("bring {}", files::INTERMEDIATE_KEY)
                };
                return Err(Error::Inputs {
                    path,
                    problem: format!(
                        "no {} to sign the leaf CAs with: {hint}",
                        files::INTERMEDIATE_KEY
                    ),
                });
            };
            attach_key(&mut intermediate, key_path)?;
            Some(intermediate)
        }
        None => {
            if let Some(key_path) = &inputs.intermediate_key {
                return Err(Error::Inputs {
                    path: key_path.clone(),
                    problem: format!(
                        "{} without {}: bring both, or neither",
                        files::INTERMEDIATE_KEY,
                        files::INTERMEDIATE_PEM
                    ),
                });
            }
            if let Some(root) = &root {
                if root.key.is_none() {
                    return Err(Error::Inputs {
                        path: root_path.with_file_name(files::ROOT_KEY),
                        problem: format!(
                            "cannot make an intermediate without the root key: bring {} (or {} and {})",
                            files::ROOT_KEY,
                            files::INTERMEDIATE_PEM,
                            files::INTERMEDIATE_KEY
                        ),
                    });
                }
            }
            None
        }
    };

    // Every key of the run at once: the RSA prime searches share the cores.
    let mut wanted = vec![SERVICE_ACCOUNT_KEY];
    if root.is_none() {
        wanted.push(CUSTOM_ROOT.key);
    }
    if intermediate.is_none() {
        wanted.push(CUSTOM_INTERMEDIATE.key);
    }
    wanted.extend([CUSTOM_LEAF_CA.key; 5]);
    let mut new_keys = PrivateKey::generate_all(&wanted)?.into_iter();
    let mut next_key = || {
        new_keys
            .next()
            .ok_or_else(|| Error::crypto("generating keys", "fewer keys than asked for"))
    };
    let new_service_key = next_key()?;
    let root_key = root.is_none().then(&mut next_key).transpose()?;
    let intermediate_key = intermediate.is_none().then(&mut next_key).transpose()?;

    if let Some(key) = root_key {
        let cn = format!("{}-root-ca@{timestamp}", product.name());
        let request = CaRequest {
            common_name: &cn,
            key: &key,
            not_before,
            validity_days: CUSTOM_ROOT.validity_days,
        };
        root = Some(generated(issue_ca(&request, Signer::SelfSigned)?, key)?);
    }
    let Some(root) = root else {
        return Err(Error::crypto("making the root", "no root"));
    };
    let intermediate = match (intermediate, intermediate_key) {
        (Some(intermediate), _) => intermediate,
        (None, Some(key)) => {
            let cn = format!("{}-intermediate-ca@{timestamp}", product.name());
            let signer = signer_of(&root)?;
            let request = CaRequest {
                common_name: &cn,
                key: &key,
                not_before,
                validity_days: CUSTOM_INTERMEDIATE.validity_days,
            };
            let cert = issue_ca(&request, signer)?;
            warn_if_outlives(&mut warnings, &cert, &root.cert);
            generated(cert, key)?
        }
        (None, None) => return Err(Error::crypto("making the intermediate", "no key")),
    };

    let mut plan = Plan::new();
    let in_tls = |name: &str| tls_dir.join(name);
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

    let intermediate_signer = signer_of(&intermediate)?;
    for leaf in LeafCa::ALL {
        let key = next_key()?;
        let cn = leaf.custom_cn(product, timestamp);
        let request = CaRequest {
            common_name: &cn,
            key: &key,
            not_before,
            validity_days: CUSTOM_LEAF_CA.validity_days,
        };
        let cert = issue_ca(&request, intermediate_signer)?;
        warn_if_outlives(&mut warnings, &cert, &intermediate.cert);
        let stem = leaf.file_stem();
        plan.add_public(in_tls(&format!("{stem}.pem")), cert.to_pem());
        plan.add_secret(in_tls(&leaf.key_file()), key.to_pem()?.as_bytes().to_vec());
        plan.add_public(
            in_tls(&leaf.cert_file()),
            bundle_pem([&cert, &intermediate.cert, &root.cert]),
        );
    }

    let mut service = new_service_key.to_pem()?.as_bytes().to_vec();
    let service_keys_kept = match &service_key {
        Some(existing) => {
            service.extend_from_slice(&existing.bytes);
            if !existing.bytes.ends_with(b"\n") {
                service.push(b'\n');
            }
            existing.keys.len()
        }
        None => 0,
    };
    plan.add_secret(in_tls(SERVICE_KEY_FILE), service);

    let server_ca = in_tls(&LeafCa::Server.cert_file());
    let ca_hash = match plan.contents_of(&server_ca) {
        Some(bytes) => {
            let file = PemFile::parse(&server_ca, bytes.to_vec())?;
            k3s_ca_hash(bytes, &bundle_in(&file)?, options.now)
        }
        None => return Err(Error::crypto("hashing server-ca.crt", "not planned")),
    };
    let vault_files = plan
        .files()
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("root-ca.") || n.starts_with("intermediate-ca."))
        })
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
