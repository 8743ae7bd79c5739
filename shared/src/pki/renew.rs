//! Renewing a CA certificate without a trust break: a new certificate with the
//! same subject, the same public key and the same extensions (key
//! identifiers, basic constraints, key usage, name constraints, all of them,
//! byte for byte), signed by the same issuer, with a new serial and a new
//! validity.
//!
//! One value may change: a keyUsage asserting keyEncipherment for a key that
//! cannot encipher (an EC or Ed25519 key: RFC 5480 and RFC 8410 prohibit it,
//! and Go's CA template, so k3s's CAs, writes it for every key) loses that
//! bit, so that nothing renewed carries a lint ERROR; no verifier reads it on
//! a CA.
//!
//! Go and OpenSSL find a certificate's issuer by name (and key identifier) and
//! check the signature with its key, so everything issued under the old
//! certificate verifies under the renewed one and the reverse: clients need
//! no new trust at all. What cannot be kept byte for byte is refused rather
//! than issued "nearly the same".

use std::time::SystemTime;

use der::asn1::OctetString;
use der::{Decode as _, Encode as _};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

use crate::pki::cert::Certificate;
use crate::pki::error::{Error, Kind, Result};
use crate::pki::issue::{Extensions, Issuer, Tbs, sign_tbs};
use crate::pki::keys::PublicKey;

/// Whether `a` and `b` are the same CA to a path builder: the same subject
/// and the same public key (Go's `alreadyInChain`, OpenSSL's issuer lookup).
pub fn same_ca(a: &Certificate, b: &Certificate) -> bool {
    a.subject() == b.subject() && a.public_key() == b.public_key()
}

/// Re-issues `cert` from `not_before` to `not_after`, signed by `issuer`
/// (itself, or the CA that issued it): same subject, key and extensions, new
/// serial. Refused when the issuer is not the one `cert` names, or when the
/// result would differ from `cert` in anything but serial, validity and
/// signature.
pub fn renew(
    cert: &Certificate,
    issuer: Issuer<'_>,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate> {
    let (issuer_name, signing_key, issuer_public) = match issuer {
        Issuer::SelfSigned(key) => (cert.subject().clone(), key, cert.public_key()),
        Issuer::Ca {
            cert: issuer_cert,
            key,
        } => (issuer_cert.subject().clone(), key, issuer_cert.public_key()),
    };
    if &issuer_name != cert.issuer() {
        return Err(Error::bug(
            "a renewal must be signed by the issuer the certificate names",
        ));
    }
    let extensions = carried_extensions(cert)?;
    let tbs = Tbs {
        subject: cert.subject().clone(),
        issuer: issuer_name,
        extensions: Extensions::Given(extensions.clone()),
    };
    let renewed = sign_tbs(
        tbs,
        cert.public_key().clone(),
        (not_before, not_after),
        signing_key,
        issuer_public,
    )?;
    require_kept(cert, &renewed, &extensions)?;
    Ok(renewed)
}

/// Whether `cert`'s keyUsage asserts keyEncipherment for a key that cannot
/// encipher, which a renewal drops.
pub fn prohibited_key_encipherment(cert: &Certificate) -> bool {
    let can_encipher = PublicKey::from_spki(cert.public_key())
        .map(|key| key.algorithm().can_encipher())
        .unwrap_or(true);
    !can_encipher
        && cert
            .key_usage()
            .is_some_and(|usage| usage.0.contains(KeyUsages::KeyEncipherment))
}

/// `cert`'s extensions as a renewal carries them: byte for byte, but for
/// [`prohibited_key_encipherment`].
fn carried_extensions(cert: &Certificate) -> Result<Vec<Extension>> {
    let extensions = cert
        .x509()
        .tbs_certificate()
        .extensions()
        .cloned()
        .unwrap_or_default();
    if !prohibited_key_encipherment(cert) {
        return Ok(extensions);
    }
    extensions
        .into_iter()
        .map(|extension| {
            if extension.extn_id != KEY_USAGE {
                return Ok(extension);
            }
            let usage = KeyUsage::from_der(extension.extn_value.as_bytes())
                .map_err(|e| Error::crypto("reading a keyUsage", e))?;
            let kept = KeyUsage(usage.0 - KeyUsages::KeyEncipherment);
            let value = kept
                .to_der()
                .and_then(OctetString::new)
                .map_err(|e| Error::crypto("encoding a keyUsage", e))?;
            Ok(Extension {
                extn_value: value,
                ..extension
            })
        })
        .collect()
}

