//! The small-factor sieve of a prime search: which numbers of a window
//! `start, start + 2, start + 4, ...` have no odd prime factor below 2^18.
//!
//! A Miller-Rabin round on a 1024-bit candidate costs about 0.45 ms, dividing a
//! window's start by every small prime a few microseconds per thousand primes,
//! so sieving further than crypto-primes does (its 2,047 primes, to 17,863)
//! pays: to 2^18 (23,000 primes) it leaves 9% of a window's odd numbers for the
//! round instead of 11%, about 32 rounds per 1024-bit prime instead of 41, for
//! about 0.7 ms of division per window. Further bounds cost more in division
//! than they save in rounds.

use std::ops::Range;
use std::sync::OnceLock;

/// Odd primes below this bound divide out candidates.
const BOUND: usize = 1 << 18;

/// The odd primes below [`BOUND`], and the same primes multiplied together in
/// groups that fit a word, so that one division of a window's start per group
/// (not per prime) gives every residue.
struct SmallPrimes {
    primes: Vec<u32>,
    groups: Vec<Group>,
}

/// A product of consecutive small primes below 2^64, prepared for division by
/// a precomputed reciprocal (Möller and Granlund, "Improved division by
/// invariant integers", 2011).
struct Group {
    /// The product shifted left until its top bit is set.
    divisor: u64,
    /// floor((2^128 - 1) / divisor) - 2^64.
    reciprocal: u64,
    shift: u32,
    /// Its primes, in [`SmallPrimes::primes`].
    primes: Range<usize>,
}

impl Group {
    fn new(product: u64, primes: Range<usize>) -> Group {
        let shift = product.leading_zeros();
        let divisor = product << shift;
        // The quotient is below 2^65; its top bit is the 2^64 subtracted.
        let reciprocal = (u128::MAX / u128::from(divisor)) as u64;
        Group {
            divisor,
            reciprocal,
            shift,
            primes,
        }
    }

    /// `number mod product`, `number` in little-endian 64-bit words: the
    /// remainder of `number * 2^shift` by the shifted divisor, shifted back.
    fn remainder(&self, number: &[u64]) -> u64 {
        let shift = self.shift;
        // The bits a word pushes into the next one up when shifted left.
        let carried = |word: u64| if shift == 0 { 0 } else { word >> (64 - shift) };
        let mut remainder = number.last().map_or(0, |&top| carried(top));
        for i in (0..number.len()).rev() {
            let below = if i == 0 { 0 } else { carried(number[i - 1]) };
            remainder = self.divide_step(remainder, (number[i] << shift) | below);
        }
        remainder >> shift
    }

    /// The remainder of `high * 2^64 + low` by the divisor, for `high` below
    /// it: Möller and Granlund's algorithm 4.
    fn divide_step(&self, high: u64, low: u64) -> u64 {
        let d = self.divisor;
        let quotient = u128::from(self.reciprocal) * u128::from(high)
            + ((u128::from(high) + 1) << 64 | u128::from(low));
        let (q1, q0) = ((quotient >> 64) as u64, quotient as u64);
        let mut remainder = low.wrapping_sub(q1.wrapping_mul(d));
        if remainder > q0 {
            remainder = remainder.wrapping_add(d);
        }
        if remainder >= d {
            remainder -= d;
        }
        remainder
    }
}

fn small_primes() -> &'static SmallPrimes {
    static SMALL_PRIMES: OnceLock<SmallPrimes> = OnceLock::new();
    SMALL_PRIMES.get_or_init(|| {
        // Eratosthenes over the odd numbers: index i stands for 2i + 1.
        let mut composite = vec![false; BOUND / 2];
        let mut primes = Vec::with_capacity(BOUND / 10);
        for i in 1..BOUND / 2 {
            if composite[i] {
                continue;
            }
            let p = 2 * i + 1;
            primes.push(p as u32);
            for multiple in (p * p / 2..BOUND / 2).step_by(p) {
                composite[multiple] = true;
            }
        }
        let mut groups = Vec::with_capacity(primes.len() / 3);
        let (mut first, mut product) = (0, 1u64);
        for (i, &p) in primes.iter().enumerate() {
            match product.checked_mul(u64::from(p)) {
                Some(larger) => product = larger,
                None => {
                    groups.push(Group::new(product, first..i));
                    (first, product) = (i, u64::from(p));
                }
            }
        }
        groups.push(Group::new(product, first..primes.len()));
        SmallPrimes { primes, groups }
    })
}

/// The offsets `k` below `window`, ascending, for which `start + 2k` has no odd
/// prime factor below 2^18; `start` is odd, in little-endian 64-bit words, and
/// above 2^18 (so no small prime is itself a candidate).
pub(crate) fn survivors(start: &[u64], window: usize) -> Vec<u32> {
    let table = small_primes();
    let mut divisible = vec![false; window];
    for group in &table.groups {
        let residue = group.remainder(start);
        for &p in &table.primes[group.primes.clone()] {
            let p = u64::from(p);
            // start + 2k = 0 (mod p) at k = -start / 2 = (p - start) * (p + 1) / 2.
            let first = (p - residue % p) % p * p.div_ceil(2) % p;
            for k in (first as usize..window).step_by(p as usize) {
                divisible[k] = true;
            }
        }
    }
    (0..window)
        .filter(|&k| !divisible[k])
        .filter_map(|k| u32::try_from(k).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `number mod m` one byte at a time: slow and plainly right.
    fn remainder_by_bytes(number: &[u64], m: u64) -> u64 {
        number
            .iter()
            .rev()
            .flat_map(|w| w.to_be_bytes())
            .fold(0u128, |r, byte| {
                ((r << 8) | u128::from(byte)) % u128::from(m)
            }) as u64
    }

    fn random_words(len: usize) -> Vec<u64> {
        (0..len).map(|_| rand::random::<u64>()).collect()
    }

    #[test]
    fn every_group_remainder_is_right() {
        let table = small_primes();
        assert_eq!(table.primes.first(), Some(&3));
        assert_eq!(table.primes.len(), 23_000 - 1, "odd primes below 2^18");
        for number in [
            random_words(16),
            random_words(1),
            vec![u64::MAX; 16],
            vec![0, 1],
        ] {
            for group in &table.groups {
                let product = group.divisor >> group.shift;
                assert_eq!(
                    group.remainder(&number),
                    remainder_by_bytes(&number, product)
                );
            }
        }
    }

    #[test]
    fn survivors_are_exactly_the_numbers_without_small_factors() {
        let table = small_primes();
        let mut start = random_words(16);
        start[0] |= 1;
        let residues: Vec<(u64, u64)> = table
            .primes
            .iter()
            .map(|&p| (u64::from(p), remainder_by_bytes(&start, u64::from(p))))
            .collect();
        let window = 1000;
        let survivors = survivors(&start, window);
        for k in 0..window as u64 {
            let divisible = residues.iter().any(|&(p, r)| (r + 2 * k) % p == 0);
            assert_eq!(survivors.contains(&(k as u32)), !divisible, "offset {k}");
        }
        // About 9% survive.
        assert!((40..150).contains(&survivors.len()), "{}", survivors.len());
    }
}
