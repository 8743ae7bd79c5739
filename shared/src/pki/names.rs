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
    fn subject_values_are_escaped_and_o_comes_before_cn() {
        let name = subject_name("a,b", &["system:masters"]).unwrap();
        assert_eq!(name.to_string(), "CN=a\\,b,O=system:masters");
        let cn = name.common_name().unwrap().unwrap();
        assert_eq!(cn.value(), "a,b");
    }
}