/// Refuses a renewal that changed anything a path builder or a client looks
/// at besides validity, serial and signature (and the keyUsage bit
/// [`prohibited_key_encipherment`] drops, given in `extensions`).
fn require_kept(
    original: &Certificate,
    renewed: &Certificate,
    extensions: &[Extension],
) -> Result<()> {
    let (old, new) = (
        &original.x509().tbs_certificate(),
        &renewed.x509().tbs_certificate(),
    );
    let differs = [
        ("subject", encoded(old.subject()) != encoded(new.subject())),
        ("issuer", encoded(old.issuer()) != encoded(new.issuer())),
        (
            "public key",
            encoded(old.subject_public_key_info()) != encoded(new.subject_public_key_info()),
        ),
        (
            "extensions",
            extensions != new.extensions().map(Vec::as_slice).unwrap_or_default(),
        ),
    ]
    .into_iter()
    .find_map(|(what, differs)| differs.then_some(what));
    if let Some(what) = differs {
        return Err(Error::new(Kind::Certificate(format!(
            "\"{}\": its {what} cannot be kept as it is encoded (a renewal would not be the \
             same CA to clients): rotate this CA instead",
            original.subject_cn()
        ))));
    }
    Ok(())
}

/// id-ce-keyUsage.
const KEY_USAGE: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.15");

/// The DER of `value`, `None` when it cannot be encoded (then it is not kept).
fn encoded<T: der::Encode>(value: &T) -> Option<Vec<u8>> {
    value.to_der().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is a failure")]

    use super::*;
    use crate::pki::issue::{CaRequest, days_after, issue_ca};
    use crate::pki::keys::{KeyAlgorithm, PrivateKey};
    use crate::pki::verify::check_issued_by;

    fn at(days: u32) -> SystemTime {
        days_after(
            SystemTime::UNIX_EPOCH + crate::pki::clock::EARLIEST_SANE,
            days,
        )
    }

    fn ca(name: &str, key: &PrivateKey, issuer: Issuer<'_>, days: u32) -> Certificate {
        let request = CaRequest {
            common_name: name,
            key,
            not_before: at(0),
            not_after: at(days),
        };
        issue_ca(&request, issuer).unwrap()
    }

    #[test]
    fn a_renewed_root_keeps_everything_but_serial_validity_and_signature() {
        for algorithm in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Rsa(2048),
            KeyAlgorithm::Ed25519,
        ] {
            let key = PrivateKey::generate(algorithm).unwrap();
            let old = ca("root", &key, Issuer::SelfSigned(&key), 10);
            let renewed = renew(&old, Issuer::SelfSigned(&key), at(5), at(3650)).unwrap();
            assert!(same_ca(&old, &renewed));
            assert_eq!(
                old.x509().tbs_certificate().extensions(),
                renewed.x509().tbs_certificate().extensions()
            );
            assert_ne!(
                old.x509().tbs_certificate().serial_number(),
                renewed.x509().tbs_certificate().serial_number()
            );
            assert_eq!(renewed.not_after(), at(3650));
            // Each checks against the other: the same name and key.
            check_issued_by(&renewed, &old).unwrap();
            check_issued_by(&old, &renewed).unwrap();
        }
    }

    #[test]
    fn an_intermediate_is_renewed_under_its_issuer() {
        let root_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let root = ca("root", &root_key, Issuer::SelfSigned(&root_key), 7300);
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let issuer = Issuer::Ca {
            cert: &root,
            key: &root_key,
        };
        let old = ca("issuing", &key, issuer, 10);
        let renewed = renew(&old, issuer, at(5), at(3650)).unwrap();
        check_issued_by(&renewed, &root).unwrap();
        assert!(same_ca(&old, &renewed));
        // Signed by the wrong CA: refused before anything is made.
        assert!(renew(&old, Issuer::SelfSigned(&key), at(5), at(3650)).is_err());
    }
}
