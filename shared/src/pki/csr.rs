//! Certificate signing requests (PKCS#10), read the way a careful CA reads
//! them: the self-signature must verify (proof of possession of the key), the
//! key must be one we would issue for, and of the extensions the request asks
//! for only the subject alternative names are kept. A request for CA:TRUE or
//! keyCertSign is refused outright rather than quietly ignored, because it says
//! the requester expects something no leaf profile gives.
//!
//! Usages and validity never come from the request: the signer's profile sets
//! them (see [`crate::runs::sign_csr`]).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use der::EncodePem as _;
use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use x509_cert::builder::{Builder as _, RequestBuilder};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::pki::error::{CsrProblem, Error, Kind, Result};
use crate::pki::keys::{KeyAlgorithm, KeySigner, PublicKey, RawSignature, SigningKey};
use crate::pki::names::San;
use crate::pki::pem::PemFile;
use crate::pki::verify::{Sha1, check_signed};

/// PKCS#9 extensionRequest: the attribute carrying requested extensions.
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
/// id-at-commonName.
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// id-at-organizationName.
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");

/// RFC 5280's upper bounds (appendix A.1) on the subject attributes a CSR
/// may carry, in characters: name, OID, bound.
const SUBJECT_BOUNDS: [(&str, ObjectIdentifier, usize); 8] = [
    ("CN", ObjectIdentifier::new_unwrap("2.5.4.3"), 64),
    ("O", ObjectIdentifier::new_unwrap("2.5.4.10"), 64),
    ("OU", ObjectIdentifier::new_unwrap("2.5.4.11"), 64),
    ("L", ObjectIdentifier::new_unwrap("2.5.4.7"), 128),
    ("ST", ObjectIdentifier::new_unwrap("2.5.4.8"), 128),
    ("C", ObjectIdentifier::new_unwrap("2.5.4.6"), 2),
    ("serialNumber", ObjectIdentifier::new_unwrap("2.5.4.5"), 64),
    (
        "emailAddress",
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1"),
        255,
    ),
];

/// The smallest RSA modulus we sign for (what kubeadm and every current
/// baseline require).
pub const MIN_RSA_BITS: usize = 2048;

/// A CSR whose self-signature verified.
#[derive(Clone, Debug)]
pub struct Csr {
    /// The file it was read from.
    pub path: PathBuf,
    /// The requested subject, as encoded.
    pub subject: Name,
    /// The requested public key.
    pub public_key: SubjectPublicKeyInfoOwned,
    /// Its type and size.
    pub algorithm: KeyAlgorithm,
    /// The DNS and IP subject alternative names requested, in order.
    pub sans: Vec<San>,
}

impl Csr {
    /// Reads and checks the CSR in `path` (see [`Csr::parse`]).
    pub fn read(path: &Path) -> Result<Self> {
        Self::parse(path, crate::pki::input::read(path)?)
    }

    /// Reads and checks a subordinate CA's request in `path`: as [`Csr::read`],
    /// but CA:TRUE and keyCertSign may be asked for (the CA profile decides).
    pub fn read_ca(path: &Path) -> Result<Self> {
        Self::parse_as(path, crate::pki::input::read(path)?, Wanted::Ca)
    }

