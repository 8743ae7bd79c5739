//! The join-token CA hash, exactly as k3s computes it (`hashCA` in
//! k3s pkg/clientaccess/token.go), and token formatting.
//!
//! With more than one certificate in the bundle, k3s puts the later certificates
//! into roots (no AKI, or AKI == SKI) and intermediates (the rest), verifies the
//! first one with Go's crypto/x509, and hashes the DER of the last certificate of
//! the first chain. With one certificate, or if verification fails, it hashes the
//! raw bytes of the file. Any difference gives tokens every agent rejects.

use std::time::SystemTime;

use crate::cert::Certificate;
use crate::keys::sha256_hex;
use crate::verify::go_first_chain;

/// The prefix of every k3s token that carries a CA hash.
pub const TOKEN_PREFIX: &str = "K10";

/// k3s's `hashCA` of a CA bundle file: `file_bytes` are its exact contents and
/// `certs` its parsed certificates in order.
pub fn k3s_ca_hash(file_bytes: &[u8], certs: &[Certificate], now: SystemTime) -> String {
    if let [first, rest @ ..] = certs {
        if !rest.is_empty() {
            let (roots, intermediates): (Vec<&Certificate>, Vec<&Certificate>) =
                rest.iter().partition(|cert| {
                    let aki = cert.authority_key_id();
                    aki.is_none() || aki == cert.subject_key_id()
                });
            if let Some(chain) = go_first_chain(first, &roots, &intermediates, now) {
                if let Some(root) = chain.last() {
                    return sha256_hex(root.der());
                }
            }
        }
    }
    sha256_hex(file_bytes)
}

/// The token prefix agents check the server CA against: `K10<hash>::`.
pub fn token_prefix(ca_hash: &str) -> String {
    format!("{TOKEN_PREFIX}{ca_hash}::")
}
