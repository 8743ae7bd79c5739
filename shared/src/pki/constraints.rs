//! What Go's crypto/x509 enforces on a known certificate path, for a client
//! that trusts only its last certificate: signatures and issuer names, CA:TRUE
//! and keyCertSign on every issuer, pathLenConstraint, nameConstraints on the
//! leaf's names, extendedKeyUsage along the whole path, validity.
//!
//! Inside a cluster every certificate of a bundle is a trust anchor, so these
//! limits only show for clients that trust the organisation's root alone; this
//! module is how the tools see what those clients will see, before writing.

use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;

use der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::NameConstraints;
use x509_cert::ext::pkix::name::GeneralName;

use crate::pki::cert::{Certificate, format_time};
use crate::pki::issue::{CLIENT_AUTH, SERVER_AUTH};
use crate::pki::names::San;
use crate::pki::verify::check_issued_by;

const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// The usage a consumer checks a certificate for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Usage {
    /// A client checking a server (TLS serverAuth).
    ServerAuth,
    /// A server checking a client (TLS clientAuth).
    ClientAuth,
}

impl Usage {
    /// The extendedKeyUsage OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Usage::ServerAuth => SERVER_AUTH,
            Usage::ClientAuth => CLIENT_AUTH,
        }
    }

    /// The name OpenSSL and Go docs use.
    pub fn name(self) -> &'static str {
        match self {
            Usage::ServerAuth => "serverAuth",
            Usage::ClientAuth => "clientAuth",
        }
    }
}

/// One constraint of one certificate of the path that the leaf breaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Violation {
    /// The issuer name or signature does not link the certificate to the next one.
    NotIssuedBy(String),
    /// An issuer without basicConstraints CA:TRUE.
    NotCa,
    /// An issuer whose keyUsage lacks keyCertSign.
    NoKeyCertSign,
    /// pathLenConstraint `max` with `below` CA certificates below it in the path.
    PathLen {
        /// The constraint.
        max: u8,
        /// How many CAs sit between it and the leaf.
        below: usize,
    },
    /// nameConstraints that the leaf's names do not satisfy.
    Names {
        /// The constraints, as text (`permitted DNS corp.example, IP 10.0.0.0/8`).
        constraints: String,
    },
    /// extendedKeyUsage that does not allow the usage checked.
    ExtendedKeyUsage {
        /// What it allows.
        allowed: String,
        /// What was checked.
        needed: Usage,
    },
    /// Outside its validity period at the time of the check.
    Validity(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotIssuedBy(problem) => write!(f, "does not link to its issuer: {problem}"),
            Violation::NotCa => f.write_str("basicConstraints CA:TRUE is missing"),
            Violation::NoKeyCertSign => f.write_str("keyUsage lacks keyCertSign"),
            Violation::PathLen { max, below } => write!(
                f,
                "pathLenConstraint {max} allows {max} CA(s) below it, but {below} sit between it \
                 and the certificates issued under it (Go: too many intermediates for path length constraint)"
            ),
            Violation::Names { constraints } => write!(f, "nameConstraints {constraints}"),
            Violation::ExtendedKeyUsage { allowed, needed } => write!(
                f,
                "extendedKeyUsage allows only {allowed}, which Go applies to every certificate \
                 below it, but {} is needed (Go: incompatible key usage)",
                needed.name()
            ),
            Violation::Validity(problem) => f.write_str(problem),
        }
    }
}

/// A violation and the position of the certificate that carries it (0 = leaf).
#[derive(Clone, Debug)]
pub struct Finding {
    /// Index in the path.
    pub at: usize,
    /// What is violated.
    pub violation: Violation,
}

