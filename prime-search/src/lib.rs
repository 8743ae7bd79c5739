//! The prime search of the tools' RSA keys (`shared::pki::keys::rsa_primes`
//! runs several on every core and assembles the keys).
//!
//! One search: a random odd start with the two top bits set, then the
//! first number of `start, start + 2, ...` that survives the small-factor sieve
//! (`sieve`), a strong-probable-prime round to base 2 (`montgomery`) and
//! crypto-primes' own test (`is_prime`: that round again and a strong Lucas
//! test, Baillie-PSW), whose verdict alone makes a number prime.
//!
//! This is the search rsa 0.10 runs (crypto-primes' incremental sieve from a
//! random start, the same final test), with a longer sieve and a faster first
//! round in front of the final test: it tests a third fewer candidates, each in
//! under half the time. Measured on the 1024-bit primes of an RSA-2048 key
//! (300 searches each, this machine): crypto-primes' search mean 39-41 ms,
//! median 26-28 ms; this one mean 23 ms, median 18 ms.
//!
//! A crate of its own so that the test suite's builds optimise it (see the
//! workspace's profiles) without optimising everything else.

use std::fmt;
use std::num::NonZeroU32;

use crypto_bigint::BoxedUint;
use crypto_primes::hazmat::{SetBits, random_odd_integer};
use crypto_primes::{Flavor, is_prime};

mod montgomery;
mod sieve;

/// Why a search could not run.
#[derive(Debug)]
pub enum Error {
    /// Primes below 64 bits are not searched (RSA primes are 512 bits and more).
    TooSmall(u32),
    /// crypto-primes refused to draw a start, or a candidate did not decode.
    Integer(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooSmall(bits) => write!(f, "a prime search of {bits} bits (64 at least)"),
            Error::Integer(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for Error {}

/// One prime of exactly `bit_length` bits with the two top bits set, or `None`
/// if `cancelled` turned true during the search.
pub fn random_prime(
    bit_length: u32,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<BoxedUint>, Error> {
    let bits = NonZeroU32::new(bit_length)
        .filter(|b| b.get() >= 64)
        .ok_or(Error::TooSmall(bit_length))?;
    // Windows of 8 * bit_length odd numbers hold about 11 primes on average,
    // so a new start (a new division by every small prime) is rarely needed.
    let window = 8 * bit_length as usize;
    let mut rng = rand::rng();
    loop {
        if cancelled() {
            return Ok(None);
        }
        let start = random_odd_integer::<BoxedUint, _>(&mut rng, bits, SetBits::TwoMsb)
            .map_err(|e| Error::Integer(format!("drawing a prime search's start: {e}")))?;
        let start = to_words(&start);
        for offset in sieve::survivors(&start, window) {
            if cancelled() {
                return Ok(None);
            }
            let Some(candidate) = add_small(&start, 2 * u64::from(offset), bit_length) else {
                break; // past the top bit: draw a new start
            };
            if !passes_base_two(&candidate) {
                continue;
            }
            let candidate = from_words(&candidate)?;
            if is_prime(Flavor::Any, &candidate) {
                return Ok(Some(candidate));
            }
        }
    }
}

/// Whether the candidate survives one Miller-Rabin round to base 2, where the
/// fixed-width round applies: its width is that of an RSA prime (a multiple of
/// 64 bits, top bit set). Other candidates go to crypto-primes' test directly.
fn passes_base_two(words: &[u64]) -> bool {
    fn round<const L: usize>(words: &[u64]) -> bool {
        <&[u64; L]>::try_from(words).map_or(true, montgomery::is_strong_probable_prime_base_two)
    }
    if words.last().is_none_or(|&top| top >> 63 == 0) {
        return true;
    }
    match words.len() {
        8 => round::<8>(words),
        16 => round::<16>(words),
        24 => round::<24>(words),
        32 => round::<32>(words),
        48 => round::<48>(words),
        64 => round::<64>(words),
        _ => true,
    }
}

/// `words + addend`, or `None` if the sum has more than `bit_length` bits.
fn add_small(words: &[u64], addend: u64, bit_length: u32) -> Option<Vec<u64>> {
    let mut sum = words.to_vec();
    let mut carry = addend;
    for word in &mut sum {
        let (added, overflowed) = word.overflowing_add(carry);
        *word = added;
        carry = u64::from(overflowed);
    }
    let sum_bits = u32::try_from(64 * sum.len()).ok()? - leading_zeros(&sum);
    (carry == 0 && sum_bits == bit_length).then_some(sum)
}

fn leading_zeros(words: &[u64]) -> u32 {
    let mut zeros = 0;
    for &word in words.iter().rev() {
        if word != 0 {
            return zeros + word.leading_zeros();
        }
        zeros += 64;
    }
    zeros
}

/// Little-endian 64-bit words of `x`, as many as its precision needs.
fn to_words(x: &BoxedUint) -> Vec<u64> {
    x.to_be_bytes()
        .rchunks(8)
        .map(|chunk| {
            let mut be = [0u8; 8];
            be[8 - chunk.len()..].copy_from_slice(chunk);
            u64::from_be_bytes(be)
        })
        .collect()
}

fn from_words(words: &[u64]) -> Result<BoxedUint, Error> {
    let bytes: Vec<u8> = words.iter().rev().flat_map(|w| w.to_be_bytes()).collect();
    let precision = u32::try_from(64 * words.len()).unwrap_or(u32::MAX);
    BoxedUint::from_be_slice(&bytes, precision)
        .map_err(|e| Error::Integer(format!("reading a prime candidate: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_have_the_size_and_top_bits_asked_for() {
        for bits in [512u32, 1024, 1536] {
            let prime = random_prime(bits, &|| false).unwrap().unwrap();
            assert!(is_prime(Flavor::Any, &prime));
            assert_eq!(prime.bits(), bits);
            assert!(prime.bit(bits - 2).to_bool(), "the second top bit is set");
        }
        // A width the fixed-width round does not cover: crypto-primes alone.
        let prime = random_prime(520, &|| false).unwrap().unwrap();
        assert!(is_prime(Flavor::Any, &prime));
        assert_eq!(prime.bits(), 520);
    }

    #[test]
    fn a_cancelled_search_finds_nothing() {
        assert!(random_prime(1024, &|| true).unwrap().is_none());
    }

    #[test]
    fn a_sum_past_the_bit_length_is_refused() {
        let top = vec![u64::MAX - 1, u64::MAX];
        assert_eq!(add_small(&top, 1, 128), Some(vec![u64::MAX, u64::MAX]));
        assert_eq!(add_small(&top, 2, 128), None);
        let below = vec![u64::MAX, (1 << 63) - 1];
        assert_eq!(
            add_small(&below, 1, 127),
            None,
            "grows from 127 to 128 bits"
        );
        assert_eq!(add_small(&below, 0, 127), Some(below));
    }
}
