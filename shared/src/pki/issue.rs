//! Issuing certificates from a public key with a named profile, signed by any
//! [`SigningKey`] of the algorithm table, in memory or not.
//!
//! Two profiles, each standards-clean (pkilint finds no ERROR):
//! - [`Profile::Ca`]: the upstream scripts' `v3_ca`: subjectKeyIdentifier =
//!   SHA-1 of the public key bits (OpenSSL `hash`), authorityKeyIdentifier keyid
//!   = the issuer's SKI, basicConstraints critical CA:TRUE (pathLen only when
//!   asked), keyUsage critical digitalSignature, keyCertSign (+ keyEncipherment
//!   for RSA keys only: RFC 5480 and RFC 8410 forbid it elsewhere). No
//!   extendedKeyUsage: Go checks EKU along the whole chain, so a CA restricted
//!   to one usage would break the other, or change the join-token hash.
//! - [`Profile::Leaf`]: what k3s and kubeadm issue to servers and clients: SKI,
//!   AKI, basicConstraints critical CA:FALSE (as Go, and so kubeadm, writes
//!   it), keyUsage critical digitalSignature (+ keyEncipherment for RSA),
//!   extendedKeyUsage, subjectAltName when there are names.
//!
//! The signature algorithm follows the issuer's key ([`crate::pki::keys::KeyAlgorithm::signature_algorithm`]);
//! serials are random and positive.

use std::time::{Duration, SystemTime};

use der::asn1::{Ia5String, ObjectIdentifier, OctetString};
use sha1::{Digest as _, Sha1};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension as _};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

use crate::pki::cert::Certificate;
use crate::pki::error::{Error, Result};
use crate::pki::keys::{KeySigner, PublicKey, SigningKey};
use crate::pki::names::{San, general_name, subject_name};

/// id-kp-serverAuth.
pub const SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// id-kp-clientAuth.
pub const CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// Who signs a new certificate. Keys are trait objects: one run holds keys of
/// several kinds side by side (a CA brought in a token, CAs generated in
/// memory), and a call through the vtable is nothing beside a signature.
#[derive(Clone, Copy)]
pub enum Issuer<'a> {
    /// The certificate signs itself with this key (its public half is the
    /// request's public key).
    SelfSigned(&'a dyn SigningKey),
    /// An existing CA signs it.
    Ca {
        /// The issuing CA's certificate.
        cert: &'a Certificate,
        /// The issuing CA's key.
        key: &'a dyn SigningKey,
    },
}

/// What kind of certificate to make.
#[derive(Clone, Debug)]
pub enum Profile {
    /// A CA certificate.
    Ca {
        /// pathLenConstraint, when the CA must not have CAs below it beyond this.
        path_len: Option<u8>,
        /// Permitted subtrees of a critical nameConstraints; none means no
        /// extension (a subordinate CA an offline root limits to its names).
        permitted: Vec<Permitted>,
        /// extendedKeyUsage OIDs; none means no extension, which the tree's
        /// own CAs always use (Go applies a CA's EKU to the whole chain).
        usages: Vec<ObjectIdentifier>,
    },
    /// A server or client certificate.
    Leaf {
        /// extendedKeyUsage OIDs ([`SERVER_AUTH`], [`CLIENT_AUTH`]).
        usages: Vec<ObjectIdentifier>,
        /// subjectAltName entries; none means no extension.
        sans: Vec<San>,
    },
}

/// One permitted subtree of a CA's nameConstraints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permitted {
    /// A DNS name and every name under it (`corp.example`).
    Dns(String),
    /// An IP network.
    Ip {
        /// The network's address.
        base: std::net::IpAddr,
        /// Its prefix length.
        prefix: u8,
    },
}

impl Permitted {
    /// The subtree as nameConstraints encodes it: an IA5String, or the
    /// address followed by its mask.
    fn general_name(&self) -> der::Result<GeneralName> {
        Ok(match self {
            Permitted::Dns(name) => GeneralName::DnsName(Ia5String::new(name)?),
            Permitted::Ip { base, prefix } => {
                let octets = match base {
                    std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
                    std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
                };
                let mask: Vec<u8> = (0..octets.len())
                    .map(
                        |i| match usize::from(*prefix).saturating_sub(i * 8).min(8) {
                            0 => 0,
                            on => 0xffu8 << (8 - on),
                        },
                    )
                    .collect();
                let masked: Vec<u8> = octets.iter().zip(&mask).map(|(o, m)| o & m).collect();
                GeneralName::IpAddress(OctetString::new([masked, mask].concat())?)
            }
        })
    }
}

