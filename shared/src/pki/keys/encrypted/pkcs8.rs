//! The parameters of an `ENCRYPTED PRIVATE KEY` (PKCS#8 `EncryptedPrivateKeyInfo`):
//! PBES2 (RFC 8018) with PBKDF2 or scrypt and AES-CBC or DES-EDE3-CBC, and the
//! PKCS#12 PBE schemes with SHA-1 and triple DES (RFC 7292 appendix C), which
//! openssl 1.0's `pkcs8 -topk8` writes by default. Everything else is named
//! with how to re-encrypt it. The KDF is checked against its limits here, so
//! nothing is derived for a file that asks too much.

use der::asn1::{AnyRef, ObjectIdentifier as Oid, OctetStringRef, UintRef};
use der::{Decode as _, Reader as _};
use pkcs8::spki::AlgorithmIdentifierRef;

use super::kdf::{self, Kdf, Prf};

const PBES2: Oid = Oid::new_unwrap("1.2.840.113549.1.5.13");
const PBKDF2: Oid = Oid::new_unwrap("1.2.840.113549.1.5.12");
const SCRYPT: Oid = Oid::new_unwrap("1.3.6.1.4.1.11591.4.11");
const PBE_SHA1_3DES: Oid = Oid::new_unwrap("1.2.840.113549.1.12.1.3");
const PBE_SHA1_2DES: Oid = Oid::new_unwrap("1.2.840.113549.1.12.1.4");
const AES128_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.2");
const AES192_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.22");
const AES256_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.42");
const DES_EDE3_CBC: Oid = Oid::new_unwrap("1.2.840.113549.3.7");

/// The fix named in every refusal of a scheme.
pub const REENCRYPT: &str = "re-encrypt with `openssl pkcs8 -topk8 -v2 aes256`";

/// Names of the schemes, KDFs, PRFs and ciphers refused, for messages.
const NAMES: &[(&str, &str)] = &[
    ("1.2.840.113549.1.12.1.1", "pbeWithSHAAnd128BitRC4"),
    ("1.2.840.113549.1.12.1.2", "pbeWithSHAAnd40BitRC4"),
    ("1.2.840.113549.1.12.1.5", "pbeWithSHAAnd128BitRC2-CBC"),
    ("1.2.840.113549.1.12.1.6", "pbeWithSHAAnd40BitRC2-CBC"),
    ("1.2.840.113549.1.5.1", "pbeWithMD2AndDES-CBC"),
    ("1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC"),
    ("1.2.840.113549.1.5.4", "pbeWithMD2AndRC2-CBC"),
    ("1.2.840.113549.1.5.6", "pbeWithMD5AndRC2-CBC"),
    ("1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC"),
    ("1.2.840.113549.1.5.11", "pbeWithSHA1AndRC2-CBC"),
    ("1.2.840.113549.2.5", "MD5"),
    ("1.2.840.113549.2.12", "hmacWithSHA512-224"),
    ("1.2.840.113549.2.13", "hmacWithSHA512-256"),
    ("1.2.840.113549.3.2", "RC2-CBC"),
    ("1.2.840.113549.3.9", "RC5-CBC"),
    ("1.3.14.3.2.7", "DES-CBC"),
    ("2.16.840.1.101.3.4.1.6", "AES-128-GCM"),
    ("2.16.840.1.101.3.4.1.26", "AES-192-GCM"),
    ("2.16.840.1.101.3.4.1.46", "AES-256-GCM"),
    ("1.2.410.200004.1.4", "SEED-CBC"),
    ("1.2.392.200011.61.1.1.1.2", "Camellia-128-CBC"),
    ("1.2.392.200011.61.1.1.1.4", "Camellia-256-CBC"),
];

/// An OID's name when we know one, else the dotted form.
fn name(oid: &Oid) -> String {
    let dotted = oid.to_string();
    NAMES
        .iter()
        .find(|(o, _)| *o == dotted)
        .map_or(dotted, |(_, n)| (*n).to_string())
}

/// The block cipher of a scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
    /// Two-key triple DES (pbeWithSHAAnd2-KeyTripleDES-CBC).
    DesEde2,
}

