//! The run of `sign-csr`: the CA's half of kubeadm's external-CA flow, and of
//! any "send me a CSR" request.
//!
//! Two modes build one [`Plan`]:
//! - kubeadm ([`plan_kubeadm`]): every CSR `kubeadm certs generate-csr` writes
//!   is matched to its row of [`crate::layout::kubeadm::CERTIFICATES`], which
//!   gives the CA, the subject it must carry, its usages and the names it may
//!   hold; certificates land as `<base>.crt` beside their key, kubeconfig
//!   certificates in their partial kubeconfig (see [`crate::layout::kubeconfig`]).
//! - generic ([`plan_generic`]): one CSR or a directory of them, one CA, one
//!   [`CsrProfile`].
//!
//! The tool's flags pick the mode ([`SignCsrRequest::from_flags`]), which then
//! locks what it writes and plans ([`SignCsrRequest::lock_and_plan`]).
//!
//! Either way the CSR only proposes a subject, a key and names (see
//! [`crate::pki::csr`]); usages and validity come from the profile, and a
//! certificate never outlives its CA. Every CSR is checked before anything is
//! issued; each refusal is one [`Error`] naming its CSR, and a run with any
//! refusal writes nothing.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::layout::k3s;
use crate::layout::kubeadm::{
    self, CERTIFICATES, KubeadmCa, KubeadmCert, KubeadmNames, Names, with_suffix,
};
use crate::layout::kubeconfig::Kubeconfig;
use crate::layout::{ClusterNames, Layout, Product};
use crate::pki::cert::{Certificate, format_time, read_bundle};
use crate::pki::constraints::Usage;
use crate::pki::csr::Csr;
use crate::pki::error::{CsrProblem, Error, Kind, Result};
use crate::pki::issue::{IssueRequest, Issuer, Profile, days_after, issue};
use crate::pki::keys::pkcs11::{Pkcs11Uri, Tokens};
use crate::pki::keys::{KeyAlgorithm, PassphraseSource, Passphrases, PrivateKey, SigningKey};
use crate::pki::names::{San, SanPattern, subject_name};
use crate::pki::pem::PemFile;
use crate::runs::csr_policy::{Policy, admit, kept_sans};
use crate::runs::k8s_csr;
use crate::store::lock::TargetLock;
use crate::store::plan::Plan;

/// Default lifetime of a signed certificate: kubeadm's 8760h.
pub const DEFAULT_DAYS: u32 = 365;

/// How far `notBefore` lies before now, as kubeadm's `CertificateBackdate`:
/// clocks of the machines that check the certificate may lag the CA's.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A CA that signs: its first certificate and its key.
pub struct SigningCa {
    /// What reports call it (`ca`, `etcd/ca`, or the certificate file).
    pub label: String,
    /// Its certificate file.
    pub cert_path: PathBuf,
    /// The first certificate of that file (what kubeadm treats as the CA).
    pub cert: Certificate,
    /// Boxed: a CA key read from a file or held in a token, the same type.
    key: Box<dyn SigningKey>,
}

impl SigningCa {
    /// Loads the first certificate of `cert_path` and the key of `key_path`
    /// (decrypted with `passphrases` when encrypted), or the token key
    /// `key_path` names when it is a `pkcs11:` URI (reached through `tokens`);
    /// the certificate must be a CA valid at `now` and the key its own.
    pub fn load(
        label: &str,
        cert_path: &Path,
        key_path: &Path,
        passphrases: &Passphrases,
        tokens: &Tokens,
        now: SystemTime,
    ) -> Result<Self> {
        let cert = read_bundle(cert_path)?.swap_remove(0);
        cert.require_usable_ca(cert_path, now)?;
        let key = open_key(key_path, passphrases, tokens)?;
        require_key_of(key.as_ref(), key_path, &cert, cert_path)?;
        Ok(SigningCa {
            label: label.to_string(),
            cert_path: cert_path.to_path_buf(),
            cert,
            key,
        })
    }

    /// Its key, to sign with.
    pub(crate) fn key(&self) -> &dyn SigningKey {
        self.key.as_ref()
    }

    /// A CA whose key is held elsewhere than in a file [`Self::load`] reads.
    /// The caller has checked what `load` checks: `cert` is a CA valid now,
    /// and `key` is its key.
    pub fn new(
        label: &str,
        cert_path: &Path,
        cert: Certificate,
        key: impl SigningKey + 'static,
    ) -> Self {
        SigningCa {
            label: label.to_string(),
            cert_path: cert_path.to_path_buf(),
            cert,
            key: Box::new(key),
        }
    }
}

/// The key `key_path` names: the token key of a `pkcs11:` URI (reached
/// through `tokens`), else the first private key of the file, decrypted with
/// `passphrases` when encrypted.
pub(crate) fn open_key(
    key_path: &Path,
    passphrases: &Passphrases,
    tokens: &Tokens,
) -> Result<Box<dyn SigningKey>> {
    if let Some(uri) = key_path.to_str().filter(|p| Pkcs11Uri::is_uri(p)) {
        let uri: Pkcs11Uri = uri.parse()?;
        return Ok(Box::new(tokens.open(&uri)?));
    }
    let key = PrivateKey::first_in_decrypting(&PemFile::read(key_path)?, passphrases)?;
    Ok(Box::new(key))
}

/// Refuses `key` (opened from `key_path`) when it is not the key of `cert`
/// (read from `cert_path`).
pub(crate) fn require_key_of(
    key: &dyn SigningKey,
    key_path: &Path,
    cert: &Certificate,
    cert_path: &Path,
) -> Result<()> {
    let theirs = der::Encode::to_der(cert.public_key())
        .map_err(|e| Error::crypto("encoding a public key", e))?;
    if key.public_key_der()? == theirs {
        return Ok(());
    }
    Err(match key_path.to_str().filter(|p| Pkcs11Uri::is_uri(p)) {
        Some(uri) => Error::at(
            crate::pki::error::Location::Token(
                uri.parse::<Pkcs11Uri>()
                    .map_or_else(|_| uri.to_string(), |uri| uri.to_string()),
            ),
            Kind::Key(format!(
                "this key is not the one of {}",
                cert_path.display()
            )),
        ),
        None => Error::at(
            key_path,
            Kind::KeyMismatch {
                cert: cert_path.to_path_buf(),
            },
        ),
    })
}

