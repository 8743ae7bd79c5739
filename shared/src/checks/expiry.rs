//! Expiry report: every certificate under a directory with when it expires.
//!
//! One row per certificate file (its first certificate: a leaf file holds
//! `[leaf, CA bundle]`), except CA bundles, which list each CA. k3s's
//! `dynamic-cert.json` (the serving certificate behind the `k3s-serving` secret)
//! is read too: it is not renewed with the other leaves, and an expired one has
//! to be deleted by hand (secret and file). k0s's `admin.conf` in `pki/` is
//! read for its embedded client certificate.
//!
//! k3s and RKE2 ([`ExpiryScheme::Services`]) read what `k3s certificate
//! check` reads, and more: `server/tls` and `agent/` on a server, `agent/`
//! alone on an agent (no `server/`), and the admin kubeconfig; each leaf is
//! named by the `rotate --service` that renews it, and [`ExpiryReport::renewal`]
//! gathers what is due into one command.
//!
//! kubeadm gets its own report ([`kubeadm_report`]): the fixed list of
//! `kubeadm certs check-expiration`, by kubeadm's names, with each
//! certificate's CA, external-CA mode, and absent files as missing.
//!
//! [`check`] picks the report by the layout's [`ExpiryScheme`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::checks::recover;
use crate::layout::k3s::{CertificateServices, ServiceRole};
use crate::layout::kubeadm::{CERTIFICATES, KubeadmCa};
use crate::layout::kubeconfig::Kubeconfig;
use crate::layout::{DataDir, ExpiryScheme, Layout};
use crate::pki::cert::{Certificate, bundle_in};
use crate::pki::error::{Error, Result};
use crate::pki::input;
use crate::pki::pem::PemFile;
use crate::pki::text::shown;

/// Warn a month before k3s renews its leaves at start (from 90 days left).
pub const DEFAULT_WARN_DAYS: u64 = 120;

/// The name of k3s's stored serving certificate.
pub const DYNAMIC_CERT: &str = "dynamic-cert.json";

/// The state of one certificate at report time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Valid for longer than the warning window.
    Ok,
    /// Valid, but expires within the warning window.
    Warning,
    /// Past its notAfter.
    Expired,
    /// Before its notBefore.
    NotYetValid,
}

impl Status {
    /// The word printed in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Expired => "EXPIRED",
            Status::NotYetValid => "NOT YET VALID",
        }
    }
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct Row {
    /// The file, relative to the scanned directory.
    pub file: PathBuf,
    /// 1-based position in the file.
    pub index: usize,
    /// Subject CN.
    pub subject: String,
    /// Issuer CN.
    pub issuer: String,
    /// Key usages and extended key usages, by name.
    pub usages: Vec<String>,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// notBefore.
    pub not_before: SystemTime,
    /// notAfter.
    pub not_after: SystemTime,
    /// Report status.
    pub status: Status,
    /// The `rotate --service` that renews it (k3s and RKE2); None for CAs
    /// and files no service lists.
    pub service: Option<&'static str>,
}

impl Row {
    /// Signed seconds until expiry (negative once expired).
    pub fn seconds_left(&self, now: SystemTime) -> i64 {
        match self.not_after.duration_since(now) {
            Ok(left) => i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            Err(past) => -i64::try_from(past.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// A file that should hold certificates but could not be read.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The file, relative to the scanned directory.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: String,
}

/// The report of a scanned directory.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Rows sorted by expiry, soonest first.
    pub rows: Vec<Row>,
    /// Unreadable certificate files.
    pub problems: Vec<Problem>,
    /// Whether a `dynamic-cert.json` was found, and its status.
    pub dynamic_cert: Option<Status>,
    /// What was looked for and not found, when that is no problem (the
    /// default kubeconfig on an agent, a server's agent dir).
    pub notes: Vec<String>,
    /// k3s and RKE2: the services, and whether the node is an agent
    /// (no `server/`, so only the agent's services renew anything).
    pub services: Option<(&'static CertificateServices, bool)>,
}

impl ScanReport {
    /// Whether any certificate is expired or not yet valid.
    pub fn has_invalid(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.status, Status::Expired | Status::NotYetValid))
    }
}

/// Scans `dir` recursively. Files ending in `.crt`, `.pem` or `.cert` that hold
/// no readable certificate, special files (FIFOs, sockets, devices: reading one
/// could block or never end) and unreadable directories become problems.
/// Symbolic links to directories are not followed, so a link loop (`x -> .`)
/// cannot make the walk endless; links to files are read like the files.
/// `kubeconfigs` (paths relative to `dir`) are read for the client certificate
/// they embed.
pub fn scan(dir: &Path, now: SystemTime, warn: Duration, kubeconfigs: &[&str]) -> ScanReport {
    let mut report = ScanReport::default();
    let scan = Scan {
        base: dir,
        now,
        warn,
        kubeconfigs,
        service: &|_| None,
    };
    scan.walk(dir, &mut report);
    report.sort();
    report
}

/// What one walk reads: rows are named relative to `base`, each with the
/// service `service` gives its path.
struct Scan<'a> {
    base: &'a Path,
    now: SystemTime,
    warn: Duration,
    kubeconfigs: &'a [&'a str],
    service: &'a dyn Fn(&Path) -> Option<&'static str>,
}

