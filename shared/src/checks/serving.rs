//! The supervisor's serving certificate (`dynamic-cert.json`, the
//! `k3s-serving` secret): k3s renews its other leaves at start but not this
//! one (seed 002: after a restart everything in `server/tls` was renewed and
//! kubectl still failed), and after `rotate-ca` it may still be signed by the
//! old server CA (k3s #13006). So beyond its row in the expiry table it is
//! judged as a client judges it: valid now, not about to expire, and chaining
//! to the current `server-ca.crt` as Go verifies it. What renews it depends
//! on the k3s release ([`crate::layout::k3s::serving`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::checks::expiry::{ExpiryReport, Status, problem_text, status};
use crate::layout::k3s::serving::{
    DYNAMIC_CERT, REGENERATE_TRIGGER, Release, Renewal, ServingNames, Source, detect_release, names,
};
use crate::layout::{DataDir, ExpiryScheme, k3s};
use crate::pki::cert::{Certificate, bundle_in, read_bundle};
use crate::pki::input;
use crate::pki::pem::PemFile;
use crate::pki::verify::go_verify;

/// The certificates of a `dynamic-cert.json`: a Kubernetes Secret as JSON
/// whose `data["tls.crt"]` is the base64 of the PEM `[leaf, CA...]` the
/// supervisor serves. The error is the problem, without the path.
pub fn read_secret(path: &Path) -> Result<Vec<Certificate>, String> {
    let bytes = input::read(path).map_err(|e| problem_text(&e.to_string(), path))?;
    let secret: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    let encoded = secret["data"]["tls.crt"]
        .as_str()
        .ok_or_else(|| "no data[\"tls.crt\"] in the secret".to_string())?;
    let pem = {
        use base64ct::Encoding as _;
        base64ct::Base64::decode_vec(encoded)
            .map_err(|e| format!("data[\"tls.crt\"] is not base64: {e}"))?
    };
    PemFile::parse(path, pem)
        .and_then(|f| bundle_in(&f))
        .map_err(|e| problem_text(&e.to_string(), path))
}

/// Whether the serving certificate chains to the current server CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Go finds a chain to a certificate of `server-ca.crt`.
    Verified,
    /// Go finds none; why.
    Refused(String),
    /// Not judged: the certificate is outside its validity (that is the
    /// finding), or there is no readable `server-ca.crt` beside it (the
    /// expiry table names an unreadable one); why.
    NotJudged(String),
}

/// What is wrong with the serving certificate, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding<'a> {
    /// Past its notAfter.
    Expired,
    /// Before its notBefore.
    NotYetValid,
    /// Valid, but clients that trust the current server CA refuse it: why.
    Unchained(&'a str),
    /// Valid and chaining, but within the warning window.
    Warning,
}

/// The serving certificate, judged.
#[derive(Debug)]
pub struct Serving {
    /// The `dynamic-cert.json` read.
    pub file: PathBuf,
    /// Its leaf's subject and issuer CNs.
    pub subject: String,
    /// The issuer CN: after a rotation, the old CA's.
    pub issuer: String,
    /// The leaf's notBefore.
    pub not_before: SystemTime,
    /// The leaf's notAfter.
    pub not_after: SystemTime,
    /// The leaf's status at report time.
    pub status: Status,
    /// The server CA's bundle it is judged against, as the layout names it
    /// (`server-ca.crt`), beside it.
    pub server_ca: String,
    /// Whether it chains to `server-ca.crt`.
    pub chain: Chain,
    /// The release, and where it was learnt; `None` when nothing tells.
    pub release: Option<(Release, Source)>,
    /// Whether the trigger file is there already.
    pub trigger_pending: bool,
    /// The product's names for the commands.
    pub names: &'static ServingNames,
    /// The data dir k3s runs with, when not the product's default (then
    /// `certificate rotate` needs `--data-dir`).
    pub data_dir: Option<PathBuf>,
}