/// The profile of a generic run: the usages it gives, and the identity and
/// names a CSR may ask for under it (see [`super::csr_policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrProfile {
    /// TLS server: serverAuth, SANs kept.
    Server,
    /// TLS client: clientAuth, SANs dropped.
    Client,
    /// Peer (etcd): serverAuth and clientAuth, SANs kept.
    Peer,
    /// A kubelet's serving certificate (`kubernetes.io/kubelet-serving`):
    /// `CN=system:node:<name>, O=system:nodes`, serverAuth, only the node's
    /// own names.
    KubeletServing,
    /// A kubelet's client certificate
    /// (`kubernetes.io/kube-apiserver-client-kubelet`): the same identity,
    /// clientAuth, no names.
    KubeletClient,
}

impl CsrProfile {
    /// Every profile, in the order help texts list them.
    pub const ALL: [CsrProfile; 5] = [
        CsrProfile::Server,
        CsrProfile::Client,
        CsrProfile::Peer,
        CsrProfile::KubeletServing,
        CsrProfile::KubeletClient,
    ];

    /// Its extended key usages.
    pub fn usages(self) -> &'static [Usage] {
        match self {
            CsrProfile::Server | CsrProfile::KubeletServing => &[Usage::ServerAuth],
            CsrProfile::Client | CsrProfile::KubeletClient => &[Usage::ClientAuth],
            CsrProfile::Peer => &[Usage::ServerAuth, Usage::ClientAuth],
        }
    }

    /// Whether its certificates serve TLS, so carry names (and need one).
    pub fn serves(self) -> bool {
        self.usages().contains(&Usage::ServerAuth)
    }

    /// Whether its certificates are a kubelet's (the node identity rules).
    pub fn is_kubelet(self) -> bool {
        matches!(self, CsrProfile::KubeletServing | CsrProfile::KubeletClient)
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CsrProfile::Server => "server",
            CsrProfile::Client => "client",
            CsrProfile::Peer => "peer",
            CsrProfile::KubeletServing => "kubelet-serving",
            CsrProfile::KubeletClient => "kubelet-client",
        }
    }
}

impl std::str::FromStr for CsrProfile {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Self, String> {
        CsrProfile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown profile \"{name}\": use server, client, peer, kubelet-serving or \
                     kubelet-client"
                )
            })
    }
}

/// One certificate a run signed.
#[derive(Debug)]
pub struct Signed {
    /// The CSR.
    pub csr: PathBuf,
    /// Where the certificate goes (a `.crt`, or the kubeconfig it fills).
    pub out: PathBuf,
    /// The CA's label.
    pub ca: String,
    /// The subject, RFC 4514.
    pub subject: String,
    /// Its subject alternative names.
    pub sans: Vec<San>,
    /// Its extended key usages.
    pub usages: Vec<Usage>,
    /// Its end.
    pub not_after: SystemTime,
}

/// What a run signed, refused and has to say; write `plan` only when
/// `refused` is empty.
#[derive(Default)]
pub struct SignRun {
    /// Every output file.
    pub plan: Plan,
    /// What was signed, in CSR order.
    pub signed: Vec<Signed>,
    /// One error per refused CSR, naming it: the run writes nothing.
    pub refused: Vec<Error>,
    /// One error per Kubernetes CSR object refused on its own: the others
    /// are written (each object is its own approval), these are not.
    pub declined: Vec<Error>,
    /// What to run once the files are written (load each signed object).
    pub next_steps: Vec<String>,
    /// Warnings: names dropped from client certificates, older kubeadm O
    /// values, lifetimes capped at the CA's end.
    pub warnings: Vec<String>,
}

/// The validity of what one CA signs in a run: backdated [`BACKDATE`] (not
/// before the CA's start), `days` long, capped at the CA's end.
#[derive(Clone, Copy)]
pub(crate) struct Validity {
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
}

impl Validity {
    /// For `ca`, with the warning to give when its end caps the lifetime.
    pub(crate) fn of(ca: &SigningCa, now: SystemTime, days: u32) -> (Self, Option<String>) {
        let not_before = (now - BACKDATE).max(ca.cert.not_before());
        let wanted = days_after(now, days);
        let not_after = wanted.min(ca.cert.not_after());
        let warning = (not_after < wanted).then(|| {
            format!(
                "certificates signed by {} end with it on {}, sooner than {days} days",
                ca.cert_path.display(),
                format_time(not_after)
            )
        });
        (
            Validity {
                not_before,
                not_after,
            },
            warning,
        )
    }
}

/// A certificate just issued, with the names and usages it was issued with
/// (for the report, so it need not be decoded again).
struct Issued {
    cert: Certificate,
    sans: Vec<San>,
    usages: Vec<Usage>,
}

/// Issues the certificate `csr` asks for with `usages` and `sans`, signed by `ca`.
fn issue_for(
    csr: &Csr,
    usages: &[Usage],
    sans: Vec<San>,
    ca: &SigningCa,
    validity: Validity,
) -> Result<Issued> {
    let cert = issue(
        &IssueRequest {
            subject: csr.subject.clone(),
            public_key: csr.public_key.clone(),
            profile: Profile::Leaf {
                usages: usages.iter().map(|u| u.oid()).collect(),
                sans: sans.clone(),
            },
            not_before: validity.not_before,
            not_after: validity.not_after,
        },
        Issuer::Ca {
            cert: &ca.cert,
            key: ca.key.as_ref(),
        },
    )?;
    Ok(Issued {
        cert,
        sans,
        usages: usages.to_vec(),
    })
}

impl SignRun {
    /// Plans `issued`, issued for `csr`, as `out` (`contents`, a secret when it
    /// holds a key) and records it, with its names and usages, for the report.
    fn add(
        &mut self,
        csr: &Csr,
        out: PathBuf,
        contents: Vec<u8>,
        secret: bool,
        ca: &SigningCa,
        issued: Issued,
    ) {
        if secret {
            self.plan.add_secret(out.clone(), contents);
        } else {
            self.plan.add_public(out.clone(), contents);
        }
        self.signed.push(Signed {
            csr: csr.path.clone(),
            out,
            ca: ca.label.clone(),
            subject: issued.cert.subject().to_string(),
            not_after: issued.cert.not_after(),
            sans: issued.sans,
            usages: issued.usages,
        });
    }
}