impl ScanReport {
    fn sort(&mut self) {
        self.rows
            .sort_by(|a, b| (a.not_after, &a.file, a.index).cmp(&(b.not_after, &b.file, b.index)));
        self.problems.sort_by(|a, b| a.file.cmp(&b.file));
    }
}

impl Scan<'_> {
    /// Adds what is under `dir` to `report` (see [`scan`]).
    fn walk(&self, dir: &Path, report: &mut ScanReport) {
        let (now, warn, kubeconfigs) = (self.now, self.warn, self.kubeconfigs);
        let base = self.base;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(current) = stack.pop() {
            let entries = match std::fs::read_dir(&current) {
                Ok(entries) => entries,
                Err(e) => {
                    report.problems.push(Problem {
                        file: relative(base, &current),
                        problem: format!("cannot read directory: {e}"),
                    });
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(file_type) = entry.file_type() else {
                    continue;
                };
                if file_type.is_dir() {
                    stack.push(path);
                } else if file_type.is_symlink() && path.is_dir() {
                    // Not followed: see above.
                } else if !file_type.is_file() && !file_type.is_symlink() {
                    let kind = rustix::fs::lstat(&path).map_or("not a regular file", |st| {
                        input::file_kind(rustix::fs::FileType::from_raw_mode(st.st_mode))
                    });
                    report.problems.push(Problem {
                        file: relative(base, &path),
                        problem: format!("skipped: {kind}, not a regular file"),
                    });
                } else if is_certificate_name(&path) {
                    let service = (self.service)(&path);
                    read_certificate_file(base, &path, false, service, now, warn, report);
                } else if kubeconfigs
                    .iter()
                    .any(|name| relative(dir, &path) == Path::new(name))
                {
                    let service = (self.service)(&path);
                    read_certificate_file(base, &path, true, service, now, warn, report);
                } else if path.file_name().is_some_and(|n| n == DYNAMIC_CERT) {
                    read_dynamic_cert(base, &path, now, warn, report);
                }
            }
        }
    }
}

fn is_certificate_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "crt" | "pem" | "cert"))
}

fn relative(base: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(base).unwrap_or(path).to_path_buf()
}

/// Adds the rows of the certificate file, or kubeconfig, at `path`.
fn read_certificate_file(
    base: &Path,
    path: &Path,
    kubeconfig: bool,
    service: Option<&'static str>,
    now: SystemTime,
    warn: Duration,
    report: &mut ScanReport,
) {
    match certificates_in(path, kubeconfig) {
        Ok(certs) => {
            let first = report.rows.len();
            add_rows(relative(base, path), &certs, now, warn, report);
            // A CA bundle's rows are CAs, which no service renews.
            for row in &mut report.rows[first..] {
                row.service = service.filter(|_| !row.is_ca);
            }
        }
        Err(problem) => report.problems.push(Problem {
            file: relative(base, path),
            problem,
        }),
    }
}

/// The certificates of a PEM file, or of a kubeconfig's
/// `client-certificate-data`; an error is the problem without the path.
fn certificates_in(path: &Path, kubeconfig: bool) -> Result<Vec<Certificate>, String> {
    let certs = if kubeconfig {
        Kubeconfig::read(path).and_then(|config| config.client_certificates())
    } else {
        PemFile::read(path).and_then(|file| bundle_in(&file))
    };
    certs.map_err(|e| problem_text(&e.to_string(), path))
}