    /// Parses the first `CERTIFICATE REQUEST` block of `bytes` and checks it:
    /// signature, key type and size, and the extensions asked for.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        Self::parse_as(path, bytes, Wanted::Leaf)
    }

    fn parse_as(path: &Path, bytes: Vec<u8>, wanted: Wanted) -> Result<Self> {
        let refuse = |problem| Error::at(path, Kind::Csr(problem));
        let file = PemFile::parse(path, bytes)?;
        let block = file
            .blocks
            .iter()
            // OpenSSL once wrote "NEW CERTIFICATE REQUEST"; Go reads both.
            .find(|b| b.label == "CERTIFICATE REQUEST" || b.label == "NEW CERTIFICATE REQUEST")
            .ok_or_else(|| refuse(CsrProblem::Malformed("no CERTIFICATE REQUEST block".into())))?;
        let request = CertReq::from_der(&block.der)
            .map_err(|e| refuse(CsrProblem::Malformed(e.to_string())))?;
        let info = &request.info;
        let public_key =
            PublicKey::from_spki(&info.public_key).map_err(|e| refuse(CsrProblem::KeyType(e)))?;
        let signed = info
            .to_der()
            .map_err(|e| refuse(CsrProblem::Malformed(e.to_string())))?;
        let signature = request.signature.as_bytes().ok_or_else(|| {
            refuse(CsrProblem::BadSignature(
                "the signature is not a whole number of bytes".into(),
            ))
        })?;
        check_signed(
            &request.algorithm,
            &public_key,
            &signed,
            signature,
            Sha1::Accepted,
        )
        .map_err(|e| refuse(CsrProblem::BadSignature(e)))?;
        let algorithm = public_key.algorithm();
        if let KeyAlgorithm::Rsa(bits) = algorithm {
            if bits < MIN_RSA_BITS {
                return Err(refuse(CsrProblem::WeakRsa {
                    bits,
                    min: MIN_RSA_BITS,
                }));
            }
        }
        subject_within_bounds(&info.subject).map_err(refuse)?;
        let mut sans = Vec::new();
        for extension in
            requested_extensions(&request).map_err(|e| refuse(CsrProblem::Malformed(e)))?
        {
            read_extension(&extension, &mut sans, wanted).map_err(refuse)?;
        }
        Ok(Csr {
            path: path.to_path_buf(),
            subject: info.subject.clone(),
            public_key: info.public_key.clone(),
            algorithm,
            sans,
        })
    }

    /// The subject's CN values.
    pub fn common_names(&self) -> Vec<String> {
        self.values(COMMON_NAME)
    }

    /// The subject's O values, in order.
    pub fn organizations(&self) -> Vec<String> {
        self.values(ORGANIZATION)
    }

    /// Whether the subject holds attributes other than CN and O.
    pub fn has_other_attributes(&self) -> bool {
        self.subject
            .iter()
            .any(|atv| atv.oid != COMMON_NAME && atv.oid != ORGANIZATION)
    }

    fn values(&self, oid: ObjectIdentifier) -> Vec<String> {
        self.subject
            .iter()
            .filter(|atv| atv.oid == oid)
            .map(|atv| match DirectoryString::try_from(&atv.value) {
                Ok(value) => value.value().into_owned(),
                // Not a string type: shown as its DER, so it never matches a name.
                Err(_) => format!("#{}", crate::pki::keys::hex(atv.value.value())),
            })
            .collect()
    }
}

/// What a request is read for: a leaf, for which CA:TRUE is refused, or a
/// subordinate CA.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Leaf,
    Ca,
}

/// A subordinate CA's request for `subject`, signed by `key`, as PEM: it asks
/// for critical CA:TRUE and keyUsage keyCertSign, cRLSign, so a PKI that
/// copies requested extensions gives what the tree needs, and one that does
/// not sees what is expected.
pub fn ca_request_pem(subject: &Name, key: &dyn SigningKey) -> Result<String> {
    let spki = key.public_key_info()?;
    let failed = |e: x509_cert::builder::Error| Error::crypto("building the CA request", e);
    let mut builder = RequestBuilder::new(subject.clone()).map_err(failed)?;
    let basic = BasicConstraints {
        ca: true,
        path_len_constraint: None,
    };
    let usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    let der_failed = |e: der::Error| Error::crypto("building the CA request", e);
    builder.add_extension((true, &basic)).map_err(der_failed)?;
    builder.add_extension((true, &usage)).map_err(der_failed)?;
    let request = builder
        .build::<_, RawSignature>(&KeySigner::new(key, &spki))
        .map_err(failed)?;
    request.to_pem(der::pem::LineEnding::LF).map_err(der_failed)
}

/// The subject of a request as an operator writes it (RFC 4514,
/// `CN=Cluster Issuing CA,O=Example Corp`): it must name a CN and keep to
/// RFC 5280's bounds, as the PKI that signs it will check.
pub fn requested_subject(text: &str) -> std::result::Result<Name, String> {
    let name =
        Name::from_str(text).map_err(|e| format!("{text:?} is not an RFC 4514 name: {e}"))?;
    if !name.iter().any(|atv| atv.oid == COMMON_NAME) {
        return Err(format!(
            "{text:?} names no CN (e.g. CN=Cluster Issuing CA,O=Example Corp)"
        ));
    }
    subject_within_bounds(&name).map_err(|problem| format!("{text:?}: {problem}"))?;
    Ok(name)
}

