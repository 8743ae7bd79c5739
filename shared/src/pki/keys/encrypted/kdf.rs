//! The key derivations of encrypted keys, each bounded before it starts: the
//! parameters come from the key file, and a file may ask for hours of CPU or
//! gigabytes of memory. The limits sit far above what openssl (1.0 to 3),
//! Java's keytool and step write by default, and far below what hurts.

use md5::{Digest as _, Md5};
use sha1::Sha1;
use zeroize::Zeroizing;

/// Most PBKDF2 (and PKCS#12 KDF) iterations read: openssl writes 2,048, Java
/// 10,000, step 100,000, this project 600,000; at this limit a derivation
/// takes 1.4 s (HMAC-SHA256) to 6 s (HMAC-SHA512) here.
pub const MAX_ITERATIONS: u64 = 10_000_000;
/// Most scrypt memory (128 * N * r bytes) read: openssl writes 16 MiB
/// (N=2^14, r=8) and itself refuses more than 32 MiB.
pub const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// Largest scrypt parallelisation p read (openssl writes 1).
pub const MAX_SCRYPT_P: u64 = 16;
/// Largest scrypt work N * r * p read: twice one pass over the memory limit.
pub const MAX_SCRYPT_WORK: u64 = 2 * MAX_SCRYPT_MEMORY / 128;

/// The hash under PBKDF2's HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prf {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Prf {
    pub fn name(self) -> &'static str {
        match self {
            Prf::Sha1 => "hmacWithSHA1",
            Prf::Sha224 => "hmacWithSHA224",
            Prf::Sha256 => "hmacWithSHA256",
            Prf::Sha384 => "hmacWithSHA384",
            Prf::Sha512 => "hmacWithSHA512",
        }
    }
}

/// A key derivation as read from a key file, checked against the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 {
        prf: Prf,
        salt: Vec<u8>,
        iterations: u32,
    },
    Scrypt {
        salt: Vec<u8>,
        log_n: u8,
        r: u32,
        p: u32,
    },
    /// RFC 7292 appendix B with SHA-1 (the PKCS#12 PBE schemes).
    Pkcs12 { salt: Vec<u8>, iterations: u32 },
}

/// A parameter beyond its limit, in words.
pub fn too_large(parameter: &str, value: impl std::fmt::Display, limit: u64) -> String {
    format!("{parameter} {value} exceeds this tool's limit of {limit}; refused before deriving")
}

/// An iteration count as read (at most 8 big-endian bytes), within the limit.
pub fn iterations(scheme: &str, value: u64) -> Result<u32, String> {
    if value == 0 {
        return Err(format!("{scheme} iteration count 0"));
    }
    if value > MAX_ITERATIONS {
        return Err(too_large(
            &format!("{scheme} iteration count"),
            value,
            MAX_ITERATIONS,
        ));
    }
    u32::try_from(value).map_err(|_| too_large("iteration count", value, MAX_ITERATIONS))
}

/// scrypt's N, r and p as read, within the limits.
pub fn scrypt(salt: Vec<u8>, n: u64, r: u64, p: u64) -> Result<Kdf, String> {
    if n < 2 || !n.is_power_of_two() {
        return Err(format!("scrypt cost N={n} is not a power of two above 1"));
    }
    if r == 0 || p == 0 {
        return Err(format!(
            "scrypt block size r={r} or parallelisation p={p} is 0"
        ));
    }
    if p > MAX_SCRYPT_P {
        return Err(too_large("scrypt parallelisation p", p, MAX_SCRYPT_P));
    }
    let memory = 128u128 * u128::from(n) * u128::from(r);
    if memory > u128::from(MAX_SCRYPT_MEMORY) {
        return Err(format!(
            "scrypt memory 128*N*r = {memory} bytes (N={n}, r={r}) exceeds this tool's limit of {MAX_SCRYPT_MEMORY} bytes (256 MiB); refused before deriving"
        ));
    }
    let work = u128::from(n) * u128::from(r) * u128::from(p);
    if work > u128::from(MAX_SCRYPT_WORK) {
        return Err(too_large("scrypt work N*r*p", work, MAX_SCRYPT_WORK));
    }
    // Within the memory limit, N < 2^21 and r < 2^21: both fit.
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| "scrypt N".to_string())?;
    let r = u32::try_from(r).map_err(|_| "scrypt r".to_string())?;
    let p = u32::try_from(p).map_err(|_| "scrypt p".to_string())?;
    Ok(Kdf::Scrypt { salt, log_n, r, p })
}

