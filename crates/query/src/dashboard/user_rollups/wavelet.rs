//! A wavelet matrix (Claude, Navarro and Ordóñez, 2015) over unsigned numbers: how many of the
//! numbers at a range of positions are below a bound, in two ranks per bit of the largest number,
//! whatever the range's length. About 1.5 bits per number and bit.

use std::ops::Range;

/// Bits with the number of ones before each 64-bit word.
#[derive(Debug)]
struct RankedBits {
    words: Vec<u64>,
    /// Per word, the ones in the words before it; one more at the end.
    ones_before: Vec<u32>,
}

impl RankedBits {
    fn of(words: Vec<u64>) -> Self {
        let mut ones_before = Vec::with_capacity(words.len() + 1);
        let mut ones = 0u32;
        for word in &words {
            ones_before.push(ones);
            ones += word.count_ones();
        }
        ones_before.push(ones);
        Self { words, ones_before }
    }

    /// The ones before position `at`.
    fn ones(&self, at: usize) -> usize {
        let (word, bit) = (at / 64, at % 64);
        let before = self.ones_before[word] as usize;
        match bit {
            0 => before,
            _ => before + (self.words[word] & ((1u64 << bit) - 1)).count_ones() as usize,
        }
    }
}

/// Per bit of the numbers, from the highest: that bit of each number, with the numbers ordered
/// by their higher bits (zeros first, stably), and how many zeros the level holds.
#[derive(Debug)]
pub(super) struct WaveletMatrix {
    levels: Vec<(RankedBits, usize)>,
}

impl WaveletMatrix {
    /// At most `u32::MAX` numbers.
    pub fn new(mut numbers: Vec<u32>) -> Self {
        assert!(u32::try_from(numbers.len()).is_ok(), "at most 2^32 numbers");
        let largest = numbers.iter().max().copied().unwrap_or(0);
        let bits = u32::BITS - largest.leading_zeros();
        let mut levels = Vec::with_capacity(bits as usize);
        let mut ones = Vec::new();
        for bit in (0..bits).rev() {
            let mut words = vec![0u64; numbers.len().div_ceil(64)];
            ones.clear();
            let mut zeros = 0;
            for at in 0..numbers.len() {
                let number = numbers[at];
                if number >> bit & 1 == 1 {
                    words[at / 64] |= 1 << (at % 64);
                    ones.push(number);
                } else {
                    numbers[zeros] = number;
                    zeros += 1;
                }
            }
            numbers.truncate(zeros);
            numbers.extend_from_slice(&ones);
            levels.push((RankedBits::of(words), zeros));
        }
        Self { levels }
    }

    /// How many of the numbers at `positions` are below `bound`.
    pub fn count_below(&self, positions: Range<usize>, bound: u32) -> usize {
        let (mut start, mut end) = (positions.start, positions.end);
        if u64::from(bound) >= 1u64 << self.levels.len() {
            return end - start;
        }
        let mut below = 0;
        for (level, (bits, zeros)) in self.levels.iter().enumerate() {
            let bit = self.levels.len() - 1 - level;
            let (start_ones, end_ones) = (bits.ones(start), bits.ones(end));
            if bound >> bit & 1 == 1 {
                // Those with a zero here are below the bound; follow those with a one.
                below += (end - end_ones) - (start - start_ones);
                (start, end) = (zeros + start_ones, zeros + end_ones);
            } else {
                (start, end) = (start - start_ones, end - end_ones);
            }
        }
        below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range of positions and bound of small sequences, and random ones of long ones,
    /// against a count.
    #[test]
    fn counts_the_numbers_below_a_bound_in_any_range() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let check = |numbers: &[u32], matrix: &WaveletMatrix, range: Range<usize>, bound: u32| {
            let expected = numbers[range.clone()]
                .iter()
                .filter(|n| **n < bound)
                .count();
            assert_eq!(
                matrix.count_below(range.clone(), bound),
                expected,
                "{range:?} {bound}"
            );
        };
        for (len, largest) in [(0, 0), (1, 0), (7, 1), (40, 5), (64, 1000), (65, u32::MAX)] {
            let numbers: Vec<u32> = (0..len)
                .map(|_| next(u64::from(largest) + 1) as u32)
                .collect();
            let matrix = WaveletMatrix::new(numbers.clone());
            let mut bounds: Vec<u32> = numbers
                .iter()
                .flat_map(|n| [*n, n.saturating_add(1)])
                .collect();
            bounds.extend([0, 1, u32::MAX]);
            for start in 0..=len {
                for end in start..=len {
                    for bound in &bounds {
                        check(&numbers, &matrix, start..end, *bound);
                    }
                }
            }
        }
        for (len, largest) in [(100_000u64, 40_000u64), (3_000, u64::from(u32::MAX))] {
            let numbers: Vec<u32> = (0..len).map(|_| next(largest + 1) as u32).collect();
            let matrix = WaveletMatrix::new(numbers.clone());
            for _ in 0..2_000 {
                let (a, b) = (next(len + 1) as usize, next(len + 1) as usize);
                let bound = next(largest + 2).min(u64::from(u32::MAX)) as u32;
                check(&numbers, &matrix, a.min(b)..a.max(b), bound);
            }
        }
    }
}
