//! Signature checks and chain building, following Go's crypto/x509 closely enough
//! to predict what k3s computes (see [`crate::layout::k3s::token`]).

use std::time::SystemTime;

use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::pki::cert::Certificate;
use crate::pki::keys::{Hash, PublicKey, SignatureAlgorithm};
use crate::pki::oids;
use crate::pki::policy::check_policies;

const EKU_SERVER_AUTH: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const EKU_ANY: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37.0");
const SUBJECT_ALT_NAME: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");

/// Checks that `issuer`'s key signed `child`. The error says why not in plain words.
///
/// RSA PKCS#1 v1.5 and RSASSA-PSS with SHA-256/384/512, ECDSA with the same
/// hashes and Ed25519, as Go verifies a chain: never SHA-1 or MD5.
///
/// A signature that verified is remembered (on this thread, by a digest of
/// the issuer's key, the algorithm, the signed bytes and the signature), so
/// the same link checked again is not verified again: pre-flight checks
/// every leaf kind along [leaf, CA, intermediate, root] once per usage, which
/// verified each link above the leaf dozens of times (a P-384 or RSA-4096
/// verification costs about 1 ms here, most of a custom tree's time beyond
/// its keys). Failures are not remembered: they are checked, and worded, again.
/// A certificate this thread signed with an in-memory key is remembered as it
/// is made (see [`remember_own_signature`]).
pub fn check_signature(child: &Certificate, issuer: &Certificate) -> Result<(), String> {
    let x509 = child.x509();
    let signature = x509
        .signature()
        .as_bytes()
        .ok_or("the signature is not a whole number of bytes")?;
    let link = verified_link(
        issuer.public_key(),
        x509.signature_algorithm(),
        child.tbs_der(),
        signature,
    );
    if link.is_some_and(|link| VERIFIED.with_borrow(|verified| verified.contains(&link))) {
        return Ok(());
    }
    let key = PublicKey::from_spki(issuer.public_key())?;
    check_signed(
        x509.signature_algorithm(),
        &key,
        child.tbs_der(),
        signature,
        Sha1::Refused,
    )?;
    if let Some(link) = link {
        VERIFIED.with_borrow_mut(|verified| verified.insert(link));
    }
    Ok(())
}

/// Remembers `child`'s signature as verified by `issuer_key`, without checking
/// it: for a certificate this thread has just signed with the private half of
/// `issuer_key`, held in memory. Such a signature verifies by construction, and
/// a run's checks (pre-flight's chains, k3s's CA hash) would otherwise verify
/// every certificate it issued (about 0.5 ms for P-256, 1.5 ms for P-384 here):
/// half a custom tree's work beyond its keys. Signatures made elsewhere (a
/// token, a brought CA) are still verified; the tests check every certificate
/// the tools issue with Go and OpenSSL.
pub(crate) fn remember_own_signature(child: &Certificate, issuer_key: &SubjectPublicKeyInfoOwned) {
    let x509 = child.x509();
    let Some(signature) = x509.signature().as_bytes() else {
        return;
    };
    if let Some(link) = verified_link(
        issuer_key,
        x509.signature_algorithm(),
        child.tbs_der(),
        signature,
    ) {
        VERIFIED.with_borrow_mut(|verified| verified.insert(link));
    }
}

thread_local! {
    /// Links [`check_signature`] verified on this thread, by [`verified_link`].
    static VERIFIED: std::cell::RefCell<std::collections::HashSet<[u8; 32]>> =
        std::cell::RefCell::default();
}

/// SHA-256 over everything a certificate signature check reads, each part
/// length-prefixed: equal digests mean the same check, hence the same answer.
/// `None` (nothing remembered) if the key or algorithm does not encode.
fn verified_link(
    issuer_key: &SubjectPublicKeyInfoOwned,
    algorithm: &x509_cert::spki::AlgorithmIdentifierOwned,
    signed: &[u8],
    signature: &[u8],
) -> Option<[u8; 32]> {
    use der::Encode as _;
    use sha2::Digest as _;
    let key = issuer_key.to_der().ok()?;
    let algorithm = algorithm.to_der().ok()?;
    let mut digest = sha2::Sha256::new();
    for part in [key.as_slice(), &algorithm, signed, signature] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    Some(digest.finalize().into())
}

