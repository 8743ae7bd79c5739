//! The custom CA tree of `generate-custom-ca-certs.sh`, as a plan, for the PKIs
//! organisations really bring, in the layout of any distribution (see
//! [`crate::layout`]): k3s's five CAs and `service.key`, or kubeadm's and k0s's
//! three CAs and `sa.key` + `sa.pub`.
//!
//! Inputs the user may bring (looked up in `${DATA_DIR}/`, where the script copies
//! from, then in the layout's cert dir, `server/tls/` or `pki/`):
//!
//! | brought | made |
//! |---|---|
//! | nothing | root, intermediate, the distribution's CAs |
//! | `root-ca.pem` + `root-ca.key` | intermediate, the distribution's CAs |
//! | `root-ca.pem` + `intermediate-ca.pem` + `intermediate-ca.key` | the distribution's CAs |
//!
//! Keys of any type of the algorithm table, encrypted or not; `intermediate-ca.pem`
//! may hold the issuing CA followed by the CAs above it (a chain of any depth,
//! optionally ending with the root). For kubeadm and k0s the CAs may instead
//! each be self-signed (kubeadm's own topology). Every input is checked before
//! anything is planned, link by link, and the planned tree is pre-flighted:
//! every kind of certificate the distribution issues is issued in memory and
//! verified as a client that trusts only the root does. On any finding nothing
//! is written.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::checks::preflight::{self, PathCert, SigningCa};
use crate::layout::custom_tree::{self as files, INTERMEDIATE, ROOT};
use crate::layout::k3s::token::k3s_ca_hash_of;
use crate::layout::k3s::{NewRoot, ca_load_procedure, rotate_ca_command};
use crate::layout::kubeadm::discovery_hash;
use crate::layout::procedure::Procedure;
use crate::layout::service_key::ServiceKeyFile;
use crate::layout::{CaSpec, DataDir, Product, SERVICE_ACCOUNT_KEY};
use crate::layout::{ClusterFlags, ClusterNames, JoinScheme, Layout, SaSlot};
use crate::pki::cert::{Certificate, bundle_in, bundle_pem, format_time};
use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::issue::{CaRequest, Issuer, days_after, issue_ca, run_timestamp};
use crate::pki::keys::pkcs11::{Pkcs11Uri, TokenKey, Tokens};
use crate::pki::keys::{
    GeneratedKey, KeyAlgorithm, PassphraseSource, Passphrases, PrivateKey, SigningKey,
    check_ca_key_size,
};
use crate::pki::pem::PemFile;
use crate::pki::verify::check_issued_by;
use crate::runs::intermediate_request::INTERMEDIATE_CSR;
use crate::store::lock::{TargetLock, lock_target};
use crate::store::plan::{Plan, SECRET_MODE};

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
    /// Key type and lifetime of the CAs the distribution signs with (k3s's
    /// five leaf CAs, kubeadm's and k0s's three).
    pub leaf_ca: CaSpec,
    /// Make each of those CAs self-signed, without a shared root (kubeadm and
    /// k0s only: their own topology).
    pub self_signed_cas: bool,
    /// The passphrase for encrypted input keys and `encrypt_keys`.
    pub passphrases: Passphrases,
    /// Write the root and intermediate keys this run generates encrypted.
    pub encrypt_keys: bool,
    /// Where a generated root's key goes instead of the cert dir (removable
    /// media): a tree meant for the cluster never holds it.
    pub root_key_out: Option<PathBuf>,
    /// The names pre-flight issues serving certificates for.
    pub cluster: ClusterNames,
    /// The live cluster's tls dir when this run writes a staging tree for
    /// `rotate-ca`: its `service.key` is carried forward, and the staged tree is
    /// checked against it with rotate-ca's rules.
    pub live_tls: Option<PathBuf>,
    /// Root and intermediate keys held in a PKCS#11 token.
    pub token: TokenChoice,
}

/// The CA keys a run keeps in a PKCS#11 token: each signs there, and its
/// private half is never in a file this run writes.
#[derive(Debug, Default)]
pub struct TokenChoice {
    /// `--root-key pkcs11:...`: the root's key.
    pub root: Option<Pkcs11Uri>,
    /// `--intermediate-key pkcs11:...`: the intermediate's key.
    pub intermediate: Option<Pkcs11Uri>,
    /// `--generate-in-token`: the keys named are made in the token
    /// (non-extractable) for a new root or intermediate; without it they must
    /// exist there.
    pub generate: bool,
    /// The module and PIN.
    pub tokens: Tokens,
}

impl TokenChoice {
    /// The key of a new CA (`what`: root, intermediate) in the token, found or
    /// generated; `None` when that CA's key is not in a token.
    fn new_key(&self, what: &str, algorithm: KeyAlgorithm) -> Result<Option<TokenKey>> {
        let uri = match what {
            "root" => &self.root,
            _ => &self.intermediate,
        };
        let Some(uri) = uri else { return Ok(None) };
        let key = if self.generate {
            self.tokens.generate(uri, algorithm)?
        } else {
            self.tokens.open(uri)?
        };
        Ok(Some(key))
    }
}

impl CustomCaOptions {
    /// The upstream script's tree: RSA-4096 root (7300 days) and intermediate
    /// (3700), the layout's CAs (k3s: P-256, 3700 days; kubeadm and k0s:
    /// RSA-2048, 3650 days), the layout's default cluster names, no passphrase.
    pub fn new(data_dir: DataDir, now: SystemTime) -> Self {
        let layout = data_dir.layout();
        CustomCaOptions {
            data_dir,
            force: false,
            now,
            root: ROOT,
            intermediate: INTERMEDIATE,
            leaf_ca: layout.ca_default,
            self_signed_cas: false,
            passphrases: Passphrases::none(),
            encrypt_keys: false,
            root_key_out: None,
            cluster: layout.cluster_names(),
            live_tls: None,
            token: TokenChoice::default(),
        }
    }

