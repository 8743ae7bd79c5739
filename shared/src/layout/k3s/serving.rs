//! The supervisor's serving certificate (dynamiclistener's cache
//! `server/tls/dynamic-cert.json`, the `<product>-serving` secret): what
//! renews it in each k3s release, and the commands that do, as a
//! [`Procedure`].
//!
//! k3s renews its other leaves at start; this one only when the trigger file
//! `dynamic-cert-regenerate` is there at start (k3s pkg/cluster/https.go,
//! `RegenerateCerts`), which `k3s certificate rotate --service k3s-server`
//! writes (pkg/cli/cert/cert.go, mode 0600). Older releases need the secret
//! and the file deleted together, since each restores the other.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::super::Layout;
use super::super::procedure::{Install, Line, Procedure, Section, text};
use super::{K3S, RKE2};

/// The trigger file k3s reads (and removes) at start, in `server/tls`.
pub const REGENERATE_TRIGGER: &str = "dynamic-cert-regenerate";

/// The JSON Secret dynamiclistener keeps the serving certificate in, in `server/tls`.
pub const DYNAMIC_CERT: &str = "dynamic-cert.json";

/// A k3s or RKE2 release, by its Kubernetes version (`v1.33.6+k3s1`,
/// `v1.33.6+rke2r1`). RKE2 embeds k3s (its go.mod requires
/// `github.com/k3s-io/k3s` at a commit of k3s's `release-1.xx` branch) and is
/// released with k3s each month under the same Kubernetes patch version, so
/// the k3s boundaries below are taken to hold for RKE2 too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    /// The Kubernetes minor version (`33`).
    pub minor: u32,
    /// The patch version (`6`).
    pub patch: u32,
}

impl FromStr for Release {
    type Err = String;

    /// `v1.33.6+k3s1`, `1.33.6`, `v1.33.6-rc1+rke2r1`: the suffix is not read.
    fn from_str(text: &str) -> Result<Self, String> {
        let refuse = || {
            format!(
                "{:?}: expected a k3s or RKE2 version such as v1.33.6+k3s1 (what k3s --version prints)",
                text.escape_debug().to_string()
            )
        };
        let core = text.strip_prefix('v').unwrap_or(text);
        let core = core.split(['+', '-']).next().unwrap_or(core);
        let mut numbers = core.split('.').map(|n| {
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<u32>().ok())
                .flatten()
        });
        match (
            numbers.next(),
            numbers.next(),
            numbers.next(),
            numbers.next(),
        ) {
            (Some(Some(1)), Some(Some(minor)), Some(Some(patch)), None) => {
                Ok(Release { minor, patch })
            }
            _ => Err(refuse()),
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.minor, self.patch)
    }
}

/// The first release of each line that has a behaviour, and the line from
/// which every release has it.
#[derive(Debug)]
pub struct Boundary {
    /// `(minor, patch)`: the first patch of that line that has it.
    firsts: &'static [(u32, u32)],
    /// Every release of this minor and later has it.
    all_from: u32,
}

impl Boundary {
    /// Whether `release` has the behaviour.
    pub fn includes(&self, release: Release) -> bool {
        release.minor >= self.all_from
            || self
                .firsts
                .iter()
                .any(|&(minor, patch)| release.minor == minor && release.patch >= patch)
    }
}

impl fmt::Display for Boundary {
    /// `v1.21.8, v1.22.5, v1.23.1 and later`: the later lines are all in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(minor, patch)) in self.firsts.iter().enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            write!(f, "{comma}{}", Release { minor, patch })?;
        }
        f.write_str(" and later")
    }
}

/// Releases that read the trigger file: `k3s certificate rotate` (k3s PR
/// #4495, issue #4349 "validated as part of cert rotation on v1.23.1, v1.22.5,
/// and v1.21.8").
pub const READS_TRIGGER: Boundary = Boundary {
    firsts: &[(21, 8), (22, 5), (23, 1)],
    all_from: 24,
};