impl std::fmt::Display for Permitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Permitted::Dns(name) => write!(f, "DNS {name}"),
            Permitted::Ip { base, prefix } => write!(f, "IP {base}/{prefix}"),
        }
    }
}

/// A certificate to issue: whose key, which names, which profile, how long.
pub struct IssueRequest {
    /// The subject name.
    pub subject: Name,
    /// The subject's public key (from a key we hold or from a CSR).
    pub public_key: SubjectPublicKeyInfoOwned,
    /// The profile.
    pub profile: Profile,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// Issues the certificate `request` describes, signed by `issuer`.
pub fn issue(request: &IssueRequest, issuer: Issuer<'_>) -> Result<Certificate> {
    let (issuer_name, authority_key_id, signing_key, issuer_key) = match issuer {
        Issuer::SelfSigned(key) => (
            request.subject.clone(),
            key_identifier(&request.public_key),
            key,
            &request.public_key,
        ),
        Issuer::Ca { cert, key } => (
            cert.subject().clone(),
            cert.subject_key_id()
                .unwrap_or_else(|| key_identifier(cert.public_key())),
            key,
            cert.public_key(),
        ),
    };
    let subject_algorithm = PublicKey::from_spki(&request.public_key)
        .map_err(|e| Error::crypto("reading the subject public key", e))?
        .algorithm();
    let tbs = Tbs {
        subject: request.subject.clone(),
        issuer: issuer_name,
        extensions: Extensions::Profile {
            authority_key_id,
            can_encipher: subject_algorithm.can_encipher(),
            profile: request.profile.clone(),
        },
    };
    sign_tbs(
        tbs,
        request.public_key.clone(),
        (request.not_before, request.not_after),
        signing_key,
        issuer_key,
    )
}

/// Builds the certificate of `tbs` over `public_key`, valid over `validity`
/// (start, end), with a new random serial, signed by `signing_key`, whose
/// public half is `issuer_key`.
pub(crate) fn sign_tbs(
    tbs: Tbs,
    public_key: SubjectPublicKeyInfoOwned,
    validity: (SystemTime, SystemTime),
    signing_key: &dyn SigningKey,
    issuer_key: &SubjectPublicKeyInfoOwned,
) -> Result<Certificate> {
    let what = format!("signing \"{}\"", tbs.subject);
    let time = |t: SystemTime| Time::try_from(t).map_err(|e| Error::crypto(&what, e));
    let validity = Validity::new(time(validity.0)?, time(validity.1)?);
    let serial = SerialNumber::generate(&mut rand::rng());
    let builder = CertificateBuilder::new(tbs, serial, validity, public_key)
        .map_err(|e| Error::crypto(&what, e))?;
    let built = builder
        .build::<_, crate::pki::keys::RawSignature>(&KeySigner::new(signing_key, issuer_key))
        .map_err(|e| Error::crypto(&what, e))?;
    let certificate = Certificate::from_built(built)?;
    if signing_key.signs_in_memory() && is_public_half(signing_key, issuer_key)? {
        crate::pki::verify::remember_own_signature(&certificate, issuer_key);
    }
    Ok(certificate)
}

/// Whether `spki` is `key`'s public half.
fn is_public_half(key: &dyn SigningKey, spki: &SubjectPublicKeyInfoOwned) -> Result<bool> {
    use der::Encode as _;
    let spki = spki
        .to_der()
        .map_err(|e| Error::crypto("encoding a public key", e))?;
    Ok(key.public_key_der()? == spki)
}

/// What to put in a new CA certificate whose key we hold.
pub struct CaRequest<'a> {
    /// The subject CN.
    pub common_name: &'a str,
    /// The subject's key: its public half goes into the certificate (and it
    /// signs it, when the CA is self-signed).
    pub key: &'a dyn SigningKey,
    /// Start of validity (the run's timestamp).
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// Issues a CA certificate (CN only, no pathLen) for a key we hold.
pub fn issue_ca(request: &CaRequest<'_>, issuer: Issuer<'_>) -> Result<Certificate> {
    issue(
        &IssueRequest {
            subject: subject_name(request.common_name, &[])?,
            public_key: request.key.public_key_info()?,
            profile: Profile::Ca {
                path_len: None,
                permitted: Vec::new(),
                usages: Vec::new(),
            },
            not_before: request.not_before,
            not_after: request.not_after,
        },
        issuer,
    )
}

/// `days` after `start`.
pub fn days_after(start: SystemTime, days: u32) -> SystemTime {
    start + Duration::from_secs(u64::from(days) * 86_400)
}

/// The timestamp of a run: whole unix seconds (the `@TS` of CNs) and the same
/// instant as the start of validity of everything the run issues.
pub fn run_timestamp(now: SystemTime) -> (u64, SystemTime) {
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (
        seconds,
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
    )
}

/// OpenSSL's `subjectKeyIdentifier = hash`: SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

/// The names and extensions of a certificate to build, for x509-cert's
/// builder.
pub(crate) struct Tbs {
    /// The subject name.
    pub subject: Name,
    /// The issuer name.
    pub issuer: Name,
    /// Its extensions.
    pub extensions: Extensions,
}

/// Where a certificate's extensions come from.
pub(crate) enum Extensions {
    /// Made from a [`Profile`].
    Profile {
        /// The issuer's key identifier.
        authority_key_id: Vec<u8>,
        /// Whether the subject key can encipher (keyEncipherment).
        can_encipher: bool,
        /// The profile.
        profile: Profile,
    },
    /// Given as they are (a renewal keeps a certificate's own).
    Given(Vec<Extension>),
}

/// The keyUsage of `profile` for a key that can encipher or not.
fn key_usage(profile: &Profile, can_encipher: bool) -> KeyUsage {
    let mut usages = KeyUsages::DigitalSignature.into();
    if let Profile::Ca { .. } = profile {
        usages |= KeyUsages::KeyCertSign;
    }
    if can_encipher {
        usages |= KeyUsages::KeyEncipherment;
    }
    KeyUsage(usages)
}

impl BuilderProfile for Tbs {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let (authority_key_id, can_encipher, profile) = match &self.extensions {
            Extensions::Given(extensions) => return Ok(extensions.clone()),
            Extensions::Profile {
                authority_key_id,
                can_encipher,
                profile,
            } => (authority_key_id, *can_encipher, profile),
        };
        let subject = tbs.subject();
        let ski = Sha1::digest(spk.subject_public_key.raw_bytes());
        let ski = SubjectKeyIdentifier(OctetString::new(ski.as_slice())?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(authority_key_id.as_slice())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let mut extensions = vec![
            (false, &ski).to_extension(subject, &[])?,
            (false, &aki).to_extension(subject, &[])?,
        ];
        let key_usage = key_usage(profile, can_encipher);
        match profile {
            Profile::Ca {
                path_len,
                permitted,
                usages,
            } => {
                let basic = BasicConstraints {
                    ca: true,
                    path_len_constraint: *path_len,
                };
                extensions.push((true, &basic).to_extension(subject, &[])?);
                extensions.push((true, &key_usage).to_extension(subject, &[])?);
                if !permitted.is_empty() {
                    let subtrees = permitted
                        .iter()
                        .map(|p| {
                            Ok(GeneralSubtree {
                                base: p.general_name()?,
                                minimum: 0,
                                maximum: None,
                            })
                        })
                        .collect::<der::Result<Vec<_>>>()?;
                    let constraints = NameConstraints {
                        permitted_subtrees: Some(subtrees),
                        excluded_subtrees: None,
                    };
                    extensions.push((true, &constraints).to_extension(subject, &[])?);
                }
                if !usages.is_empty() {
                    let eku = ExtendedKeyUsage(usages.clone());
                    extensions.push((false, &eku).to_extension(subject, &[])?);
                }
            }
            Profile::Leaf { usages, sans } => {
                let basic = BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                };
                extensions.push((true, &basic).to_extension(subject, &[])?);
                extensions.push((true, &key_usage).to_extension(subject, &[])?);
                let eku = ExtendedKeyUsage(usages.clone());
                extensions.push((false, &eku).to_extension(subject, &[])?);
                if !sans.is_empty() {
                    let names = sans
                        .iter()
                        .map(general_name)
                        .collect::<der::Result<Vec<_>>>()?;
                    let san = SubjectAltName(names);
                    extensions.push((false, &san).to_extension(subject, &[])?);
                }
            }
        }
        Ok(extensions)
    }
}