impl Serving {
    /// The worst finding, if any.
    pub fn finding(&self) -> Option<Finding<'_>> {
        match (&self.status, &self.chain) {
            (Status::Expired, _) => Some(Finding::Expired),
            (Status::NotYetValid, _) => Some(Finding::NotYetValid),
            (_, Chain::Refused(why)) => Some(Finding::Unchained(why)),
            (Status::Warning, _) => Some(Finding::Warning),
            (Status::Ok, _) => None,
        }
    }

    /// Whether clients refuse it now: expired, not yet valid or not chaining.
    pub fn failed(&self) -> bool {
        !matches!(self.finding(), None | Some(Finding::Warning))
    }

    /// What renews it.
    pub fn renewal(&self) -> Renewal<'_> {
        Renewal {
            names: self.names,
            tls_dir: self.file.parent().unwrap_or(Path::new("")),
            data_dir: self.data_dir.as_deref(),
            release: self.release.as_ref().map(|(release, _)| *release),
            trigger_pending: self.trigger_pending,
        }
    }
}

/// The serving certificate of the directory `report` scanned, judged with
/// `report`'s clock and window; `release` from `--k3s-version`, else what the
/// data dir tells. `None` for layouts without one, and when there is no
/// readable `dynamic-cert.json` at the top of the directory (an unreadable
/// one is already a problem of the report).
pub fn check(
    report: &ExpiryReport,
    data_dir: &DataDir,
    release: Option<Release>,
) -> Option<Serving> {
    let ExpiryScheme::Scan { .. } = report.layout.expiry else {
        return None;
    };
    let names = names(report.layout)?;
    let dir = &report.directory;
    let file = dir.join(DYNAMIC_CERT);
    if !file.exists() {
        return None;
    }
    let certs = read_secret(&file).ok()?;
    let leaf = certs.first()?;
    let now = report.checked_at;
    let warn = Duration::from_secs(report.warn_days.saturating_mul(86_400));
    let status = status(leaf, now, warn);
    let server_ca = report
        .layout
        .ca(k3s::SERVER_CA)
        .map(|slot| report.layout.cert_file(slot))?;
    let chain = match status {
        Status::Expired | Status::NotYetValid => {
            Chain::NotJudged("it is outside its validity period".into())
        }
        Status::Ok | Status::Warning => judge_chain(leaf, &certs[1..], dir, &server_ca, now),
    };
    let release = match release {
        Some(release) => Some((release, Source::Flag)),
        None => detect_release(&data_dir.root),
    };
    Some(Serving {
        subject: leaf.subject_cn(),
        issuer: leaf.issuer_cn(),
        not_before: leaf.not_before(),
        not_after: leaf.not_after(),
        status,
        chain,
        release,
        trigger_pending: dir.join(REGENERATE_TRIGGER).symlink_metadata().is_ok(),
        server_ca,
        names,
        data_dir: k3s_data_dir(dir, data_dir, report),
        file,
    })
}

/// Go's verification as a client that trusts `server-ca.crt` (what
/// `k3s.yaml` and the agents trust) sees it: every certificate of that file
/// a root, the certificates served after the leaf the intermediates.
fn judge_chain(
    leaf: &Certificate,
    served: &[Certificate],
    dir: &Path,
    server_ca: &str,
    now: SystemTime,
) -> Chain {
    let path = dir.join(server_ca);
    let roots = match read_bundle(&path) {
        Ok(roots) => roots,
        Err(e) => {
            return Chain::NotJudged(format!(
                "{server_ca}: {}",
                problem_text(&e.to_string(), &path)
            ));
        }
    };
    let roots: Vec<&Certificate> = roots.iter().collect();
    let intermediates: Vec<&Certificate> = served.iter().collect();
    match go_verify(leaf, &roots, &intermediates, now) {
        Ok(_) => Chain::Verified,
        Err(refusal) => Chain::Refused(refusal.to_string()),
    }
}

/// The data dir k3s runs with, for `--data-dir`: the one the scanned
/// `server/tls` lies in, or the resolved one; `None` when it is the default.
fn k3s_data_dir(dir: &Path, data_dir: &DataDir, report: &ExpiryReport) -> Option<PathBuf> {
    let root = if dir.ends_with(report.layout.cert_dir) {
        dir.ancestors()
            .nth(Path::new(report.layout.cert_dir).components().count())
            .map_or_else(|| data_dir.root.clone(), Path::to_path_buf)
    } else {
        data_dir.root.clone()
    };
    (root != DataDir::default_root(data_dir.product)).then_some(root)
}
