//! RSA key generation with the prime searches of all requested keys spread over
//! every core.
//!
//! Finding a 2048-bit prime takes a random, heavy-tailed time (here: from 0.1 s
//! to over 1 s). Making the two RSA-4096 keys of a custom tree on one thread each
//! leaves the run waiting for the unluckier key; handing out the four prime
//! searches (and the service key's two) as jobs to a worker per core keeps both
//! cores busy until the last prime is found.
//!
//! Each prime is searched as rsa 0.10 does it (an incremental search from a
//! random start with the two top bits set, so the modulus always has the full
//! size; crypto-primes' primality test decides), with a longer sieve and a
//! faster first round in front (the `prime-search` crate); the key is then assembled with
//! e = 65537.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rsa::BoxedUint;

use crate::pki::error::{Error, Result};

/// One prime of exactly `bit_length` bits with the two top bits set, or `None`
/// if `cancelled` turned true during the search (see the `prime-search` crate).
fn random_prime(bit_length: u32, cancelled: &dyn Fn() -> bool) -> Result<Option<BoxedUint>> {
    prime_search::random_prime(bit_length, cancelled)
        .map_err(|e| Error::crypto("searching a prime", e))
}

const PUBLIC_EXPONENT: u64 = 65_537;

/// Generates one RSA key per entry of `bits`, in that order. Turning
/// `abandoned` true stops every search at its next candidate (the keys of a
/// run that failed meanwhile, see `PendingKeys`): the result is then an error.
pub(crate) fn generate(bits: &[usize], abandoned: &AtomicBool) -> Result<Vec<rsa::RsaPrivateKey>> {
    let jobs: Vec<u32> = bits
        .iter()
        .flat_map(|&b| {
            let half = u32::try_from(b / 2).unwrap_or(u32::MAX);
            [half, half]
        })
        .collect();
    let primes = search_in_parallel(&jobs, abandoned)?;
    let mut primes = primes.into_iter();
    let mut keys = Vec::with_capacity(bits.len());
    for &size in bits {
        let (Some(p), Some(q)) = (primes.next(), primes.next()) else {
            return Err(Error::bug("fewer primes found than RSA keys need"));
        };
        keys.push(assemble(size, p, q)?);
    }
    Ok(keys)
}

/// One prime search: its bit length, and its result once some worker found it.
struct Job {
    bit_length: u32,
    found: OnceLock<BoxedUint>,
}

impl Job {
    fn is_done(&self) -> bool {
        self.found.get().is_some()
    }
}

/// Runs every job (a prime bit length) on a pool of one worker per core. A worker
/// with no new job left joins the search of an unfinished one (the first result
/// wins, the other searcher stops at its next candidate), so no core idles while
/// the last, unlucky search runs.
fn search_in_parallel(bit_lengths: &[u32], abandoned: &AtomicBool) -> Result<Vec<BoxedUint>> {
    let jobs: Vec<Job> = bit_lengths
        .iter()
        .map(|&bit_length| Job {
            bit_length,
            found: OnceLock::new(),
        })
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let worker = || -> Result<()> {
        loop {
            // RSA-8192 primes take seconds: a signal stops every search.
            crate::pki::interrupt::check_interrupted()?;
            if abandoned.load(Ordering::Relaxed) {
                return Err(Error::bug("an abandoned prime search was waited for"));
            }
            let index = next.fetch_add(1, Ordering::Relaxed);
            let job = match jobs.get(index) {
                Some(job) => job,
                None => match jobs.iter().find(|j| !j.is_done()) {
                    Some(job) => job,
                    None => return Ok(()),
                },
            };
            let cancelled = || {
                job.is_done()
                    || crate::pki::interrupt::interrupted()
                    || abandoned.load(Ordering::Relaxed)
            };
            if let Some(prime) = random_prime(job.bit_length, &cancelled)? {
                // Losing the race to another worker is fine: its prime is as good.
                let _ = job.found.set(prime);
            }
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::bug("a prime search worker panicked")))
            })
            .collect::<Result<Vec<()>>>()
    })?;
    jobs.into_iter()
        .map(|job| {
            job.found
                .into_inner()
                .ok_or_else(|| Error::bug("a prime search did not finish"))
        })
        .collect()
}

/// Builds the key from two primes; in the rare case that e is not invertible
/// (or p == q), searches a new pair on this thread until it is.
fn assemble(bits: usize, mut p: BoxedUint, mut q: BoxedUint) -> Result<rsa::RsaPrivateKey> {
    loop {
        // from_p_q validates the key and precomputes the CRT values.
        if let Ok(key) = rsa::RsaPrivateKey::from_p_q(p, q, BoxedUint::from(PUBLIC_EXPONENT)) {
            if rsa::traits::PublicKeyParts::n(&key).bits() as usize == bits {
                return Ok(key);
            }
        }
        let half = u32::try_from(bits / 2).unwrap_or(u32::MAX);
        let never = || false;
        let search = || {
            random_prime(half, &never)?
                .ok_or_else(|| Error::bug("an uncancellable prime search was cancelled"))
        };
        p = search()?;
        q = search()?;
    }
}

#[cfg(test)]
mod tests {
    use rsa::traits::PublicKeyParts as _;

    use super::*;

    #[test]
    fn keys_have_the_requested_sizes_and_work() {
        let keys = generate(&[1024, 2048, 1024], &AtomicBool::new(false)).unwrap();
        let sizes: Vec<usize> = keys.iter().map(|k| k.n().bits() as usize).collect();
        assert_eq!(sizes, [1024, 2048, 1024]);
        for key in &keys {
            assert_eq!(key.e(), &BoxedUint::from(PUBLIC_EXPONENT));
            let message = b"signed";
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
            let signature = rsa::signature::Signer::sign(&signer, message);
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.to_public_key());
            rsa::signature::Verifier::verify(&verifier, message, &signature).unwrap();
        }
        assert_ne!(keys[0].n(), keys[2].n());
    }
}