/// Refuses a subject attribute longer than RFC 5280 allows.
fn subject_within_bounds(subject: &Name) -> std::result::Result<(), CsrProblem> {
    for atv in subject.iter() {
        let Some((attribute, _, max)) = SUBJECT_BOUNDS.iter().find(|(_, oid, _)| *oid == atv.oid)
        else {
            continue;
        };
        let length = match DirectoryString::try_from(&atv.value) {
            Ok(value) => value.value().chars().count(),
            // IA5String (emailAddress) and other string types: their bytes.
            Err(_) => atv.value.value().len(),
        };
        if length > *max {
            return Err(CsrProblem::SubjectTooLong {
                attribute,
                length,
                max: *max,
            });
        }
    }
    Ok(())
}

/// Every extension of the request's extensionRequest attributes.
fn requested_extensions(request: &CertReq) -> std::result::Result<Vec<Extension>, String> {
    let mut extensions = Vec::new();
    for attribute in request
        .info
        .attributes
        .iter()
        .filter(|a| a.oid == EXTENSION_REQUEST)
    {
        for value in attribute.values.iter() {
            let list: Vec<Extension> = value
                .decode_as()
                .map_err(|e| format!("the extensionRequest attribute is malformed: {e}"))?;
            extensions.extend(list);
        }
    }
    Ok(extensions)
}

/// Collects the names of a subjectAltName and refuses what no leaf may ask
/// for; every other extension is ignored (the profile decides).
fn read_extension(
    extension: &Extension,
    sans: &mut Vec<San>,
    wanted: Wanted,
) -> std::result::Result<(), CsrProblem> {
    let value = extension.extn_value.as_bytes();
    let malformed =
        |what: &str, e: der::Error| CsrProblem::Malformed(format!("its {what} is malformed: {e}"));
    if extension.extn_id == <BasicConstraints as der::oid::AssociatedOid>::OID {
        let basic =
            BasicConstraints::from_der(value).map_err(|e| malformed("basicConstraints", e))?;
        if basic.ca && wanted == Wanted::Leaf {
            return Err(CsrProblem::AsksForCa);
        }
    } else if extension.extn_id == <KeyUsage as der::oid::AssociatedOid>::OID {
        let usage = KeyUsage::from_der(value).map_err(|e| malformed("keyUsage", e))?;
        if usage.key_cert_sign() && wanted == Wanted::Leaf {
            return Err(CsrProblem::AsksForKeyCertSign);
        }
    } else if extension.extn_id == <SubjectAltName as der::oid::AssociatedOid>::OID {
        let names = SubjectAltName::from_der(value).map_err(|e| malformed("subjectAltName", e))?;
        for name in names.0 {
            sans.push(match name {
                GeneralName::DnsName(dns) => {
                    let name = dns.to_string();
                    if let Some(why) = crate::pki::names::dns_name_problem(&name) {
                        return Err(CsrProblem::DnsName { name, why });
                    }
                    San::Dns(name)
                }
                GeneralName::IpAddress(octets) => San::Ip(
                    crate::pki::constraints::ip_from(octets.as_bytes())
                        .ok_or(CsrProblem::SanType("malformed IP address"))?,
                ),
                GeneralName::Rfc822Name(_) => return Err(CsrProblem::SanType("email")),
                GeneralName::UniformResourceIdentifier(_) => {
                    return Err(CsrProblem::SanType("URI"));
                }
                GeneralName::DirectoryName(_) => return Err(CsrProblem::SanType("directory name")),
                GeneralName::OtherName(_) => return Err(CsrProblem::SanType("otherName")),
                GeneralName::RegisteredId(_) => return Err(CsrProblem::SanType("registeredID")),
                GeneralName::EdiPartyName(_) => return Err(CsrProblem::SanType("EDI party name")),
            });
        }
    }
    Ok(())
}