/// Whether a SHA-1 signature may stand.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sha1 {
    /// In a chain: Go refuses SHA-1 there since 1.18.
    Refused,
    /// On a request: Go's `CertificateRequest.CheckSignature` takes it (the
    /// signature only proves the requester holds the key; nothing issued is SHA-1).
    Accepted,
}

/// Checks `signature` over `signed` with `key`, for the algorithm `identifier`
/// names, as Go's `checkSignature` does; the error names the algorithm in words.
pub fn check_signed(
    identifier: &x509_cert::spki::AlgorithmIdentifierOwned,
    key: &PublicKey,
    signed: &[u8],
    signature: &[u8],
    sha1: Sha1,
) -> Result<(), String> {
    let oid = identifier.oid;
    if oid == RSASSA_PSS {
        let hash = pss_hash(identifier.parameters.as_ref())?;
        return key.verify_rsa_pss(hash, signed, signature);
    }
    if let Some(algorithm) = SignatureAlgorithm::from_oid(oid) {
        return key.verify(algorithm, signed, signature);
    }
    if sha1 == Sha1::Accepted && SHA1_SIGNATURES.contains(&oid) {
        return key.verify_sha1(signed, signature);
    }
    let named = oids::Named(&oid);
    Err(if INSECURE.contains(&oid) {
        format!(
            "signed with {named}: Go refuses SHA-1 and MD5 signatures in a chain (since Go 1.18) \
             and so does OpenSSL at security level 1 and above; have it signed again with SHA-256"
        )
    } else {
        format!("signed with {named}, a signature algorithm Go does not verify")
    })
}

/// SHA-1 with RSA PKCS#1 v1.5 and with ECDSA: the SHA-1 signatures Go takes on requests.
const SHA1_SIGNATURES: [der::asn1::ObjectIdentifier; 2] = [
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
];
const RSASSA_PSS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const MGF1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
/// Signature algorithms Go parses but never verifies in a chain: MD2/MD5/SHA-1
/// with RSA, SHA-1 with ECDSA and DSA.
const INSECURE: [der::asn1::ObjectIdentifier; 6] = [
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.2"),
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.4"),
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.29"),
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
];

/// The hash of RSASSA-PSS parameters, accepted as Go's x509 accepts them: the
/// hash SHA-256, SHA-384 or SHA-512 with absent or NULL parameters, MGF1 over the
/// same hash, a salt as long as the hash, the trailer field 1. Anything else
/// is an algorithm Go does not know, so neither do we.
fn pss_hash(parameters: Option<&der::Any>) -> Result<Hash, String> {
    let refuse = |why: &str| {
        format!(
            "signed with RSASSA-PSS (1.2.840.113549.1.1.10) {why}, which Go does not verify (it takes SHA-256, SHA-384 or SHA-512, MGF1 over the same hash, a salt as long as the hash)"
        )
    };
    let parameters = parameters.ok_or_else(|| refuse("without parameters"))?;
    let params: rsa::pkcs1::RsaPssParams<der::Any> = parameters
        .decode_as()
        .map_err(|_| refuse("with malformed parameters"))?;
    let null_or_absent = |p: &Option<der::Any>| {
        p.as_ref()
            .is_none_or(|any| der::Tagged::tag(any) == der::Tag::Null && any.value().is_empty())
    };
    let hash_oid = params.hash.oid;
    let (hash, len) = match hash_oid.to_string().as_str() {
        "2.16.840.1.101.3.4.2.1" => (Hash::Sha256, 32),
        "2.16.840.1.101.3.4.2.2" => (Hash::Sha384, 48),
        "2.16.840.1.101.3.4.2.3" => (Hash::Sha512, 64),
        _ => return Err(refuse(&format!("over {}", oids::Named(&hash_oid)))),
    };
    let mgf = &params.mask_gen;
    let mgf_hash_matches = mgf
        .parameters
        .as_ref()
        .is_some_and(|h| h.oid == hash_oid && null_or_absent(&h.parameters));
    if !null_or_absent(&params.hash.parameters) || mgf.oid != MGF1 || !mgf_hash_matches {
        return Err(refuse(
            "with a mask generation function other than MGF1 over its hash",
        ));
    }
    if usize::from(params.salt_len) != len {
        return Err(refuse(&format!(
            "with a {}-byte salt over {}",
            params.salt_len,
            oids::Named(&hash_oid)
        )));
    }
    Ok(hash)
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

/// Go's `maxChainSignatureChecks` (crypto/x509 verify.go): the path builder
/// gives up after this many candidate signature checks over the whole search.
pub const MAX_SIGNATURE_CHECKS: usize = 100;

/// Why Go's `Verify` finds no chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoRefusal {
    /// The certificate itself is outside its validity period.
    Expired,
    /// No parent led to a root; the first reason a candidate failed, if any.
    UnknownAuthority(Option<String>),
    /// The search hit [`MAX_SIGNATURE_CHECKS`] before finding any chain.
    Budget,
    /// The certificate carries a critical extension Go does not handle.
    UnhandledCritical(String),
    /// Chains exist, but the certificate policies of each make it invalid
    /// (Go 1.24 and later); the reason for the first.
    Policies(String),
    /// Chains exist, but an extendedKeyUsage on them excludes serverAuth.
    KeyUsage,
}