/// Strips the path the library error starts with: the row names the file already.
pub(crate) fn problem_text(message: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
}

fn add_rows(
    file: PathBuf,
    certs: &[Certificate],
    now: SystemTime,
    warn: Duration,
    report: &mut ScanReport,
) {
    let listed = if certs[0].is_ca() { certs.len() } else { 1 };
    for (i, cert) in certs.iter().take(listed).enumerate() {
        report.rows.push(row(file.clone(), i + 1, cert, now, warn));
    }
}

fn row(file: PathBuf, index: usize, cert: &Certificate, now: SystemTime, warn: Duration) -> Row {
    Row {
        file,
        index,
        subject: cert.subject_cn(),
        issuer: cert.issuer_cn(),
        usages: usages(cert),
        is_ca: cert.is_ca(),
        not_before: cert.not_before(),
        not_after: cert.not_after(),
        status: status(cert, now, warn),
        service: None,
    }
}

/// The status of `cert` at `now` with a warning window of `warn`; a window
/// that reaches past the end of time warns about every valid certificate.
pub fn status(cert: &Certificate, now: SystemTime, warn: Duration) -> Status {
    if now < cert.not_before() {
        Status::NotYetValid
    } else if now > cert.not_after() {
        Status::Expired
    } else if now
        .checked_add(warn)
        .is_none_or(|limit| cert.not_after() < limit)
    {
        Status::Warning
    } else {
        Status::Ok
    }
}

fn usages(cert: &Certificate) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(ku) = cert.key_usage() {
        let flags = [
            (ku.digital_signature(), "digitalSignature"),
            (ku.non_repudiation(), "contentCommitment"),
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
        ];
        names.extend(
            flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string()),
        );
    }
    if let Some(eku) = cert.extended_key_usage() {
        for oid in eku.0 {
            names.push(match oid.to_string().as_str() {
                "1.3.6.1.5.5.7.3.1" => "serverAuth".into(),
                "1.3.6.1.5.5.7.3.2" => "clientAuth".into(),
                "2.5.29.37.0" => "anyExtendedKeyUsage".into(),
                other => other.to_string(),
            });
        }
    }
    names
}

/// `dynamic-cert.json` is a Kubernetes Secret as JSON: `data["tls.crt"]` holds the
/// base64 of the PEM serving certificate.
fn read_dynamic_cert(
    base: &Path,
    path: &Path,
    now: SystemTime,
    warn: Duration,
    report: &mut ScanReport,
) {
    let file = relative(base, path);
    let problem = |problem: String| Problem {
        file: file.clone(),
        problem,
    };
    let parsed = crate::checks::serving::read_secret(path);
    match parsed {
        Ok(certs) => {
            report.dynamic_cert = Some(status(&certs[0], now, warn));
            add_rows(file, &certs[..1], now, warn, report);
        }
        Err(e) => report.problems.push(problem(e)),
    }
}

/// One certificate of kubeadm's `certs check-expiration`.
#[derive(Clone, Debug)]
pub struct Named {
    /// kubeadm's name for it: `apiserver`, `etcd-server`, `admin.conf`, `ca`.
    pub name: &'static str,
    /// The name of the CA that signs it (`ca`, `etcd-ca`); None for a CA.
    pub ca_name: Option<&'static str>,
    /// Whether that CA (or this CA) is in external-CA mode: its `.crt`
    /// without its `.key`, so kubeadm cannot renew what it signs.
    pub externally_managed: bool,
    /// The file read: `pki/<base>.crt`, or the kubeconfig.
    pub file: PathBuf,
    /// What was found there.
    pub found: Found,
}

/// What a [`Named`] certificate's file held.
#[derive(Clone, Debug)]
pub enum Found {
    /// No file (kubeadm's `!MISSING!`): super-admin.conf exists only on the
    /// node that ran `kubeadm init`, etcd's files only with stacked etcd.
    Missing,
    /// Its first certificate.
    Read(Row),
    /// A file that does not hold a readable certificate: the problem.
    Unreadable(String),
}