    /// The options `flags` ask for on `data_dir`: the defaults of [`Self::new`]
    /// with each flag given laid over them, refused when one makes no sense.
    pub fn from_flags(data_dir: DataDir, now: SystemTime, flags: CustomCaFlags) -> Result<Self> {
        let defaults = Self::new(data_dir, now);
        let root = flags.root.over(defaults.root, "root")?;
        let intermediate = flags
            .intermediate
            .over(defaults.intermediate, "intermediate")?;
        let leaf_ca = flags.leaf_ca.over(defaults.leaf_ca, "leaf-ca")?;
        let passphrases = Passphrases::new(PassphraseSource::from_flag(flags.password_file));
        let data_dir = &defaults.data_dir;
        // A staging tree is checked against the live one, when there is one.
        let live_tls = if data_dir.stages_rotate_ca() {
            let live = data_dir.at(flags
                .live_data_dir
                .unwrap_or_else(|| DataDir::default_root(data_dir.product)));
            Some(live.tls_dir()).filter(|tls| tls.is_dir())
        } else {
            None
        };
        let cluster = flags.cluster.names(data_dir.layout())?;
        if flags.generate_in_token && flags.root_key.is_none() && flags.intermediate_key.is_none() {
            return Err(Error::usage(
                "--generate-in-token makes the keys --root-key and --intermediate-key name: \
                 give one of them",
            ));
        }
        let token = TokenChoice {
            root: flags.root_key,
            intermediate: flags.intermediate_key,
            generate: flags.generate_in_token,
            tokens: Tokens::new(flags.pkcs11_module, flags.pin_file),
        };
        Ok(CustomCaOptions {
            token,
            force: flags.force,
            root,
            intermediate,
            leaf_ca,
            self_signed_cas: flags.self_signed_cas,
            passphrases,
            encrypt_keys: flags.encrypt_keys,
            root_key_out: flags.root_key_out,
            cluster,
            live_tls,
            ..defaults
        })
    }
}

/// What `gen-custom-ca`'s flags ask for, as typed values: nothing is
/// defaulted or checked yet (see [`CustomCaOptions::from_flags`]).
#[derive(Debug, Default)]
pub struct CustomCaFlags {
    /// `--root-algorithm`, `--root-days`.
    pub root: CaFlags,
    /// `--intermediate-algorithm`, `--intermediate-days`.
    pub intermediate: CaFlags,
    /// `--leaf-ca-algorithm`, `--leaf-ca-days`.
    pub leaf_ca: CaFlags,
    /// `--self-signed-cas`.
    pub self_signed_cas: bool,
    /// `--password-file`; without it the terminal is asked, when there is one.
    pub password_file: Option<PathBuf>,
    /// `--encrypt-keys`.
    pub encrypt_keys: bool,
    /// `--root-key-out`.
    pub root_key_out: Option<PathBuf>,
    /// The names the cluster is reached by, as flags.
    pub cluster: ClusterFlags,
    /// `--live-data-dir`.
    pub live_data_dir: Option<PathBuf>,
    /// `--force`.
    pub force: bool,
    /// `--root-key pkcs11:...`.
    pub root_key: Option<Pkcs11Uri>,
    /// `--intermediate-key pkcs11:...`.
    pub intermediate_key: Option<Pkcs11Uri>,
    /// `--generate-in-token`.
    pub generate_in_token: bool,
    /// `--pkcs11-module`.
    pub pkcs11_module: Option<PathBuf>,
    /// `--pin-file`.
    pub pin_file: Option<PathBuf>,
}

/// The key type and lifetime asked for one CA of the tree.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaFlags {
    /// `--X-algorithm`.
    pub algorithm: Option<GeneratedKey>,
    /// `--X-days`.
    pub days: Option<u32>,
}

impl CaFlags {
    /// `default` with what was asked laid over it; `flag` names the CA in the
    /// flags (`root`, `leaf-ca`): a lifetime of zero days is refused.
    fn over(self, default: CaSpec, flag: &str) -> Result<CaSpec> {
        if self.days == Some(0) {
            return Err(Error::usage(format!("--{flag}-days must be at least 1")));
        }
        Ok(CaSpec {
            key: self.algorithm.map_or(default.key, GeneratedKey::algorithm),
            validity_days: self.days.unwrap_or(default.validity_days),
        })
    }
}

/// `gen-custom-ca`: finishes commits interrupted anywhere under the data dir,
/// locks it (`tool` names the holder), makes the options from `flags` and
/// plans the tree. Keep the lock until the report is printed.
pub fn lock_and_plan(
    tool: &str,
    data_dir: DataDir,
    flags: CustomCaFlags,
    now: SystemTime,
    dry_run: bool,
) -> Result<(TargetLock, CustomCaRun)> {
    if dry_run && flags.generate_in_token {
        return Err(Error::usage(
            "--dry-run with --generate-in-token: a dry run would leave new keys in the token; \
             drop one of them",
        ));
    }
    let existed = data_dir.root.exists();
    let lock = lock_data_dir(tool, &data_dir, dry_run)?;
    let said = new_root_said(&data_dir, existed);
    let mut run = plan_custom_ca(&CustomCaOptions::from_flags(data_dir, now, flags)?)?;
    if matches!(run.root, Some((Origin::Generated, _))) {
        run.warnings.insert(0, said);
    }
    Ok((lock, run))
}

/// Finishes commits interrupted anywhere under `data_dir` and locks it for
/// `tool`: what every run writing into a data dir's cert dir does first.
pub(crate) fn lock_data_dir(tool: &str, data_dir: &DataDir, dry_run: bool) -> Result<TargetLock> {
    let written = data_dir.written_dirs();
    let lock = lock_target(
        written.iter().map(PathBuf::as_path),
        &data_dir.root,
        tool,
        dry_run,
    )?;
    lock.report_recovered(tool);
    Ok(lock)
}

/// Where a CA of the tree came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Made by this run.
    Generated,
    /// Brought by the user, read from this file.
    Reused(PathBuf),
}

/// How joining nodes will recognise the new CAs: one variant per
/// [`JoinScheme`], holding all the report says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// [`JoinScheme::K3sToken`]: the join-token CA hash of the planned
    /// `server-ca.crt`.
    K3sToken {
        /// The hash (hex), as in `K10<hash>::`.
        ca_hash: String,
    },
    /// [`JoinScheme::KubeadmDiscovery`]: the `--discovery-token-ca-cert-hash`
    /// values, one per certificate of the planned `ca.crt`.
    KubeadmDiscovery {
        /// `sha256:<hex>` each.
        discovery_hashes: Vec<String>,
        /// The `--cert-dir` `kubeadm init` needs: the cert dir, unless it is
        /// the default one kubeadm reads anyway.
        cert_dir: Option<PathBuf>,
    },
    /// [`JoinScheme::K0sPreShared`]: pre-shared tokens are made from `ca_cert`;
    /// every controller starts with the same CA and service-account files.
    K0sPreShared {
        /// The planned `pki/ca.crt`.
        ca_cert: PathBuf,
        /// The files every controller needs, relative to its cert dir.
        shared_files: Vec<String>,
        /// Where a controller reads them: the default data dir's cert dir.
        controller_dir: PathBuf,
    },
}

