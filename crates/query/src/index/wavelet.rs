//! A wavelet matrix (Claude, Navarro and Ordóñez, 2015) over unsigned numbers: how many of the
//! numbers at a range of positions are below a bound, in two ranks per bit of the largest number,
//! whatever the range's length. About 1.14 bits per number and bit.

use std::ops::Range;

/// Bits of a [`Block`].
const BLOCK_BITS: usize = 7 * u64::BITS as usize;

/// 448 bits and the ones before them in one cache line, so that a rank reads one line: a series
/// of a year counts ranks by the thousand over matrices larger than the core's cache.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Block {
    ones_before: u64,
    words: [u64; 7],
}

const _: () = assert!(std::mem::size_of::<Block>() == 64);

/// Bits with the number of ones before each block.
#[derive(Debug)]
struct RankedBits {
    /// One more block than the bits need, so that the end is a position too.
    blocks: Vec<Block>,
}

impl RankedBits {
    /// The bits of `words`, 64 a word, first bit lowest.
    fn of(words: &[u64]) -> Self {
        let mut blocks = vec![Block::default(); words.len() * 64 / BLOCK_BITS + 1];
        for (block, words) in blocks.iter_mut().zip(words.chunks(7)) {
            block.words[..words.len()].copy_from_slice(words);
        }
        let mut ones = 0;
        for block in &mut blocks {
            block.ones_before = ones;
            ones += block
                .words
                .iter()
                .map(|w| u64::from(w.count_ones()))
                .sum::<u64>();
        }
        Self { blocks }
    }

    /// The ones before position `at`.
    fn ones(&self, at: usize) -> usize {
        let block = &self.blocks[at / BLOCK_BITS];
        let offset = at % BLOCK_BITS;
        let (whole, bit) = (offset / 64, offset % 64);
        let mut ones = block.ones_before as usize;
        for word in &block.words[..whole] {
            ones += word.count_ones() as usize;
        }
        if bit > 0 {
            ones += (block.words[whole] & ((1u64 << bit) - 1)).count_ones() as usize;
        }
        ones
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
            levels.push((RankedBits::of(&words), zeros));
        }
        Self { levels }
    }

    /// How many of the numbers at each (positions, bound) are below the bound, level by level:
    /// the ranks of one level do not depend on each other, so the core waits for their cache
    /// lines together.
    pub fn count_below_each(&self, queries: &[(Range<usize>, u32)]) -> Vec<usize> {
        let mut below = vec![0; queries.len()];
        let mut open: Vec<(usize, usize, usize, u32)> = Vec::with_capacity(queries.len());
        for (index, (positions, bound)) in queries.iter().enumerate() {
            match u64::from(*bound) >= 1u64 << self.levels.len() {
                true => below[index] = positions.len(),
                false => open.push((index, positions.start, positions.end, *bound)),
            }
        }
        for (level, (bits, zeros)) in self.levels.iter().enumerate() {
            let bit = self.levels.len() - 1 - level;
            for (index, start, end, bound) in &mut open {
                let (start_ones, end_ones) = (bits.ones(*start), bits.ones(*end));
                if *bound >> bit & 1 == 1 {
                    // Those with a zero here are below the bound; follow those with a one.
                    below[*index] += (*end - end_ones) - (*start - start_ones);
                    (*start, *end) = (zeros + start_ones, zeros + end_ones);
                } else {
                    (*start, *end) = (*start - start_ones, *end - end_ones);
                }
            }
        }
        below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl WaveletMatrix {
        fn count_below(&self, positions: Range<usize>, bound: u32) -> usize {
            self.count_below_each(&[(positions, bound)])[0]
        }
    }

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
        // Lengths at and around a block's bits, and long ones; one batch of every query too.
        for (len, largest) in [
            (448u64, 3u64),
            (896, 1000),
            (897, 1),
            (100_000, 40_000),
            (3_000, u64::from(u32::MAX)),
        ] {
            let numbers: Vec<u32> = (0..len).map(|_| next(largest + 1) as u32).collect();
            let matrix = WaveletMatrix::new(numbers.clone());
            let mut queries = Vec::new();
            for _ in 0..2_000 {
                let (a, b) = (next(len + 1) as usize, next(len + 1) as usize);
                let bound = next(largest + 2).min(u64::from(u32::MAX)) as u32;
                check(&numbers, &matrix, a.min(b)..a.max(b), bound);
                queries.push((a.min(b)..a.max(b), bound));
            }
            let one_by_one: Vec<usize> = queries
                .iter()
                .map(|(range, bound)| matrix.count_below(range.clone(), *bound))
                .collect();
            assert_eq!(matrix.count_below_each(&queries), one_by_one);
        }
    }
}