/// Checks `path` = [leaf, issuer, ..., anchor] for `usage` at time `at`, as Go
/// verifies a certificate with only the anchor in its root pool. Returns every
/// violation; empty means Go accepts the path.
pub fn check_path(path: &[&Certificate], usage: Usage, at: SystemTime) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut push = |at: usize, violation| findings.push(Finding { at, violation });
    let Some(leaf) = path.first() else {
        return findings;
    };
    let leaf_names = sans(leaf);
    for (i, cert) in path.iter().enumerate() {
        if let Some(problem) = validity_problem(cert, at) {
            push(i, Violation::Validity(problem));
        }
        if i == 0 {
            continue;
        }
        if let Err(problem) = check_issued_by(path[i - 1], cert) {
            push(i - 1, Violation::NotIssuedBy(problem));
        }
        let constraints = cert.basic_constraints();
        if !constraints.as_ref().is_some_and(|bc| bc.ca) {
            push(i, Violation::NotCa);
        }
        if cert.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            push(i, Violation::NoKeyCertSign);
        }
        if let Some(max) = constraints.and_then(|bc| bc.path_len_constraint) {
            let below = i - 1;
            if below > usize::from(max) {
                push(i, Violation::PathLen { max, below });
            }
        }
        if let Some(nc) = cert.name_constraints() {
            if !leaf_names.is_empty() && !names_allowed(&nc, &leaf_names) {
                push(
                    i,
                    Violation::Names {
                        constraints: describe(&nc),
                    },
                );
            }
        }
    }
    // Go's checkChainForKeyUsage: each certificate with an extendedKeyUsage
    // (and no anyExtendedKeyUsage) must allow the usage.
    for (i, cert) in path.iter().enumerate().rev() {
        let Some(eku) = cert.extended_key_usage() else {
            continue;
        };
        if eku.0.is_empty() || eku.0.contains(&ANY_EXTENDED_KEY_USAGE) {
            continue;
        }
        if !eku.0.contains(&usage.oid()) {
            let allowed: Vec<String> = eku.0.iter().map(|oid| eku_name(*oid)).collect();
            push(
                i,
                Violation::ExtendedKeyUsage {
                    allowed: allowed.join(", "),
                    needed: usage,
                },
            );
            break;
        }
    }
    findings
}

fn validity_problem(cert: &Certificate, at: SystemTime) -> Option<String> {
    if at > cert.not_after() {
        Some(format!("expired on {}", format_time(cert.not_after())))
    } else if at < cert.not_before() {
        Some(format!(
            "is not valid before {}",
            format_time(cert.not_before())
        ))
    } else {
        None
    }
}

fn eku_name(oid: ObjectIdentifier) -> String {
    match oid {
        SERVER_AUTH => "serverAuth".into(),
        CLIENT_AUTH => "clientAuth".into(),
        other => other.to_string(),
    }
}

/// The DNS and IP subject alternative names of a certificate.
pub fn sans(cert: &Certificate) -> Vec<San> {
    cert.subject_alt_names()
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(San::Dns(dns.to_string())),
            GeneralName::IpAddress(octets) => ip_from(octets.as_bytes()).map(San::Ip),
            _ => None,
        })
        .collect()
}

/// The IP address of a SAN's octets (4 or 16 bytes).
pub(crate) fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Whether every name satisfies the constraints, per type, as Go decides: a
/// name must match one permitted subtree of its type when there are any, and
/// no excluded subtree.
pub fn names_allowed(constraints: &NameConstraints, names: &[San]) -> bool {
    names
        .iter()
        .all(|name| name_allowed(constraints, name).is_ok())
}

/// The names among `names` the constraints reject.
pub fn rejected_names(constraints: &NameConstraints, names: &[San]) -> Vec<San> {
    names
        .iter()
        .filter(|name| name_allowed(constraints, name).is_err())
        .cloned()
        .collect()
}

fn name_allowed(constraints: &NameConstraints, name: &San) -> Result<(), ()> {
    let subtrees = |list: &Option<x509_cert::ext::pkix::constraints::name::GeneralSubtrees>| {
        list.iter()
            .flatten()
            .filter_map(|subtree| matches(&subtree.base, name))
            .collect::<Vec<bool>>()
    };
    if subtrees(&constraints.excluded_subtrees).contains(&true) {
        return Err(());
    }
    let permitted = subtrees(&constraints.permitted_subtrees);
    if !permitted.is_empty() && !permitted.contains(&true) {
        return Err(());
    }
    Ok(())
}