/// What the run does with the service-account keys, in the layout's
/// [`SaSlot`] (file names as the layout gives them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAccount {
    /// [`SaSlot::KeyFile`] (k3s's `service.key`): a new key first, this many
    /// existing keys after it.
    KeyFile {
        /// The file.
        file: &'static str,
        /// Existing keys kept.
        kept: usize,
    },
    /// [`SaSlot::Pair`] (`sa.key` and `sa.pub`, its public key).
    Pair {
        /// The signing key file.
        key: &'static str,
        /// The public key file.
        public: &'static str,
        /// The brought signing key reused (kubeadm and k0s reuse an existing
        /// one too), or `None` for a new [`SERVICE_ACCOUNT_KEY`].
        reused: Option<PathBuf>,
    },
}

/// A staging tree of a layout that rotates with `rotate-ca --path` (see
/// [`DataDir::stages_rotate_ca`]): how to load it and whether it will be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staging {
    /// The `<product> certificate rotate-ca --path=...` command that loads it.
    pub command: String,
    /// Loading it: the command, the restarts, the tokens and pods to update.
    pub procedure: Procedure,
    /// What rotate-ca will say about it (`Ok`, or the reasons it will refuse),
    /// checked against the live tls dir; `None` without one.
    pub verdict: Option<std::result::Result<(), Vec<String>>>,
}

/// A planned custom CA tree and what to tell the user about it.
pub struct CustomCaRun {
    /// Every file to write.
    pub plan: Plan,
    /// The layout the tree follows.
    pub layout: &'static Layout,
    /// The layout's cert dir: `${DATA_DIR}/server/tls` or `${DATA_DIR}/pki`.
    pub tls_dir: PathBuf,
    /// Where the shared root came from, and its key type; `None` when each CA
    /// is self-signed.
    pub root: Option<(Origin, KeyAlgorithm)>,
    /// Where the intermediate came from, and its key type (`None` likewise).
    pub intermediate: Option<(Origin, KeyAlgorithm)>,
    /// How many CAs of a brought chain sit between the intermediate and the root.
    pub chain_above_intermediate: usize,
    /// The key type of the distribution's CAs.
    pub leaf_ca: KeyAlgorithm,
    /// The service-account keys.
    pub service_account: ServiceAccount,
    /// What joining nodes check the new CAs by.
    pub join: Join,
    /// For kubeadm and k0s: the files holding the chain above each CA
    /// ([intermediate, ..., root]), which clients that trust only the root need.
    pub chain_files: Vec<PathBuf>,
    /// Files the distribution never reads that belong in a vault (root and intermediate).
    pub vault_files: Vec<PathBuf>,
    /// The generated root's key, written out of the tree (`--root-key-out`).
    pub root_key_out: Option<PathBuf>,
    /// Things the user should know that do not stop the run.
    pub warnings: Vec<String>,
    /// For a staging tree: how to load it, and what `rotate-ca` will say.
    pub staging: Option<Staging>,
    /// The live `service.key` carried forward into a staging tree, if any.
    pub service_key_carried: Option<PathBuf>,
    /// The CAs whose key is in a PKCS#11 token (`root`, `intermediate`), by
    /// the key's URI: no file of the tree holds them.
    pub in_token: Vec<(&'static str, String)>,
    /// Those keys: a key generated in the token by this run is destroyed
    /// when the run is dropped, unless [`Self::keep_token_keys`] was called.
    token_keys: Vec<TokenKey>,
}

impl CustomCaRun {
    /// Keeps the keys this run generated in the token: call it once the plan
    /// is written (the certificates that need them are on disk).
    pub fn keep_token_keys(&self) {
        self.token_keys.iter().for_each(TokenKey::keep);
    }
}

/// A CA's key: in memory (read from a file or generated), or in a token.
enum CaKey {
    Memory(PrivateKey),
    Token(TokenKey),
}

impl CaKey {
    fn signing(&self) -> &dyn SigningKey {
        match self {
            CaKey::Memory(key) => key,
            CaKey::Token(key) => key,
        }
    }
}

/// A CA brought by the user or made by this run.
struct Ca {
    cert: Certificate,
    /// The file to write as `X.pem`: the user's bytes when reused.
    pem: Vec<u8>,
    key: Option<CaKey>,
    /// The key file bytes to write: the user's bytes when reused (an encrypted
    /// key stays encrypted).
    key_pem: Option<zeroize::Zeroizing<Vec<u8>>>,
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
    let layout = options.data_dir.layout();
    let tls_dir = options.data_dir.tls_dir();
    if options.self_signed_cas && !layout.self_signed_cas {
        return Err(Error::usage(format!(
            "--self-signed-cas is for kubeadm and k0s: {} makes its own self-signed CAs \
             at first start, and its custom tree shares one root",
            layout.name()
        )));
    }
    let mut warnings = refuse_initialised(layout, &tls_dir, options.force)?;
    let inputs = Inputs::find(&options.data_dir, layout);
    if options.self_signed_cas {
        inputs.refuse_shared_root()?;
    }
    let mut brought = inputs.read(options.now, &options.passphrases, &options.token)?;
    let root_key_out = root_key_out(options, &brought)?;
    // The docs' staging flow copies root-ca.*, intermediate-ca.* and service.key;
    // forgetting service.key makes rotate-ca refuse (k3s issue 7100): carry the
    // live one forward unless one was brought.
    let live_service_key = options
        .live_tls
        .as_ref()
        .map(|tls| tls.join(layout.service_account.key_file()))
        .filter(|path| path.is_file());
    let mut service_key_carried = None;
    if brought.service_key.is_none() {
        if let Some(path) = &live_service_key {
            brought.service_key = Some(ServiceKeyFile::read(path)?);
            service_key_carried = Some(path.clone());
        }
    }
    // kubeadm and k0s keep a brought sa.key; k3s always puts a new key first.
    let reused_sa_key = match layout.service_account {
        SaSlot::Pair { .. } => brought
            .service_key
            .take()
            .map(one_signing_key)
            .transpose()?,
        SaSlot::KeyFile(_) => None,
    };