impl std::fmt::Display for GoRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GoRefusal::Expired => f.write_str("it is outside its validity period"),
            GoRefusal::UnknownAuthority(None) => f.write_str("no issuer leads to a trusted root"),
            GoRefusal::UnknownAuthority(Some(why)) => {
                write!(f, "no issuer leads to a trusted root ({why})")
            }
            GoRefusal::Budget => write!(
                f,
                "Go gives up after {MAX_SIGNATURE_CHECKS} signature checks while building the \
                 chain (its path builder's limit), before reaching a trusted root"
            ),
            GoRefusal::Policies(why) => f.write_str(why),
            GoRefusal::UnhandledCritical(oid) => write!(
                f,
                "it carries a critical extension Go does not handle ({oid}), so Go refuses it"
            ),
            GoRefusal::KeyUsage => {
                f.write_str("every chain carries an extendedKeyUsage without serverAuth")
            }
        }
    }
}

/// Go's `(*x509.Certificate).Verify` with default options (server-auth usage):
/// the first chain it would return from `leaf` to one of `roots`, or `None` when it
/// would fail. See [`go_verify`].
pub fn go_first_chain<'a>(
    leaf: &'a Certificate,
    roots: &[&'a Certificate],
    intermediates: &[&'a Certificate],
    now: SystemTime,
) -> Option<Vec<&'a Certificate>> {
    go_verify(leaf, roots, intermediates, now)
        .ok()
        .and_then(|chains| chains.into_iter().next())
}

/// Go's `Verify` with default options (server-auth usage): every chain, in Go's
/// order, or why there is none. Go's `buildChains`: roots are tried before
/// intermediates; within each pool parents whose SKI equals the child's AKI come
/// first, then those where exactly one id is missing, then mismatches; every
/// candidate not already in the chain costs one signature check, and after
/// [`MAX_SIGNATURE_CHECKS`] the search stops (chains found so far stand).
pub fn go_verify<'a>(
    leaf: &'a Certificate,
    roots: &[&'a Certificate],
    intermediates: &[&'a Certificate],
    now: SystemTime,
) -> Result<Vec<Vec<&'a Certificate>>, GoRefusal> {
    if !leaf.is_valid_at(now) {
        return Err(GoRefusal::Expired);
    }
    if let Some(oid) = unhandled_critical(leaf) {
        return Err(GoRefusal::UnhandledCritical(oid));
    }
    let roots = pool(roots);
    if roots.contains(&leaf) {
        return Ok(vec![vec![leaf]]);
    }
    let intermediates = pool(intermediates);
    let mut search = ChainSearch {
        roots: &roots,
        intermediates: &intermediates,
        now,
        checks: 0,
    };
    let (chains, failure) = search.build(&[leaf]);
    if chains.is_empty() {
        return Err(failure.unwrap_or(GoRefusal::UnknownAuthority(None)));
    }
    // Go's Verify: chains whose policies are invalid go first, then EKU.
    let mut policy_failure = None;
    let chains: Vec<Vec<&Certificate>> = chains
        .into_iter()
        .filter(|chain| match check_policies(chain) {
            Ok(()) => true,
            Err(why) => {
                policy_failure.get_or_insert(why);
                false
            }
        })
        .collect();
    if let (true, Some(why)) = (chains.is_empty(), policy_failure) {
        return Err(GoRefusal::Policies(why));
    }
    let usable: Vec<Vec<&Certificate>> = chains
        .into_iter()
        .filter(|chain| eku_allows_server_auth(chain))
        .collect();
    if usable.is_empty() {
        return Err(GoRefusal::KeyUsage);
    }
    Ok(usable)
}

