//! What a generic `sign-csr` run lets a request ask for beyond its profile's
//! usages: the node identity of the kubelet profiles, the names an allow-list
//! permits, a name on every serving certificate, and super-user groups only
//! when the operator says so. These are the checks seed 001 asks of whoever
//! approves a kubelet's CSR: the common name, the addresses and the DNS names.

use crate::layout::SUPER_USER_GROUPS;
use crate::pki::csr::Csr;
use crate::pki::error::{CsrProblem, Error, Kind, Result};
use crate::pki::names::{San, SanPattern};
use crate::runs::sign_csr::CsrProfile;

/// The group every kubelet's certificate names, and the prefix of its user.
pub const NODES_GROUP: &str = "system:nodes";
/// A kubelet's user name is this followed by its node name.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// What a run allows besides its profile.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// `--allow-san`: when not empty, every name a serving certificate
    /// carries must match one entry (a kubelet's own node name always may).
    pub allow: Vec<SanPattern>,
    /// `--allow-super-user`: sign a super-user group, with a warning.
    pub allow_super_user: bool,
}

/// What a request may be issued with: its names, and what to warn about.
#[derive(Debug, Default)]
pub struct Admitted {
    /// The names the certificate carries.
    pub sans: Vec<San>,
    /// Names dropped, super-user groups allowed.
    pub warnings: Vec<String>,
}

/// Checks `csr` against `profile` and `policy`; a refusal names the CSR.
pub fn admit(csr: &Csr, profile: CsrProfile, policy: &Policy) -> Result<Admitted> {
    let refuse = |problem| Error::at(&csr.path, Kind::Csr(problem));
    let mut admitted = Admitted::default();
    let node = if profile.is_kubelet() {
        Some(node_name(csr).ok_or_else(|| {
            refuse(CsrProblem::Subject {
                expected: format!("CN={NODE_USER_PREFIX}<node name>,O={NODES_GROUP}"),
                found: csr.subject.to_string(),
            })
        })?)
    } else {
        None
    };
    for group in csr.organizations() {
        let Some((group, grants)) = SUPER_USER_GROUPS.iter().find(|(name, _)| *name == group)
        else {
            continue;
        };
        if !policy.allow_super_user {
            return Err(refuse(CsrProblem::SuperUser {
                group: group.to_string(),
                grants,
            }));
        }
        admitted.warnings.push(format!(
            "{}: signed with O={group}, which {grants} (--allow-super-user): keep it \
             short-lived, it cannot be revoked",
            csr.path.display()
        ));
    }
    if !profile.serves() {
        admitted.warnings.extend(kept_sans(csr, false).1);
        return Ok(admitted);
    }
    if csr.sans.is_empty() {
        return Err(refuse(CsrProblem::NoNames));
    }
    let own = node.map(|name| SanPattern::Exact(San::Dns(name.to_ascii_lowercase())));
    let checked = profile == CsrProfile::KubeletServing || !policy.allow.is_empty();
    let outside: Vec<String> = csr
        .sans
        .iter()
        .filter(|san| checked && !own.iter().chain(&policy.allow).any(|p| p.allows(san)))
        .map(San::to_string)
        .collect();
    if !outside.is_empty() {
        return Err(refuse(CsrProblem::NotAllowed {
            names: outside,
            allowed: allowed_text(own.as_ref(), &policy.allow),
        }));
    }
    admitted.sans = csr.sans.clone();
    Ok(admitted)
}

/// The node name of a kubelet's request: its one CN is `system:node:<name>`,
/// its one O `system:nodes`, and nothing else is in its subject.
fn node_name(csr: &Csr) -> Option<String> {
    let [common_name] = csr.common_names().try_into().ok()?;
    let name = common_name.strip_prefix(NODE_USER_PREFIX)?;
    let identity =
        !name.is_empty() && csr.organizations() == [NODES_GROUP] && !csr.has_other_attributes();
    identity.then(|| name.to_string())
}

/// The allow-list as a message shows it.
fn allowed_text(own: Option<&SanPattern>, allow: &[SanPattern]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(SanPattern::Exact(name)) = own {
        parts.push(format!("the node's own name, {name}"));
    }
    parts.extend(allow.iter().map(|pattern| match pattern {
        SanPattern::Exact(name) => name.to_string(),
        SanPattern::Subdomains(parent) => format!("DNS *.{parent}"),
        SanPattern::Network { base, prefix } => format!("IP {base}/{prefix}"),
    }));
    if allow.is_empty() {
        parts.push("no --allow-san given".into());
    }
    parts.join(", ")
}

/// The names a certificate keeps: the CSR's when `keeps`, else none, with a
/// warning when the CSR asked for some (client certificates carry no names).
pub(crate) fn kept_sans(csr: &Csr, keeps: bool) -> (Vec<San>, Option<String>) {
    if keeps || csr.sans.is_empty() {
        return (if keeps { csr.sans.clone() } else { Vec::new() }, None);
    }
    let names: Vec<String> = csr.sans.iter().map(San::to_string).collect();
    let warning = format!(
        "{}: a client certificate carries no names; dropped {}",
        csr.path.display(),
        names.join(", ")
    );
    (Vec::new(), Some(warning))
}
