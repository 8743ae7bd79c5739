//! A fast first test of a prime candidate: the strong probable-prime test to
//! base 2 (one Miller-Rabin round), in Montgomery arithmetic of a fixed number
//! of 64-bit words.
//!
//! Nearly every candidate that survives the small-factor sieve is composite and
//! fails this round, so it decides the search's speed: here it takes about 0.45
//! ms for a 1024-bit candidate, crypto-bigint's general exponentiation 1.1 ms.
//! The gain is from the fixed width (the compiler unrolls the word loops) and
//! from base 2: every step is a squaring and a doubling, never a multiplication
//! by a table entry. A candidate that passes is then tested by crypto-primes'
//! full test (`is_prime`), whose verdict alone decides; this round only spares
//! it the composites.
//!
//! Like crypto-primes' round, the exponentiation runs the same steps whatever
//! the candidate's bits (the doubling is always computed and selected with a
//! mask); only the number of trailing zeros of n - 1 and the round's early
//! exits depend on the candidate, as in crypto-primes.

/// Whether the odd `n` of exactly `64 * L` bits (its top bit set) is a strong
/// probable prime to base 2: false proves it composite.
pub(crate) fn is_strong_probable_prime_base_two<const L: usize>(n: &[u64; L]) -> bool {
    let field = Field::new(n);
    // n - 1 = 2^s * d with d odd; the low word of n - 1 is nonzero unless
    // n = 1 mod 2^64, when the trailing zeros continue into the next words.
    let mut n_minus_one = *n;
    n_minus_one[0] &= !1;
    let s = trailing_zeros(&n_minus_one);
    // 2^d by left-to-right square-and-double over the bits of d (those of
    // n - 1 above its trailing zeros), starting from 1.
    let mut x = field.one;
    for bit in (s..64 * L).rev() {
        x = field.square(&x);
        let doubled = field.double(&x);
        let take = ((n_minus_one[bit / 64] >> (bit % 64)) & 1).wrapping_neg();
        select(&mut x, &doubled, take);
    }
    if x == field.one || x == field.minus_one {
        return true;
    }
    for _ in 1..s {
        x = field.square(&x);
        if x == field.minus_one {
            return true;
        }
        if x == field.one {
            return false;
        }
    }
    false
}

/// Arithmetic modulo an odd `n` of exactly `64 * L` bits, on numbers below n
/// in Montgomery form (x * 2^(64L) mod n).
struct Field<'n, const L: usize> {
    n: &'n [u64; L],
    /// -n^(-1) mod 2^64.
    n_prime: u64,
    /// 1 and n - 1 in Montgomery form.
    one: [u64; L],
    minus_one: [u64; L],
}

impl<'n, const L: usize> Field<'n, L> {
    fn new(n: &'n [u64; L]) -> Self {
        // Newton's iteration doubles the correct low bits of n^(-1) mod 2^64
        // each step: 1 bit (n is odd) to 64 in six.
        let mut inverse: u64 = 1;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inverse)));
        }
        // 2^(64L) mod n is 2^(64L) - n, as n > 2^(64L - 1): its two's complement.
        let (one, _) = subtract(&[0; L], n);
        let (minus_one, _) = subtract(n, &one);
        Field {
            n,
            n_prime: inverse.wrapping_neg(),
            one,
            minus_one,
        }
    }

    /// a^2 / 2^(64L) mod n, by word-wise Montgomery multiplication (CIOS).
    fn square(&self, a: &[u64; L]) -> [u64; L] {
        let n = self.n;
        let mut t = [0u64; L];
        // The two words above t.
        let (mut t_l, mut t_l1);
        t_l = 0u64;
        for &a_i in a {
            // t += a * a_i
            let mut carry = 0u64;
            for (t_j, &a_j) in t.iter_mut().zip(a) {
                (*t_j, carry) = multiply_add(a_j, a_i, *t_j, carry);
            }
            let sum = u128::from(t_l) + u128::from(carry);
            t_l = sum as u64;
            t_l1 = (sum >> 64) as u64;
            // t = (t + m * n) / 2^64, with m making the low word zero.
            let m = t[0].wrapping_mul(self.n_prime);
            let (_, mut carry) = multiply_add(m, n[0], t[0], 0);
            for j in 1..L {
                (t[j - 1], carry) = multiply_add(m, n[j], t[j], carry);
            }
            let sum = u128::from(t_l) + u128::from(carry);
            t[L - 1] = sum as u64;
            t_l = t_l1 + (sum >> 64) as u64;
        }
        self.reduce_once(&t, t_l)
    }

    /// 2a mod n.
    fn double(&self, a: &[u64; L]) -> [u64; L] {
        let mut t = [0u64; L];
        let mut carry = 0u64;
        for (t_j, &a_j) in t.iter_mut().zip(a) {
            *t_j = (a_j << 1) | carry;
            carry = a_j >> 63;
        }
        self.reduce_once(&t, carry)
    }

    /// The number `high * 2^(64L) + t` (below 2n) reduced below n, without a
    /// branch on its value.
    fn reduce_once(&self, t: &[u64; L], high: u64) -> [u64; L] {
        let (mut reduced, borrow) = subtract(t, self.n);
        // Keep t when it is below n: no high word and the subtraction borrowed.
        let keep_t = ((high ^ 1) & borrow).wrapping_neg();
        select(&mut reduced, t, keep_t);
        reduced
    }
}