impl Cipher {
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128 | Cipher::DesEde2 => 16,
            Cipher::Aes192 | Cipher::DesEde3 => 24,
            Cipher::Aes256 => 32,
        }
    }

    pub fn block_len(self) -> usize {
        match self {
            Cipher::Aes128 | Cipher::Aes192 | Cipher::Aes256 => 16,
            Cipher::DesEde3 | Cipher::DesEde2 => 8,
        }
    }
}

/// How an encrypted PKCS#8 key is to be decrypted.
#[derive(Debug, PartialEq, Eq)]
pub struct Scheme<'a> {
    /// What the refusals and errors call it ("PBES2 (PBKDF2 hmacWithSHA1, AES-256-CBC)").
    pub name: String,
    pub kdf: Kdf,
    pub cipher: Cipher,
    /// The IV; `None` when the KDF derives it (PKCS#12).
    pub iv: Option<Vec<u8>>,
    pub ciphertext: &'a [u8],
}

/// Parses an `EncryptedPrivateKeyInfo`; the error is one line of words.
pub fn parse(der: &[u8]) -> Result<Scheme<'_>, String> {
    let malformed = |e: der::Error| format!("malformed encrypted PKCS#8 key: {e}");
    let mut reader = der::SliceReader::new(der).map_err(malformed)?;
    let (algorithm, data) = reader
        .sequence(|r| {
            let algorithm = AlgorithmIdentifierRef::decode(r)?;
            let data = <&OctetStringRef>::decode(r)?;
            Ok::<_, der::Error>((algorithm, data))
        })
        .map_err(malformed)?;
    reader.finish().map_err(malformed)?;
    let ciphertext = data.as_bytes();
    let params = algorithm.parameters;
    let oid = algorithm.oid;
    if oid == PBES2 {
        return pbes2(params.ok_or("PBES2 without parameters")?, ciphertext);
    }
    let cipher = match oid {
        PBE_SHA1_3DES => Cipher::DesEde3,
        PBE_SHA1_2DES => Cipher::DesEde2,
        other => return Err(unsupported(&name(&other))),
    };
    let scheme = if cipher == Cipher::DesEde3 {
        "pbeWithSHAAnd3-KeyTripleDES-CBC"
    } else {
        "pbeWithSHAAnd2-KeyTripleDES-CBC"
    };
    let (salt, count) = params
        .ok_or_else(|| format!("{scheme} without parameters"))?
        .sequence(|r| {
            let salt = <&OctetStringRef>::decode(r)?.as_bytes().to_vec();
            let count = UintRef::decode(r)?;
            Ok::<_, der::Error>((salt, count))
        })
        .map_err(|e| format!("malformed {scheme} parameters: {e}"))?;
    let iterations = kdf::iterations(scheme, uint(count, kdf::MAX_ITERATIONS))?;
    Ok(Scheme {
        name: scheme.to_string(),
        kdf: Kdf::Pkcs12 { salt, iterations },
        cipher,
        iv: None,
        ciphertext,
    })
}

fn unsupported(scheme: &str) -> String {
    format!("PKCS#8 encrypted with {scheme}: not supported; {REENCRYPT}")
}

/// An unsigned INTEGER as a u64; anything longer than 8 bytes is above every
/// limit and reads as `above`+1.
fn uint(value: UintRef<'_>, above: u64) -> u64 {
    let bytes = value.as_bytes();
    if bytes.len() > 8 {
        return above.saturating_add(1);
    }
    bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b))
}

fn pbes2<'a>(params: AnyRef<'_>, ciphertext: &'a [u8]) -> Result<Scheme<'a>, String> {
    let malformed = |e: der::Error| format!("malformed PBES2 parameters: {e}");
    let (kdf_alg, enc_alg) = params
        .sequence(|r| {
            let kdf = AlgorithmIdentifierRef::decode(r)?;
            let enc = AlgorithmIdentifierRef::decode(r)?;
            Ok::<_, der::Error>((kdf, enc))
        })
        .map_err(malformed)?;
    let (cipher, cipher_name) = match enc_alg.oid {
        AES128_CBC => (Cipher::Aes128, "AES-128-CBC"),
        AES192_CBC => (Cipher::Aes192, "AES-192-CBC"),
        AES256_CBC => (Cipher::Aes256, "AES-256-CBC"),
        DES_EDE3_CBC => (Cipher::DesEde3, "DES-EDE3-CBC"),
        other => return Err(unsupported(&format!("PBES2 and {}", name(&other)))),
    };
    let iv = enc_alg
        .parameters
        .ok_or_else(|| format!("{cipher_name} without an IV"))?
        .decode_as::<&OctetStringRef>()
        .map_err(|e| format!("malformed {cipher_name} IV: {e}"))?
        .as_bytes()
        .to_vec();
    if iv.len() != cipher.block_len() {
        return Err(format!("{cipher_name} IV of {} bytes", iv.len()));
    }
    let kdf_params = kdf_alg
        .parameters
        .ok_or("PBES2 key derivation without parameters")?;
    let (kdf, kdf_name) = match kdf_alg.oid {
        PBKDF2 => pbkdf2(kdf_params, cipher)?,
        SCRYPT => scrypt(kdf_params, cipher)?,
        other => return Err(unsupported(&format!("PBES2 and {}", name(&other)))),
    };
    Ok(Scheme {
        name: format!("PBES2 ({kdf_name}, {cipher_name})"),
        kdf,
        cipher,
        iv: Some(iv),
        ciphertext,
    })
}