/// A CertPool: each certificate once (Go's AddCert skips exact duplicates), in order.
fn pool<'a>(certs: &[&'a Certificate]) -> Vec<&'a Certificate> {
    let mut out: Vec<&'a Certificate> = Vec::with_capacity(certs.len());
    for cert in certs {
        if !out.contains(cert) {
            out.push(cert);
        }
    }
    out
}

struct ChainSearch<'s, 'a> {
    roots: &'s [&'a Certificate],
    intermediates: &'s [&'a Certificate],
    now: SystemTime,
    /// Signature checks spent so far, over the whole search.
    checks: usize,
}

impl<'a> ChainSearch<'_, 'a> {
    /// Every chain extending `chain` to a root, and the refusal Go's buildChains
    /// would return if there were none. Bounded: each call spends at least one
    /// check before recursing, and the budget stops recursion.
    fn build(
        &mut self,
        chain: &[&'a Certificate],
    ) -> (Vec<Vec<&'a Certificate>>, Option<GoRefusal>) {
        let mut chains = Vec::new();
        let mut failure: Option<GoRefusal> = None;
        let mut hint: Option<String> = None;
        let Some(child) = chain.last().copied() else {
            return (chains, failure);
        };
        let pools = [(true, self.roots), (false, self.intermediates)];
        for (is_root, pool) in pools {
            for parent in potential_parents(child, pool) {
                if already_in_chain(parent, chain) {
                    continue;
                }
                self.checks += 1;
                if self.checks > MAX_SIGNATURE_CHECKS {
                    failure = Some(GoRefusal::Budget);
                    continue;
                }
                if let Err(why) = self.acceptable_parent(child, parent, is_root, chain.len()) {
                    hint.get_or_insert(why);
                    continue;
                }
                let mut extended = chain.to_vec();
                extended.push(parent);
                if is_root {
                    chains.push(extended);
                } else {
                    let (found, child_failure) = self.build(&extended);
                    chains.extend(found);
                    // Go assigns the recursive call's error to the same variable.
                    failure = child_failure;
                }
            }
        }
        if failure.is_none() && chains.is_empty() {
            failure = Some(GoRefusal::UnknownAuthority(hint));
        }
        (chains, failure)
    }

    /// Go's CheckSignatureFrom, then isValid for the candidate's role.
    fn acceptable_parent(
        &self,
        child: &Certificate,
        parent: &Certificate,
        is_root: bool,
        chain_len: usize,
    ) -> Result<(), String> {
        let constraints = parent.basic_constraints();
        // CheckSignatureFrom: a v3 parent must carry basicConstraints with cA, and
        // keyCertSign if keyUsage is present. A v1 root has no extensions at all.
        let is_v3 = parent.x509().tbs_certificate().version() == x509_cert::Version::V3;
        if (is_v3 && constraints.is_none()) || constraints.as_ref().is_some_and(|bc| !bc.ca) {
            return Err(format!("\"{}\" is not a CA", parent.subject_cn()));
        }
        if parent.key_usage().is_some_and(|ku| !ku.key_cert_sign()) {
            return Err(format!(
                "\"{}\" may not sign certificates (keyUsage without keyCertSign)",
                parent.subject_cn()
            ));
        }
        check_signature(child, parent)?;
        // isValid.
        if let Some(oid) = unhandled_critical(parent) {
            return Err(format!(
                "\"{}\" carries a critical extension Go does not handle ({oid})",
                parent.subject_cn()
            ));
        }
        if !parent.is_valid_at(self.now) {
            return Err(format!(
                "\"{}\" is outside its validity period",
                parent.subject_cn()
            ));
        }
        if !is_root && constraints.is_none() {
            return Err(format!("\"{}\" is not a CA", parent.subject_cn()));
        }
        if let Some(max) = constraints.and_then(|bc| bc.path_len_constraint) {
            if chain_len - 1 > usize::from(max) {
                return Err(format!(
                    "\"{}\" allows {max} intermediates below it (pathLenConstraint)",
                    parent.subject_cn()
                ));
            }
        }
        Ok(())
    }
}

