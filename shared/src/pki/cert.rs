//! Parsed certificates and bundles, with the few properties the tools reason about.

use std::path::Path;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, NameConstraints,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::pki::error::{Error, Kind, Location, Result};
use crate::pki::pem::{self, PemFile};

/// One X.509 certificate: its exact DER and a typed view of it.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    parsed: x509_cert::Certificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parses DER; `path` and the 1-based `index` only serve the error message.
    pub fn from_der(path: &Path, index: usize, der: &[u8]) -> Result<Self> {
        let parsed = x509_cert::Certificate::from_der(der).map_err(|e| {
            let location = Location::Certificate {
                path: path.to_path_buf(),
                index,
            };
            Error::at(location, Kind::Certificate(e.to_string()))
        })?;
        // Go 1.23+ (k3s, kubectl) cannot parse such a certificate at all.
        let serial = parsed.tbs_certificate().serial_number().as_bytes();
        if serial.first().is_some_and(|b| b & 0x80 != 0) {
            let location = Location::Certificate {
                path: path.to_path_buf(),
                index,
            };
            return Err(Error::at(
                location,
                Kind::Certificate(
                    "negative serial number, which Go 1.23 and later (k3s, kubectl) refuse to \
                     parse (RFC 5280 wants a positive one); reissue the certificate"
                        .into(),
                ),
            ));
        }
        Ok(Certificate {
            der: der.to_vec(),
            parsed,
        })
    }

    /// Wraps a certificate we just built.
    pub(crate) fn from_built(parsed: x509_cert::Certificate) -> Result<Self> {
        let der = parsed
            .to_der()
            .map_err(|e| Error::crypto("encoding a certificate", e))?;
        Ok(Certificate { der, parsed })
    }

    /// The exact DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM with LF line ends.
    pub fn to_pem(&self) -> String {
        pem::encode(pem::CERTIFICATE, &self.der)
    }

    /// The typed certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.parsed
    }

    /// The subject name.
    pub fn subject(&self) -> &Name {
        self.parsed.tbs_certificate().subject()
    }

    /// The issuer name.
    pub fn issuer(&self) -> &Name {
        self.parsed.tbs_certificate().issuer()
    }

    /// The subject's CN, or the whole subject when it has no CN.
    pub fn subject_cn(&self) -> String {
        common_name(self.subject())
    }

    /// The issuer's CN, or the whole issuer name when it has no CN.
    pub fn issuer_cn(&self) -> String {
        common_name(self.issuer())
    }

    /// The subject public key.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        self.parsed.tbs_certificate().subject_public_key_info()
    }

    /// The subjectKeyIdentifier, if the certificate has one.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.extension::<SubjectKeyIdentifier>()
            .map(|(_, ski)| ski.0.as_bytes().to_vec())
    }

    /// The keyIdentifier of the authorityKeyIdentifier, if present.
    pub fn authority_key_id(&self) -> Option<Vec<u8>> {
        self.extension::<AuthorityKeyIdentifier>()
            .and_then(|(_, aki)| aki.key_identifier)
            .map(|id| id.as_bytes().to_vec())
    }

    /// k3s's test for a trust anchor in a bundle (hashCA, rotate-ca): no
    /// authorityKeyIdentifier, or one equal to the subjectKeyIdentifier.
    pub fn is_k3s_root(&self) -> bool {
        let aki = self.authority_key_id();
        aki.is_none() || aki == self.subject_key_id()
    }

    /// nameConstraints, if present.
    pub fn name_constraints(&self) -> Option<NameConstraints> {
        self.extension::<NameConstraints>().map(|(_, nc)| nc)
    }

    /// The subjectAltName entries (empty without the extension).
    pub fn subject_alt_names(&self) -> Vec<GeneralName> {
        self.extension::<SubjectAltName>()
            .map(|(_, san)| san.0)
            .unwrap_or_default()
    }

    /// basicConstraints, if present.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.extension::<BasicConstraints>().map(|(_, bc)| bc)
    }

    /// Whether basicConstraints says CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints().is_some_and(|bc| bc.ca)
    }

    /// keyUsage, if present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.extension::<KeyUsage>().map(|(_, ku)| ku)
    }

    /// extendedKeyUsage OIDs, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<ExtendedKeyUsage> {
        self.extension::<ExtendedKeyUsage>().map(|(_, eku)| eku)
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.parsed
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }

    /// End of the validity period.
    pub fn not_after(&self) -> SystemTime {
        self.parsed
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// Whether `at` falls within the validity period.
    pub fn is_valid_at(&self, at: SystemTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// Checks that this is a CA valid now; `location` (its file, or its place
    /// in a bundle) is named in the error.
    pub fn require_usable_ca(&self, location: impl Into<Location>, now: SystemTime) -> Result<()> {
        let location = location.into();
        self.require_ca(location.clone())?;
        let validity = |problem| {
            let subject = self.subject_cn();
            Error::at(location.clone(), Kind::Validity { subject, problem })
        };
        if now > self.not_after() {
            return Err(validity(format!(
                "expired on {}",
                format_time(self.not_after())
            )));
        }
        if now < self.not_before() {
            return Err(validity(format!(
                "is not valid before {}",
                format_time(self.not_before())
            )));
        }
        Ok(())
    }

    /// Checks that this certificate may sign others: CA:TRUE, and keyCertSign
    /// when keyUsage is present.
    pub fn require_ca(&self, location: impl Into<Location>) -> Result<()> {
        let location = location.into();
        let not_ca = |problem| {
            let subject = self.subject_cn();
            Error::at(location.clone(), Kind::NotCa { subject, problem })
        };
        if !self.is_ca() {
            return Err(not_ca("basicConstraints CA:TRUE is missing"));
        }
        if self.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            return Err(not_ca("keyUsage lacks keyCertSign"));
        }
        Ok(())
    }

    fn extension<'a, T>(&'a self) -> Option<(bool, T)>
    where
        T: Decode<'a> + der::oid::AssociatedOid,
    {
        // A malformed or duplicated extension reads as absent: the checks that
        // depend on it then fail with a clear message of their own.
        self.parsed
            .tbs_certificate()
            .get_extension::<T>()
            .ok()
            .flatten()
    }
}

