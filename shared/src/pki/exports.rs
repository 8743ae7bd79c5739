//! Files real PKIs export that are not what a slot wants, named with the fix:
//! binary DER (a Windows or Java `.cer`, a PKCS#12 `.pfx`, a PKCS#7 `.p7b`)
//! where PEM belongs, OpenSSL's `TRUSTED CERTIFICATE`, a key where a
//! certificate belongs and the reverse. Only the words of a refusal come from
//! here; nothing is converted, because k3s and kubeadm read PEM alone.

use crate::pki::pem::{CERTIFICATE, PemFile};

/// What a file that holds no PEM block at all looks like, if it is binary DER.
pub fn binary_der(bytes: &[u8]) -> Option<&'static str> {
    let outer = contents(bytes)?;
    Some(if outer.starts_with(&[0x02, 0x01, 0x03]) {
        "a PKCS#12 archive (.p12/.pfx), not PEM: take the key out with \
         `openssl pkcs12 -nocerts -noenc` and the certificate with \
         `openssl pkcs12 -nokeys -clcerts`"
    } else if outer.starts_with(PKCS7_SIGNED_DATA) {
        "a PKCS#7 bundle (.p7b) in binary DER, not PEM: write its certificates as PEM \
         with `openssl pkcs7 -inform der -print_certs`"
    } else if outer.first() == Some(&SEQUENCE) {
        // A certificate: its signed part (a SEQUENCE) comes first.
        "a certificate in binary DER (a .cer/.der export), not PEM: convert it with \
         `openssl x509 -inform der`"
    } else if outer.starts_with(&[0x02, 0x01, 0x00]) || outer.starts_with(&[0x02, 0x01, 0x01]) {
        // PKCS#8 and PKCS#1 keys start with version 0, SEC1 keys with 1.
        "a private key in binary DER, not PEM: convert it with `openssl pkey -inform der`"
    } else {
        "binary DER, not PEM: convert it with `openssl x509 -inform der` (a certificate) \
         or `openssl pkey -inform der` (a key)"
    })
}

/// Why `file` has no block labelled `wanted`, with what it holds instead.
pub fn missing_block(file: &PemFile, wanted: &str) -> String {
    let labels: Vec<&str> = file.blocks.iter().map(|b| b.label.as_str()).collect();
    let holds = |label: &str| labels.contains(&label);
    let is_key = |label: &&str| label.ends_with("PRIVATE KEY");
    let hint = if wanted == CERTIFICATE && holds("TRUSTED CERTIFICATE") {
        "; it holds a TRUSTED CERTIFICATE (OpenSSL's form with trust settings, which Go \
         does not read): write it as a plain certificate with `openssl x509 -in FILE -out NEW.pem`"
            .to_string()
    } else if wanted == CERTIFICATE && holds("PKCS7") {
        "; it holds a PKCS7 bundle: write its certificates as PEM with \
         `openssl pkcs7 -print_certs`"
            .to_string()
    } else if wanted == CERTIFICATE && labels.iter().any(is_key) {
        "; it holds a private key (the key and certificate files swapped?)".to_string()
    } else if wanted != CERTIFICATE && holds(CERTIFICATE) {
        "; it holds a CERTIFICATE (the key and certificate files swapped?)".to_string()
    } else {
        const SHOWN: usize = 3;
        let shown: Vec<&str> = labels.iter().take(SHOWN).copied().collect();
        let more = labels.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("; its blocks: {}{more}", shown.join(", "))
    };
    format!("no {wanted} block in the file{hint}")
}

const SEQUENCE: u8 = 0x30;
/// `OBJECT IDENTIFIER 1.2.840.113549.1.7.2` (PKCS#7 signedData).
const PKCS7_SIGNED_DATA: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

/// The contents of the DER SEQUENCE `bytes` starts with (up to the end of
/// `bytes` if it claims more), or `None` if it starts with no SEQUENCE header.
fn contents(bytes: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != SEQUENCE {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let (len_bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        }
        _ => return None,
    };
    // A DER length is minimal: a long form for fewer than 128 bytes is not DER.
    if first > 0x80 && len < 0x80 {
        return None;
    }
    Some(&rest[..len.min(rest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_der() {
        assert_eq!(binary_der(b"hello"), None);
        assert_eq!(binary_der(b"0\x82"), None);
        assert_eq!(binary_der(b""), None);
    }

    #[test]
    fn der_kinds_are_told_apart() {
        let cert = [0x30, 0x06, 0x30, 0x04, 0xA0, 0x02, 0x02, 0x00];
        assert!(
            binary_der(&cert)
                .unwrap()
                .contains("openssl x509 -inform der")
        );
        let pfx = [0x30, 0x03, 0x02, 0x01, 0x03];
        assert!(binary_der(&pfx).unwrap().contains("PKCS#12"));
        let mut p7 = vec![0x30, 0x0B];
        p7.extend_from_slice(PKCS7_SIGNED_DATA);
        assert!(binary_der(&p7).unwrap().contains("PKCS#7"));
        let key = [0x30, 0x03, 0x02, 0x01, 0x00];
        assert!(
            binary_der(&key)
                .unwrap()
                .contains("openssl pkey -inform der")
        );
    }
}
