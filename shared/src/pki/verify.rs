//! Signature checks and chain building, following Go's crypto/x509 closely enough
//! to predict what k3s computes (see [`crate::layout::k3s::token`]).

use std::time::SystemTime;

use crate::pki::cert::Certificate;
use crate::pki::keys::{PublicKey, SignatureAlgorithm};

const EKU_SERVER_AUTH: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const EKU_ANY: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// Checks that `issuer`'s key signed `child`. The error says why not in plain words.
///
/// Every algorithm of [`SignatureAlgorithm`]: RSA PKCS#1 v1.5 and ECDSA with
/// SHA-256/384/512, and Ed25519, over every key type of the algorithm table.
pub fn check_signature(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let x509 = child.x509();
    let tbs = child.tbs_der();
    let signature = x509
        .signature()
        .as_bytes()
        .ok_or("the signature is not a whole number of bytes")?;
    let oid = x509.signature_algorithm().oid;
    let algorithm = SignatureAlgorithm::from_oid(oid)
        .ok_or_else(|| format!("unsupported signature algorithm {oid}"))?;
    PublicKey::from_spki(issuer.public_key())?.verify(algorithm, tbs, signature)
}

/// Checks that `child` names `issuer` as its issuer and carries its signature.
pub fn check_issued_by(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    if child.issuer() != issuer.subject() {
        return Err(format!(
            "its issuer is \"{}\", not \"{}\"",
            child.issuer_cn(),
            issuer.subject_cn()
        ));
    }
    check_signature(child, issuer)
}

/// Go's `(*x509.Certificate).Verify` with default options (server-auth usage):
/// the first chain it would return from `leaf` to one of `roots`, or `None` when it
/// would fail. Roots are tried before intermediates, and within each pool parents
/// whose SKI matches the child's AKI come first, as in Go.
pub fn go_first_chain<'a>(
    leaf: &'a Certificate,
    roots: &[&'a Certificate],
    intermediates: &[&'a Certificate],
    now: SystemTime,
) -> Option<Vec<&'a Certificate>> {
    if !leaf.is_valid_at(now) {
        return None;
    }
    if roots.contains(&leaf) {
        return Some(vec![leaf]);
    }
    let search = ChainSearch {
        roots,
        intermediates,
        now,
    };
    search.extend(&mut vec![leaf])
}

struct ChainSearch<'s, 'a> {
    roots: &'s [&'a Certificate],
    intermediates: &'s [&'a Certificate],
    now: SystemTime,
}

impl<'a> ChainSearch<'_, 'a> {
    /// Depth-first, like Go's buildChains; returns the first chain that also passes
    /// Go's extended-key-usage check.
    fn extend(&self, chain: &mut Vec<&'a Certificate>) -> Option<Vec<&'a Certificate>> {
        let child = *chain.last()?;
        let pools = [(true, self.roots), (false, self.intermediates)];
        for (is_root, pool) in pools {
            for parent in potential_parents(child, pool) {
                if chain.iter().any(|c| same_key_and_subject(c, parent))
                    || !self.acceptable_parent(child, parent, chain.len())
                {
                    continue;
                }
                chain.push(parent);
                let found = if is_root {
                    eku_allows_server_auth(chain).then(|| chain.clone())
                } else {
                    self.extend(chain)
                };
                chain.pop();
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }

    fn acceptable_parent(
        &self,
        child: &Certificate,
        parent: &Certificate,
        chain_len: usize,
    ) -> bool {
        // Go's CheckSignatureFrom: a v3 parent must be a CA, and keyCertSign if keyUsage is set.
        let Some(constraints) = parent.basic_constraints() else {
            return false;
        };
        if !constraints.ca || parent.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            return false;
        }
        // Go's isValid: time, and pathlen against the intermediates below the parent.
        if !parent.is_valid_at(self.now) {
            return false;
        }
        if let Some(max) = constraints.path_len_constraint {
            if chain_len - 1 > usize::from(max) {
                return false;
            }
        }
        check_signature(child, parent).is_ok()
    }
}

/// Candidates with the child's issuer as subject, ordered as Go orders them:
/// matching key id first, then those where either id is missing, then mismatches.
fn potential_parents<'a>(child: &Certificate, pool: &[&'a Certificate]) -> Vec<&'a Certificate> {
    let aki = child.authority_key_id();
    let mut candidates: Vec<(u8, &'a Certificate)> = pool
        .iter()
        .filter(|c| c.subject() == child.issuer())
        .map(|c| {
            let rank = match (&aki, c.subject_key_id()) {
                (Some(a), Some(s)) if *a == s => 0,
                (Some(_), Some(_)) => 2,
                _ => 1,
            };
            (rank, *c)
        })
        .collect();
    candidates.sort_by_key(|(rank, _)| *rank);
    candidates.into_iter().map(|(_, c)| c).collect()
}

fn same_key_and_subject(a: &Certificate, b: &Certificate) -> bool {
    a.subject() == b.subject() && a.public_key() == b.public_key()
}

/// Go's checkChainForKeyUsage for ExtKeyUsageServerAuth: every certificate that
/// carries EKU must allow serverAuth or anyExtendedKeyUsage.
fn eku_allows_server_auth(chain: &[&Certificate]) -> bool {
    chain.iter().all(|cert| match cert.extended_key_usage() {
        None => true,
        Some(eku) => eku
            .0
            .iter()
            .any(|oid| *oid == EKU_SERVER_AUTH || *oid == EKU_ANY),
    })
}