/// kubeadm's report: the certificates and the CAs, each sorted by name as
/// kubeadm sorts them.
#[derive(Debug, Default)]
pub struct KubeadmReport {
    /// Leaf certificates and kubeconfig client certificates.
    pub certificates: Vec<Named>,
    /// `ca`, `etcd-ca`, `front-proxy-ca`.
    pub authorities: Vec<Named>,
    /// `kubelet.conf` when it embeds its client certificate, which kubeadm
    /// does not list: clusters made before kubeadm 1.17 kept the first
    /// certificate there, and the kubelet uses it after every rotation
    /// until it expires ([`KUBELET_CONF_FIX`]).
    pub kubelet_conf: Option<Named>,
}

/// kubeadm's documented fix for a `kubelet.conf` that embeds its client
/// certificate ("Certificate Management with kubeadm", kubernetes.io: the
/// warning on nodes made before kubeadm 1.17, and the kubelet client
/// certificate rotation failure), in our words.
pub const KUBELET_CONF_FIX: &str = "kubelet.conf embeds its client certificate, so the kubelet \
     keeps using it after rotating it (nodes made before kubeadm 1.17): in kubelet.conf, \
     replace client-certificate-data with `client-certificate: \
     /var/lib/kubelet/pki/kubelet-client-current.pem` and client-key-data with `client-key: \
     /var/lib/kubelet/pki/kubelet-client-current.pem`, then `systemctl restart kubelet`.";

impl KubeadmReport {
    fn all(&self) -> impl Iterator<Item = &Named> + '_ {
        self.certificates
            .iter()
            .chain(&self.authorities)
            .chain(&self.kubelet_conf)
    }

    /// Whether any certificate is expired or not yet valid.
    pub fn has_invalid(&self) -> bool {
        self.all().any(|named| {
            matches!(&named.found, Found::Read(row) if matches!(row.status, Status::Expired | Status::NotYetValid))
        })
    }

    /// Whether any file could not be read (a missing one is not a problem:
    /// kubeadm lists it and goes on).
    pub fn has_problems(&self) -> bool {
        self.all()
            .any(|named| matches!(named.found, Found::Unreadable(_)))
    }
}

/// What `ca-check expiry` reports: the list the layout's [`ExpiryScheme`]
/// makes, and what it was judged against.
#[derive(Debug)]
pub struct ExpiryReport {
    /// The layout read.
    pub layout: &'static Layout,
    /// The certificate directory read (k3s and RKE2 by default: the data
    /// dir, the rows naming `server/tls/...` and `agent/...`).
    pub directory: PathBuf,
    /// Where the layout keeps its CAs (and k3s its `dynamic-cert.json`): the
    /// directory given, or the layout's cert dir (`server/tls`) under the
    /// data dir, which an agent does not have.
    pub cert_dir: PathBuf,
    /// When the certificates were judged.
    pub checked_at: SystemTime,
    /// Days before expiry that count as WARNING.
    pub warn_days: u64,
    /// Days before expiry from which a certificate is due for renewal.
    pub due_days: u64,
    /// Whether a due certificate fails the check (`--fail-due`).
    pub fail_due: bool,
    /// The list.
    pub found: Expiries,
    /// The supervisor's serving certificate, judged (k3s and RKE2); set by
    /// [`crate::checks::serving::check`].
    pub serving: Option<crate::checks::serving::Serving>,
    /// Each CA of the layout found in the cert dir, and its next step.
    pub cas: Vec<crate::checks::ca_outlook::CaOutlook>,
}

/// The list of an [`ExpiryReport`], one kind per [`ExpiryScheme`].
#[derive(Debug)]
pub enum Expiries {
    /// Every certificate under the directory (or directories).
    Scan(ScanReport),
    /// kubeadm's named certificates.
    Kubeadm {
        /// Where the kubeconfigs were read: the data dir.
        kubeconfig_dir: PathBuf,
        /// The certificates and CAs.
        report: KubeadmReport,
    },
}

/// How to renew what is due on a k3s or RKE2 node: one `rotate --service`.
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceRenewal {
    /// The services, in k3s's order.
    pub services: Vec<&'static str>,
    /// Stop the unit, rotate, start it again.
    pub commands: [String; 3],
    /// Whether a CA is due too, which `rotate` never renews.
    pub ca_due: bool,
}

