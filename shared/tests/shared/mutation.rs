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

/// Issue 19: the encrypted PKCS#8 parameter parser (PBES2 with PBKDF2 and
/// scrypt, the PKCS#12 schemes) on mutants of the DER of keys openssl
/// encrypted with cheap parameters: an error or a key, never a panic, each in
/// bounded time (a mutated KDF parameter is either refused or cheap), and every
/// message one line without key material.
#[test]
fn mutated_encrypted_pkcs8_parameters_never_panic_and_stay_bounded() {
    use shared::pki::keys::{PassphraseSource, Passphrases};
    use std::time::{Duration, Instant};
    let dir = testkit::scratch();
    let clear =
        testkit::workspace_root().join("fixtures/k3s-rotated-twice/server/tls/client-ca.key");
    let pass = dir.path().join("pass");
    testkit::enterprise::passphrase_file(&pass, "secret");
    let schemes: &[&[&str]] = &[
        &["-v1", "PBE-SHA1-3DES", "-iter", "1"],
        &["-v1", "PBE-SHA1-2DES", "-iter", "2"],
        &["-v2", "aes128", "-v2prf", "hmacWithSHA1", "-iter", "1"],
        &["-v2", "des3", "-v2prf", "hmacWithSHA512", "-iter", "3"],
        &["-v2", "aes256", "-iter", "1"],
        &[
            "-scrypt",
            "-scrypt_N",
            "2",
            "-scrypt_r",
            "1",
            "-scrypt_p",
            "1",
        ],
    ];
    let inputs: Vec<Vec<u8>> = schemes
        .iter()
        .enumerate()
        .map(|(i, args)| {
            let out = dir.path().join(format!("{i}.der"));
            testkit::ok(
                testkit::openssl()
                    .args([
                        "pkcs8",
                        "-topk8",
                        "-outform",
                        "DER",
                        "-passout",
                        "pass:secret",
                    ])
                    .args(*args)
                    .arg("-in")
                    .arg(&clear)
                    .arg("-out")
                    .arg(&out),
            );
            std::fs::read(out).unwrap()
        })
        .collect();
    let clear_bytes = std::fs::read(&clear).unwrap();
    let secrets = secret_windows([clear_bytes.as_slice()]);
    let count: usize = std::env::var("MUTANTS").map_or(3000, |n| n.parse().unwrap());
    let seed: u64 = std::env::var("MUTATION_SEED").map_or(19, |s| s.parse().unwrap());
    let mut mutator = Mutator::new(seed);
    let path = dir.path().join("key.pem");
    let mut failures = Vec::new();
    let (mut keys, mut slowest) = (0, Duration::ZERO);
    let started = Instant::now();
    for i in 0..count {
        let input = &inputs[mutator.below(inputs.len())];
        let mutant = mutator.mutant(input);
        let pem = shared::pki::pem::encode("ENCRYPTED PRIVATE KEY", &mutant);
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, pem).unwrap();
        let one = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let file = PemFile::read(&path)?;
            let passphrases = Passphrases::new(PassphraseSource::File(pass.clone()));
            PrivateKey::first_in_decrypting(&file, &passphrases)
        }));
        slowest = slowest.max(one.elapsed());
        match result {
            Err(_) => failures.push(format!("mutant {i} (seed {seed}): panic")),
            Ok(Ok(_)) => keys += 1,
            Ok(Err(e)) => failures.extend(
                message_problem(&e.to_string(), &secrets)
                    .map(|p| format!("mutant {i} (seed {seed}): {p}")),
            ),
        }
        if one.elapsed() > Duration::from_secs(3) {
            failures.push(format!("mutant {i} (seed {seed}): {:?}", one.elapsed()));
        }
        if failures.len() > 10 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let elapsed = started.elapsed();
    eprintln!(
        "{count} encrypted PKCS#8 mutants, seed {seed}: {keys} still keys, no panic, \
         slowest {slowest:?}, {:.0} mutants/s",
        count as f64 / elapsed.as_secs_f64()
    );
}
