//! Issuing CA certificates with the profile of the upstream scripts' `v3_ca`
//! section, standards-clean:
//!
//! - subjectKeyIdentifier = SHA-1 of the subject public key bits (OpenSSL `hash`);
//! - authorityKeyIdentifier keyid = the issuer's SKI (a self-signed root points at itself);
//! - basicConstraints critical CA:TRUE, no pathlen;
//! - keyUsage critical: digitalSignature, keyEncipherment, keyCertSign for RSA keys;
//!   digitalSignature, keyCertSign for EC keys (RFC 5480 forbids keyEncipherment there);
//! - SHA-256 signature with the issuer's key, random positive serial, subject = CN only.
//!
//! No extendedKeyUsage: Go checks EKU along the whole chain, so a CA restricted to one
//! usage would break the other, or change the join-token hash.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use der::asn1::OctetString;
use sha1::{Digest as _, Sha1};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension as _};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

use crate::cert::Certificate;
use crate::error::{Error, Result};
use crate::keys::{KeyAlgorithm, PrivateKey};

/// Who signs a new CA certificate.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// The certificate signs itself with its own key.
    SelfSigned,
    /// An existing CA signs it.
    Ca {
        /// The issuing CA's certificate.
        cert: &'a Certificate,
        /// The issuing CA's key.
        key: &'a PrivateKey,
    },
}

/// What to put in a new CA certificate.
pub struct CaRequest<'a> {
    /// The subject CN.
    pub common_name: &'a str,
    /// The subject's key pair.
    pub key: &'a PrivateKey,
    /// Start of validity (the run's timestamp).
    pub not_before: SystemTime,
    /// Lifetime in days.
    pub validity_days: u32,
}

/// Issues a CA certificate for `request`, signed as `signer` says.
pub fn issue_ca(request: &CaRequest<'_>, signer: Signer<'_>) -> Result<Certificate> {
    let subject = Name::from_str(&format!("CN={}", request.common_name))
        .map_err(|e| Error::crypto(format!("encoding subject CN={}", request.common_name), e))?;
    let subject_spki = request.key.public_key_info()?;
    let (issuer_name, authority_key_id, signing_key) = match signer {
        Signer::SelfSigned => (subject.clone(), key_identifier(&subject_spki), request.key),
        Signer::Ca { cert, key } => (
            cert.subject().clone(),
            cert.subject_key_id()
                .unwrap_or_else(|| key_identifier(cert.public_key())),
            key,
        ),
    };
    let profile = CaProfile {
        subject,
        issuer: issuer_name,
        authority_key_id,
        key_usage: ca_key_usage(request.key.algorithm()),
    };
    let validity = validity(request.not_before, request.validity_days)?;
    let serial = SerialNumber::generate(&mut rand::rng());
    let builder = CertificateBuilder::new(profile, serial, validity, subject_spki)
        .map_err(|e| Error::crypto("preparing a certificate", e))?;
    let built = match signing_key {
        PrivateKey::Rsa(key) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
            builder.build::<_, rsa::pkcs1v15::Signature>(&signer)
        }
        PrivateKey::EcP256(key) => {
            let signer = p256::ecdsa::SigningKey::from(key);
            builder.build::<_, p256::ecdsa::DerSignature>(&signer)
        }
    }
    .map_err(|e| Error::crypto(format!("signing {}", request.common_name), e))?;
    Certificate::from_built(built)
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

fn ca_key_usage(algorithm: KeyAlgorithm) -> KeyUsage {
    let mut usages = KeyUsages::DigitalSignature | KeyUsages::KeyCertSign;
    if let KeyAlgorithm::Rsa(_) = algorithm {
        usages |= KeyUsages::KeyEncipherment;
    }
    KeyUsage(usages)
}

fn validity(not_before: SystemTime, days: u32) -> Result<Validity> {
    let not_after = not_before + Duration::from_secs(u64::from(days) * 86_400);
    let time =
        |t: SystemTime| Time::try_from(t).map_err(|e| Error::crypto("encoding a validity date", e));
    Ok(Validity::new(time(not_before)?, time(not_after)?))
}

/// The extensions of every CA certificate we issue.
struct CaProfile {
    subject: Name,
    issuer: Name,
    authority_key_id: Vec<u8>,
    key_usage: KeyUsage,
}

impl BuilderProfile for CaProfile {
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
        let subject = tbs.subject();
        let ski = Sha1::digest(spk.subject_public_key.raw_bytes());
        let ski = SubjectKeyIdentifier(OctetString::new(ski.as_slice())?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.authority_key_id.as_slice())?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let basic = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        Ok(vec![
            (false, &ski).to_extension(subject, &[])?,
            (false, &aki).to_extension(subject, &[])?,
            (true, &basic).to_extension(subject, &[])?,
            (true, &self.key_usage).to_extension(subject, &[])?,
        ])
    }
}