impl ExpiryReport {
    /// Whether no certificate is expired or not yet valid, every file could
    /// be read, and, with `--fail-due`, none is due.
    pub fn passed(&self) -> bool {
        let serving_failed = self.serving.as_ref().is_some_and(|s| s.failed());
        let clean = !serving_failed
            && match &self.found {
                Expiries::Scan(report) => !report.has_invalid() && report.problems.is_empty(),
                Expiries::Kubeadm { report, .. } => !report.has_invalid() && !report.has_problems(),
            };
        clean && !(self.fail_due && self.rows().any(|row| self.is_due(row)))
    }

    /// Every certificate read.
    pub fn rows(&self) -> Box<dyn Iterator<Item = &Row> + '_> {
        match &self.found {
            Expiries::Scan(report) => Box::new(report.rows.iter()),
            Expiries::Kubeadm { report, .. } => {
                Box::new(report.all().filter_map(|named| match &named.found {
                    Found::Read(row) => Some(row),
                    Found::Missing | Found::Unreadable(_) => None,
                }))
            }
        }
    }

    /// Whether `row` is not valid, or expires within `due_days`.
    pub fn is_due(&self, row: &Row) -> bool {
        let window = i64::try_from(self.due_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        row.status != Status::Ok && row.status != Status::Warning
            || row.seconds_left(self.checked_at) < window
    }

    /// k3s and RKE2: the one command that renews every leaf in the warning
    /// window, due, expired or not yet valid; None when there is none (or no
    /// services: other layouts).
    pub fn renewal(&self) -> Option<ServiceRenewal> {
        let Expiries::Scan(report) = &self.found else {
            return None;
        };
        let (services, agent) = report.services?;
        let pending: Vec<&Row> = report
            .rows
            .iter()
            .filter(|row| row.status != Status::Ok || self.is_due(row))
            .collect();
        let names: Vec<&'static str> = services
            .services
            .iter()
            .filter(|service| service.role != ServiceRole::Authority)
            .map(|service| service.name)
            .filter(|name| pending.iter().any(|row| row.service == Some(name)))
            .collect();
        let ca_due = pending.iter().any(|row| row.is_ca);
        if names.is_empty() && !ca_due {
            return None;
        }
        Some(ServiceRenewal {
            commands: services.renew_commands(&names, agent),
            services: names,
            ca_due,
        })
    }
}

/// What `ca-check expiry` is asked.
#[derive(Clone, Debug, Default)]
pub struct ExpiryOptions {
    /// The directory to scan instead of the layout's (kubeadm: its --cert-dir).
    pub dir: Option<PathBuf>,
    /// k3s and RKE2: the admin kubeconfig to read instead of the default;
    /// a missing one is a problem, a missing default only a note.
    pub kubeconfig: Option<PathBuf>,
    /// Days before expiry that count as WARNING.
    pub warn_days: u64,
    /// Days before expiry from which a certificate is due (default: the
    /// layout's renewal window).
    pub due_days: Option<u64>,
    /// Whether a due certificate fails the check.
    pub fail_due: bool,
}

/// The expiry of the certificates of `data_dir` (or `options.dir`) at `now`;
/// an error when the directory cannot be read.
pub fn check(data_dir: &DataDir, options: &ExpiryOptions, now: SystemTime) -> Result<ExpiryReport> {
    recover(data_dir, None)?;
    let layout = data_dir.layout();
    let warn = Duration::from_secs(options.warn_days.saturating_mul(86_400));
    let (directory, found) = match layout.expiry {
        ExpiryScheme::Scan { kubeconfigs } => {
            if options.kubeconfig.is_some() {
                return Err(kubeconfig_refused(layout));
            }
            let dir = cert_dir(data_dir, options)?;
            let report = scan(&dir, now, warn, kubeconfigs);
            (dir, Expiries::Scan(report))
        }
        ExpiryScheme::Services(services) => {
            let (dir, report) = scan_node(data_dir, services, options, now, warn)?;
            (dir, Expiries::Scan(report))
        }
        ExpiryScheme::Kubeadm => {
            if options.kubeconfig.is_some() {
                return Err(kubeconfig_refused(layout));
            }
            let dir = cert_dir(data_dir, options)?;
            let found = Expiries::Kubeadm {
                report: kubeadm_report(&dir, &data_dir.root, now, warn),
                kubeconfig_dir: data_dir.root.clone(),
            };
            (dir, found)
        }
    };
    let cert_dir = options.dir.clone().unwrap_or_else(|| data_dir.tls_dir());
    Ok(ExpiryReport {
        layout,
        cas: crate::checks::ca_outlook::outlook(data_dir, &cert_dir),
        cert_dir,
        directory,
        checked_at: now,
        warn_days: options.warn_days,
        due_days: options.due_days.unwrap_or(layout.due_days),
        fail_due: options.fail_due,
        found,
        serving: None,
    })
}

