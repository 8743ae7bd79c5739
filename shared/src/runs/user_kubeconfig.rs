//! The run of `kubeconfig-user`: a kubeconfig for a person, as `kubeadm
//! kubeconfig user` makes one, for every layout: a client certificate from the
//! CA the API server checks clients against ([`UserKubeconfigs::client_ca`]),
//! the server's trust and URL as the admin kubeconfig has them, and either a
//! new key or the user's own CSR, so that their key never leaves them.
//!
//! Kubernetes cannot revoke a client certificate, so what it may do is
//! decided here: the super-user groups ([`SUPER_USER_GROUPS`], as `sign-csr`
//! refuses them) only when asked
//! for by name, with a warning even then; the `system:` names Kubernetes
//! reserves for its own identities never; and a short life by default.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::layout::kubeconfig::{Kubeconfig, UserKubeconfig};
use crate::layout::{DataDir, SUPER_USER_GROUPS};
use crate::pki::cert::{format_time, read_bundle};
use crate::pki::csr::Csr;
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{CLIENT_AUTH, IssueRequest, Issuer, Profile, issue};
use crate::pki::keys::{GeneratedKey, PassphraseSource, Passphrases, PrivateKey, SigningKey as _};
use crate::pki::names::subject_name;
use crate::runs::sign_csr::{SigningCa, Validity};
use crate::store::lock::TargetLock;
use crate::store::plan::Plan;

/// Default lifetime: one week, seed 001's example. A client certificate
/// cannot be revoked (the API server has no CRL), so its life is the only
/// bound on a lost laptop; issuing another is one command.
pub const DEFAULT_DAYS: u32 = 7;

/// The prefix Kubernetes reserves for its own users and groups (nodes,
/// service accounts, control-plane components, `system:authenticated`).
const RESERVED_PREFIX: &str = "system:";

/// RFC 5280's upper bound on CN and O.
const MAX_NAME: usize = 64;

