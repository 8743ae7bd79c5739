//! Mutation test of every reader of PEM/DER input, in process: thousands of
//! mutants of real k3s files (certificates, bundles, CA keys, service.key,
//! tokens) must give an error or a value, never a panic, and no message may
//! hold key material or span more than one line.
//!
//! `MUTANTS=N` (default 5000) and `MUTATION_SEED=S` change the run; the
//! fuzz script `bench/fuzz-readers.sh` runs it for minutes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a panic is a failure"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::SystemTime;

use shared::checks::expiry;
use shared::layout::k3s::token::{TokenFile, k3s_ca_hash};
use shared::layout::service_key::ServiceKeyFile;
use shared::pki::cert::bundle_in;
use shared::pki::keys::PrivateKey;
use shared::pki::pem::PemFile;
use testkit::mutate::{Mutator, message_problem, secret_windows};

/// Every reader a tool applies to a file, on `bytes` written at `path`; the
/// messages of the errors met.
fn read_all_ways(path: &Path, bytes: &[u8]) -> Vec<String> {
    let mut messages = Vec::new();
    let mut note = |result: Result<(), shared::pki::error::Error>| {
        if let Err(e) = result {
            messages.push(e.to_string());
        }
    };
    // A new file each time: ext4 flushes a file truncated and rewritten on close.
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).unwrap();
    match PemFile::read(path) {
        Err(e) => note(Err(e)),
        Ok(file) => {
            match bundle_in(&file) {
                Ok(certs) => {
                    for cert in &certs {
                        let _ = (cert.subject_cn(), cert.issuer_cn(), cert.is_ca());
                        let _ = (cert.key_usage(), cert.extended_key_usage());
                        let _ = cert.require_usable_ca(path, SystemTime::now());
                        let _ = expiry::status(cert, SystemTime::now(), Default::default());
                    }
                    let _ = k3s_ca_hash(&file.bytes, &certs, SystemTime::now());
                }
                Err(e) => note(Err(e)),
            }
            for block in &file.blocks {
                note(PrivateKey::from_block(path, block).map(|k| {
                    let _ = k.public_key_der();
                }));
            }
        }
    }
    note(ServiceKeyFile::read(path).map(|_| ()));
    note(TokenFile::read(path).map(|_| ()));
    messages
}

#[test]
fn mutated_inputs_never_panic_nor_leak_key_material() {
    let fixtures = testkit::workspace_root().join("fixtures/k3s-rotated-twice/server");
    let inputs: Vec<Vec<u8>> = [
        "tls/client-ca.crt",
        "tls/client-ca.key",
        "tls/server-ca.key",
        "tls/service.key",
        "tls/etcd/peer-ca.crt",
        "tls/etcd/peer-ca.key",
        "tls/client-admin.crt",
        "tls/client-admin.key",
        "token",
    ]
    .iter()
    .map(|name| std::fs::read(fixtures.join(name)).unwrap())
    .collect();
    let secrets = secret_windows(inputs.iter().map(Vec::as_slice));
    let key = String::from_utf8_lossy(&inputs[1]);
    assert!(
        message_problem(&key.replace('\n', " "), &secrets).is_some(),
        "the checker finds a key in a message"
    );
    let count: usize = std::env::var("MUTANTS").map_or(5000, |n| n.parse().unwrap());
    let seed: u64 = std::env::var("MUTATION_SEED").map_or(10, |s| s.parse().unwrap());
    let mut mutator = Mutator::new(seed);
    let dir = testkit::scratch();
    let path = dir.path().join("input.pem");
    let mut failures = Vec::new();
    for i in 0..count {
        let input = &inputs[mutator.below(inputs.len())];
        let mutant = mutator.mutant(input);
        match catch_unwind(AssertUnwindSafe(|| read_all_ways(&path, &mutant))) {
            Err(_) => failures.push(format!("mutant {i} (seed {seed}): panic")),
            Ok(messages) => failures.extend(
                messages
                    .iter()
                    .filter_map(|m| message_problem(m, &secrets))
                    .map(|p| format!("mutant {i} (seed {seed}): {p}")),
            ),
        }
        if failures.len() > 10 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{count} mutants, seed {seed}: no panic, no key material");
}