fn kubeconfig_refused(layout: &Layout) -> Error {
    Error::usage(format!(
        "--kubeconfig names k3s's or RKE2's admin kubeconfig; the {} layout reads its \
         kubeconfigs from --data-dir",
        layout.name()
    ))
}

/// `options.dir`, or the layout's cert dir, which must exist.
fn cert_dir(data_dir: &DataDir, options: &ExpiryOptions) -> Result<PathBuf> {
    let dir = match &options.dir {
        Some(dir) => dir.clone(),
        None => {
            data_dir.must_have_cert_dir()?;
            data_dir.tls_dir()
        }
    };
    std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "reading directory", e))?;
    Ok(dir)
}

/// k3s and RKE2: `options.dir` alone, or the node's directories (a server's
/// `server/tls` and `agent`, an agent's `agent`) named from the data dir;
/// then the admin kubeconfig.
fn scan_node(
    data_dir: &DataDir,
    services: &'static CertificateServices,
    options: &ExpiryOptions,
    now: SystemTime,
    warn: Duration,
) -> Result<(PathBuf, ScanReport)> {
    let root = &data_dir.root;
    let service_of = |path: &Path| {
        path.strip_prefix(root)
            .ok()
            .and_then(|relative| services.renewed_by(relative))
    };
    let kubeconfigs = [services.kubeconfig_name];
    let admin = |_: &Path| Some(services.kubeconfig_service);
    let mut report = ScanReport::default();
    let agent = !root.join(services.server_dir).exists() && options.dir.is_none();
    let directory = match &options.dir {
        Some(dir) => {
            std::fs::read_dir(dir).map_err(|e| Error::io(dir, "reading directory", e))?;
            let service = |path: &Path| {
                if path.file_name() == Some(services.kubeconfig_name.as_ref()) {
                    admin(path)
                } else {
                    service_of(path)
                }
            };
            Scan {
                base: dir,
                now,
                warn,
                kubeconfigs: &kubeconfigs,
                service: &service,
            }
            .walk(dir, &mut report);
            dir.clone()
        }
        None => {
            let agent_dir = root.join(services.agent_dir);
            if agent {
                data_dir.must_exist()?;
                if !agent_dir.is_dir() {
                    // Neither a server nor an agent: name the server's dir.
                    data_dir.must_have_cert_dir()?;
                }
            } else {
                data_dir.must_have_cert_dir()?;
            }
            let dirs: Vec<PathBuf> = if agent {
                vec![agent_dir]
            } else {
                services.server_dirs.iter().map(|d| root.join(d)).collect()
            };
            let scan = Scan {
                base: root,
                now,
                warn,
                kubeconfigs: &[],
                service: &service_of,
            };
            for dir in dirs {
                match std::fs::symlink_metadata(&dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        report.notes.push(format!(
                            "{}: not found (a server started with --disable-agent has none)",
                            shown(relative(root, &dir))
                        ))
                    }
                    _ => scan.walk(&dir, &mut report),
                }
            }
            root.clone()
        }
    };
    match &options.kubeconfig {
        // Read already: the scanned dir holds it under its own name.
        Some(path)
            if report
                .rows
                .iter()
                .any(|row| directory.join(&row.file) == *path) => {}
        Some(path) => {
            read_certificate_file(&directory, path, true, admin(path), now, warn, &mut report)
        }
        None if options.dir.is_none() => {
            let path = Path::new(services.admin_kubeconfig);
            if path.symlink_metadata().is_ok() {
                read_certificate_file(&directory, path, true, admin(path), now, warn, &mut report);
            } else {
                report.notes.push(format!(
                    "{}: not found ({} writes it on servers; --kubeconfig names another)",
                    services.admin_kubeconfig, services.program
                ));
            }
        }
        None => {}
    }
    report.services = Some((services, agent));
    report.sort();
    Ok((directory, report))
}