fn common_name(name: &Name) -> String {
    match name.common_name() {
        Ok(Some(cn)) => cn.value().into_owned(),
        _ => name.to_string(),
    }
}

/// Formats a time as RFC 3339 UTC (`2046-01-02T03:04:05Z`).
pub fn format_time(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    match der::DateTime::from_unix_duration(seconds) {
        Ok(dt) => dt.to_string(),
        Err(_) => format!("{} s after 1970", seconds.as_secs()),
    }
}

/// `time` as kubeadm's `certs check-expiration` table prints it (Go layout
/// `Jan 02, 2006 15:04 MST`), in UTC.
pub fn format_kubeadm_time(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match der::DateTime::from_system_time(time) {
        Ok(t) => format!(
            "{} {:02}, {} {:02}:{:02} UTC",
            MONTHS[usize::from(t.month().clamp(1, 12)) - 1],
            t.day(),
            t.year(),
            t.hour(),
            t.minutes()
        ),
        Err(_) => format_time(time),
    }
}

/// Every certificate of a PEM file, in order; a file without one is an error.
pub fn read_bundle(path: &Path) -> Result<Vec<Certificate>> {
    bundle_in(&PemFile::read(path)?)
}

/// Every certificate among the blocks of an already read PEM file.
pub fn bundle_in(file: &PemFile) -> Result<Vec<Certificate>> {
    let certs = file
        .certificate_ders()
        .enumerate()
        .map(|(i, der)| Certificate::from_der(&file.path, i + 1, der))
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(Error::at(
            &file.path,
            Kind::Pem("no CERTIFICATE block in the file".into()),
        ));
    }
    Ok(certs)
}

/// Concatenates certificates as PEM: a bundle file.
pub fn bundle_pem<'a>(certs: impl IntoIterator<Item = &'a Certificate>) -> String {
    certs.into_iter().map(Certificate::to_pem).collect()
}