/// Candidates with the child's issuer as subject, ordered as Go's
/// findPotentialParents: equal key ids first (both absent counts as equal),
/// then exactly one id absent, then different ids.
fn potential_parents<'a>(child: &Certificate, pool: &[&'a Certificate]) -> Vec<&'a Certificate> {
    let aki = child.authority_key_id().unwrap_or_default();
    let mut candidates: Vec<(u8, &'a Certificate)> = pool
        .iter()
        .filter(|c| c.subject() == child.issuer())
        .map(|c| {
            let ski = c.subject_key_id().unwrap_or_default();
            let rank = if ski == aki {
                0
            } else if ski.is_empty() || aki.is_empty() {
                1
            } else {
                2
            };
            (rank, *c)
        })
        .collect();
    candidates.sort_by_key(|(rank, _)| *rank);
    candidates.into_iter().map(|(_, c)| c).collect()
}

/// The extensions Go's x509 parser handles (x509/parser.go); any other marked
/// critical makes Go refuse the certificate in a chain.
const HANDLED: [&str; 13] = [
    "2.5.29.14",         // subjectKeyIdentifier
    "2.5.29.15",         // keyUsage
    "2.5.29.17",         // subjectAltName
    "2.5.29.19",         // basicConstraints
    "2.5.29.30",         // nameConstraints
    "2.5.29.31",         // cRLDistributionPoints
    "2.5.29.32",         // certificatePolicies
    "2.5.29.33",         // policyMappings
    "2.5.29.35",         // authorityKeyIdentifier
    "2.5.29.36",         // policyConstraints
    "2.5.29.37",         // extKeyUsage
    "2.5.29.54",         // inhibitAnyPolicy
    "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
];

/// The first critical extension of `cert` Go does not handle, named.
pub fn unhandled_critical(cert: &Certificate) -> Option<String> {
    let extensions = cert.x509().tbs_certificate().extensions()?;
    extensions
        .iter()
        .find(|e| e.critical && !HANDLED.contains(&e.extn_id.to_string().as_str()))
        .map(|e| oids::describe(&e.extn_id))
}

/// Go's alreadyInChain: same subject and key, and the same subjectAltName
/// extension (or none on both), judged at the first same subject and key.
fn already_in_chain(candidate: &Certificate, chain: &[&Certificate]) -> bool {
    let san = |c: &Certificate| {
        c.x509().tbs_certificate().extensions().and_then(|exts| {
            exts.iter()
                .find(|e| e.extn_id == SUBJECT_ALT_NAME)
                .map(|e| e.extn_value.as_bytes().to_vec())
        })
    };
    let candidate_san = san(candidate);
    for c in chain {
        if c.subject() != candidate.subject() || c.public_key() != candidate.public_key() {
            continue;
        }
        match (&candidate_san, san(c)) {
            (None, None) => return true,
            // Go stops at the first same-named, same-key certificate whose SAN
            // presence differs, and calls the candidate new.
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(a), Some(b)) if *a == b => return true,
            _ => {}
        }
    }
    false
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
