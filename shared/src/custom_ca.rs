//! The custom CA tree of `generate-custom-ca-certs.sh`, as a plan, for the PKIs
//! organisations really bring.
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
//! Keys of any type of the algorithm table, encrypted or not; `intermediate-ca.pem`
//! may hold the issuing CA followed by the CAs above it (a chain of any depth,
//! optionally ending with the root). Every input is checked before anything is
//! planned, link by link, and the planned tree is pre-flighted: every kind of
//! certificate k3s issues is issued in memory and verified as a client that
//! trusts only the root does. On any finding nothing is written.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cert::{Certificate, bundle_in, bundle_pem, format_time};
use crate::error::{Error, Result};
use crate::issue::{CaRequest, Signer, days_after, issue_ca, run_timestamp};
use crate::keys::{KeyAlgorithm, Passphrases, PrivateKey};
use crate::pem_file::PemFile;
use crate::plan::Plan;
use crate::preflight::{self, ClusterNames, PathCert, SigningCa};
use crate::service_key::ServiceKeyFile;
use crate::token::k3s_ca_hash_of;
use crate::topology::{
    CUSTOM_INTERMEDIATE, CUSTOM_LEAF_CA, CUSTOM_ROOT, CaSpec, DataDir, LeafCa, SERVICE_ACCOUNT_KEY,
    SERVICE_KEY_FILE, custom_files as files, k3s_leaves,
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
    /// Key type and lifetime of a generated root.
    pub root: CaSpec,
    /// Key type and lifetime of a generated intermediate.
    pub intermediate: CaSpec,
    /// Key type and lifetime of the five leaf CAs.
    pub leaf_ca: CaSpec,
    /// The passphrase for encrypted input keys and `encrypt_keys`.
    pub passphrases: Passphrases,
    /// Write the root and intermediate keys this run generates encrypted.
    pub encrypt_keys: bool,
    /// The names pre-flight issues serving certificates for.
    pub cluster: ClusterNames,
    /// The live cluster's tls dir when this run writes a staging tree for
    /// `rotate-ca`: its `service.key` is carried forward, and the staged tree is
    /// checked against it with rotate-ca's rules.
    pub live_tls: Option<PathBuf>,
}

impl CustomCaOptions {
    /// The upstream script's tree: RSA-4096 root (7300 days) and intermediate
    /// (3700), P-256 leaf CAs (3700), k3s's default cluster names, no passphrase.
    pub fn new(data_dir: DataDir, now: SystemTime) -> Self {
        CustomCaOptions {
            data_dir,
            force: false,
            now,
            root: CUSTOM_ROOT,
            intermediate: CUSTOM_INTERMEDIATE,
            leaf_ca: CUSTOM_LEAF_CA,
            passphrases: Passphrases::none(),
            encrypt_keys: false,
            cluster: ClusterNames::k3s_default(),
            live_tls: None,
        }
    }
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
    /// Where the root came from, and its key type.
    pub root: (Origin, KeyAlgorithm),
    /// Where the intermediate came from, and its key type.
    pub intermediate: (Origin, KeyAlgorithm),
    /// How many CAs of a brought chain sit between the intermediate and the root.
    pub chain_above_intermediate: usize,
    /// The key type of the five leaf CAs.
    pub leaf_ca: KeyAlgorithm,
    /// How many existing service-account keys follow the new one.
    pub service_keys_kept: usize,
    /// k3s's join-token CA hash of the planned `server-ca.crt`.
    pub ca_hash: String,
    /// Files k3s never reads that belong in a vault (root and intermediate).
    pub vault_files: Vec<PathBuf>,
    /// Things the user should know that do not stop the run.
    pub warnings: Vec<String>,
    /// For a staging tree: what `k3s certificate rotate-ca` will say about it
    /// (`Ok`, or the reasons it will refuse), checked against the live tls dir.
    pub rotate_ca: Option<std::result::Result<(), Vec<String>>>,
    /// The live `service.key` carried forward into a staging tree, if any.
    pub service_key_carried: Option<PathBuf>,
}

/// A CA brought by the user or made by this run.
struct Ca {
    cert: Certificate,
    /// The file to write as `X.pem`: the user's bytes when reused.
    pem: Vec<u8>,
    key: Option<PrivateKey>,
    /// The key file bytes to write: the user's bytes when reused (an encrypted
    /// key stays encrypted).
    key_pem: Option<Vec<u8>>,
    origin: Origin,
    /// For the intermediate: the CAs of a brought chain between it and the root.
    above: Vec<Certificate>,
}

