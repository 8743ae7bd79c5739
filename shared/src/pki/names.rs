//! Names in certificates: subject alternative names as the tools read and
//! write them, and subjects built from a CN and organisations.

use std::net::IpAddr;
use std::str::FromStr as _;

use der::asn1::{Ia5String, OctetString};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use super::error::{Error, Result};

/// A subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum San {
    /// A DNS name.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl San {
    /// A name as given on a command line or in a config: an IP address when
    /// it parses as one, else a DNS name.
    pub fn parse(name: &str) -> San {
        match name.parse::<IpAddr>() {
            Ok(ip) => San::Ip(ip),
            Err(_) => San::Dns(name.to_string()),
        }
    }
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS {name}"),
            San::Ip(ip) => write!(f, "IP {ip}"),
        }
    }
}

/// The longest DNS name, in characters (RFC 1035's 255 octets on the wire).
pub const MAX_DNS_NAME: usize = 253;
/// The longest label of a DNS name (RFC 1034).
pub const MAX_LABEL: usize = 63;

/// Why `name` is not a DNS name a certificate may carry, or `None` when it is.
///
/// RFC 5280 (section 4.2.1.6) wants the preferred name syntax of RFC 1034 as
/// RFC 1123 relaxed it: labels of ASCII letters, digits and hyphens, 1 to 63
/// characters, neither starting nor ending with a hyphen, 253 characters in
/// all, no empty label (so no leading, doubled or trailing dot). A wildcard
/// is accepted only as the whole leftmost label followed by at least two
/// labels (`*.example.com`): Go's crypto/x509 matches it that way and the
/// CA/Browser Forum allows no more; `*`, `*.com`, `*.*.com`, `a.*.com` and
/// `w*.example.com` are refused. A single label (`kubernetes`, a node name)
/// is a valid name.
pub fn dns_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty name");
    }
    if name.len() > MAX_DNS_NAME {
        return Some("longer than 253 characters");
    }
    if name.ends_with('.') {
        return Some("a trailing dot (certificates carry names without the root's dot)");
    }
    let (wildcard, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None if name == "*" => return Some("a wildcard alone"),
        None => (false, name),
    };
    let mut labels = 0usize;
    for label in rest.split('.') {
        labels += 1;
        if label.is_empty() {
            return Some("an empty label");
        }
        if label == "*" || label.contains('*') {
            return Some("a wildcard that is not the whole leftmost label");
        }
        if label.len() > MAX_LABEL {
            return Some("a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some(
                "a character other than a letter, digit, hyphen or dot (internationalised names go as A-labels, xn--)",
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label starting or ending with a hyphen");
        }
    }
    if wildcard && labels < 2 {
        return Some("a wildcard over a single label");
    }
    None
}

/// One entry of a signer's allow-list (`--allow-san`): which requested names
/// a certificate may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SanPattern {
    /// This name or address exactly (DNS names compared without case).
    Exact(San),
    /// `*.example.com`: any one label before `.example.com` (so not
    /// `example.com` itself, nor `a.b.example.com`), and that wildcard name.
    Subdomains(String),
    /// `10.0.0.0/24`, `fd00::/64`: any address in the network.
    Network {
        /// The network's address.
        base: IpAddr,
        /// Its prefix length.
        prefix: u8,
    },
}

impl SanPattern {
    /// Reads an entry: an address, a network in CIDR notation, a DNS name, or
    /// a DNS name with a leading `*.`; the error says what is wrong.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if let Some((base, prefix)) = text.split_once('/') {
            let base: IpAddr = base
                .parse()
                .map_err(|_| format!("{text:?}: not a network (address/prefix)"))?;
            let max = if base.is_ipv4() { 32 } else { 128 };
            let prefix = prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?;
            return Ok(SanPattern::Network { base, prefix });
        }
        match San::parse(text) {
            San::Ip(ip) => Ok(SanPattern::Exact(San::Ip(ip))),
            San::Dns(name) => {
                if let Some(why) = dns_name_problem(&name) {
                    return Err(format!("{text:?}: not a DNS name ({why})"));
                }
                let name = name.to_ascii_lowercase();
                Ok(match name.strip_prefix("*.") {
                    Some(parent) => SanPattern::Subdomains(parent.to_string()),
                    None => SanPattern::Exact(San::Dns(name)),
                })
            }
        }
    }

    /// Whether `san` is allowed by this entry.
    pub fn allows(&self, san: &San) -> bool {
        match (self, san) {
            (SanPattern::Exact(San::Dns(allowed)), San::Dns(name)) => {
                allowed.eq_ignore_ascii_case(name)
            }
            (SanPattern::Exact(allowed), san) => allowed == san,
            (SanPattern::Subdomains(parent), San::Dns(name)) => {
                let name = name.to_ascii_lowercase();
                name.split_once('.').is_some_and(|(label, rest)| {
                    rest == parent && !label.is_empty() && (label == "*" || !label.contains('*'))
                })
            }
            (SanPattern::Network { base, prefix }, San::Ip(ip)) => in_network(*ip, *base, *prefix),
            _ => false,
        }
    }
}