/// Releases whose `rotate-ca` writes the trigger file, so that the restart
/// after it renews the serving certificate (k3s #13006, PR #12978; backports
/// #13008-#13010 shipped in the November 2025 releases: the release notes of
/// v1.31.14, v1.32.10, v1.33.6 and v1.34.2 list "Create dynamic-cert-regenerate
/// file in CA cert rotation handler").
pub const ROTATE_CA_WRITES_TRIGGER: Boundary = Boundary {
    firsts: &[(31, 14), (32, 10), (33, 6), (34, 2)],
    all_from: 35,
};

/// Where the release was learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--k3s-version`.
    Flag,
    /// A path in the data dir that names it (RKE2's `data/v1.33.6-rke2r1-<hash>`).
    DataDir(PathBuf),
}

/// RKE2 names the runtime it unpacked `data/v1.33.6-rke2r1-<hash>` and links
/// `bin` into it; k3s names its `data/<hash>` by content alone. The release is
/// the target of `bin`, or the one versioned directory under `data/`; none
/// when that is not one release.
pub fn detect_release(data_dir: &Path) -> Option<(Release, Source)> {
    let bin = data_dir.join("bin");
    if let Ok(target) = std::fs::read_link(&bin) {
        let named = target
            .components()
            .find_map(|c| c.as_os_str().to_str().and_then(release_of_runtime_dir));
        if let Some(release) = named {
            return Some((release, Source::DataDir(bin)));
        }
    }
    let data = data_dir.join("data");
    let mut found: Vec<(Release, PathBuf)> = std::fs::read_dir(&data)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let release = release_of_runtime_dir(name.to_str()?)?;
            Some((release, entry.path()))
        })
        .collect();
    found.dedup_by_key(|(release, _)| *release);
    match found.as_slice() {
        [(release, path)] => Some((*release, Source::DataDir(path.clone()))),
        _ => None,
    }
}

/// `v1.33.6-rke2r1-3f8a...` -> v1.33.6.
fn release_of_runtime_dir(name: &str) -> Option<Release> {
    let (version, rest) = name.strip_prefix('v')?.split_once('-')?;
    rest.starts_with("rke2r").then_some(())?;
    version.parse().ok()
}

/// How kubectl reaches kube-apiserver while the supervisor's certificate
/// has expired.
#[derive(Debug)]
enum Kubectl {
    /// k3s: kube-apiserver listens on 127.0.0.1:6444 behind the supervisor's
    /// 6443, with `serving-kube-apiserver.crt` (renewed at start, signed by
    /// server-ca, 127.0.0.1 among its names), so the admin kubeconfig verifies it.
    Embedded,
    /// RKE2: kube-apiserver is its own pod on 6443; the supervisor (9345) is
    /// what the serving certificate serves, so kubectl is not affected.
    DataDirBin(&'static str),
}

/// What the commands name for a product.
#[derive(Debug)]
pub struct ServingNames {
    /// The program (`k3s`, `rke2`).
    program: &'static str,
    /// The systemd unit of a server.
    unit: &'static str,
    /// The `certificate rotate --service` name.
    service: &'static str,
    /// The secret in kube-system.
    secret: &'static str,
    kubectl: Kubectl,
}

static K3S_NAMES: ServingNames = ServingNames {
    program: "k3s",
    unit: "k3s",
    service: "k3s-server",
    secret: "k3s-serving",
    kubectl: Kubectl::Embedded,
};

static RKE2_NAMES: ServingNames = ServingNames {
    program: "rke2",
    unit: "rke2-server",
    service: "rke2-server",
    secret: "rke2-serving",
    kubectl: Kubectl::DataDirBin("/etc/rancher/rke2/rke2.yaml"),
};

/// The names for `layout`, if its supervisor serves a `dynamic-cert.json`.
pub fn names(layout: &Layout) -> Option<&'static ServingNames> {
    if std::ptr::eq(layout, &K3S) {
        Some(&K3S_NAMES)
    } else if std::ptr::eq(layout, &RKE2) {
        Some(&RKE2_NAMES)
    } else {
        None
    }
}

