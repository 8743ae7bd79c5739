//! Keys whose generation has started but need not have finished: the RSA
//! prime searches of a run run on a thread of their own from the moment the
//! run knows which keys it needs, while the run reads and checks its inputs,
//! signs what does not depend on them and prepares its commit; the run waits
//! only where it first needs an RSA key.
//!
//! A run's time is then about the longer of its keys and its other work, not
//! their sum: a k3s rotation's RSA-2048 service key takes about 24 ms of both
//! cores, the five CAs' P-256 keys and certificates a few ms of one.
//! Elliptic-curve keys cost microseconds and are made at once, on the calling
//! thread, so work that needs only them never waits.
//!
//! The searches poll the interrupt flag (`pki::interrupt`) as before, so a
//! signal ends a run that waits for them at once; dropping the handle before
//! its keys were taken (the run failed meanwhile) stops the searches at
//! their next candidate and waits for that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::{KeyAlgorithm, PrivateKey, rsa_primes};
use crate::pki::error::{Error, Kind, Result};

/// One key per algorithm asked for, handed out in that order by
/// [`PendingKeys::take`]: at once for elliptic-curve keys, made when the
/// handle was; for an RSA key, once the search of every RSA key of the
/// handle has finished (they share the cores, see `rsa_primes`).
pub struct PendingKeys {
    /// The keys in the order asked for; `None` for an RSA key, which comes
    /// from `rsa` in turn.
    keys: std::vec::IntoIter<Option<PrivateKey>>,
    rsa: Rsa,
}

/// Where the RSA keys of a [`PendingKeys`] are.
enum Rsa {
    /// Being searched on their own thread.
    Searching {
        thread: JoinHandle<Result<Vec<rsa::RsaPrivateKey>>>,
        abandoned: Arc<AtomicBool>,
    },
    /// Found (or none were asked for), in order.
    Found(std::vec::IntoIter<rsa::RsaPrivateKey>),
    /// Taken apart by `Drop` or after a failed wait.
    Gone,
}

impl PendingKeys {
    /// Makes the elliptic-curve keys of `algorithms` and starts the searches
    /// of its RSA keys on a new thread; returns without waiting for them.
    pub fn start(algorithms: &[KeyAlgorithm]) -> Result<Self> {
        let rsa_bits: Vec<usize> = algorithms
            .iter()
            .filter_map(|a| match a {
                KeyAlgorithm::Rsa(bits) => Some(*bits),
                _ => None,
            })
            .collect();
        let rsa = if rsa_bits.is_empty() {
            Rsa::Found(Vec::new().into_iter())
        } else {
            let abandoned = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&abandoned);
            let thread = std::thread::Builder::new()
                .name("rsa-keys".into())
                .spawn(move || rsa_primes::generate(&rsa_bits, &flag))
                .map_err(|source| {
                    Error::new(Kind::Io {
                        action: "starting a thread",
                        source,
                    })
                })?;
            Rsa::Searching { thread, abandoned }
        };
        let mut rng = rand::rng();
        let keys: Vec<Option<PrivateKey>> = algorithms
            .iter()
            .map(|&algorithm| PrivateKey::generate_ec(algorithm, &mut rng))
            .collect();
        Ok(PendingKeys {
            keys: keys.into_iter(),
            rsa,
        })
    }

    /// The next key in the order asked for; waits for the RSA searches the
    /// first time it hands out an RSA key.
    pub fn take(&mut self) -> Result<PrivateKey> {
        match self.keys.next() {
            Some(Some(key)) => Ok(key),
            Some(None) => self.next_rsa().map(|key| PrivateKey::Rsa(Box::new(key))),
            None => Err(Error::bug("fewer keys generated than asked for")),
        }
    }

    /// Every key not handed out yet, in order.
    pub fn wait_all(mut self) -> Result<Vec<PrivateKey>> {
        (0..self.keys.len()).map(|_| self.take()).collect()
    }

    fn next_rsa(&mut self) -> Result<rsa::RsaPrivateKey> {
        if let Rsa::Searching { .. } = self.rsa {
            let Rsa::Searching { thread, .. } = std::mem::replace(&mut self.rsa, Rsa::Gone) else {
                return Err(Error::bug("an RSA search vanished"));
            };
            let keys = thread
                .join()
                .unwrap_or_else(|_| Err(Error::bug("an RSA key search panicked")))?;
            self.rsa = Rsa::Found(keys.into_iter());
        }
        match &mut self.rsa {
            Rsa::Found(keys) => keys
                .next()
                .ok_or_else(|| Error::bug("fewer RSA keys generated than asked for")),
            Rsa::Searching { .. } | Rsa::Gone => Err(Error::bug("an RSA search vanished")),
        }
    }
}

impl Drop for PendingKeys {
    /// Stops searches nobody will wait for (the run failed before it needed
    /// them): a search is only memory and CPU, but the CPU is the other
    /// core's, and a run refusing its inputs should not keep it busy.
    fn drop(&mut self) {
        if let Rsa::Searching { thread, abandoned } = std::mem::replace(&mut self.rsa, Rsa::Gone) {
            abandoned.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_the_order_asked_for() {
        let wanted = [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::Rsa(1024),
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Rsa(2048),
        ];
        let keys = PendingKeys::start(&wanted).unwrap().wait_all().unwrap();
        let got: Vec<KeyAlgorithm> = keys.iter().map(PrivateKey::algorithm).collect();
        assert_eq!(got, wanted);
    }

    #[test]
    fn elliptic_keys_need_no_wait_and_asking_too_many_is_a_bug() {
        let mut keys = PendingKeys::start(&[KeyAlgorithm::EcdsaP256]).unwrap();
        assert!(matches!(keys.rsa, Rsa::Found(_)), "no thread for EC keys");
        keys.take().unwrap();
        assert!(keys.take().is_err());
    }

    /// A run that fails before it needs its RSA keys drops the handle: the
    /// search stops instead of running on (an RSA-8192 search takes seconds).
    #[test]
    fn dropping_the_handle_stops_the_search() {
        let started = std::time::Instant::now();
        drop(PendingKeys::start(&[KeyAlgorithm::Rsa(8192)]).unwrap());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