/// `a * b + c + d`, which never overflows 128 bits: (low, high) words.
fn multiply_add(a: u64, b: u64, c: u64, d: u64) -> (u64, u64) {
    let wide = u128::from(a) * u128::from(b) + u128::from(c) + u128::from(d);
    (wide as u64, (wide >> 64) as u64)
}

/// `a - b` modulo 2^(64L), and 1 when it borrowed.
fn subtract<const L: usize>(a: &[u64; L], b: &[u64; L]) -> ([u64; L], u64) {
    let mut difference = [0u64; L];
    let mut borrow = 0u64;
    for ((d, &a_j), &b_j) in difference.iter_mut().zip(a).zip(b) {
        let (first, borrowed_first) = a_j.overflowing_sub(b_j);
        let (second, borrowed_second) = first.overflowing_sub(borrow);
        *d = second;
        borrow = u64::from(borrowed_first | borrowed_second);
    }
    (difference, borrow)
}

/// Sets `x` to `y` where `mask` is all ones; leaves it where `mask` is zero.
fn select<const L: usize>(x: &mut [u64; L], y: &[u64; L], mask: u64) {
    for (x_j, &y_j) in x.iter_mut().zip(y) {
        *x_j = (y_j & mask) | (*x_j & !mask);
    }
}

fn trailing_zeros(words: &[u64]) -> usize {
    let mut zeros = 0;
    for &word in words {
        if word != 0 {
            return zeros + word.trailing_zeros() as usize;
        }
        zeros += 64;
    }
    zeros
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use crypto_bigint::BoxedUint;
    use crypto_primes::hazmat::{MillerRabin, SetBits, random_odd_integer};
    use crypto_primes::{Flavor, is_prime};

    use super::*;

    fn to_words<const L: usize>(x: &BoxedUint) -> [u64; L] {
        let bytes = x.to_be_bytes();
        let mut words = [0u64; L];
        for (word, chunk) in words.iter_mut().zip(bytes.rchunks(8)) {
            let mut be = [0u8; 8];
            be[8 - chunk.len()..].copy_from_slice(chunk);
            *word = u64::from_be_bytes(be);
        }
        words
    }

    fn from_words<const L: usize>(words: &[u64; L]) -> BoxedUint {
        let bytes: Vec<u8> = words.iter().rev().flat_map(|w| w.to_be_bytes()).collect();
        BoxedUint::from_be_slice(&bytes, u32::try_from(64 * L).unwrap()).unwrap()
    }

    /// The round agrees with crypto-primes' Miller-Rabin round to base 2 on
    /// `count` random odd numbers (nearly all composite), and passes primes.
    /// (Fewer of the wider ones: the tests run unoptimised.)
    fn agrees_with_crypto_primes<const L: usize>(count: usize) {
        let bits = NonZeroU32::new(u32::try_from(64 * L).unwrap()).unwrap();
        let mut rng = rand::rng();
        let mut passed = 0;
        for _ in 0..count {
            let odd = random_odd_integer::<BoxedUint, _>(&mut rng, bits, SetBits::TwoMsb).unwrap();
            let ours = is_strong_probable_prime_base_two(&to_words::<L>(&odd));
            let theirs = MillerRabin::new(odd).test_base_two().is_probably_prime();
            assert_eq!(ours, theirs);
            passed += usize::from(ours);
        }
        assert!(
            passed <= count / 10,
            "{passed} of {count} random odd numbers passed"
        );
        for _ in 0..3 {
            let prime: BoxedUint = crypto_primes::random_prime(&mut rng, Flavor::Any, bits.get());
            assert!(is_strong_probable_prime_base_two(&to_words::<L>(&prime)));
        }
    }

    #[test]
    fn agrees_with_crypto_primes_at_every_rsa_width() {
        agrees_with_crypto_primes::<8>(200);
        agrees_with_crypto_primes::<16>(100);
        agrees_with_crypto_primes::<24>(20);
        agrees_with_crypto_primes::<32>(20);
    }

    /// n = 1 mod 2^64: the trailing zeros of n - 1 run past the first word.
    #[test]
    fn trailing_zeros_past_the_first_word() {
        let mut rng = rand::rng();
        let start = random_odd_integer::<BoxedUint, _>(
            &mut rng,
            NonZeroU32::new(512).unwrap(),
            SetBits::TwoMsb,
        )
        .unwrap()
        .get();
        let mut n = to_words::<8>(&start);
        n[0] = 1;
        n[1] = 0;
        let mut primes = 0;
        // Step by 2^128 until two primes were met (about 180 steps apart).
        for _ in 0..5000 {
            let verdict = is_prime(Flavor::Any, &from_words(&n));
            assert_eq!(is_strong_probable_prime_base_two(&n), verdict);
            primes += usize::from(verdict);
            if primes == 2 {
                return;
            }
            n[2] = n[2].wrapping_add(1);
        }
        panic!("no two primes = 1 mod 2^128 in 5000 steps");
    }
}