/// `f` over `items` on every core, results in order: checking and signing
/// ten thousand CSRs is ECDSA arithmetic, and a run should use the machine.
/// When `progress` is given, it is told of each item done.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    progress: Option<&Progress>,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(workers).max(1);
    let each = |item: &T| {
        let result = f(item);
        if let Some(progress) = progress {
            progress.done.fetch_add(1, Ordering::Relaxed);
        }
        result
    };
    std::thread::scope(|scope| {
        let _reporter = progress.map(|progress| progress.report_in(scope));
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&each).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// How long a batch runs before its progress is shown.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);
/// How often the progress line is rewritten.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// The progress of a batch of CSRs, shown on stderr when it is a terminal
/// and the batch has run longer than [`PROGRESS_AFTER`]: one line, rewritten
/// in place (`\r`), erased when the batch ends. Nothing when stderr is not a
/// terminal: logs and pipes get only the report.
pub struct Progress {
    tool: String,
    total: usize,
    done: AtomicUsize,
    finished: AtomicBool,
}

impl Progress {
    /// Progress of `total` CSRs for `tool`, or `None` when stderr is not a
    /// terminal.
    pub fn on_terminal(tool: &str, total: usize) -> Option<Self> {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal().then(|| Progress {
            tool: tool.to_string(),
            total,
            done: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
        })
    }

    /// Starts the thread that shows the progress in `scope`; the batch is
    /// over when the returned guard is dropped (also when a worker panics).
    fn report_in<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
    ) -> ProgressGuard<'scope> {
        let start = std::time::Instant::now();
        let reporter = scope.spawn(move || {
            let mut shown = false;
            while !self.finished.load(Ordering::Relaxed) {
                // Woken early when the batch ends: a short run waits for nothing.
                std::thread::park_timeout(PROGRESS_EVERY);
                if start.elapsed() >= PROGRESS_AFTER && !self.finished.load(Ordering::Relaxed) {
                    let done = self.done.load(Ordering::Relaxed);
                    eprint!(
                        "\r{}: checked and signed {done} of {} CSRs",
                        self.tool, self.total
                    );
                    shown = true;
                }
            }
            if shown {
                // Erase the line: the report follows on a clean terminal.
                eprint!("\r\x1b[K");
            }
        });
        ProgressGuard(self, reporter.thread().clone())
    }
}

/// Ends a batch's progress when dropped, waking the thread that shows it.
struct ProgressGuard<'a>(&'a Progress, std::thread::Thread);

impl Drop for ProgressGuard<'_> {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Relaxed);
        self.1.unpark();
    }
}

/// Where a generic run reads and writes: each CSR and its certificate, and the
/// directory to lock.
pub struct GenericTargets {
    /// The directory the certificates go to (locked while the run works).
    pub dir: PathBuf,
    /// (CSR, certificate) pairs, sorted by CSR.
    pub pairs: Vec<(PathBuf, PathBuf)>,
}

impl GenericTargets {
    /// `csr` is a CSR file or a directory of `*.csr` files; certificates go
    /// beside them as `<name>.crt`, or to `out` (a file for one CSR, a
    /// directory for a directory).
    pub fn resolve(csr: &Path, out: Option<&Path>) -> Result<Self> {
        let crt = |csr: &Path| match csr.extension() {
            Some(ext) if ext == "csr" => csr.with_extension("crt"),
            _ => with_suffix(csr.to_path_buf(), ".crt"),
        };
        if !csr.is_dir() {
            let cert = out.map_or_else(|| crt(csr), Path::to_path_buf);
            let dir = parent(&cert);
            return Ok(GenericTargets {
                dir,
                pairs: vec![(csr.to_path_buf(), cert)],
            });
        }
        let csrs = csr_files(csr)?;
        if csrs.is_empty() {
            return Err(Error::at(
                csr,
                Kind::Inputs("no *.csr file in this directory".into()),
            ));
        }
        let dir = out.unwrap_or(csr).to_path_buf();
        let pairs = csrs
            .into_iter()
            .map(|path| {
                let cert = match out {
                    Some(out) => out.join(crt(&path).file_name().unwrap_or_default()),
                    None => crt(&path),
                };
                (path, cert)
            })
            .collect();
        Ok(GenericTargets { dir, pairs })
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The `*.csr` regular files of `dir`, sorted; none when `dir` does not exist.
fn csr_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, "listing", e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "listing", e))?;
        let path = entry.path();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && path.extension().is_some_and(|ext| ext == "csr") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Signs every CSR of `targets` with `ca` and `profile`, as `policy`