impl Ca {
    /// How messages name it: its file, or "the generated <what>".
    fn source(&self, what: &str) -> String {
        match &self.origin {
            Origin::Reused(path) => path.display().to_string(),
            Origin::Generated => format!("the generated {what}"),
        }
    }
}

/// Checks the inputs and plans the whole tree; writes nothing.
pub fn plan_custom_ca(options: &CustomCaOptions) -> Result<CustomCaRun> {
    let tls_dir = options.data_dir.tls_dir();
    let mut warnings = refuse_initialised(&tls_dir, options.force)?;
    let mut brought = Inputs::find(&options.data_dir).read(options.now, &options.passphrases)?;
    // The docs' staging flow copies root-ca.*, intermediate-ca.* and service.key;
    // forgetting service.key makes rotate-ca refuse (k3s issue 7100): carry the
    // live one forward unless one was brought.
    let live_service_key = options
        .live_tls
        .as_ref()
        .map(|tls| tls.join(SERVICE_KEY_FILE))
        .filter(|path| path.is_file());
    let mut service_key_carried = None;
    if brought.service_key.is_none() {
        if let Some(path) = &live_service_key {
            brought.service_key = Some(ServiceKeyFile::read(path)?);
            service_key_carried = Some(path.clone());
        }
    }

    // Every key of the run at once: the RSA prime searches share the cores.
    let mut wanted = vec![SERVICE_ACCOUNT_KEY];
    if brought.root.is_none() {
        wanted.push(options.root.key);
    }
    if brought.intermediate.is_none() {
        wanted.push(options.intermediate.key);
    }
    wanted.extend([options.leaf_ca.key; 5]);
    let mut keys = PrivateKey::generate_all(&wanted)?.into_iter();
    let mut next_key = move || {
        keys.next()
            .ok_or_else(|| Error::crypto("generating keys", "fewer keys than asked for"))
    };
    let new_service_key = next_key()?;

    let (timestamp, not_before) = run_timestamp(options.now);
    let naming = Naming {
        product: &options.data_dir.product,
        timestamp,
        not_before,
    };
    let root = match brought.root {
        Some(root) => root,
        None => {
            let key = next_key()?;
            let cert = naming.issue(
                &mut warnings,
                "root",
                &key,
                &options.root,
                Signer::SelfSigned(&key),
                &[],
            )?;
            generated(cert, key, options, &tls_dir.join(files::ROOT_KEY))?
        }
    };
    let intermediate = match brought.intermediate {
        Some(intermediate) => intermediate,
        None => {
            let key = next_key()?;
            let cert = naming.issue(
                &mut warnings,
                "intermediate",
                &key,
                &options.intermediate,
                signer_of(&root)?,
                &[&root.cert],
            )?;
            generated(cert, key, options, &tls_dir.join(files::INTERMEDIATE_KEY))?
        }
    };
    // [intermediate, above..., root]: what every bundle ends with.
    let chain: Vec<&Certificate> = std::iter::once(&intermediate.cert)
        .chain(&intermediate.above)
        .chain(std::iter::once(&root.cert))
        .collect();
    let mut leaf_cas = Vec::new();
    for leaf in LeafCa::ALL {
        let key = next_key()?;
        let cert = naming.issue(
            &mut warnings,
            leaf.kind(),
            &key,
            &options.leaf_ca,
            signer_of(&intermediate)?,
            &chain,
        )?;
        leaf_cas.push((leaf, cert, key));
    }
    warnings.dedup();

    let report = preflight::run(
        &PathCert {
            cert: &root.cert,
            source: root.source("root"),
        },
        &chain_sources(&intermediate),
        &leaf_cas
            .iter()
            .map(|(leaf, cert, key)| SigningCa {
                stem: leaf.file_stem(),
                cert,
                key,
                source: format!("the generated {}", leaf.file_stem()),
            })
            .collect::<Vec<_>>(),
        &k3s_leaves(&options.data_dir.product, &options.cluster),
        options.now,
    )?;
    warnings.extend(report.into_result()?);

    let in_tls = |name: &str| tls_dir.join(name);
    let mut plan = Plan::new();
    plan.add_public(in_tls(files::ROOT_PEM), root.pem.clone());
    plan.add_public(in_tls(files::ROOT_CRT), root.cert.to_pem());
    plan.add_public(in_tls(files::INTERMEDIATE_PEM), intermediate.pem.clone());
    plan.add_public(
        in_tls(files::INTERMEDIATE_CRT),
        bundle_pem(chain.iter().copied()),
    );
    for (name, ca) in [
        (files::ROOT_KEY, &root),
        (files::INTERMEDIATE_KEY, &intermediate),
    ] {
        if let Some(key_pem) = &ca.key_pem {
            plan.add_secret(in_tls(name), key_pem.clone());
        }
    }
    for (leaf, cert, key) in &leaf_cas {
        plan.add_public(in_tls(&format!("{}.pem", leaf.file_stem())), cert.to_pem());
        plan.add_secret(in_tls(&leaf.key_file()), key.to_pem()?.as_bytes().to_vec());
        plan.add_public(
            in_tls(&leaf.cert_file()),
            bundle_pem(std::iter::once(cert).chain(chain.iter().copied())),
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
    let rotate_ca = match &options.live_tls {
        Some(live) if live.is_dir() => Some(rotate_ca_verdict(&plan, &tls_dir, live, options.now)?),
        _ => None,
    };
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
        root: (root.origin.clone(), root.cert_algorithm()?),
        intermediate: (intermediate.origin.clone(), intermediate.cert_algorithm()?),
        chain_above_intermediate: intermediate.above.len(),
        leaf_ca: options.leaf_ca.key,
        service_keys_kept,
        ca_hash,
        vault_files,
        warnings,
        rotate_ca,
        service_key_carried,
    })
}

