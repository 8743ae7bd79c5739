//! Decoding unencrypted private keys: PKCS#1 (`RSA PRIVATE KEY`), SEC1
//! (`EC PRIVATE KEY`) and PKCS#8 (`PRIVATE KEY`), whatever the key type.
//! Errors are plain text; the caller adds the file.

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use pkcs8::DecodePrivateKey as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PrivateKeyParts as _;

use super::PrivateKey;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The private key in a block labelled `label` holding `der`.
pub(super) fn private_key(label: &str, der: &[u8]) -> Result<PrivateKey, String> {
    match label {
        "RSA PRIVATE KEY" => rsa_from_pkcs1(der),
        "EC PRIVATE KEY" => ec_from_sec1(der),
        super::PKCS8_LABEL => from_pkcs8(der),
        other => Err(format!(
            "a \"{other}\" block where a private key was expected"
        )),
    }
}

fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| format!("invalid PKCS#8 private key: {e}"))?;
    let algorithm = info.algorithm.oid;
    let invalid = |e: pkcs8::Error| format!("invalid PKCS#8 private key: {e}");
    if algorithm == RSA_ENCRYPTION {
        // The PKCS#8 body of an RSA key is its PKCS#1 encoding: one validation path.
        rsa_from_pkcs1(info.private_key.as_bytes())
    } else if algorithm == EC_PUBLIC_KEY {
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|e| format!("PKCS#8 EC key without a named curve: {e}"))?;
        match curve {
            P256 | P384 | P521 => {
                super::ec::from_sec1_der(info.private_key.as_bytes(), Some(curve))
                    .map_err(|e| format!("invalid PKCS#8 private key: {e}"))
            }
            other => Err(format!(
                "EC key on curve {other}; P-256, P-384 and P-521 are supported"
            )),
        }
    } else if algorithm == ED25519 {
        ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(|k| PrivateKey::Ed25519(Box::new(k)))
            .map_err(invalid)
    } else {
        Err(format!(
            "PKCS#8 key of algorithm {algorithm}; RSA, ECDSA (P-256, P-384, P-521) and Ed25519 are supported"
        ))
    }
}

fn ec_from_sec1(der: &[u8]) -> Result<PrivateKey, String> {
    // The key's named curve, when it has one, decides.
    super::ec::from_sec1_der(der, None).map_err(|e| {
        if has_explicit_curve_parameters(der) {
            return "an EC key with explicit curve parameters (openssl's `-param_enc explicit`), \
                        which Go refuses: write it with the curve's name, \
                        `openssl ec -param_enc named_curve`"
                .to_string();
        }
        format!(
            "invalid or unsupported SEC1 EC private key (P-256, P-384 and P-521 are supported): {e}"
        )
    })
}

/// Whether a SEC1 key spells its curve out (`[0]` holding a SEQUENCE of field,
/// curve, base point...) instead of naming it with an OID.
fn has_explicit_curve_parameters(der: &[u8]) -> bool {
    use der::{Decode as _, Reader as _, Tagged as _};
    let Ok(key) = der::asn1::AnyRef::from_der(der) else {
        return false;
    };
    let Ok(mut fields) = der::SliceReader::new(key.value()) else {
        return false;
    };
    // version, privateKey, [0] parameters: the third field at most.
    for _ in 0..3 {
        let Ok(field) = fields.decode::<der::asn1::AnyRef<'_>>() else {
            return false;
        };
        if field.tag().is_context_specific() && field.tag().number() == der::TagNumber(0) {
            return field.value().first() == Some(&0x30);
        }
    }
    false
}

/// An RSA key whose stored CRT values agree with its primes: Go (1.24 and later,
/// what current k3s is built with) refuses a key whose dp, dq or qinv are
/// inconsistent, while the rsa crate recomputes them and would accept it.
fn rsa_from_pkcs1(der: &[u8]) -> Result<PrivateKey, String> {
    let stored = rsa::pkcs1::RsaPrivateKeyRef::from_der(der)
        .map_err(|e| format!("invalid PKCS#1 RSA private key: {e}"))?;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map_err(|e| format!("invalid PKCS#1 RSA private key: {e}"))?;
    let inconsistent = |what: &str| {
        Err(format!(
            "inconsistent RSA private key: {what} does not match its primes (Go refuses this key)"
        ))
    };
    let same = |computed: Option<Vec<u8>>, stored: &[u8]| {
        computed.is_some_and(|c| trim_zeros(&c) == trim_zeros(stored))
    };
    if !same(
        key.dp().map(|v| v.to_be_bytes().to_vec()),
        stored.exponent1.as_bytes(),
    ) {
        return inconsistent("exponent1 (d mod p-1)");
    }
    if !same(
        key.dq().map(|v| v.to_be_bytes().to_vec()),
        stored.exponent2.as_bytes(),
    ) {
        return inconsistent("exponent2 (d mod q-1)");
    }
    if !same(
        key.crt_coefficient().map(|v| v.to_be_bytes().to_vec()),
        stored.coefficient.as_bytes(),
    ) {
        return inconsistent("coefficient (q^-1 mod p)");
    }
    Ok(PrivateKey::Rsa(Box::new(key)))
}

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use der::Encode as _;
    use rsa::pkcs1::EncodeRsaPrivateKey as _;

    use super::*;
    use crate::pki::keys::{KeyAlgorithm, PrivateKey};

    #[test]
    fn an_rsa_key_with_an_inconsistent_crt_coefficient_is_refused_as_go_refuses_it() {
        let PrivateKey::Rsa(key) = PrivateKey::generate(KeyAlgorithm::Rsa(2048)).unwrap() else {
            unreachable!("asked for RSA");
        };
        let der = key.to_pkcs1_der().unwrap();
        assert!(rsa_from_pkcs1(der.as_bytes()).is_ok());
        let good = rsa::pkcs1::RsaPrivateKeyRef::from_der(der.as_bytes()).unwrap();
        // The same key with qinv replaced by dp: what `openssl pkey -check`
        // reports as "iqmp not inverse of q".
        let bad = rsa::pkcs1::RsaPrivateKeyRef {
            coefficient: good.exponent1,
            ..good.clone()
        };
        let problem = rsa_from_pkcs1(&bad.to_der().unwrap()).err().unwrap();
        assert!(problem.contains("coefficient"), "{problem}");
    }
}