/// allows, `days` long, telling `progress` of each CSR done.
pub fn plan_generic(
    targets: &GenericTargets,
    ca: &SigningCa,
    profile: CsrProfile,
    policy: &Policy,
    days: u32,
    now: SystemTime,
    progress: Option<&Progress>,
) -> Result<SignRun> {
    let (validity, capped) = Validity::of(ca, now, days);
    let mut run = SignRun::default();
    run.warnings.extend(capped);
    // Outer error: the run fails; inner error: this CSR is refused.
    let signed = in_parallel(&targets.pairs, progress, |(path, _)| -> Result<Result<_>> {
        let csr = match Csr::read(path) {
            Ok(csr) if csr.subject.is_empty() => {
                return Ok(Err(refuse(path, CsrProblem::EmptySubject)));
            }
            Ok(csr) => csr,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let admitted = match admit(&csr, profile, policy) {
            Ok(admitted) => admitted,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let issued = issue_for(&csr, profile.usages(), admitted.sans, ca, validity)?;
        Ok(Ok((csr, issued, admitted.warnings)))
    });
    for ((_, out), signed) in targets.pairs.iter().zip(signed) {
        match signed? {
            Ok((csr, issued, warnings)) => {
                run.warnings.extend(warnings);
                let pem = issued.cert.to_pem().into_bytes();
                run.add(&csr, out.clone(), pem, false, ca, issued);
            }
            Err(refusal) => run.refused.push(refusal),
        }
    }
    Ok(run)
}

fn refuse(path: &Path, problem: CsrProblem) -> Error {
    Error::at(path, Kind::Csr(problem))
}

/// On k3s and RKE2 the API server trusts only `client-ca` for client
/// certificates, and agents and kubectl trust only `server-ca` for serving
/// ones: refuses signing a profile with the other CA, naming the right one.
fn refuse_wrong_k3s_ca(ca: &SigningCa, profile: CsrProfile) -> Result<()> {
    let Some(stem) = k3s::api_ca_of(&ca.cert_path, &ca.cert) else {
        return Ok(());
    };
    let (wanted, why) = match profile {
        CsrProfile::Peer => return Ok(()),
        CsrProfile::Server | CsrProfile::KubeletServing => (
            k3s::SERVER_CA,
            "agents, kubelets and kubectl trust only server-ca for serving certificates",
        ),
        CsrProfile::Client | CsrProfile::KubeletClient => (
            k3s::CLIENT_CA,
            "the API server trusts only client-ca for client certificates and answers \
             \"Unauthorized\" (k3s #7016)",
        ),
    };
    if stem == wanted {
        return Ok(());
    }
    Err(Error::at(
        &ca.cert_path,
        Kind::Inputs(format!(
            "is the cluster's {stem}, but {why}: sign --profile {} with --ca <tls dir>/{wanted}",
            profile.name()
        )),
    ))
}

/// What `sign-csr`'s flags ask for, as typed values: nothing is defaulted or
/// checked yet (see [`SignCsrRequest::from_flags`]).
#[derive(Debug, Default)]
pub struct SignCsrFlags {
    /// `--product`: the kubeadm mode for a layout whose CSRs an external CA
    /// signs; no other product is taken.
    pub product: Option<String>,
    /// `--days`.
    pub days: Option<u32>,
    /// `--password-file`; without it the terminal is asked, when there is one.
    pub password_file: Option<PathBuf>,
    /// `--pkcs11-module`, for a `--ca-key pkcs11:...`.
    pub pkcs11_module: Option<PathBuf>,
    /// `--pin-file`, for a `--ca-key pkcs11:...`.
    pub pin_file: Option<PathBuf>,
    /// `--allow-san`, each: names serving certificates may hold besides the
    /// cluster's (kubeadm), or the only ones they may hold (generic).
    pub allow_sans: Vec<String>,
    /// The flags only the kubeadm mode reads.
    pub kubeadm: KubeadmFlags,
    /// The flags only the generic mode reads.
    pub generic: GenericFlags,
}

/// The flags of the kubeadm mode.
#[derive(Debug, Default)]
pub struct KubeadmFlags {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--service-cidr`, as given.
    pub service_cidr: Option<String>,
    /// `--dns-domain`.
    pub dns_domain: Option<String>,
    /// `--advertise-address`.
    pub advertise_address: Option<IpAddr>,
}

impl KubeadmFlags {
    /// The first of these flags given, to refuse it in the generic mode.
    fn first_given(&self) -> Option<&'static str> {
        [
            ("--data-dir", self.data_dir.is_some()),
            ("--node-name", self.node_name.is_some()),
            ("--service-cidr", self.service_cidr.is_some()),
            ("--dns-domain", self.dns_domain.is_some()),
            ("--advertise-address", self.advertise_address.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

/// The flags of the generic mode.
#[derive(Debug, Default)]
pub struct GenericFlags {
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--ca-key`.
    pub ca_key: Option<PathBuf>,
    /// `--ca DIR/STEM`.
    pub ca: Option<PathBuf>,
    /// `--profile`.
    pub profile: Option<CsrProfile>,
    /// `--csr`.
    pub csr: Option<PathBuf>,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--allow-super-user`.
    pub allow_super_user: bool,
    /// `--k8s-csr`: `kubectl get csr -o json` output.
    pub k8s_csr: Option<PathBuf>,
}

impl GenericFlags {
    /// The first of these flags given, to refuse it in the kubeadm mode.
    fn first_given(&self) -> Option<&'static str> {
        [
            ("--ca-cert", self.ca_cert.is_some()),
            ("--ca-key", self.ca_key.is_some()),
            ("--ca", self.ca.is_some()),
            ("--profile", self.profile.is_some()),
            ("--csr", self.csr.is_some()),
            ("--out", self.out.is_some()),
            ("--allow-super-user", self.allow_super_user),
            ("--k8s-csr", self.k8s_csr.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

/// What `sign-csr` is asked to do, its flags checked against its mode.
pub struct SignCsrRequest {
    days: u32,
    passphrases: Passphrases,
    /// The token of a `--ca-key pkcs11:...`.
    tokens: Tokens,
    /// `--password-file`, a file the run reads.
    password_file: Option<PathBuf>,
    mode: Mode,
}

/// The two ways `sign-csr` signs.
enum Mode {
    /// Everything `kubeadm certs generate-csr` wrote under `data_dir`.
    Kubeadm {
        data_dir: PathBuf,
        flags: KubeadmFlags,
        allow: Vec<SanPattern>,
    },
    /// The CSR or directory `csr` with the CA `cert` + `key` and `profile`.
    Generic {
        cert: PathBuf,
        key: PathBuf,
        profile: CsrProfile,
        policy: Policy,
        csr: PathBuf,
        out: Option<PathBuf>,
    },
    /// The Kubernetes CSR objects of `list` with the CA `cert` + `key`.
    Objects {
        cert: PathBuf,
        key: PathBuf,
        policy: Policy,
        list: PathBuf,
        out: Option<PathBuf>,
    },
}

/// What the CSRs of a run were checked and signed against, for the report.
#[derive(Debug)]
pub enum Basis {
    /// The kubeadm mode: the cluster's names.
    Kubeadm(KubeadmNames),
    /// The generic mode: one profile.
    Profile(CsrProfile),
    /// Kubernetes CSR objects: each by its signer's profile.
    Objects,
}

/// A planned `sign-csr` run.
pub struct Signing {
    /// The directory the run writes into: the data dir, or where the
    /// certificates go.
    pub dir: PathBuf,
    /// What the CSRs were signed against.
    pub basis: Basis,
    /// Signed, refused, warnings and the plan.
    pub run: SignRun,
}

impl SignCsrRequest {
    /// Checks `flags` before anything is read: the lifetime, the product (the
    /// kubeadm mode for a layout with an external CA, see
    /// [`crate::layout::Layout::external_ca`]), no flag of the other mode, and
    /// in the generic mode one CA, a profile and CSRs.
    pub fn from_flags(flags: SignCsrFlags) -> Result<Self> {
        let days = match flags.days {
            Some(0) => return Err(Error::usage("--days must be at least 1")),
            days => days.unwrap_or(DEFAULT_DAYS),
        };
        let password_file = flags.password_file.clone();
        let passphrases = Passphrases::new(PassphraseSource::from_flag(flags.password_file));
        let allow = flags
            .allow_sans
            .iter()
            .map(|entry| {
                SanPattern::parse(entry).map_err(|problem| {
                    Error::usage(format!(
                        "--allow-san {problem}: give a DNS name, *.domain, an address or a network"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mode = match flags.product.as_deref().map(Product::new).transpose()? {
            Some(product) if product.layout().external_ca => {
                Mode::kubeadm(product.layout(), flags.kubeadm, &flags.generic, allow)?
            }
            Some(other) => {
                return Err(Error::usage(format!(
                    "--product {}: only kubeadm writes CSRs to sign; for a k3s or RKE2 CA use \
                     --ca <tls dir>/server-ca (or client-ca) with --profile and --csr",
                    other.name()
                )));
            }
            None => Mode::generic(flags.generic, &flags.kubeadm, allow)?,
        };
        Ok(SignCsrRequest {
            days,
            passphrases,
            tokens: Tokens::new(flags.pkcs11_module, flags.pin_file),
            password_file,
            mode,
        })
    }

    /// Locks the directory the run writes into (`tool` names the holder),
    /// reads the CSRs and the CA(s) and plans every certificate. Keep the lock
    /// until the report is printed.
    pub fn lock_and_plan(
        self,
        tool: &str,
        now: SystemTime,
        dry_run: bool,
    ) -> Result<(TargetLock, Signing)> {
        match self.mode {
            Mode::Kubeadm {
                data_dir,
                flags,
                allow,
            } => {
                let lock = TargetLock::acquire(&data_dir, tool, dry_run)?;
                lock.report_recovered(tool);
                let mut options = KubeadmOptions::new(data_dir.clone(), now);
                options.days = self.days;
                options.passphrases = self.passphrases;
                options.set_flags(flags)?;
                options.allow = allow;
                let KubeadmRun { mut run, names } = plan_kubeadm(&options)?;
                for ca in KubeadmCa::ALL {
                    run.plan
                        .reads(ca.cert_path(&data_dir), "the CA certificate");
                    run.plan.reads(ca.key_path(&data_dir), "the CA key");
                }
                for signed in &run.signed {
                    run.plan.reads(signed.csr.clone(), "a CSR");
                }
                if let Some(file) = self.password_file {
                    run.plan.reads_passphrase(file);
                }
                let basis = Basis::Kubeadm(names);
                let dir = data_dir;
                Ok((lock, Signing { dir, basis, run }))
            }
            Mode::Generic {
                cert,
                key,
                profile,
                policy,
                csr,
                out,
            } => {
                let targets = GenericTargets::resolve(&csr, out.as_deref())?;
                let lock = TargetLock::acquire(&targets.dir, tool, dry_run)?;
                lock.report_recovered(tool);
                let label = cert.display().to_string();
                let ca =
                    SigningCa::load(&label, &cert, &key, &self.passphrases, &self.tokens, now)?;
                let progress = Progress::on_terminal(tool, targets.pairs.len());
                refuse_wrong_k3s_ca(&ca, profile)?;
                let mut run = plan_generic(
                    &targets,
                    &ca,
                    profile,
                    &policy,
                    self.days,
                    now,
                    progress.as_ref(),
                )?;
                run.plan.reads(cert, "the CA certificate");
                run.plan.reads(key, "the CA key");
                for (csr, _) in &targets.pairs {
                    run.plan.reads(csr.clone(), "a CSR");
                }
                if let Some(file) = self.password_file {
                    run.plan.reads_passphrase(file);
                }
                let basis = Basis::Profile(profile);
                let dir = targets.dir;
                Ok((lock, Signing { dir, basis, run }))
            }
            Mode::Objects {
                cert,
                key,
                policy,
                list,
                out,
            } => {
                let dir = out.unwrap_or_else(|| parent(&list));
                let lock = TargetLock::acquire(&dir, tool, dry_run)?;
                lock.report_recovered(tool);
                let label = cert.display().to_string();
                let ca =
                    SigningCa::load(&label, &cert, &key, &self.passphrases, &self.tokens, now)?;
                let mut run = plan_objects(&list, &dir, &ca, &policy, self.days, now)?;
                run.plan.reads(cert, "the CA certificate");
                run.plan.reads(key, "the CA key");
                run.plan.reads(list, "the CSR list");
                if let Some(file) = self.password_file {
                    run.plan.reads_passphrase(file);
                }
                let basis = Basis::Objects;
                Ok((lock, Signing { dir, basis, run }))
            }
        }
    }
}

/// Signs each approved object of the Kubernetes CSR list `list` that its
/// signer's rules and `policy` admit, with `ca`, `days` long, as
/// `<dir>/<name>.signed.json`; the others are declined, each named.
pub fn plan_objects(
    list: &Path,
    dir: &Path,
    ca: &SigningCa,
    policy: &Policy,
    days: u32,
    now: SystemTime,
) -> Result<SignRun> {
    let (validity, capped) = Validity::of(ca, now, days);
    let mut run = SignRun::default();
    run.warnings.extend(capped);
    for object in k8s_csr::read(list)? {
        let object = match object {
            Ok(object) => object,
            Err(declined) => {
                run.declined.push(declined);
                continue;
            }
        };
        let profile = object.signer.profile();
        let admitted = refuse_wrong_k3s_ca(ca, profile)
            .map_err(|wrong| {
                Error::at(
                    &object.csr.path,
                    Kind::Inputs(format!("refused: signed by {wrong}")),
                )
            })
            .and_then(|()| admit(&object.csr, profile, policy));
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(declined) => {
                run.declined.push(declined);
                continue;
            }
        };
        run.warnings.extend(admitted.warnings);
        let issued = issue_for(&object.csr, profile.usages(), admitted.sans, ca, validity)?;
        let signed = k8s_csr::with_certificate(&object.object, &issued.cert.to_pem());
        let out = dir.join(format!("{}.signed.json", object.name));
        let mut text = serde_json::to_string_pretty(&signed)
            .map_err(|e| Error::crypto(format!("writing {}", out.display()), e))?;
        text.push('\n');
        run.next_steps
            .push(k8s_csr::load_command(&object.name, &out));
        run.add(&object.csr, out, text.into_bytes(), false, ca, issued);
    }
    Ok(run)
}

impl Mode {
    /// The kubeadm mode of `layout`: no generic flag; the data dir defaults
    /// to the layout's.
    fn kubeadm(
        layout: &Layout,
        mut flags: KubeadmFlags,
        generic: &GenericFlags,
        allow: Vec<SanPattern>,
    ) -> Result<Self> {
        if let Some(flag) = generic.first_given() {
            return Err(Error::usage(format!(
                "{flag} is for the generic mode; --product kubeadm finds its CSRs and CAs under --data-dir"
            )));
        }
        let data_dir = flags
            .data_dir
            .take()
            .unwrap_or_else(|| PathBuf::from(layout.default_data_dir));
        Ok(Mode::Kubeadm {
            data_dir,
            flags,
            allow,
        })
    }

    /// The generic mode: no kubeadm flag; the CA as `--ca DIR/STEM` or as
    /// `--ca-cert` and `--ca-key`; a profile and CSRs.
    fn generic(
        flags: GenericFlags,
        kubeadm: &KubeadmFlags,
        allow: Vec<SanPattern>,
    ) -> Result<Self> {
        if let Some(flag) = kubeadm.first_given() {
            return Err(Error::usage(format!("{flag} is for --product kubeadm")));
        }
        let (cert, key) = match (flags.ca, flags.ca_cert, flags.ca_key) {
            (Some(stem), None, None) => {
                (with_suffix(stem.clone(), ".crt"), with_suffix(stem, ".key"))
            }
            (None, Some(cert), Some(key)) => (cert, key),
            _ => {
                return Err(Error::usage(
                    "give the CA as --ca DIR/STEM, or as --ca-cert FILE and --ca-key FILE",
                ));
            }
        };
        let policy = Policy {
            allow,
            allow_super_user: flags.allow_super_user,
        };
        if let Some(list) = flags.k8s_csr {
            if let Some(flag) = [
                ("--profile", flags.profile.is_some()),
                ("--csr", flags.csr.is_some()),
            ]
            .into_iter()
            .find_map(|(flag, given)| given.then_some(flag))
            {
                return Err(Error::usage(format!(
                    "{flag} is not for --k8s-csr: each object's signerName picks its profile"
                )));
            }
            return Ok(Mode::Objects {
                cert,
                key,
                policy,
                list,
                out: flags.out,
            });
        }
        let (Some(profile), Some(csr)) = (flags.profile, flags.csr) else {
            return Err(Error::usage(
                "give --profile server|client|peer|kubelet-serving|kubelet-client and \
                 --csr FILE|DIR, or --k8s-csr FILE (or --product kubeadm)",
            ));
        };
        Ok(Mode::Generic {
            cert,
            key,
            profile,
            policy,
            csr,
            out: flags.out,
        })
    }
}

/// A kubeadm run's inputs.
pub struct KubeadmOptions {
    /// `/etc/kubernetes`: kubeconfigs here, `pki/` below.
    pub data_dir: PathBuf,
    /// Lifetime in days.
    pub days: u32,
    /// The run's time.
    pub now: SystemTime,
    /// For encrypted CA keys.
    pub passphrases: Passphrases,
    /// `--node-name`; default: the CSRs' own (etcd's CN, the kubelet's), then the host name.
    pub node_name: Option<String>,
    /// `networking.dnsDomain`.
    pub dns_domain: String,
    /// The first IP of `networking.serviceSubnet`.
    pub service_ip: IpAddr,
    /// `localAPIEndpoint.advertiseAddress`; default: the one address the
    /// apiserver and etcd CSRs all ask for.
    pub advertise_address: Option<IpAddr>,
    /// Extra names serving certificates may hold (`apiServer.certSANs`,
    /// `etcd.local.serverCertSANs`, the controlPlaneEndpoint host).
    pub allow: Vec<SanPattern>,
}

impl KubeadmOptions {
    /// Lays the names `flags` give over these options; refuses a service
    /// CIDR that is not one.
    fn set_flags(&mut self, flags: KubeadmFlags) -> Result<()> {
        self.node_name = flags.node_name;
        if let Some(domain) = flags.dns_domain {
            self.dns_domain = domain;
        }
        if let Some(cidr) = flags.service_cidr {
            self.service_ip = ClusterNames::service_ips_of(&cidr)?[0];
        }
        self.advertise_address = flags.advertise_address;
        Ok(())
    }

    /// kubeadm's defaults for `data_dir`.
    pub fn new(data_dir: PathBuf, now: SystemTime) -> Self {
        let defaults = KubeadmNames::defaults("");
        KubeadmOptions {
            data_dir,
            days: DEFAULT_DAYS,
            now,
            passphrases: Passphrases::none(),
            node_name: None,
            dns_domain: defaults.dns_domain,
            service_ip: defaults.service_ip,
            advertise_address: None,
            allow: Vec::new(),
        }
    }
}

/// What a kubeadm run found and did.
pub struct KubeadmRun {
    /// Signed, refused, warnings and the plan.
    pub run: SignRun,
    /// The cluster names the CSRs were checked against.
    pub names: KubeadmNames,
}

/// Every CSR `kubeadm certs generate-csr` leaves under the data dir, matched
/// to the certificate it asks for; `None` for a `.csr` kubeadm does not write.
fn kubeadm_csrs(data_dir: &Path) -> Result<Vec<(PathBuf, Option<&'static KubeadmCert>)>> {
    let pki = data_dir.join(kubeadm::PKI_DIR);
    let mut found = Vec::new();
    for dir in [data_dir.to_path_buf(), pki.clone(), pki.join("etcd")] {
        for path in csr_files(&dir)? {
            let cert = CERTIFICATES
                .iter()
                .find(|cert| cert.csr_path(data_dir) == path);
            found.push((path, cert));
        }
    }
    if found.is_empty() {
        return Err(Error::at(
            data_dir,
            Kind::Inputs(
                "no CSRs found (kubeadm certs generate-csr writes pki/*.csr, \
                 pki/etcd/*.csr and <name>.conf.csr here)"
                    .into(),
            ),
        ));
    }
    Ok(found)
}

/// Signs every CSR of a `kubeadm certs generate-csr` output (see the module
/// documentation).
pub fn plan_kubeadm(options: &KubeadmOptions) -> Result<KubeadmRun> {
    let data_dir = &options.data_dir;
    let mut run = SignRun::default();
    let mut csrs: Vec<(&KubeadmCert, Csr)> = Vec::new();
    for (path, cert) in kubeadm_csrs(data_dir)? {
        let Some(cert) = cert else {
            run.refused.push(refuse(
                &path,
                CsrProblem::UnknownFile("not a CSR kubeadm certs generate-csr writes"),
            ));
            continue;
        };
        match Csr::read(&path) {
            Ok(csr) => csrs.push((cert, csr)),
            Err(error) => run.refused.push(error),
        }
    }
    let names = cluster_names(options, &csrs);
    let mut cas: BTreeMap<KubeadmCa, Option<(SigningCa, Validity)>> = BTreeMap::new();
    for (cert, csr) in &csrs {
        let ca = match cas.entry(cert.ca) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                let loaded = load_kubeadm_ca(cert.ca, options)?.map(|ca| {
                    let (validity, capped) = Validity::of(&ca, options.now, options.days);
                    run.warnings.extend(capped);
                    (ca, validity)
                });
                entry.insert(loaded)
            }
        };
        let Some((ca, validity)) = ca.as_ref() else {
            run.refused.push(refuse(
                &csr.path,
                CsrProblem::NoCa(cert.ca.cert_path(data_dir)),
            ));
            continue;
        };
        if let Err(error) = check_kubeadm(cert, csr, &names, &options.allow, &mut run.warnings) {
            run.refused.push(error);
            continue;
        }
        let target = cert.path(data_dir);
        let kubeconfig = if cert.kubeconfig {
            match kubeconfig_for(csr, &target) {
                Ok(kubeconfig) => Some(kubeconfig),
                Err(error) => {
                    run.refused.push(error);
                    continue;
                }
            }
        } else {
            let key = with_suffix(target.clone(), ".key");
            if let Err(error) = own_key(csr, &key) {
                run.refused.push(error);
                continue;
            }
            run.plan.reads(key, "the certificate's key");
            None
        };
        let (sans, warning) = kept_sans(csr, cert.names != Names::None);
        run.warnings.extend(warning);
        let issued = issue_for(csr, cert.usages, sans, ca, *validity)?;
        match kubeconfig {
            Some(kubeconfig) => {
                let filled = kubeconfig.with_credentials(&ca.cert, &issued.cert)?;
                run.add(csr, target, filled, true, ca, issued);
            }
            None => {
                let pem = issued.cert.to_pem().into_bytes();
                run.add(csr, with_suffix(target, ".crt"), pem, false, ca, issued);
            }
        }
    }
    Ok(KubeadmRun { run, names })
}

/// The CA `ca` under the data dir, or `None` when its certificate or key is
/// missing (its CSRs are then refused, each naming the file).
fn load_kubeadm_ca(ca: KubeadmCa, options: &KubeadmOptions) -> Result<Option<SigningCa>> {
    let (cert, key) = (
        ca.cert_path(&options.data_dir),
        ca.key_path(&options.data_dir),
    );
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    // kubeadm's CA keys are its pki/ files: never in a token.
    let tokens = Tokens::default();
    SigningCa::load(
        ca.stem(),
        &cert,
        &key,
        &options.passphrases,
        &tokens,
        options.now,
    )
    .map(Some)
}

/// The names the CSRs are checked against: the flags, else what the CSRs
/// themselves say (kubeadm uses one node name and one advertise address for
/// all of them), else the host name.
fn cluster_names(options: &KubeadmOptions, csrs: &[(&KubeadmCert, Csr)]) -> KubeadmNames {
    let of = |base: &str| {
        csrs.iter()
            .find(|(cert, _)| cert.base == base)
            .map(|(_, csr)| csr)
    };
    let node_name = options
        .node_name
        .clone()
        .or_else(|| {
            ["etcd/server", "etcd/peer"]
                .iter()
                .filter_map(|base| of(base)?.common_names().into_iter().next())
                .next()
        })
        .or_else(|| {
            of("kubelet.conf")?
                .common_names()
                .first()?
                .strip_prefix("system:node:")
                .map(str::to_string)
        })
        .or_else(host_name)
        .unwrap_or_default();
    let mut names = KubeadmNames::defaults(&node_name);
    names.dns_domain = options.dns_domain.clone();
    names.service_ip = options.service_ip;
    names.advertise_address = options.advertise_address.or_else(|| {
        // The address every serving CSR asks for besides loopbacks and the
        // service IP; kubeadm puts the advertise address in all three.
        let candidates = |csr: &Csr| -> Vec<IpAddr> {
            csr.sans
                .iter()
                .filter_map(|san| match san {
                    San::Ip(ip) if !ip.is_loopback() && *ip != options.service_ip => Some(*ip),
                    _ => None,
                })
                .collect()
        };
        let mut serving = ["apiserver", "etcd/server", "etcd/peer"]
            .iter()
            .filter_map(|base| of(base))
            .map(candidates);
        let first = serving.next()?;
        let common: Vec<IpAddr> = serving.fold(first, |common, ips| {
            common.into_iter().filter(|ip| ips.contains(ip)).collect()
        });
        match common.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    });
    names
}

/// This machine's host name, kubeadm's default node name.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_lowercase()).filter(|n| !n.is_empty())
}

/// The rules of a kubeadm file: a key kubeadm reads, the subject of its row
/// (older O values with a warning), names within the cluster's.
fn check_kubeadm(
    cert: &KubeadmCert,
    csr: &Csr,
    names: &KubeadmNames,
    allowed_extra: &[SanPattern],
    warnings: &mut Vec<String>,
) -> Result<()> {
    if csr.algorithm == KeyAlgorithm::Ed25519 {
        return Err(refuse(
            &csr.path,
            CsrProblem::KeyType("an Ed25519 key: kubeadm reads only RSA and ECDSA keys".into()),
        ));
    }
    let common_name = names.common_name(cert);
    let mut organizations = csr.organizations();
    organizations.sort();
    let sorted = |list: &[&str]| {
        let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        list.sort();
        list
    };
    let cn_ok = csr.common_names() == [common_name.clone()] && !csr.has_other_attributes();
    let current = organizations == sorted(cert.organizations);
    let older =
        !cert.older_organizations.is_empty() && organizations == sorted(cert.older_organizations);
    if !cn_ok || !(current || older) {
        return Err(refuse(
            &csr.path,
            CsrProblem::Subject {
                expected: subject_name(&common_name, cert.organizations)?.to_string(),
                found: csr.subject.to_string(),
            },
        ));
    }
    if older {
        warnings.push(format!(
            "{}: O={} is what older kubeadm releases wrote (current: {}); signed as asked",
            csr.path.display(),
            cert.older_organizations.join(","),
            if cert.organizations.is_empty() {
                "none".to_string()
            } else {
                cert.organizations.join(",")
            }
        ));
    }
    if cert.names != Names::None {
        let allowed = names.sans(cert.names);
        let outside: Vec<String> = csr
            .sans
            .iter()
            .filter(|san| !allowed.contains(san) && !allowed_extra.iter().any(|p| p.allows(san)))
            .map(San::to_string)
            .collect();
        if !outside.is_empty() {
            return Err(refuse(
                &csr.path,
                CsrProblem::NamesOutside {
                    names: outside,
                    hint: "allow them with --allow-san, or give --node-name, \
                           --advertise-address, --dns-domain, --service-cidr",
                },
            ));
        }
    }
    Ok(())
}

/// Refuses `csr` unless its key is the private key in `key_path`.
fn own_key(csr: &Csr, key_path: &Path) -> Result<()> {
    if !key_path.exists() {
        return Err(Error::at(
            &csr.path,
            Kind::Inputs(format!(
                "no key {} beside it, where kubeadm reads the certificate's key",
                key_path.display()
            )),
        ));
    }
    let key = PrivateKey::read_first(key_path)?;
    if !key.matches(&csr.public_key)? {
        return Err(refuse(
            &csr.path,
            CsrProblem::NotItsKey(key_path.to_path_buf()),
        ));
    }
    Ok(())
}

/// The partial kubeconfig `path`, whose `client-key-data` must be `csr`'s key.
fn kubeconfig_for(csr: &Csr, path: &Path) -> Result<Kubeconfig> {
    let kubeconfig = Kubeconfig::read(path)?;
    if !kubeconfig.client_key()?.matches(&csr.public_key)? {
        return Err(refuse(&csr.path, CsrProblem::NotItsKey(path.to_path_buf())));
    }
    Ok(kubeconfig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(flags: SignCsrFlags) -> String {
        SignCsrRequest::from_flags(flags)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// Each mode refuses the other's flags, naming the first one given.
    #[test]
    fn each_mode_refuses_the_flags_of_the_other() {
        let kubeadm = |generic| SignCsrFlags {
            product: Some("kubeadm".into()),
            generic,
            ..SignCsrFlags::default()
        };
        let out = GenericFlags {
            out: Some("x".into()),
            ..GenericFlags::default()
        };
        assert!(refusal(kubeadm(out)).starts_with("--out is for the generic mode"));
        let generic = SignCsrFlags {
            kubeadm: KubeadmFlags {
                node_name: Some("a".into()),
                ..KubeadmFlags::default()
            },
            ..SignCsrFlags::default()
        };
        assert_eq!(refusal(generic), "--node-name is for --product kubeadm");
        let pattern = SignCsrFlags {
            allow_sans: vec!["10.0.0.0/33".into()],
            ..SignCsrFlags::default()
        };
        assert_eq!(
            refusal(pattern),
            "--allow-san \"10.0.0.0/33\": the prefix length must be 0 to 32: give a DNS \
             name, *.domain, an address or a network"
        );
        let k3s = SignCsrFlags {
            product: Some("k3s".into()),
            ..SignCsrFlags::default()
        };
        assert!(refusal(k3s).starts_with("--product k3s: only kubeadm"));
    }

    /// `--ca DIR/STEM` keeps the dots of the stem; `--ca` and `--ca-cert`
    /// together are refused.
    #[test]
    fn the_ca_is_one_stem_or_a_certificate_and_a_key() {
        let generic = |generic| SignCsrFlags {
            generic,
            ..SignCsrFlags::default()
        };
        let request = SignCsrRequest::from_flags(generic(GenericFlags {
            ca: Some("/tls/server-ca.v2".into()),
            profile: Some(CsrProfile::Server),
            csr: Some("a.csr".into()),
            ..GenericFlags::default()
        }))
        .unwrap();
        let Mode::Generic { cert, key, .. } = request.mode else {
            panic!("not the generic mode");
        };
        assert_eq!(cert, Path::new("/tls/server-ca.v2.crt"));
        assert_eq!(key, Path::new("/tls/server-ca.v2.key"));
        let both = refusal(generic(GenericFlags {
            ca: Some("/tls/server-ca".into()),
            ca_cert: Some("c.crt".into()),
            ..GenericFlags::default()
        }));
        assert!(both.starts_with("give the CA as --ca DIR/STEM"), "{both}");
    }

    /// The kubeadm mode defaults to the layout's data dir.
    #[test]
    fn kubeadm_mode_defaults_to_the_layouts_data_dir() {
        let request = SignCsrRequest::from_flags(SignCsrFlags {
            product: Some("kubeadm".into()),
            days: Some(30),
            ..SignCsrFlags::default()
        })
        .unwrap();
        assert_eq!(request.days, 30);
        let Mode::Kubeadm { data_dir, .. } = request.mode else {
            panic!("not the kubeadm mode");
        };
        assert_eq!(data_dir, Path::new("/etc/kubernetes"));
    }
}