impl ServingNames {
    /// The program: `k3s`, `rke2`.
    pub fn program(&self) -> &'static str {
        self.program
    }

    /// The secret: `k3s-serving`.
    pub fn secret(&self) -> &'static str {
        self.secret
    }
}

/// What the renewal works with.
#[derive(Debug)]
pub struct Renewal<'a> {
    /// The product's names.
    pub names: &'static ServingNames,
    /// The directory holding `dynamic-cert.json` (`server/tls`).
    pub tls_dir: &'a Path,
    /// k3s's `--data-dir` when it is not the product's default.
    pub data_dir: Option<&'a Path>,
    /// The release, when known.
    pub release: Option<Release>,
    /// Whether the trigger file is there already.
    pub trigger_pending: bool,
}

impl Renewal<'_> {
    /// The sections that renew the certificate: for the release when known,
    /// else for both sides of [`READS_TRIGGER`], each named.
    pub fn procedure(&self) -> Procedure {
        let program = self.names.program;
        let sections = match self.release {
            Some(release) if READS_TRIGGER.includes(release) => vec![self.with_trigger(format!(
                "{program} {release} renews it at its next start if the trigger file is there:"
            ))],
            Some(release) => vec![self.without_trigger(format!(
                "{program} {release} has no trigger file (it came in {READS_TRIGGER}):"
            ))],
            None => vec![
                self.with_trigger(format!(
                    "{program} {READS_TRIGGER} (see {program} --version; --k3s-version picks \
                     one) renew it at the next start if the trigger file is there:"
                )),
                self.without_trigger(format!("Earlier {program} has no trigger file:")),
            ],
        };
        Procedure { sections }
    }

    /// Stop, write the trigger with `certificate rotate` (or by hand), start.
    fn with_trigger(&self, heading: String) -> Section {
        let names = self.names;
        let trigger = self.tls_dir.join(REGENERATE_TRIGGER);
        if self.trigger_pending {
            return Section::new(text![heading])
                .line(Line::Text(text![trigger, " is there already, so:"]))
                .line(Line::Command(text![format!(
                    "systemctl restart {}",
                    names.unit
                )]));
        }
        let rotate = match self.data_dir {
            Some(dir) => text![
                format!(
                    "{} certificate rotate --service {} --data-dir ",
                    names.program, names.service
                ),
                dir
            ],
            None => text![format!(
                "{} certificate rotate --service {}",
                names.program, names.service
            )],
        };
        Section::new(text![heading])
            .line(Line::Command(text![format!(
                "systemctl stop {}",
                names.unit
            )]))
            .line(Line::Command(rotate))
            .line(Line::Text(text![
                "or, instead, create the trigger file as that command does:"
            ]))
            .line(Line::Install(Install {
                from: PathBuf::from("/dev/null"),
                to: trigger,
                secret: true,
            }))
            .line(Line::Command(text![format!(
                "systemctl start {}",
                names.unit
            )]))
    }

    /// The seed's procedure: restart (renewing kube-apiserver's certificate
    /// and the admin kubeconfig), delete the secret and the file together,
    /// restart.
    fn without_trigger(&self, heading: String) -> Section {
        let names = self.names;
        let (how, kubectl) = match names.kubectl {
            Kubectl::Embedded => (
                "restart (it renews kube-apiserver's certificate on 127.0.0.1:6444, which \
                 kubectl verifies: no --insecure-skip-tls-verify as in k3s #8762), then delete \
                 the secret and the file together (each restores the other) and restart:",
                text![format!(
                    "{} kubectl --server https://127.0.0.1:6444",
                    names.program
                )],
            ),
            Kubectl::DataDirBin(kubeconfig) => {
                let data_dir = self
                    .data_dir
                    .map_or_else(|| PathBuf::from(RKE2.default_data_dir), Path::to_path_buf);
                (
                    "restart (it renews the other certificates; kube-apiserver does not serve \
                     this one), then delete the secret and the file together (each restores the \
                     other) and restart:",
                    text![
                        format!("KUBECONFIG={kubeconfig} "),
                        data_dir.join("bin/kubectl")
                    ],
                )
            }
        };
        let mut delete = kubectl;
        delete
            .0
            .push(format!(" -n kube-system delete secret {}", names.secret).into());
        Section::new(text![heading, " ", how])
            .line(Line::Command(text![format!(
                "systemctl restart {}",
                names.unit
            )]))
            .line(Line::Command(delete))
            .line(Line::Command(text!["rm ", self.tls_dir.join(DYNAMIC_CERT)]))
            .line(Line::Command(text![format!(
                "systemctl restart {}",
                names.unit
            )]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_as_k3s_and_rke2_print_them() {
        for text in [
            "v1.33.6+k3s1",
            "1.33.6",
            "v1.33.6+rke2r1",
            "v1.33.6-rc1+k3s1",
        ] {
            assert_eq!(
                text.parse(),
                Ok(Release {
                    minor: 33,
                    patch: 6
                }),
                "{text}"
            );
        }
        for text in [
            "",
            "v1.33",
            "v2.1.1",
            "v1.33.x",
            "v1.33.6.1",
            "v1..6",
            "k3s",
        ] {
            assert!(text.parse::<Release>().is_err(), "{text}");
        }
    }

    /// Each boundary's first release has it, the patch before does not.
    #[test]
    fn boundaries_fall_on_the_first_release_of_each_line() {
        let r = |text: &str| text.parse::<Release>().unwrap();
        for (boundary, with, without) in [
            (&READS_TRIGGER, "v1.21.8", "v1.21.7"),
            (&READS_TRIGGER, "v1.22.5", "v1.22.4"),
            (&READS_TRIGGER, "v1.23.1", "v1.23.0"),
            (&READS_TRIGGER, "v1.24.0", "v1.20.15"),
            (&ROTATE_CA_WRITES_TRIGGER, "v1.31.14", "v1.31.13"),
            (&ROTATE_CA_WRITES_TRIGGER, "v1.32.10", "v1.32.9"),
            (&ROTATE_CA_WRITES_TRIGGER, "v1.33.6", "v1.33.5"),
            (&ROTATE_CA_WRITES_TRIGGER, "v1.34.2", "v1.34.1"),
            (&ROTATE_CA_WRITES_TRIGGER, "v1.35.0", "v1.30.14"),
        ] {
            assert!(boundary.includes(r(with)), "{with}");
            assert!(!boundary.includes(r(without)), "{without}");
        }
        assert_eq!(
            READS_TRIGGER.to_string(),
            "v1.21.8, v1.22.5, v1.23.1 and later"
        );
    }

    #[test]
    fn rke2_names_its_release_in_the_runtime_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(detect_release(root), None);
        std::fs::create_dir_all(root.join("data/0123abcd")).unwrap();
        assert_eq!(
            detect_release(root),
            None,
            "k3s's data/<hash> names no release"
        );
        let old = root.join("data/v1.21.7-rke2r1-aaaa");
        let new = root.join("data/v1.31.14-rke2r1-bbbb");
        std::fs::create_dir_all(old.join("bin")).unwrap();
        assert_eq!(
            detect_release(root),
            Some((
                Release {
                    minor: 21,
                    patch: 7
                },
                Source::DataDir(old.clone())
            ))
        );
        std::fs::create_dir_all(new.join("bin")).unwrap();
        assert_eq!(detect_release(root), None, "two runtimes and no bin link");
        std::os::unix::fs::symlink(new.join("bin"), root.join("bin")).unwrap();
        assert_eq!(
            detect_release(root),
            Some((
                Release {
                    minor: 31,
                    patch: 14
                },
                Source::DataDir(root.join("bin"))
            ))
        );
    }
}