impl Kdf {
    /// `len` bytes of key (or IV, `id` 2, for the PKCS#12 KDF) from `passphrase`.
    pub fn derive(&self, passphrase: &[u8], id: u8, len: usize) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; len]);
        match self {
            Kdf::Pbkdf2 {
                prf,
                salt,
                iterations,
            } => {
                let (s, i, o) = (salt.as_slice(), *iterations, out.as_mut_slice());
                match prf {
                    Prf::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(passphrase, s, i, o),
                    Prf::Sha224 => pbkdf2::pbkdf2_hmac::<sha2::Sha224>(passphrase, s, i, o),
                    Prf::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, s, i, o),
                    Prf::Sha384 => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(passphrase, s, i, o),
                    Prf::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase, s, i, o),
                }
            }
            Kdf::Scrypt { salt, log_n, r, p } => {
                let params = scrypt::Params::new(*log_n, *r, *p).ok()?;
                scrypt::scrypt(passphrase, salt, &params, &mut out).ok()?;
            }
            Kdf::Pkcs12 { salt, iterations } => {
                return Some(pkcs12_kdf(passphrase, salt, id, *iterations, len));
            }
        }
        Some(out)
    }
}

/// RFC 7292 appendix B.2 with SHA-1 (u = 20, v = 64); the passphrase is the
/// BMPString of the text with its two-byte terminator, as openssl makes it.
fn pkcs12_kdf(
    passphrase: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    const U: usize = 20;
    const V: usize = 64;
    let text = String::from_utf8_lossy(passphrase);
    let mut bmp = Zeroizing::new(Vec::with_capacity(2 * passphrase.len() + 2));
    for unit in text.encode_utf16() {
        bmp.extend_from_slice(&unit.to_be_bytes());
    }
    bmp.extend_from_slice(&[0, 0]);
    let repeat = |bytes: &[u8]| -> Vec<u8> {
        if bytes.is_empty() {
            return Vec::new();
        }
        let n = V * bytes.len().div_ceil(V);
        bytes.iter().copied().cycle().take(n).collect()
    };
    let mut i = Zeroizing::new(repeat(salt));
    i.extend_from_slice(&Zeroizing::new(repeat(&bmp)));
    let mut out = Zeroizing::new(Vec::with_capacity(len + U));
    while out.len() < len {
        let mut hash = Sha1::new();
        hash.update([id; V]);
        hash.update(i.as_slice());
        let mut a = hash.finalize();
        for _ in 1..iterations {
            a = Sha1::digest(a);
        }
        out.extend_from_slice(&a);
        if out.len() >= len {
            break;
        }
        // I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v bytes.
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().copied().cycle().take(V).collect());
        for block in i.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let sum = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(len);
    out
}

/// EVP_BytesToKey with MD5 and one iteration (OpenSSL's traditional PEM).
pub fn bytes_to_key(passphrase: &[u8], salt: &[u8], len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut previous = Zeroizing::new(Vec::new());
    while key.len() < len {
        let mut md5 = Md5::new();
        md5.update(previous.as_slice());
        md5.update(passphrase);
        md5.update(salt);
        *previous = md5.finalize().to_vec();
        key.extend_from_slice(&previous);
    }
    key.truncate(len);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // The first MD5 block is MD5(passphrase || salt); keys made by openssl are
        // decrypted end to end in the gen-custom-ca tests.
        let key = bytes_to_key(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        let mut md5 = Md5::new();
        md5.update(b"secret");
        md5.update([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&key[..16], md5.finalize().as_slice());
        assert_eq!(key.len(), 32);
    }

    /// Issue 19 item 2: the examples are refused before any work, naming the
    /// parameter and the limit.
    #[test]
    fn the_issues_kdf_parameters_are_refused_naming_the_parameter() {
        let started = std::time::Instant::now();
        let problem = scrypt(vec![0; 8], 1 << 22, 64, 1).unwrap_err();
        assert!(
            problem.contains("scrypt memory") && problem.contains("N=4194304"),
            "{problem}"
        );
        let problem = scrypt(vec![0; 8], 1 << 22, 8, 1).unwrap_err();
        assert!(problem.contains("268435456"), "{problem}");
        let problem = scrypt(vec![0; 8], 1 << 14, 8, 1 << 20).unwrap_err();
        assert!(problem.contains("parallelisation p"), "{problem}");
        let problem = iterations("PBKDF2", u64::from(u32::MAX)).unwrap_err();
        assert!(
            problem.contains("PBKDF2 iteration count 4294967295"),
            "{problem}"
        );
        assert!(problem.contains("10000000"), "{problem}");
        assert!(started.elapsed().as_millis() < 100);
        assert!(
            scrypt(vec![0; 8], 1 << 14, 8, 1).is_ok(),
            "openssl's default"
        );
        assert!(iterations("PBKDF2", 600_000).is_ok(), "our own default");
    }
}