/// Whether `base` matches `name`; `None` when they are of different types.
fn matches(base: &GeneralName, name: &San) -> Option<bool> {
    match (base, name) {
        (GeneralName::DnsName(constraint), San::Dns(domain)) => {
            Some(domain_matches(domain, constraint.as_ref()))
        }
        (GeneralName::IpAddress(range), San::Ip(ip)) => Some(ip_matches(*ip, range.as_bytes())),
        _ => None,
    }
}

/// Go's matchDomainConstraint: `corp.example` matches itself and its
/// subdomains; `.corp.example` only subdomains; the empty constraint anything.
fn domain_matches(domain: &str, constraint: &str) -> bool {
    if constraint.is_empty() {
        return true;
    }
    let (constraint, must_have_subdomains) = match constraint.strip_prefix('.') {
        Some(rest) => (rest, true),
        None => (constraint, false),
    };
    let domain_labels: Vec<&str> = domain.split('.').rev().collect();
    let constraint_labels: Vec<&str> = constraint.split('.').rev().collect();
    if domain_labels.len() < constraint_labels.len()
        || (must_have_subdomains && domain_labels.len() == constraint_labels.len())
    {
        return false;
    }
    constraint_labels
        .iter()
        .zip(&domain_labels)
        .all(|(c, d)| c.eq_ignore_ascii_case(d))
}

/// An IP constraint is address + mask of the same family as the name.
fn ip_matches(ip: IpAddr, range: &[u8]) -> bool {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    if range.len() != octets.len() * 2 {
        return false;
    }
    let (network, mask) = range.split_at(octets.len());
    octets
        .iter()
        .zip(network)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m)
}

/// `permit only DNS corp.example, IP 10.0.0.0/8; exclude ...`.
pub fn describe(constraints: &NameConstraints) -> String {
    let list = |subtrees: &Option<x509_cert::ext::pkix::constraints::name::GeneralSubtrees>| {
        subtrees
            .iter()
            .flatten()
            .map(|s| describe_name(&s.base))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (permitted, excluded) = (
        list(&constraints.permitted_subtrees),
        list(&constraints.excluded_subtrees),
    );
    match (permitted.is_empty(), excluded.is_empty()) {
        (false, true) => format!("permit only {permitted}"),
        (true, false) => format!("exclude {excluded}"),
        _ => format!("permit only {permitted} and exclude {excluded}"),
    }
}

fn describe_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DnsName(dns) => format!("DNS {dns}"),
        GeneralName::IpAddress(range) => {
            let bytes = range.as_bytes();
            let half = bytes.len() / 2;
            match (ip_from(&bytes[..half]), bytes.get(half..)) {
                (Some(ip), Some(mask)) => {
                    let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
                    format!("IP {ip}/{prefix}")
                }
                _ => "IP (malformed)".into(),
            }
        }
        GeneralName::Rfc822Name(email) => format!("email {email}"),
        GeneralName::UniformResourceIdentifier(uri) => format!("URI {uri}"),
        GeneralName::DirectoryName(dn) => format!("DirName {dn}"),
        _ => "another name type".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_constraints_follow_go() {
        assert!(domain_matches("corp.example", "corp.example"));
        assert!(domain_matches("a.corp.example", "corp.example"));
        assert!(!domain_matches("corp.example", ".corp.example"));
        assert!(domain_matches("a.Corp.example", ".corp.example"));
        assert!(!domain_matches("kubernetes", "corp.example"));
        assert!(!domain_matches("notcorp.example", "corp.example"));
        assert!(domain_matches("anything", ""));
    }

    #[test]
    fn ip_constraints_need_the_same_family() {
        let ten = [10, 0, 0, 0, 255, 0, 0, 0];
        assert!(ip_matches("10.43.0.1".parse().unwrap(), &ten));
        assert!(!ip_matches("127.0.0.1".parse().unwrap(), &ten));
        assert!(!ip_matches("::1".parse().unwrap(), &ten));
    }
}
