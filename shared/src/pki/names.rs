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
    fn subject_values_are_escaped_and_o_comes_before_cn() {
        let name = subject_name("a,b", &["system:masters"]).unwrap();
        assert_eq!(name.to_string(), "CN=a\\,b,O=system:masters");
        let cn = name.common_name().unwrap().unwrap();
        assert_eq!(cn.value(), "a,b");
    }
}