    // Every key of the run at once: the RSA prime searches share the cores,
    // on their own thread while this one goes on (see `PendingKeys`). In the
    // order they are needed: the service key last, so that a tree of
    // elliptic-curve CAs is issued and checked while its search runs.
    let mut wanted = Vec::new();
    let shared_root = !options.self_signed_cas;
    // A new root or intermediate whose key is in a token needs none here.
    if shared_root && brought.root.is_none() && options.token.root.is_none() {
        wanted.push(options.root.key);
    }
    if shared_root && brought.intermediate.is_none() && options.token.intermediate.is_none() {
        wanted.push(options.intermediate.key);
    }
    wanted.extend(std::iter::repeat_n(options.leaf_ca.key, layout.cas.len()));
    if reused_sa_key.is_none() {
        wanted.push(SERVICE_ACCOUNT_KEY);
    }
    let mut keys = PrivateKey::start_all(&wanted)?;
    let mut next_key = move || keys.take();

    let (timestamp, not_before) = run_timestamp(options.now);
    let product = options.data_dir.product;
    let naming = Naming { not_before };
    // The root and the intermediate alike: the one brought, or a new one on
    // the run's next key, issued by the CA above it (the root by itself).
    let mut shared_ca = |brought: Option<Ca>,
                         what: &str,
                         spec: &CaSpec,
                         key_file: &str,
                         issuer: Option<&Ca>|
     -> Result<Ca> {
        if let Some(ca) = brought {
            return Ok(ca);
        }
        let key = match options.token.new_key(what, spec.key)? {
            Some(key) => CaKey::Token(key),
            None => CaKey::Memory(next_key()?),
        };
        let (signer, above) = match issuer {
            Some(issuer) => (signer_of(issuer)?, vec![&issuer.cert]),
            None => (Issuer::SelfSigned(key.signing()), Vec::new()),
        };
        let cert = naming.issue(
            &mut warnings,
            &format!("{what} CA"),
            &custom_cn(product, what, timestamp),
            key.signing(),
            spec,
            signer,
            &above,
        )?;
        generated(cert, key, options, &tls_dir.join(key_file))
    };
    let mut above = if shared_root {
        let root = shared_ca(brought.root, "root", &options.root, files::ROOT_KEY, None)?;
        let intermediate = shared_ca(
            brought.intermediate,
            "intermediate",
            &options.intermediate,
            files::INTERMEDIATE_KEY,
            Some(&root),
        )?;
        Some((root, intermediate))
    } else {
        None
    };
    // [intermediate, above..., root]: what every bundle ends with (empty for
    // self-signed CAs).
    let chain: Vec<&Certificate> = match &above {
        Some((root, intermediate)) => std::iter::once(&intermediate.cert)
            .chain(&intermediate.above)
            .chain(std::iter::once(&root.cert))
            .collect(),
        None => Vec::new(),
    };
    let mut cas = Vec::new();
    for slot in layout.cas {
        let key = next_key()?;
        let signer = match &above {
            Some((_, intermediate)) => signer_of(intermediate)?,
            None => Issuer::SelfSigned(&key),
        };
        let cert = naming.issue(
            &mut warnings,
            &format!("CA {}", slot.stem),
            &layout.ca_common_name(slot, timestamp),
            &key,
            &options.leaf_ca,
            signer,
            &chain,
        )?;
        cas.push((slot, cert, key));
    }
    warnings.dedup();

    let signing: Vec<SigningCa<'_>> = cas
        .iter()
        .map(|(slot, cert, key)| SigningCa {
            stem: slot.stem.to_string(),
            cert,
            key,
            source: format!("the generated {}", slot.stem),
        })
        .collect();
    let leaves = layout.leaves(&options.cluster);
    let root = above.as_ref().map(|(root, _)| PathCert {
        cert: &root.cert,
        source: root.source("root"),
    });
    let root_path = above
        .as_ref()
        .map(|(_, intermediate)| chain_sources(intermediate))
        .unwrap_or_default();
    let report = preflight::run(
        layout.name(),
        root.as_ref(),
        &root_path,
        &signing,
        &leaves,
        options.now,
    )?;
    warnings.extend(report.into_result()?);

    let in_tls = |name: &str| tls_dir.join(name);
    let mut plan = Plan::new();
    for (path, role) in inputs.recorded() {
        plan.uses(path, role);
    }
    if let Some(path) = &service_key_carried {
        plan.uses(path.clone(), "the live service-account key");
    }
    if let Some(path) = options.passphrases.file() {
        plan.reads_passphrase(path.to_path_buf());
    }
    if let Some((root, intermediate)) = &above {
        plan.add_public(in_tls(files::ROOT_PEM), root.pem.clone());
        plan.add_public(in_tls(files::ROOT_CRT), root.cert.to_pem());
        plan.add_public(in_tls(files::INTERMEDIATE_PEM), intermediate.pem.clone());
        plan.add_public(
            in_tls(files::INTERMEDIATE_CRT),
            bundle_pem(chain.iter().copied()),
        );
        let root_key = root_key_out
            .clone()
            .unwrap_or_else(|| in_tls(files::ROOT_KEY));
        for (path, ca) in [
            (root_key, root),
            (in_tls(files::INTERMEDIATE_KEY), intermediate),
        ] {
            if let Some(key_pem) = &ca.key_pem {
                plan.add_secret(path, key_pem.to_vec());
            }
        }
    }
    let mut chain_files = Vec::new();
    for (slot, cert, key) in &cas {
        plan.add_secret(
            in_tls(&layout.key_file(slot)),
            key.to_pem()?.as_bytes().to_vec(),
        );
        for (name, contents, is_chain) in layout.ca_files.public_files(slot.stem, cert, &chain) {
            if is_chain {
                chain_files.push(in_tls(&name));
            }
            plan.add_public(in_tls(&name), contents);
        }
    }