/// rotate-ca's rules on the planned staging tree against the live one: each
/// staged bundle's first certificate must chain to the current roots (the key
/// files match by construction), and the new service.key must keep the live
/// signing key.
fn rotate_ca_verdict(
    plan: &Plan,
    staged_tls: &Path,
    live_tls: &Path,
    now: SystemTime,
) -> Result<std::result::Result<(), Vec<String>>> {
    let mut refusals = Vec::new();
    for leaf in LeafCa::ALL {
        let name = leaf.cert_file();
        let staged = bundle_in(&plan.planned_pem(&staged_tls.join(&name))?)?;
        let current = match PemFile::read(&live_tls.join(&name)).and_then(|f| bundle_in(&f)) {
            Ok(current) => current,
            Err(e) => {
                refusals.push(format!("current {name} unreadable: {e}"));
                continue;
            }
        };
        let finding = crate::checks::bundle_finding(&name, &staged, &current, now);
        if finding.verdict == crate::checks::Verdict::Fail {
            refusals.push(format!("{name}: {}", finding.reason));
        }
    }
    let live_keys = live_tls.join(SERVICE_KEY_FILE);
    if let Ok(live) = ServiceKeyFile::read(&live_keys) {
        let staged = plan.planned_pem(&staged_tls.join(SERVICE_KEY_FILE))?;
        let staged = ServiceKeyFile::parse(staged)?;
        if let Some(signing) = live.signing_key() {
            if !staged.contains(&signing.public_key_der) {
                refusals.push(format!(
                    "{SERVICE_KEY_FILE}: does not keep the live signing key {}",
                    signing.fingerprint()
                ));
            }
        }
    }
    Ok(if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals)
    })
}

/// What every CA of a run shares: the product, the run's timestamp and start.
struct Naming<'a> {
    product: &'a crate::topology::Product,
    timestamp: u64,
    not_before: SystemTime,
}

impl Naming<'_> {
    /// Issues the `what` CA (`root`, `intermediate`, or a leaf CA kind) for
    /// `spec.validity_days`, capped at the end of the CAs `above` it: a CA never
    /// outlives its issuer, and the user is told when it is capped.
    fn issue(
        &self,
        warnings: &mut Vec<String>,
        what: &str,
        key: &PrivateKey,
        spec: &CaSpec,
        signer: Signer<'_>,
        above: &[&Certificate],
    ) -> Result<Certificate> {
        let wanted_end = days_after(self.not_before, spec.validity_days);
        let not_after = match above.iter().map(|c| c.not_after()).min() {
            Some(cap) if cap < wanted_end => {
                warnings.push(format!(
                    "the {what} CA would outlive the CA above it: its end is capped at {} \
                     instead of {} days",
                    format_time(cap),
                    spec.validity_days
                ));
                cap
            }
            _ => wanted_end,
        };
        let cn = match LeafCa::ALL.iter().find(|ca| ca.kind() == what) {
            Some(leaf) => leaf.custom_cn(self.product, self.timestamp),
            None => format!("{}-{what}-ca@{}", self.product.name(), self.timestamp),
        };
        issue_ca(
            &CaRequest {
                common_name: &cn,
                key,
                not_before: self.not_before,
                not_after,
            },
            signer,
        )
    }
}

