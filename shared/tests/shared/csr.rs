//! Mutation run over the CSR reader: mutants of a real CSR's
//! CertificationRequestInfo, each signed again with the request's key, so the
//! reader past the signature check (names, subject, extensions) is what
//! meets them. None may panic; every message is one line without key
//! material; every request accepted carries only DNS names in the preferred
//! name syntax and a subject within RFC 5280's bounds.
//!
//! `MUTANTS=N` (default 3000) and `MUTATION_SEED=S` change the run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use shared::pki::csr::Csr;
use shared::pki::keys::{PrivateKey, SigningKey as _};
use shared::pki::names::{San, dns_name_problem};
use shared::pki::pem::{PemFile, encode};
use testkit::mutate::{Mutator, message_problem, secret_windows};

/// A DER TLV of `tag` around `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut der = vec![tag];
    let len = content.len();
    if len < 128 {
        der.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend(bytes);
    }
    der.extend_from_slice(content);
    der
}

/// The whole TLVs inside the contents `seq`.
fn children(seq: &[u8]) -> Vec<&[u8]> {
    let (mut rest, mut out) = (seq, Vec::new());
    while !rest.is_empty() {
        let (head, len) = header(rest);
        out.push(&rest[..head + len]);
        rest = &rest[head + len..];
    }
    out
}

/// The header length and content length of the TLV at the start of `der`.
fn header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        n if n < 128 => (2, usize::from(n)),
        n => {
            let k = usize::from(n & 0x7f);
            let len = der[2..2 + k]
                .iter()
                .fold(0, |a, b| (a << 8) | usize::from(*b));
            (2 + k, len)
        }
    }
}

fn contents(der: &[u8]) -> &[u8] {
    &der[header(der).0..]
}

fn make_csr(dir: &Path) -> (PrivateKey, Vec<u8>, Vec<u8>) {
    let key_path = dir.join("k.key");
    let csr_path = dir.join("k.csr");
    testkit::ok(
        testkit::openssl()
            .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-out"])
            .arg(&key_path),
    );
    testkit::ok(
        testkit::openssl()
            .args(["req", "-new", "-key"])
            .arg(&key_path)
            .args(["-subj", "/O=system:nodes/OU=ops/CN=system:node:host-1"])
            .args([
                "-addext",
                "subjectAltName=DNS:host-1.example.com,DNS:kubernetes,\
                 DNS:*.apps.example.com,IP:10.0.0.1",
            ])
            .arg("-out")
            .arg(&csr_path),
    );
    let der = PemFile::read(&csr_path).unwrap().blocks[0].der.to_vec();
    let parts = children(contents(&der));
    let key = PrivateKey::read_first(&key_path).unwrap();
    (key, parts[0].to_vec(), parts[1].to_vec())
}

#[test]
fn mutated_csrs_signed_again_never_panic_nor_pass_a_bad_name() {
    let dir = testkit::scratch();
    let (key, info, algorithm) = make_csr(dir.path());
    let key_pem = std::fs::read(dir.path().join("k.key")).unwrap();
    let secrets = secret_windows([key_pem.as_slice()]);
    let count: usize = std::env::var("MUTANTS").map_or(3000, |n| n.parse().unwrap());
    let seed: u64 = std::env::var("MUTATION_SEED").map_or(19, |s| s.parse().unwrap());
    let mut mutator = Mutator::new(seed);
    let path = dir.path().join("mutant.csr");
    let (mut accepted, mut failures) = (0usize, Vec::new());
    for i in 0..count {
        let mutant = mutator.mutant(&info);
        let signature = [&[0u8][..], &key.sign(&mutant).unwrap()].concat();
        let der = tlv(
            0x30,
            &[mutant, algorithm.clone(), tlv(0x03, &signature)].concat(),
        );
        let pem = encode("CERTIFICATE REQUEST", &der).into_bytes();
        let fail = |why: String| format!("mutant {i} (seed {seed}): {why}");
        match catch_unwind(AssertUnwindSafe(|| Csr::parse(&path, pem))) {
            Err(_) => failures.push(fail("panic".into())),
            Ok(Err(error)) => {
                let message = error.to_string();
                if let Some(problem) = message_problem(&message, &secrets) {
                    failures.push(fail(problem));
                }
            }
            Ok(Ok(csr)) => {
                accepted += 1;
                for san in &csr.sans {
                    if let San::Dns(name) = san {
                        if let Some(why) = dns_name_problem(name) {
                            failures.push(fail(format!("accepted DNS {name:?}: {why}")));
                        }
                    }
                }
                for value in csr.common_names().iter().chain(&csr.organizations()) {
                    if value.chars().count() > 64 {
                        failures.push(fail(format!("accepted {value:?}, over 64")));
                    }
                }
            }
        }
        if failures.len() > 10 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The run reached the reader past the signature: some mutants are
    // requests still, others were refused by what follows it.
    assert!(accepted > 0 && accepted < count, "{accepted} of {count}");
    eprintln!("{count} CSR mutants, seed {seed}: {accepted} accepted, no panic");
}