/// A keyLength field, when present, must be the cipher's.
fn key_length(found: Option<UintRef<'_>>, cipher: Cipher) -> Result<(), String> {
    match found.map(|n| uint(n, u64::MAX - 1)) {
        Some(n) if n != cipher.key_len() as u64 => Err(format!(
            "key length {n} does not fit the cipher ({} bytes)",
            cipher.key_len()
        )),
        _ => Ok(()),
    }
}

fn pbkdf2(params: AnyRef<'_>, cipher: Cipher) -> Result<(Kdf, String), String> {
    let malformed = |e: der::Error| format!("malformed PBKDF2 parameters: {e}");
    let (salt, count, length, prf) = params
        .sequence(|r| {
            // The salt's other choice (an AlgorithmIdentifier) is reserved by RFC 8018.
            let salt = <&OctetStringRef>::decode(r)?.as_bytes().to_vec();
            let count = UintRef::decode(r)?;
            let length = if !r.is_finished() && der::Tag::peek(r)? == der::Tag::Integer {
                Some(UintRef::decode(r)?)
            } else {
                None
            };
            // prf DEFAULT hmacWithSHA1: absent in what openssl 1.0 and Java write.
            let prf = if r.is_finished() {
                None
            } else {
                Some(AlgorithmIdentifierRef::decode(r)?)
            };
            Ok::<_, der::Error>((salt, count, length, prf))
        })
        .map_err(malformed)?;
    key_length(length, cipher)?;
    let prf = match prf.map(|p| p.oid.to_string()).as_deref() {
        None | Some("1.2.840.113549.2.7") => Prf::Sha1,
        Some("1.2.840.113549.2.8") => Prf::Sha224,
        Some("1.2.840.113549.2.9") => Prf::Sha256,
        Some("1.2.840.113549.2.10") => Prf::Sha384,
        Some("1.2.840.113549.2.11") => Prf::Sha512,
        Some(other) => {
            let oid = other.parse::<Oid>().map(|o| name(&o));
            return Err(unsupported(&format!(
                "PBKDF2 over {}",
                oid.unwrap_or_else(|_| other.to_string())
            )));
        }
    };
    let iterations = kdf::iterations("PBKDF2", uint(count, kdf::MAX_ITERATIONS))?;
    Ok((
        Kdf::Pbkdf2 {
            prf,
            salt,
            iterations,
        },
        format!("PBKDF2 {}", prf.name()),
    ))
}

fn scrypt(params: AnyRef<'_>, cipher: Cipher) -> Result<(Kdf, String), String> {
    let malformed = |e: der::Error| format!("malformed scrypt parameters: {e}");
    let (salt, n, r, p, length) = params
        .sequence(|rd| {
            let salt = <&OctetStringRef>::decode(rd)?.as_bytes().to_vec();
            let n = UintRef::decode(rd)?;
            let r = UintRef::decode(rd)?;
            let p = UintRef::decode(rd)?;
            let length = if rd.is_finished() {
                None
            } else {
                Some(UintRef::decode(rd)?)
            };
            Ok::<_, der::Error>((salt, n, r, p, length))
        })
        .map_err(malformed)?;
    key_length(length, cipher)?;
    let big = u64::MAX / 2;
    let kdf = kdf::scrypt(salt, uint(n, big), uint(r, big), uint(p, big))?;
    Ok((kdf, "scrypt".to_string()))
}