/// The certificates between the leaf CAs and the root, named for messages.
fn chain_sources(intermediate: &Ca) -> Vec<PathCert<'_>> {
    let mut chain = vec![PathCert {
        cert: &intermediate.cert,
        source: intermediate.source("intermediate"),
    }];
    for (i, cert) in intermediate.above.iter().enumerate() {
        chain.push(PathCert {
            cert,
            source: format!(
                "{} (certificate #{}, \"{}\")",
                intermediate.source("intermediate"),
                i + 2,
                cert.subject_cn()
            ),
        });
    }
    chain
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
    fn read(&self, now: SystemTime, passphrases: &Passphrases) -> Result<Brought> {
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
            (Some(root), Some(key)) => attach_key(root, key, passphrases)?,
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
                link_chain(
                    intermediate,
                    root,
                    &self.intermediate_pem.clone().unwrap_or_default(),
                    &self.root_pem.clone().unwrap_or_default(),
                    now,
                )?;
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
                attach_key(intermediate, key, passphrases)?;
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

/// Reads a CA file: its first certificate is the CA (usable now); any that
/// follow are kept as the chain above it, checked by [`link_chain`].
fn read_ca(path: &Path, now: SystemTime) -> Result<Ca> {
    let file = PemFile::read(path)?;
    let mut certs = bundle_in(&file)?;
    let cert = certs.remove(0);
    cert.require_usable_ca(path, now)?;
    Ok(Ca {
        cert,
        pem: file.bytes,
        key: None,
        key_pem: None,
        origin: Origin::Reused(path.to_path_buf()),
        above: certs,
    })
}

/// Checks a brought chain link by link: `intermediate-ca.pem` holds the issuing
/// CA, then the CAs above it, optionally ending with the root; each is a CA
/// usable now and is signed by the next, the last by the root. Keeps the CAs
/// strictly between the issuing CA and the root.
fn link_chain(
    intermediate: &mut Ca,
    root: &Ca,
    intermediate_path: &Path,
    root_path: &Path,
    now: SystemTime,
) -> Result<()> {
    if intermediate.above.last() == Some(&root.cert) {
        intermediate.above.pop();
    }
    let at = |index: usize| match index {
        0 => intermediate_path.to_path_buf(),
        i => PathBuf::from(format!(
            "{} (certificate #{})",
            intermediate_path.display(),
            i + 1
        )),
    };
    for (i, cert) in intermediate.above.iter().enumerate() {
        cert.require_usable_ca(&at(i + 1), now)?;
    }
    let links: Vec<&Certificate> = std::iter::once(&intermediate.cert)
        .chain(&intermediate.above)
        .chain(std::iter::once(&root.cert))
        .collect();
    for (i, pair) in links.windows(2).enumerate() {
        check_issued_by(pair[0], pair[1]).map_err(|problem| Error::NotIssuedBy {
            cert: at(i),
            issuer: if i + 2 == links.len() {
                root_path.to_path_buf()
            } else {
                at(i + 1)
            },
            problem,
        })?;
    }
    Ok(())
}

/// Reads the key of a brought CA (decrypting it with the run's passphrase when
/// needed) and checks it belongs to the certificate. The file's bytes are what
/// gets written back: an encrypted key stays encrypted.
fn attach_key(ca: &mut Ca, key_path: &Path, passphrases: &Passphrases) -> Result<()> {
    let file = PemFile::read(key_path)?;
    let key = PrivateKey::first_in_decrypting(&file, passphrases)?;
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

/// A CA this run made; its key is written encrypted when asked.
fn generated(
    cert: Certificate,
    key: PrivateKey,
    options: &CustomCaOptions,
    key_path: &Path,
) -> Result<Ca> {
    let key_pem = if options.encrypt_keys {
        key.to_encrypted_pem(options.passphrases.get_new(key_path)?)?
    } else {
        key.to_pem()?
    };
    Ok(Ca {
        pem: cert.to_pem().into_bytes(),
        cert,
        key: Some(key),
        key_pem: Some(key_pem.as_bytes().to_vec()),
        origin: Origin::Generated,
        above: Vec::new(),
    })
}

impl Ca {
    fn cert_algorithm(&self) -> Result<KeyAlgorithm> {
        crate::keys::PublicKey::from_spki(self.cert.public_key())
            .map(|k| k.algorithm())
            .map_err(|problem| Error::Certificate {
                path: match &self.origin {
                    Origin::Reused(path) => path.clone(),
                    Origin::Generated => PathBuf::new(),
                },
                index: 1,
                problem,
            })
    }
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