    // The public keys of the staged service-account file that the live
    // signing key may be among, for rotate-ca's check: every key of a
    // kubeadm or k0s sa.key, the kept ones of a k3s service.key (its new key
    // can never be the live one, and is not waited for).
    let mut kept_public_keys = Vec::new();
    let service_account = match layout.service_account {
        SaSlot::KeyFile(name) => {
            if reused_sa_key.is_some() {
                return Err(Error::bug("a kept sa.key for a layout with service.key"));
            }
            let existing = brought.service_key.take();
            let kept = existing.as_ref().map_or(0, |file| file.keys.len());
            kept_public_keys.extend(
                existing
                    .iter()
                    .flat_map(|file| file.keys.iter().map(|k| k.public_key_der.clone())),
            );
            // Made only when the commit has written every other file: the
            // tree is issued, checked and written while its search runs.
            plan.add_secret_late(in_tls(name), move || {
                let new = next_key()?.to_pem()?;
                Ok(match &existing {
                    Some(existing) => existing.after(new.as_bytes()),
                    None => new.as_bytes().to_vec(),
                })
            })?;
            ServiceAccount::KeyFile { file: name, kept }
        }
        SaSlot::Pair { key, public } => {
            let (private, reused) = match &reused_sa_key {
                Some(file) => (file.bytes.clone(), Some(file.path.clone())),
                None => (next_key()?.to_pem()?.as_bytes().to_vec(), None),
            };
            plan.add_secret(in_tls(key), private);
            let planned = ServiceKeyFile::parse(plan.planned_pem(&in_tls(key))?)?;
            let signing = planned
                .signing_key()
                .ok_or_else(|| Error::bug("the planned sa.key has no signing key"))?;
            plan.add_public(in_tls(public), signing.public_pem());
            kept_public_keys.extend(planned.keys.iter().map(|k| k.public_key_der.clone()));
            ServiceAccount::Pair {
                key,
                public,
                reused,
            }
        }
    };