/// Whether `ip` lies in `base/prefix` (an IPv4 address never in an IPv6
/// network, nor the reverse).
fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    let (ip, base, width) = match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            (u128::from(u32::from(ip)), u128::from(u32::from(base)), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => (u128::from(ip), u128::from(base), 128),
        _ => return false,
    };
    let mask = u128::MAX
        .checked_shl(width - u32::from(prefix))
        .unwrap_or(0);
    ip & mask == base & mask
}

/// A subject of a CN and organisations (`O`), in the order Go writes them (O
/// before CN), with RFC 4514 escaping.
pub fn subject_name(common_name: &str, organizations: &[&str]) -> Result<Name> {
    let mut text = format!("CN={}", escape_rdn(common_name));
    for organization in organizations.iter().rev() {
        text.push_str(&format!(",O={}", escape_rdn(organization)));
    }
    Name::from_str(&text).map_err(|e| Error::crypto(format!("encoding subject {text}"), e))
}

fn escape_rdn(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let edge = i == 0 || i + 1 == value.chars().count();
        if matches!(c, '\\' | ',' | '+' | '"' | '<' | '>' | ';' | '=')
            || (i == 0 && c == '#')
            || (edge && c == ' ')
        {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A [`San`] as it goes into a subjectAltName extension.
pub(crate) fn general_name(san: &San) -> der::Result<GeneralName> {
    Ok(match san {
        San::Dns(name) => GeneralName::DnsName(Ia5String::new(name)?),
        San::Ip(IpAddr::V4(ip)) => GeneralName::IpAddress(OctetString::new(ip.octets())?),
        San::Ip(IpAddr::V6(ip)) => GeneralName::IpAddress(OctetString::new(ip.octets())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_the_preferred_name_syntax() {
        for good in [
            "kubernetes",
            "cp-1",
            "kubernetes.default.svc.cluster.local",
            "*.example.com",
            "xn--bcher-kva.example",
            "1.example.com",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert_eq!(dns_name_problem(good), None, "{good}");
        }
        for bad in [
            "good.example\0.evil.com",
            "",
            "*",
            "*.*.com",
            "a.*.com",
            "*.com",
            "w*.example.com",
            "has space.example",
            "new\nline.example",
            ".",
            "example.com.",
            ".example.com",
            "a..b",
            "-a.example",
            "a-.example",
            "bücher.example",
            "under_score.example",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}a", "a.".repeat(127)),
        ] {
            assert!(dns_name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn allow_list_entries_match_names_subdomains_and_networks() {
        let allows = |pattern: &str, name: &str| {
            SanPattern::parse(pattern)
                .unwrap()
                .allows(&San::parse(name))
        };
        assert!(allows("worker-1.example.com", "Worker-1.example.com"));
        assert!(!allows("worker-1.example.com", "worker-2.example.com"));
        assert!(allows("*.apps.example.com", "shop.apps.example.com"));
        assert!(allows("*.apps.example.com", "*.apps.example.com"));
        assert!(!allows("*.apps.example.com", "apps.example.com"));
        assert!(!allows("*.apps.example.com", "a.b.apps.example.com"));
        assert!(!allows("*.apps.example.com", "evilapps.example.com"));
        assert!(allows("10.0.0.0/24", "10.0.0.255"));
        assert!(!allows("10.0.0.0/24", "10.0.1.0"));
        assert!(!allows("10.0.0.0/24", "::ffff:10.0.0.1"));
        assert!(allows("0.0.0.0/0", "192.0.2.1"));
        assert!(allows("fd00::/64", "fd00::1"));
        assert!(!allows("fd00::/64", "fd00:0:0:1::1"));
        assert!(allows("192.0.2.1", "192.0.2.1"));
        assert!(!allows("192.0.2.1", "192.0.2.2"));
        assert!(!allows("10.0.0.0/8", "ten.example"));
        for bad in ["10.0.0.0/33", "fd00::/129", "x/8", "*.com", "a..b", ""] {
            assert!(SanPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subject_values_are_escaped_and_o_comes_before_cn() {
        let name = subject_name("a,b", &["system:masters"]).unwrap();
        assert_eq!(name.to_string(), "CN=a\\,b,O=system:masters");
        let cn = name.common_name().unwrap().unwrap();
        assert_eq!(cn.value(), "a,b");
    }
}