/// What `kubeconfig-user`'s flags ask for.
#[derive(Debug)]
pub struct UserFlags {
    /// `--data-dir`/`--product`, resolved.
    pub data_dir: DataDir,
    /// `--user`: the CN, the user name RBAC sees.
    pub user: Option<String>,
    /// `--group`, each: the O values, the groups RBAC sees.
    pub groups: Vec<String>,
    /// `--days`.
    pub days: Option<u32>,
    /// `--server`.
    pub server: Option<String>,
    /// `--cluster-name`.
    pub cluster_name: Option<String>,
    /// `--key-algorithm`.
    pub algorithm: Option<GeneratedKey>,
    /// `--csr`: the user's own request; then no key is made.
    pub csr: Option<PathBuf>,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--password-file`, for an encrypted CA key.
    pub password_file: Option<PathBuf>,
    /// `--allow-super-user`.
    pub allow_super_user: bool,
    /// `--force`: replace an existing `--out`.
    pub force: bool,
}

/// A planned user kubeconfig.
pub struct UserRun {
    /// The one file, 0600.
    pub plan: Plan,
    /// Said on stderr before writing.
    pub warnings: Vec<String>,
    /// Where it goes.
    pub out: PathBuf,
    /// The user's name.
    pub user: String,
    /// The certificate's subject, RFC 4514.
    pub subject: String,
    /// The CA certificate that signed it.
    pub ca: PathBuf,
    /// Its end.
    pub not_after: SystemTime,
    /// The server the kubeconfig points at.
    pub server: String,
    /// The current context.
    pub context: String,
    /// The user's CSR, when the key stays with the user (no client-key-data).
    pub csr: Option<PathBuf>,
}

/// The name checks, before anything is read: one line naming the flag.
fn check_identity(flags: &UserFlags) -> Result<(String, Vec<String>, Vec<String>)> {
    let user = flags
        .user
        .clone()
        .ok_or_else(|| Error::usage("--user NAME is required: the user name RBAC will see"))?;
    let check = |flag: &str, value: &str| -> Result<()> {
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(Error::usage(format!(
                "{flag} \"{}\": empty or holding control characters",
                value.escape_debug()
            )));
        }
        if value.chars().count() > MAX_NAME {
            return Err(Error::usage(format!(
                "{flag} \"{value}\": longer than {MAX_NAME} characters (RFC 5280's bound)"
            )));
        }
        Ok(())
    };
    check("--user", &user)?;
    if user.starts_with(RESERVED_PREFIX) {
        return Err(Error::usage(format!(
            "--user \"{user}\": system: names belong to Kubernetes' own identities (nodes, \
             service accounts, control-plane components); a person's kubeconfig must not \
             impersonate one (sign a component's CSR with sign-csr)"
        )));
    }
    let mut super_groups = Vec::new();
    for group in &flags.groups {
        check("--group", group)?;
        if let Some((_, grants)) = SUPER_USER_GROUPS.iter().find(|(name, _)| name == group) {
            if !flags.allow_super_user {
                return Err(Error::usage(format!(
                    "--group {group}: a super-user group, which {grants}, and a certificate \
                     cannot be revoked; bind a role to \"{user}\" or a group of your own \
                     instead, or give --allow-super-user"
                )));
            }
            super_groups.push(group.clone());
        } else if group.starts_with(RESERVED_PREFIX) {
            return Err(Error::usage(format!(
                "--group {group}: system: groups are Kubernetes' own (the API server \
                 adds system:authenticated itself); use a group of your own"
            )));
        }
    }
    Ok((user, flags.groups.clone(), super_groups))
}

/// Checks `flags`, reads the CA, the trust, the server and the CSR, issues
/// the certificate and plans the kubeconfig; then locks the directory it
/// goes to (`tool` names the holder). Keep the lock until the report is printed.
pub fn lock_and_plan(
    flags: UserFlags,
    tool: &str,
    now: SystemTime,
    dry_run: bool,
) -> Result<(TargetLock, UserRun)> {
    let (user, groups, super_groups) = check_identity(&flags)?;
    let days = match flags.days {
        Some(0) => return Err(Error::usage("--days must be at least 1")),
        days => days.unwrap_or(DEFAULT_DAYS),
    };
    let out = flags
        .out
        .clone()
        .ok_or_else(|| Error::usage("--out FILE is required: where the kubeconfig goes"))?;
    // A kubeconfig often holds other clusters' contexts (~/.kube/config):
    // replaced whole, they would be lost.
    if !flags.force && std::fs::symlink_metadata(&out).is_ok() {
        return Err(Error::at(
            &out,
            Kind::Inputs(
                "already exists; give --force to replace it whole (its other contexts, \
                 if any, are lost)"
                    .into(),
            ),
        ));
    }
    if flags.csr.is_some() && flags.algorithm.is_some() {
        return Err(Error::usage(
            "--key-algorithm makes a new key, --csr signs the user's own: give one",
        ));
    }
    let data_dir = &flags.data_dir;
    let users = &data_dir.layout().users;
    data_dir.must_have_cert_dir()?;
    let tls = data_dir.tls_dir();
    let mut plan = Plan::new();
    let mut warnings = Vec::new();

    // The server and cluster first: a missing admin kubeconfig is said
    // before the CA key's passphrase is asked for.
    let admin = users.admin_kubeconfig.path(&data_dir.root);
    let server = match flags.server.clone() {
        Some(server) => server,
        None => default_server(&admin, users.fallback_server)?,
    };
    if !server.starts_with("https://") || server.chars().any(char::is_control) {
        // Named where it came from: the flag, or the admin kubeconfig.
        let problem = format!(
            "server \"{}\" is not an https:// URL; give the API server's with --server",
            server.escape_debug()
        );
        return Err(match flags.server {
            Some(_) => Error::usage(format!("--{problem}")),
            None => Error::at(&admin, Kind::Inputs(problem)),
        });
    }
    plan.reads(admin, "the admin kubeconfig");
    let cluster = flags
        .cluster_name
        .clone()
        .unwrap_or_else(|| users.cluster_name.to_string());
    if cluster.is_empty() || cluster.chars().any(char::is_control) {
        return Err(Error::usage(
            "--cluster-name: empty or holding control characters",
        ));
    }

    let (key, public_key) = match &flags.csr {
        Some(path) => {
            let csr = Csr::read(path)?;
            let asked = subject_name(&user, &group_refs(&groups))?;
            if csr.subject != asked {
                warnings.push(format!(
                    "{}: the CSR asks for \"{}\"; the certificate is for \"{asked}\", as \
                     --user and --group say",
                    path.display(),
                    csr.subject
                ));
            }
            if !csr.sans.is_empty() {
                warnings.push(format!(
                    "{}: a client certificate carries no names; the CSR's are dropped",
                    path.display()
                ));
            }
            plan.reads(path.clone(), "the user's CSR");
            (None, csr.public_key)
        }
        None => {
            let algorithm = flags.algorithm.unwrap_or(GeneratedKey::ECDSA_P256);
            let key = PrivateKey::generate(algorithm.algorithm())?;
            let public_key = key.public_key_info()?;
            (Some(key), public_key)
        }
    };

    let passphrases = Passphrases::new(PassphraseSource::from_flag(flags.password_file.clone()));
    let ca_cert = tls.join(format!("{}.crt", users.client_ca));
    let ca_key = tls.join(format!("{}.key", users.client_ca));
    let ca = SigningCa::load(users.client_ca, &ca_cert, &ca_key, &passphrases, now)?;
    let trust_path = tls.join(users.server_trust);
    let trust = read_bundle(&trust_path)?;
    plan.reads(ca_cert.clone(), "the client CA certificate");
    plan.reads(ca_key, "the client CA key");
    plan.reads(trust_path, "the server CA bundle");
    if let Some(file) = flags.password_file {
        plan.reads_passphrase(file);
    }

    let (validity, capped) = Validity::of(&ca, now, days);
    warnings.extend(capped);
    let subject = subject_name(&user, &group_refs(&groups))?;
    let certificate = issue(
        &IssueRequest {
            subject,
            public_key,
            profile: Profile::Leaf {
                usages: vec![CLIENT_AUTH],
                sans: Vec::new(),
            },
            not_before: validity.not_before,
            not_after: validity.not_after,
        },
        Issuer::Ca {
            cert: &ca.cert,
            key: ca.key(),
        },
    )?;
    for group in &super_groups {
        warnings.push(format!(
            "\"{user}\" is in {group}: this kubeconfig may do anything in the cluster, as \
             the admin's may, and cannot be revoked before it expires on {}",
            format_time(certificate.not_after())
        ));
    }
    let config = UserKubeconfig {
        cluster: &cluster,
        server: &server,
        trust: &trust,
        user: &user,
        certificate: &certificate,
        key: key.as_ref(),
    };
    let context = config.context();
    plan.add_secret(out.clone(), config.to_bytes()?.to_vec());
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let lock = TargetLock::acquire(&dir, tool, dry_run)?;
    lock.report_recovered(tool);
    Ok((
        lock,
        UserRun {
            plan,
            warnings,
            out,
            subject: certificate.subject().to_string(),
            not_after: certificate.not_after(),
            user,
            ca: ca_cert,
            server,
            context,
            csr: flags.csr,
        },
    ))
}

fn group_refs(groups: &[String]) -> Vec<&str> {
    groups.iter().map(String::as_str).collect()
}

/// The server of the admin kubeconfig `admin`, else `fallback` when it does
/// not exist; without either, a line saying to give `--server`.
fn default_server(admin: &Path, fallback: Option<&str>) -> Result<String> {
    if !admin.exists() {
        return fallback.map(str::to_string).ok_or_else(|| {
            Error::at(
                admin,
                Kind::Inputs(
                    "no admin kubeconfig here to take the server from; give --server \
                     https://HOST:6443"
                        .into(),
                ),
            )
        });
    }
    Kubeconfig::read(admin)?.server()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(user: &str, groups: &[&str], allow: bool) -> UserFlags {
        UserFlags {
            data_dir: DataDir::resolve(Some("/nonexistent".into()), None, |_| None).unwrap(),
            user: Some(user.into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            days: None,
            server: None,
            cluster_name: None,
            algorithm: None,
            csr: None,
            out: Some("x".into()),
            password_file: None,
            allow_super_user: allow,
            force: false,
        }
    }

    fn refusal(flags: &UserFlags) -> String {
        check_identity(flags)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// The guard: super-user groups only with the flag, reserved names never.
    #[test]
    fn super_user_groups_need_the_flag_and_system_names_are_refused() {
        for (group, _) in SUPER_USER_GROUPS {
            let err = refusal(&flags("alice", &["dev", group], false));
            assert!(err.starts_with(&format!("--group {group}: ")), "{err}");
            assert!(err.contains("--allow-super-user"), "{err}");
            let (_, _, supers) = check_identity(&flags("alice", &[group], true)).unwrap();
            assert_eq!(supers, [group]);
        }
        for user in [
            "system:node:worker-1",
            "system:serviceaccount:ns:sa",
            "system:admin",
        ] {
            let err = refusal(&flags(user, &[], true));
            assert!(err.starts_with(&format!("--user \"{user}\": ")), "{err}");
        }
        let err = refusal(&flags("alice", &["system:nodes"], true));
        assert!(err.starts_with("--group system:nodes: "), "{err}");
        assert!(refusal(&flags("alice", &["dev", "ops"], false)).is_empty());
        let long = "a".repeat(65);
        assert!(refusal(&flags(&long, &[], false)).contains("longer than 64"));
        assert!(refusal(&flags("a\nb", &[], false)).contains("control characters"));
    }
}