    let join_ca = in_tls(&format!("{}.crt", layout.join_ca));
    let join = match layout.join {
        JoinScheme::K3sToken => Join::K3sToken {
            ca_hash: k3s_ca_hash_of(&plan.planned_pem(&join_ca)?, options.now)?,
        },
        JoinScheme::KubeadmDiscovery => Join::KubeadmDiscovery {
            discovery_hashes: bundle_in(&plan.planned_pem(&join_ca)?)?
                .iter()
                .map(discovery_hash)
                .collect::<Result<_>>()?,
            cert_dir: (!options.data_dir.is_default()).then(|| tls_dir.clone()),
        },
        JoinScheme::K0sPreShared => Join::K0sPreShared {
            ca_cert: join_ca,
            shared_files: shared_files(layout),
            controller_dir: DataDir::default_root(product).join(layout.cert_dir),
        },
    };
    let verdict = match &options.live_tls {
        Some(live) if live.is_dir() => Some(rotate_ca_verdict(
            layout,
            &plan,
            &tls_dir,
            &kept_public_keys,
            live,
            options.now,
        )?),
        _ => None,
    };
    // The join hash changes unless the root stays: compared with the live one.
    let new_hash = match (&join, &options.live_tls) {
        (Join::K3sToken { ca_hash }, Some(live)) => {
            PemFile::read(&live.join(format!("{}.crt", layout.join_ca)))
                .and_then(|live| k3s_ca_hash_of(&live, options.now))
                .map_or(true, |live| &live != ca_hash)
        }
        _ => true,
    };
    let new_root = match &verdict {
        Some(Ok(())) => NewRoot::No,
        Some(Err(_)) => NewRoot::Yes,
        None => NewRoot::Unknown,
    };
    let staging = options.data_dir.stages_rotate_ca().then(|| Staging {
        command: rotate_ca_command(layout, &options.data_dir.cert_parent()),
        procedure: ca_load_procedure(layout, &options.data_dir.cert_parent(), new_hash, new_root),
        verdict,
    });
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
    .collect::<Vec<_>>();
    // The vault's keys never go to the cluster: a record says so.
    for path in vault_files.iter().chain(&root_key_out) {
        if plan
            .files()
            .iter()
            .any(|f| &f.path == path && f.mode == SECRET_MODE)
        {
            plan.stays_behind(path.clone());
        }
    }
    let in_token = match &above {
        Some((root, intermediate)) => [("root", root), ("intermediate", intermediate)]
            .into_iter()
            .filter_map(|(what, ca)| match &ca.key {
                Some(CaKey::Token(key)) => Some((what, key.uri().to_string())),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let token_keys = match &mut above {
        Some((root, intermediate)) => [&mut root.key, &mut intermediate.key]
            .into_iter()
            .filter_map(|key| match key.take() {
                Some(CaKey::Token(key)) => Some(key),
                other => {
                    *key = other;
                    None
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let (root, intermediate, chain_above_intermediate) = match &above {
        Some((root, intermediate)) => (
            Some((root.origin.clone(), root.cert_algorithm()?)),
            Some((intermediate.origin.clone(), intermediate.cert_algorithm()?)),
            intermediate.above.len(),
        ),
        None => (None, None, 0),
    };
    Ok(CustomCaRun {
        plan,
        tls_dir: tls_dir.clone(),
        root,
        intermediate,
        chain_above_intermediate,
        leaf_ca: options.leaf_ca.key,
        service_account,
        join,
        chain_files,
        vault_files,
        root_key_out,
        warnings,
        staging,
        service_key_carried,
        in_token,
        token_keys,
        layout,
    })
}

/// A brought `sa.key` for kubeadm or k0s: one key, which signs (both read the
/// first private key of the file and ignore the rest).
fn one_signing_key(file: ServiceKeyFile) -> Result<ServiceKeyFile> {
    if file.keys.len() != 1 {
        return Err(Error::at(
            &file.path,
            Kind::Key(format!(
                "holds {} keys; this file is the one signing key (verify keys belong in sa.pub)",
                file.keys.len()
            )),
        ));
    }
    Ok(file)
}

/// The files every controller of the cluster must start with, relative to the
/// cert dir: each CA's certificate and key, and the service-account files.
fn shared_files(layout: &Layout) -> Vec<String> {
    let service_account = match layout.service_account {
        SaSlot::KeyFile(name) => vec![name],
        SaSlot::Pair { key, public } => vec![key, public],
    };
    layout
        .cas
        .iter()
        .flat_map(|ca| [layout.cert_file(ca), layout.key_file(ca)])
        .chain(service_account.into_iter().map(str::to_string))
        .collect()
}

/// The CN of a custom tree's root or intermediate: `k3s-root-ca@1700000000`.
fn custom_cn(product: Product, what: &str, timestamp: u64) -> String {
    format!("{}-{what}-ca@{timestamp}", product.name())
}

/// rotate-ca's rules on the planned staging tree against the live one: each
/// staged bundle's first certificate must chain to the current roots (the key
/// files match by construction), and the new service.key must keep the live
/// signing key (`staged_service_keys`: the public keys it keeps).
fn rotate_ca_verdict(
    layout: &Layout,
    plan: &Plan,
    staged_tls: &Path,
    staged_service_keys: &[Vec<u8>],
    live_tls: &Path,
    now: SystemTime,
) -> Result<std::result::Result<(), Vec<String>>> {
    let mut refusals = Vec::new();
    for ca in layout.cas {
        let name = layout.cert_file(ca);
        let staged = bundle_in(&plan.planned_pem(&staged_tls.join(&name))?)?;
        let current = match PemFile::read(&live_tls.join(&name)).and_then(|f| bundle_in(&f)) {
            Ok(current) => current,
            Err(e) => {
                refusals.push(format!("current {name} unreadable: {e}"));
                continue;
            }
        };
        let finding = crate::checks::staged::bundle_finding(&name, &staged, &current, now);
        if finding.verdict == crate::checks::finding::Verdict::Fail {
            refusals.push(format!("{name}: {}", finding.reason));
        }
    }
    let key_file = layout.service_account.key_file();
    if let Ok(live) = ServiceKeyFile::read(&live_tls.join(key_file)) {
        if let Some(signing) = live.signing_key() {
            if !staged_service_keys.contains(&signing.public_key_der) {
                refusals.push(format!(
                    "{key_file}: does not keep the live signing key {}",
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

/// What every CA of a run shares: the run's start.
struct Naming {
    not_before: SystemTime,
}

impl Naming {
    /// Issues the CA `what` (for messages: `root CA`, `CA server-ca`) named
    /// `common_name` for `spec.validity_days`, capped at the end of the CAs
    /// `above` it: a CA never outlives its issuer, and the user is told when it
    /// is capped.
    #[allow(
        clippy::too_many_arguments,
        reason = "one CA of the run, fully described"
    )]
    fn issue(
        &self,
        warnings: &mut Vec<String>,
        what: &str,
        common_name: &str,
        key: &dyn SigningKey,
        spec: &CaSpec,
        signer: Issuer<'_>,
        above: &[&Certificate],
    ) -> Result<Certificate> {
        let wanted_end = days_after(self.not_before, spec.validity_days);
        let not_after = match above.iter().map(|c| c.not_after()).min() {
            Some(cap) if cap < wanted_end => {
                warnings.push(format!(
                    "the {what} would outlive the CA above it: its end is capped at {} \
                     instead of {} days",
                    format_time(cap),
                    spec.validity_days
                ));
                cap
            }
            _ => wanted_end,
        };
        issue_ca(
            &CaRequest {
                common_name,
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

/// A cert dir that holds the layout's CA files belongs to an initialised
/// cluster: refused without `force`, and with it, a warning.
pub(crate) fn refuse_initialised(
    layout: &Layout,
    tls_dir: &Path,
    force: bool,
) -> Result<Vec<String>> {
    let existing: Vec<PathBuf> = layout
        .initialised_files(tls_dir)
        .into_iter()
        .filter(|path| path.exists())
        .collect();
    if existing.is_empty() {
        return Ok(Vec::new());
    }
    if !force {
        return Err(Error::at(
            tls_dir,
            Kind::Initialised {
                found: existing,
                advice: layout.rotation_advice,
            },
        ));
    }
    Ok(vec![format!(
        "--force: replacing the CAs in {}. On a cluster that has been started this \
         breaks every certificate it issued. {}.",
        tls_dir.display(),
        layout.rotation_advice
    )])
}

/// Where `--root-key-out` puts the generated root's key: `DIR/root-ca.key`,
/// refused when the root is brought (its key is already where you keep it),
/// when DIR lies inside the data dir, or when it already holds a root key
/// (a root key on removable media is never overwritten).
fn root_key_out(options: &CustomCaOptions, brought: &Brought) -> Result<Option<PathBuf>> {
    let Some(dir) = &options.root_key_out else {
        return Ok(None);
    };
    let at = Location::Flag {
        name: "--root-key-out",
        value: Some(dir.display().to_string()),
    };
    let refuse = |problem: String| Err(Error::at(at.clone(), Kind::Inputs(problem)));
    if options.self_signed_cas {
        return refuse("--self-signed-cas makes no shared root".into());
    }
    if let Some(root) = &brought.root {
        return refuse(format!(
            "writes a generated root's key, but the root is brought ({}): keep its key where \
             it is and bring {} + {} instead of {}",
            root.source("root"),
            files::INTERMEDIATE_PEM,
            files::INTERMEDIATE_KEY,
            files::ROOT_KEY
        ));
    }
    // Compared after following every link of what exists: a path spelled
    // another way into the tree is caught too.
    let resolved = |path: &Path| -> PathBuf {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut path = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_path_buf());
        path.extend(rest.iter().rev());
        path
    };
    if resolved(dir).starts_with(resolved(&options.data_dir.root)) {
        return refuse(format!(
            "lies inside the data dir {}: the root key must leave the tree (removable media)",
            options.data_dir.root.display()
        ));
    }
    let path = dir.join(files::ROOT_KEY);
    if path.exists() {
        return Err(Error::at(
            &path,
            Kind::Inputs(
                "already holds a root key, which is never overwritten: choose another directory"
                    .into(),
            ),
        ));
    }
    Ok(Some(path))
}

/// Said when a new root is made: a mistyped `--data-dir` would otherwise make
/// one silently where the user meant to bring theirs. `existed`: whether the
/// data directory did before this run (locking it creates it).
fn new_root_said(data_dir: &DataDir, existed: bool) -> String {
    if existed {
        format!(
            "no {} in {} or {}: a new root CA is made",
            files::ROOT_PEM,
            data_dir.root.display(),
            data_dir.tls_dir().display()
        )
    } else {
        format!(
            "{} did not exist: it is made, with a new root CA (check --data-dir if your {} is elsewhere)",
            data_dir.root.display(),
            files::ROOT_PEM
        )
    }
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
    /// Where they were looked for: `${DATA_DIR}` and the cert dir.
    looked_in: [PathBuf; 2],
}

impl Inputs {
    /// `${DATA_DIR}/X` wins over the cert dir's `X`, as the script copies the
    /// former over the latter. The service-account key is the layout's
    /// (`service.key`, `sa.key`).
    fn find(data_dir: &DataDir, layout: &Layout) -> Self {
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
            service_key: find(layout.service_account.key_file()),
            looked_in: [data_dir.root.clone(), tls],
        }
    }

    /// The files found, with their roles, for a ceremony record.
    fn recorded(&self) -> Vec<(PathBuf, &'static str)> {
        [
            (&self.root_pem, "the root certificate"),
            (&self.root_key, "the root key"),
            (&self.intermediate_pem, "the intermediate certificate"),
            (&self.intermediate_key, "the intermediate key"),
            (&self.service_key, "the service-account key"),
        ]
        .into_iter()
        .filter_map(|(path, role)| path.clone().map(|p| (p, role)))
        .collect()
    }

    /// That `name` is missing, and where it was looked for.
    fn none_of(&self, name: &str) -> String {
        let [root, tls] = &self.looked_in;
        format!("no {name} in {} or {}", root.display(), tls.display())
    }

    /// With self-signed CAs there is no shared root to bring: a brought root
    /// or intermediate is refused rather than silently ignored.
    fn refuse_shared_root(&self) -> Result<()> {
        let brought = [
            &self.root_pem,
            &self.root_key,
            &self.intermediate_pem,
            &self.intermediate_key,
        ]
        .into_iter()
        .find_map(Option::as_ref);
        match brought {
            Some(path) => Err(Error::at(
                path,
                Kind::Inputs(
                    "--self-signed-cas makes each CA its own root: remove this file, \
                     or drop the flag to sign the CAs under it"
                        .into(),
                ),
            )),
            None => Ok(()),
        }
    }

    /// Reads and checks every input before anything is generated: each CA is
    /// usable, each key matches its certificate, the intermediate was issued by
    /// the root, and the combination can sign the leaf CAs.
    fn read(
        &self,
        now: SystemTime,
        passphrases: &Passphrases,
        token: &TokenChoice,
    ) -> Result<Brought> {
        for (uri, file, name) in [
            (&token.root, &self.root_key, files::ROOT_KEY),
            (
                &token.intermediate,
                &self.intermediate_key,
                files::INTERMEDIATE_KEY,
            ),
        ] {
            if let (Some(_), Some(file)) = (uri, file) {
                return Err(Error::at(
                    file,
                    Kind::Inputs(format!(
                        "a {name} file and a key in the token for the same CA: \
                         remove the file or drop the flag"
                    )),
                ));
            }
        }
        let read = |path: &Option<PathBuf>| path.as_deref().map(|p| read_ca(p, now)).transpose();
        let (mut root, mut intermediate) = (read(&self.root_pem)?, read(&self.intermediate_pem)?);
        if let (Some(root), Some(path)) = (&root, &self.root_pem) {
            require_root_alone(root, path)?;
        }
        let service_key = self
            .service_key
            .as_deref()
            .map(ServiceKeyFile::read)
            .transpose()?;
        let missing = |path: &Option<PathBuf>, problem: String| match path {
            Some(path) => Error::at(path, Kind::Inputs(problem)),
            None => Error::new(Kind::Inputs(problem)),
        };
        if let (Some(root), Some(uri)) = (&mut root, &token.root) {
            attach_token_key(root, uri, token)?;
        }
        match (&mut root, &self.root_key) {
            (Some(root), Some(key)) => attach_key(root, key, passphrases)?,
            (None, Some(_)) => {
                return Err(missing(
                    &self.root_key,
                    format!(
                        "{} without {} ({}): bring both",
                        files::ROOT_KEY,
                        files::ROOT_PEM,
                        self.none_of(files::ROOT_PEM)
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
                        "{} without {} ({}): bring the root certificate that issued it",
                        files::INTERMEDIATE_PEM,
                        files::ROOT_PEM,
                        self.none_of(files::ROOT_PEM)
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
                if let Some(uri) = &token.intermediate {
                    attach_token_key(intermediate, uri, token)?;
                } else {
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
                                "no {} to sign the leaf CAs with ({}): {hint}",
                                files::INTERMEDIATE_KEY,
                                self.none_of(files::INTERMEDIATE_KEY)
                            ),
                        ));
                    };
                    attach_key(intermediate, key, passphrases)?;
                }
            }
            (None, _) if self.intermediate_key.is_some() => {
                // A key beside its request is a ceremony half done.
                let pending = self
                    .intermediate_key
                    .as_ref()
                    .map(|key| key.with_file_name(INTERMEDIATE_CSR))
                    .filter(|csr| csr.is_file());
                let advice = match pending {
                    Some(csr) => format!(
                        "the request {} is pending: bring the {} your PKI signed and its {} \
                         to finish it",
                        csr.display(),
                        files::INTERMEDIATE_PEM,
                        files::ROOT_PEM
                    ),
                    None => "bring both, or neither".to_string(),
                };
                return Err(missing(
                    &self.intermediate_key,
                    format!(
                        "{} without {} ({}): {advice}",
                        files::INTERMEDIATE_KEY,
                        files::INTERMEDIATE_PEM,
                        self.none_of(files::INTERMEDIATE_PEM)
                    ),
                ));
            }
            (None, Some(root)) if root.key.is_none() => {
                let root_pem = self.root_pem.clone().unwrap_or_default();
                return Err(Error::at(
                    root_pem.with_file_name(files::ROOT_KEY),
                    Kind::Inputs(format!(
                        "cannot make an intermediate without the root key ({}): bring {} (or {} and {})",
                        self.none_of(files::ROOT_KEY),
                        files::ROOT_KEY,
                        files::INTERMEDIATE_PEM,
                        files::INTERMEDIATE_KEY
                    )),
                ));
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
    let mut file = PemFile::read(path)?;
    let mut certs = bundle_in(&file)?;
    for (i, cert) in certs.iter().enumerate() {
        let location = match i {
            0 => Location::from(path),
            i => Location::Certificate {
                path: path.to_path_buf(),
                index: i + 1,
            },
        };
        check_ca_key_size(cert.public_key())
            .map_err(|problem| Error::at(location, Kind::Key(problem)))?;
    }
    let cert = certs.remove(0);
    cert.require_usable_ca(path, now)?;
    Ok(Ca {
        cert,
        pem: std::mem::take(&mut file.bytes),
        key: None,
        key_pem: None,
        origin: Origin::Reused(path.to_path_buf()),
        above: certs,
    })
}

/// Refuses a `root-ca.pem` holding more than the root. Which certificate is
/// the root would be a guess (the first is what openssl and the upstream
/// script use), and the file is copied as the tree's trust anchor: every
/// client given it would trust each certificate in it, so an extra
/// certificate is an extra root for the whole cluster.
fn require_root_alone(root: &Ca, path: &Path) -> Result<()> {
    if root.above.is_empty() {
        return Ok(());
    }
    Err(Error::at(
        path,
        Kind::Inputs(format!(
            "holds {} certificates; {} must hold the root alone: the first (\"{}\") \
             would be taken as the root, and every client given the file would trust all \
             of them; keep only the root in it (a chain above an issuing CA goes into {})",
            root.above.len() + 1,
            files::ROOT_PEM,
            root.cert.subject_cn(),
            files::INTERMEDIATE_PEM
        )),
    ))
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
        0 => Location::from(intermediate_path),
        i => Location::Certificate {
            path: intermediate_path.to_path_buf(),
            index: i + 1,
        },
    };
    for (i, cert) in intermediate.above.iter().enumerate() {
        cert.require_usable_ca(at(i + 1), now)?;
    }
    let links: Vec<&Certificate> = std::iter::once(&intermediate.cert)
        .chain(&intermediate.above)
        .chain(std::iter::once(&root.cert))
        .collect();
    for (i, pair) in links.windows(2).enumerate() {
        check_issued_by(pair[0], pair[1]).map_err(|problem| {
            let issuer = if i + 2 == links.len() {
                Location::from(root_path)
            } else {
                at(i + 1)
            };
            Error::at(at(i), Kind::NotIssuedBy { issuer, problem })
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
            Origin::Generated => return Err(Error::bug("a key brought for a generated CA")),
        };
        return Err(Error::at(key_path, Kind::KeyMismatch { cert }));
    }
    ca.key = Some(CaKey::Memory(key));
    ca.key_pem = Some(zeroize::Zeroizing::new(file.bytes.clone()));
    Ok(())
}

/// Attaches the token key `uri` names to a brought CA, checking it is the
/// certificate's. Nothing is written for it: the key stays in the token.
/// `--generate-in-token` makes keys only for the CAs the run makes: a brought
/// certificate's key must already be in the token.
fn attach_token_key(ca: &mut Ca, uri: &Pkcs11Uri, token: &TokenChoice) -> Result<()> {
    let key = token.tokens.open(uri)?;
    let theirs = der::Encode::to_der(ca.cert.public_key())
        .map_err(|e| Error::crypto("encoding a public key", e))?;
    if key.public_key_der()? != theirs {
        return Err(Error::at(
            crate::pki::error::Location::Token(uri.to_string()),
            Kind::Key(format!("this key is not the one of {}", ca.source("CA"))),
        ));
    }
    ca.key = Some(CaKey::Token(key));
    Ok(())
}

/// A CA this run made; its key is written encrypted when asked.
fn generated(
    cert: Certificate,
    key: CaKey,
    options: &CustomCaOptions,
    key_path: &Path,
) -> Result<Ca> {
    let key_pem = match &key {
        CaKey::Memory(key) if options.encrypt_keys => {
            Some(key.to_encrypted_pem(options.passphrases.get_new(key_path)?)?)
        }
        CaKey::Memory(key) => Some(key.to_pem()?),
        // The key stays in the token: no file holds it.
        CaKey::Token(_) => None,
    };
    Ok(Ca {
        pem: cert.to_pem().into_bytes(),
        cert,
        key: Some(key),
        key_pem: key_pem.map(|pem| zeroize::Zeroizing::new(pem.as_bytes().to_vec())),
        origin: Origin::Generated,
        above: Vec::new(),
    })
}

impl Ca {
    fn cert_algorithm(&self) -> Result<KeyAlgorithm> {
        crate::pki::keys::PublicKey::from_spki(self.cert.public_key())
            .map(|k| k.algorithm())
            .map_err(|problem| match &self.origin {
                Origin::Reused(path) => {
                    let path = path.clone();
                    Error::at(Location::Certificate { path, index: 1 }, Kind::Key(problem))
                }
                Origin::Generated => Error::bug("a generated CA's key is of no known algorithm"),
            })
    }
}

fn signer_of(ca: &Ca) -> Result<Issuer<'_>> {
    match &ca.key {
        Some(key) => Ok(Issuer::Ca {
            cert: &ca.cert,
            key: key.signing(),
        }),
        None => Err(Error::bug("the issuing CA has no key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flag lays over the default only what it names; zero days is refused
    /// with the flag's name.
    #[test]
    fn ca_flags_lay_over_the_defaults() {
        let asked = CaFlags {
            algorithm: Some(GeneratedKey::ECDSA_P256),
            days: None,
        };
        assert_eq!(
            asked.over(ROOT, "root").unwrap(),
            CaSpec {
                key: KeyAlgorithm::EcdsaP256,
                validity_days: ROOT.validity_days,
            }
        );
        let zero = CaFlags {
            algorithm: None,
            days: Some(0),
        };
        let refused = zero.over(ROOT, "leaf-ca").unwrap_err().to_string();
        assert_eq!(refused, "--leaf-ca-days must be at least 1");
    }

    /// kubeadm and k0s controllers share every CA and both service-account files.
    #[test]
    fn every_controller_shares_the_cas_and_the_service_account_files() {
        let files = shared_files(Product::K0s.layout());
        assert_eq!(files.first().map(String::as_str), Some("ca.crt"));
        assert_eq!(&files[files.len() - 2..], ["sa.key", "sa.pub"]);
        assert_eq!(files.len(), 2 * 3 + 2);
    }
}
