//! SEC1 `EC PRIVATE KEY`s in and out, with the public point the ECDSA signing
//! keys keep.
//!
//! The curves' own SEC1 codecs work from the secret scalar alone: writing a
//! key computes its public point anew, and reading one computes it to check
//! the point the file carries, then again to make the signing key. A scalar
//! multiplication costs 0.1 ms on P-256 and 0.4 ms on P-384 here, as much as
//! a signature: a k3s rotation wrote ten keys and read five that way. Here a
//! key written takes its point from the signing key, and a key read computes
//! it once, making the signing key, and checks the file's against it. The
//! encoding is the curves' own (checked in the tests), so k3s and OpenSSL read
//! the same bytes as before.

use der::Encode as _;
use der::asn1::ObjectIdentifier;
use pkcs8::AssociatedOid as _;
use zeroize::Zeroizing;

use super::PrivateKey;

/// The PEM label of a SEC1 key.
const SEC1_LABEL: &str = "EC PRIVATE KEY";

/// A SEC1 `EC PRIVATE KEY` (version 1, the private scalar, the named curve and
/// the uncompressed public point, as OpenSSL and k3s write it), in PEM.
pub(super) fn sec1_pem(
    private_key: &[u8],
    curve: ObjectIdentifier,
    public_point: &[u8],
) -> der::Result<Zeroizing<String>> {
    let private_key = Zeroizing::new(private_key.to_vec());
    let der = Zeroizing::new(
        sec1::EcPrivateKey {
            private_key: &private_key,
            parameters: Some(sec1::EcParameters::NamedCurve(curve)),
            public_key: Some(public_point),
        }
        .to_der()?,
    );
    Ok(Zeroizing::new(crate::pki::pem::encode(SEC1_LABEL, &der)))
}

/// The ECDSA key of SEC1 DER `der`, on `curve` when it is known (a PKCS#8
/// key's algorithm names it), else on the curve the key names or, when it
/// names none, the first its scalar fits: P-256, P-384, P-521 (as the curves'
/// own decoders tried them). The error is the last curve's.
pub(super) fn from_sec1_der(
    der: &[u8],
    curve: Option<ObjectIdentifier>,
) -> Result<PrivateKey, sec1::Error> {
    use der::Decode as _;
    let key = sec1::EcPrivateKey::from_der(der)?;
    let on = |oid: ObjectIdentifier| curve.is_none_or(|c| c == oid);
    let mut last = der::Error::from(der::Tag::ObjectIdentifier.value_error());
    macro_rules! decode {
        ($m:ident, $curve:ty, $variant:expr) => {
            if on(<$curve>::OID) {
                match decode!(@key $m, $curve, &key) {
                    Ok(signing) => return Ok($variant(signing)),
                    Err(e) => last = e,
                }
            }
        };
        (@key $m:ident, $curve:ty, $key:expr) => {
            (|| -> der::Result<$m::ecdsa::SigningKey> {
                let key: &sec1::EcPrivateKey<'_> = $key;
                if let Some(sec1::EcParameters::NamedCurve(oid)) = key.parameters {
                    if oid != <$curve>::OID {
                        return Err(der::Tag::ObjectIdentifier.value_error().into());
                    }
                }
                let signing = $m::ecdsa::SigningKey::from_slice(key.private_key)
                    .map_err(|_| der::Tag::OctetString.value_error())?;
                if let Some(point) = key.public_key {
                    let point = $m::Sec1Point::from_bytes(point)
                        .map_err(|_| der::Tag::BitString.value_error())?;
                    if signing.verifying_key().to_sec1_point(point.is_compressed()) != point {
                        return Err(der::Tag::BitString.value_error().into());
                    }
                }
                Ok(signing)
            })()
        };
    }
    decode!(p256, p256::NistP256, PrivateKey::P256);
    decode!(p384, p384::NistP384, PrivateKey::P384);
    decode!(p521, p521::NistP521, |k| PrivateKey::P521(Box::new(k)));
    Err(last.into())
}

#[cfg(test)]
mod tests {
    use der::Decode as _;

    use super::*;
    use crate::pki::keys::KeyAlgorithm;

    const CURVES: [KeyAlgorithm; 3] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::EcdsaP521,
    ];

    /// The curves' own encoding of `key`, from its scalar.
    fn theirs(key: &PrivateKey) -> String {
        let lf = der::pem::LineEnding::LF;
        let pem = match key {
            PrivateKey::P256(k) => p256::SecretKey::from(k).to_sec1_pem(lf),
            PrivateKey::P384(k) => p384::SecretKey::from(k).to_sec1_pem(lf),
            PrivateKey::P521(k) => p521::SecretKey::from(&**k).to_sec1_pem(lf),
            _ => unreachable!(),
        };
        pem.unwrap().to_string()
    }

    fn ours(key: &PrivateKey) -> String {
        key.to_pem().unwrap().to_string()
    }

    fn sec1_der(pem: &str) -> Vec<u8> {
        let file =
            crate::pki::pem::PemFile::parse(std::path::Path::new("key"), pem.as_bytes().to_vec())
                .unwrap();
        file.blocks[0].der.clone()
    }

    #[test]
    fn keys_are_written_as_the_curves_write_them_and_read_back() {
        for algorithm in CURVES {
            let key = PrivateKey::generate(algorithm).unwrap();
            let pem = ours(&key);
            assert_eq!(pem, theirs(&key), "{algorithm}");
            let read = from_sec1_der(&sec1_der(&pem), None).unwrap();
            assert_eq!(ours(&read), pem, "{algorithm}");
            // In PKCS#8, the algorithm names the curve.
            let pkcs8 = key.to_pkcs8_der().unwrap();
            let read = super::super::decode::private_key("PRIVATE KEY", &pkcs8).unwrap();
            assert_eq!(ours(&read), pem, "{algorithm} in PKCS#8");
        }
    }

    /// A file's public point must be its scalar's: another key's is refused,
    /// the same point compressed is taken; a named curve must be the key's.
    #[test]
    fn the_files_public_point_and_curve_are_checked() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let (PrivateKey::P256(k), PrivateKey::P256(o)) = (&key, &other) else {
            unreachable!()
        };
        let scalar = k.to_bytes();
        let with_point = |point: &[u8], curve: ObjectIdentifier| {
            sec1::EcPrivateKey {
                private_key: &scalar,
                parameters: Some(sec1::EcParameters::NamedCurve(curve)),
                public_key: Some(point),
            }
            .to_der()
            .unwrap()
        };
        let p256 = p256::NistP256::OID;
        let wrong = with_point(o.verifying_key().to_sec1_point(false).as_bytes(), p256);
        assert!(from_sec1_der(&wrong, None).is_err());
        let compressed = with_point(k.verifying_key().to_sec1_point(true).as_bytes(), p256);
        let read = from_sec1_der(&compressed, None).unwrap();
        assert_eq!(ours(&read), ours(&key));
        let own_point = k.verifying_key().to_sec1_point(false);
        let on_p384 = with_point(own_point.as_bytes(), p384::NistP384::OID);
        assert!(from_sec1_der(&on_p384, None).is_err());
        // The curves' decoder agrees on each.
        assert!(p256::SecretKey::from_sec1_der(&wrong).is_err());
        assert!(p256::SecretKey::from_sec1_der(&compressed).is_ok());
        assert!(sec1::EcPrivateKey::from_der(&on_p384).is_ok());
        assert!(p256::SecretKey::from_sec1_der(&on_p384).is_err());
    }
}