/// What `kubeadm certs check-expiration --cert-dir <cert_dir>` lists, with
/// the kubeconfigs in `kubeconfig_dir` (`/etc/kubernetes`).
pub fn kubeadm_report(
    cert_dir: &Path,
    kubeconfig_dir: &Path,
    now: SystemTime,
    warn: Duration,
) -> KubeadmReport {
    let ca_file =
        |ca: KubeadmCa, extension: &str| cert_dir.join(format!("{}.{extension}", ca.stem()));
    // kubeadm's rule, per CA: the certificate is there but not the key.
    let external = |ca: KubeadmCa| ca_file(ca, "crt").exists() && !ca_file(ca, "key").exists();
    let named = |name, ca_name, externally_managed, file: PathBuf, kubeconfig| {
        let found = if !file.exists() {
            Found::Missing
        } else {
            match certificates_in(&file, kubeconfig) {
                Ok(certs) => Found::Read(row(file.clone(), 1, &certs[0], now, warn)),
                Err(problem) => Found::Unreadable(problem),
            }
        };
        Named {
            name,
            ca_name,
            externally_managed,
            file,
            found,
        }
    };
    let mut certificates: Vec<Named> = CERTIFICATES
        .iter()
        .filter(|cert| cert.checked_for_expiry())
        .map(|cert| {
            let file = if cert.kubeconfig {
                kubeconfig_dir.join(cert.base)
            } else {
                cert_dir.join(format!("{}.crt", cert.base))
            };
            named(
                cert.expiration_name,
                Some(cert.ca.expiration_name()),
                external(cert.ca),
                file,
                cert.kubeconfig,
            )
        })
        .collect();
    let mut authorities: Vec<Named> = KubeadmCa::ALL
        .into_iter()
        .map(|ca| {
            named(
                ca.expiration_name(),
                None,
                external(ca),
                ca_file(ca, "crt"),
                false,
            )
        })
        .collect();
    certificates.sort_by_key(|named| named.name);
    authorities.sort_by_key(|named| named.name);
    let kubelet_conf = CERTIFICATES
        .iter()
        .filter(|cert| cert.kubeconfig && !cert.checked_for_expiry())
        .find_map(|cert| {
            let file = kubeconfig_dir.join(cert.base);
            Kubeconfig::read(&file)
                .is_ok_and(|config| config.embeds_client_certificate())
                .then(|| {
                    named(
                        cert.expiration_name,
                        Some(cert.ca.expiration_name()),
                        external(cert.ca),
                        file,
                        true,
                    )
                })
        });
    KubeadmReport {
        certificates,
        authorities,
        kubelet_conf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 7: a FIFO under tls hung the report, `/dev/zero` behind a
    /// `.crt` link was read until memory ran out, and `x -> .` links made the
    /// walk exponential.
    #[test]
    fn the_expiry_walk_reads_only_regular_files_and_follows_no_directory_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo.crt"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero.crt")).unwrap();
        for name in ["x", "y", "z"] {
            std::os::unix::fs::symlink(".", root.join(name)).unwrap();
        }
        let report = scan(root, SystemTime::now(), Duration::ZERO, &[]);
        let problems: Vec<String> = report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.file.display(), p.problem))
            .collect();
        assert_eq!(
            problems,
            [
                "fifo.crt: skipped: a FIFO, not a regular file",
                "zero.crt: is a character device, not a regular file"
            ]
        );
    }

    /// `--warn-days 99999999999999999` overflowed and panicked.
    #[test]
    fn a_warning_window_past_the_end_of_time_warns() {
        let bundle =
            testkit::workspace_root().join("fixtures/k3s-default/server/tls/server-ca.crt");
        let cert = crate::pki::cert::read_bundle(&bundle).unwrap().remove(0);
        let now = cert.not_before();
        // What `check` makes of it: u64::MAX seconds.
        let warn = Duration::from_secs(u64::MAX);
        assert_eq!(status(&cert, now, warn), Status::Warning);
    }
}
