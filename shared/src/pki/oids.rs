//! Names for the object identifiers messages mention: signature algorithms, key
//! algorithms, curves, extended key usages, PKCS#5/#12 schemes. One table, so a
//! message says "sha1WithRSAEncryption (1.2.840.113549.1.1.5)" and never a bare
//! OID; an OID outside the table is shown as itself.

use std::fmt;

use der::asn1::ObjectIdentifier;

/// (dotted OID, name as OpenSSL and the RFCs spell it).
const TABLE: &[(&str, &str)] = &[
    // Signature algorithms (RFC 4055, RFC 5758, RFC 8410, RFC 3279).
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.3.14.3.2.29", "sha1WithRSA (OIW)"),
    ("1.2.840.10040.4.3", "dsa-with-SHA1"),
    ("2.16.840.1.101.3.4.3.2", "dsa-with-SHA256"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.3.101.112", "Ed25519"),
    ("1.3.101.113", "Ed448"),
    // Key algorithms.
    ("1.2.840.113549.1.1.1", "rsaEncryption"),
    ("1.2.840.10045.2.1", "id-ecPublicKey"),
    ("1.2.840.10040.4.1", "DSA"),
    ("1.2.840.10046.2.1", "dhpublicnumber"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.2.643.7.1.1.1.1", "GOST R 34.10-2012 (256 bit)"),
    ("1.2.156.10197.1.301", "SM2"),
    // Curves.
    ("1.2.840.10045.3.1.7", "prime256v1 (P-256)"),
    ("1.3.132.0.34", "secp384r1 (P-384)"),
    ("1.3.132.0.35", "secp521r1 (P-521)"),
    ("1.2.840.10045.3.1.1", "prime192v1 (P-192)"),
    ("1.3.132.0.33", "secp224r1 (P-224)"),
    ("1.3.132.0.10", "secp256k1"),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"),
    // Hashes and mask generation (RSASSA-PSS parameters).
    ("1.3.14.3.2.26", "SHA-1"),
    ("2.16.840.1.101.3.4.2.4", "SHA-224"),
    ("2.16.840.1.101.3.4.2.1", "SHA-256"),
    ("2.16.840.1.101.3.4.2.2", "SHA-384"),
    ("2.16.840.1.101.3.4.2.3", "SHA-512"),
    ("1.2.840.113549.1.1.8", "MGF1"),
    // Extended key usages.
    ("2.5.29.37.0", "anyExtendedKeyUsage"),
    ("1.3.6.1.5.5.7.3.1", "serverAuth"),
    ("1.3.6.1.5.5.7.3.2", "clientAuth"),
    ("1.3.6.1.5.5.7.3.3", "codeSigning"),
    ("1.3.6.1.5.5.7.3.4", "emailProtection"),
    ("1.3.6.1.5.5.7.3.8", "timeStamping"),
    ("1.3.6.1.5.5.7.3.9", "OCSPSigning"),
    // Certificate policies.
    ("2.5.29.32.0", "anyPolicy"),
    // PKCS#5 and PKCS#12 encryption schemes.
    ("1.2.840.113549.1.5.13", "PBES2"),
    ("1.2.840.113549.1.5.12", "PBKDF2"),
    ("1.3.6.1.4.1.11591.4.11", "scrypt"),
    ("1.2.840.113549.2.7", "hmacWithSHA1"),
    ("1.2.840.113549.2.8", "hmacWithSHA224"),
    ("1.2.840.113549.2.9", "hmacWithSHA256"),
    ("1.2.840.113549.2.10", "hmacWithSHA384"),
    ("1.2.840.113549.2.11", "hmacWithSHA512"),
    ("2.16.840.1.101.3.4.1.2", "aes-128-cbc"),
    ("2.16.840.1.101.3.4.1.22", "aes-192-cbc"),
    ("2.16.840.1.101.3.4.1.42", "aes-256-cbc"),
    ("1.2.840.113549.3.7", "des-ede3-cbc"),
    ("1.3.14.3.2.7", "des-cbc"),
    ("1.2.840.113549.3.2", "rc2-cbc"),
    ("1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC"),
    ("1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC"),
    ("1.2.840.113549.1.12.1.1", "pbeWithSHAAnd128BitRC4"),
    ("1.2.840.113549.1.12.1.2", "pbeWithSHAAnd40BitRC4"),
    ("1.2.840.113549.1.12.1.3", "pbeWithSHAAnd3-KeyTripleDES-CBC"),
    ("1.2.840.113549.1.12.1.4", "pbeWithSHAAnd2-KeyTripleDES-CBC"),
    ("1.2.840.113549.1.12.1.5", "pbeWithSHAAnd128BitRC2-CBC"),
    ("1.2.840.113549.1.12.1.6", "pbeWithSHAAnd40BitRC2-CBC"),
];

/// The name of `oid`, if the table has it.
pub fn name(oid: &ObjectIdentifier) -> Option<&'static str> {
    let dotted = oid.to_string();
    name_of_dotted(&dotted)
}

/// The name of a dotted OID string, if the table has it.
pub fn name_of_dotted(dotted: &str) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(oid, _)| *oid == dotted)
        .map(|(_, name)| *name)
}

/// An OID as messages show it: "name (dotted)", or the dotted form alone.
pub struct Named<'a>(pub &'a ObjectIdentifier);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match name(self.0) {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// `oid` as messages show it: "sha1WithRSAEncryption (1.2.840.113549.1.1.5)".
pub fn describe(oid: &ObjectIdentifier) -> String {
    Named(oid).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_falls_back_to_the_dotted_form() {
        let sha1 = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
        assert_eq!(
            describe(&sha1),
            "sha1WithRSAEncryption (1.2.840.113549.1.1.5)"
        );
        let unknown = ObjectIdentifier::new_unwrap("1.2.3.4");
        assert_eq!(describe(&unknown), "1.2.3.4");
    }

    #[test]
    fn every_row_is_a_valid_oid_and_appears_once() {
        for (i, (oid, _)) in TABLE.iter().enumerate() {
            assert!(ObjectIdentifier::new(oid).is_ok(), "{oid}");
            assert!(
                TABLE[i + 1..].iter().all(|(other, _)| other != oid),
                "{oid} twice"
            );
        }
    }
}
