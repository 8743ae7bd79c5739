//! Expiry report: every certificate under a directory with when it expires.
//!
//! One row per certificate file (its first certificate: a leaf file holds
//! `[leaf, CA bundle]`), except CA bundles, which list each CA. k3s's
//! `dynamic-cert.json` (the serving certificate behind the `k3s-serving` secret)
//! is read too: it is not renewed with the other leaves, and an expired one has
//! to be deleted by hand (secret and file). k0s's `admin.conf` in `pki/` is
//! read for its embedded client certificate.
//!
//! kubeadm gets its own report ([`kubeadm_report`]): the fixed list of
//! `kubeadm certs check-expiration`, by kubeadm's names, with each
//! certificate's CA, external-CA mode, and absent files as missing.
//!
//! [`check`] picks the report by the layout's [`ExpiryScheme`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::checks::recover;
use crate::layout::kubeadm::{CERTIFICATES, KubeadmCa};
use crate::layout::kubeconfig::Kubeconfig;
use crate::layout::{DataDir, ExpiryScheme, Layout};
use crate::pki::cert::{Certificate, bundle_in};
use crate::pki::error::{Error, Result};
use crate::pki::input;
use crate::pki::pem::PemFile;

/// k3s renews leaf certificates this close to expiry, so warn from here on.
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
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                report.problems.push(Problem {
                    file: relative(dir, &current),
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
                    file: relative(dir, &path),
                    problem: format!("skipped: {kind}, not a regular file"),
                });
            } else if is_certificate_name(&path) {
                read_certificate_file(dir, &path, false, now, warn, &mut report);
            } else if kubeconfigs
                .iter()
                .any(|name| relative(dir, &path) == Path::new(name))
            {
                read_certificate_file(dir, &path, true, now, warn, &mut report);
            } else if path.file_name().is_some_and(|n| n == DYNAMIC_CERT) {
                read_dynamic_cert(dir, &path, now, warn, &mut report);
            }
        }
    }
    report
        .rows
        .sort_by(|a, b| (a.not_after, &a.file, a.index).cmp(&(b.not_after, &b.file, b.index)));
    report.problems.sort_by(|a, b| a.file.cmp(&b.file));
    report
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
    now: SystemTime,
    warn: Duration,
    report: &mut ScanReport,
) {
    match certificates_in(path, kubeconfig) {
        Ok(certs) => add_rows(relative(base, path), &certs, now, warn, report),
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
}

impl KubeadmReport {
    fn all(&self) -> impl Iterator<Item = &Named> {
        self.certificates.iter().chain(&self.authorities)
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
    /// The certificate directory read.
    pub directory: PathBuf,
    /// When the certificates were judged.
    pub checked_at: SystemTime,
    /// Days before expiry that count as WARNING.
    pub warn_days: u64,
    /// The list.
    pub found: Expiries,
    /// The supervisor's serving certificate, judged (k3s and RKE2); set by
    /// [`crate::checks::serving::check`].
    pub serving: Option<crate::checks::serving::Serving>,
}

/// The list of an [`ExpiryReport`], one kind per [`ExpiryScheme`].
#[derive(Debug)]
pub enum Expiries {
    /// Every certificate under the directory.
    Scan(ScanReport),
    /// kubeadm's named certificates.
    Kubeadm {
        /// Where the kubeconfigs were read: the data dir.
        kubeconfig_dir: PathBuf,
        /// The certificates and CAs.
        report: KubeadmReport,
    },
}

impl ExpiryReport {
    /// Whether no certificate is expired or not yet valid and every file
    /// could be read.
    pub fn passed(&self) -> bool {
        let serving_failed = self.serving.as_ref().is_some_and(|s| s.failed());
        !serving_failed
            && match &self.found {
                Expiries::Scan(report) => !report.has_invalid() && report.problems.is_empty(),
                Expiries::Kubeadm { report, .. } => !report.has_invalid() && !report.has_problems(),
            }
    }
}

/// The expiry of the certificates in `dir` (default: `data_dir`'s cert dir),
/// with a warning window of `warn_days`, at `now`; an error when `dir`
/// cannot be read.
pub fn check(
    data_dir: &DataDir,
    dir: Option<PathBuf>,
    warn_days: u64,
    now: SystemTime,
) -> Result<ExpiryReport> {
    recover(data_dir, None)?;
    let layout = data_dir.layout();
    let dir = dir.unwrap_or_else(|| data_dir.tls_dir());
    std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "reading directory", e))?;
    let warn = Duration::from_secs(warn_days.saturating_mul(86_400));
    let found = match layout.expiry {
        ExpiryScheme::Scan { kubeconfigs } => Expiries::Scan(scan(&dir, now, warn, kubeconfigs)),
        ExpiryScheme::Kubeadm => Expiries::Kubeadm {
            report: kubeadm_report(&dir, &data_dir.root, now, warn),
            kubeconfig_dir: data_dir.root.clone(),
        },
    };
    Ok(ExpiryReport {
        layout,
        directory: dir,
        checked_at: now,
        warn_days,
        found,
        serving: None,
    })
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
    KubeadmReport {
        certificates,
        authorities,
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
