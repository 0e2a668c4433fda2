//! The scan for the bytes a JSON string must escape (`"`, `\` and control
//! characters), which every string Ferrodyn writes or reads without a
//! parser goes through: sixteen bytes at a time with SSE2 on x86-64, eight
//! at a time in a `u64` elsewhere.
//!
//! `unsafe` is allowed in this module only to call [`sse2::masks`], a
//! function compiled with the `sse2` target feature. Every x86-64 CPU has
//! SSE2 (it is part of the architecture's baseline), so the call is always
//! sound; Rust still asks for `unsafe` at calls into a `#[target_feature]`
//! function.

#![allow(unsafe_code)]

/// The leading bytes of a text that need no escaping.
pub(crate) struct PlainRun {
    pub(crate) len: usize,
    /// Whether those bytes are all ASCII.
    pub(crate) ascii: bool,
}

/// The leading run of `text` that needs no escaping. The last few bytes
/// are scanned padded with spaces, so text is never looked at a byte at a
/// time.
pub(crate) fn plain_run(text: &[u8]) -> PlainRun {
    #[cfg(target_arch = "x86_64")]
    return sse2::plain_run(text);
    #[cfg(not(target_arch = "x86_64"))]
    return words::plain_run(text);
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::PlainRun;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };

    pub(super) fn plain_run(text: &[u8]) -> PlainRun {
        let mut high = 0u32;
        let mut chunks = text.chunks_exact(16);
        let mut at = 0;
        for chunk in &mut chunks {
            let block: &[u8; 16] = chunk.try_into().unwrap_or(&[0; 16]);
            // SAFETY: SSE2 is part of every x86-64 CPU (see the module doc).
            let (escapes, upper) = unsafe { masks(block) };
            if let Some(run) = run_ending_in(escapes, upper, at, high) {
                return run;
            }
            high |= upper;
            at += 16;
        }
        let rest = chunks.remainder();
        let mut last = [b' '; 16];
        last[..rest.len()].copy_from_slice(rest);
        // SAFETY: as above.
        let (escapes, upper) = unsafe { masks(&last) };
        run_ending_in(escapes, upper, at, high).unwrap_or(PlainRun {
            len: text.len(),
            ascii: high | upper == 0,
        })
    }

    /// The run, if it ends in the block at `at` whose escape and high-bit
    /// masks are `escapes` and `upper` (`high`: the blocks before it,
    /// or-ed): at the block's first byte that needs escaping.
    fn run_ending_in(escapes: u32, upper: u32, at: usize, high: u32) -> Option<PlainRun> {
        if escapes == 0 {
            return None;
        }
        let plain = escapes.trailing_zeros();
        Some(PlainRun {
            len: at + plain as usize,
            ascii: (high | (upper & ((1 << plain) - 1))) == 0,
        })
    }

    /// Bit `i` of the first mask: whether `block[i]` needs escaping; of
    /// the second: whether it is over 0x7F.
    #[target_feature(enable = "sse2")]
    fn masks(block: &[u8; 16]) -> (u32, u32) {
        let (low, high) = block.split_at(8);
        let half = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        // One unaligned 16-byte load once compiled.
        let x = _mm_set_epi64x(half(high), half(low));
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `x <= 0x1F`: the larger of the two is 0x1F.
        let control = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
        let escapes = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        // `movemask` gives 16 bits: the casts keep them.
        (
            _mm_movemask_epi8(escapes) as u32,
            _mm_movemask_epi8(x) as u32,
        )
    }
}

/// The scan eight bytes at a time, in a `u64` (where SSE2 is not there).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod words {
    use super::PlainRun;

    /// The high bit of each byte of a word.
    const HIGH: u64 = 0x8080_8080_8080_8080;

    pub(super) fn plain_run(text: &[u8]) -> PlainRun {
        let mut seen = 0u64;
        let mut words = text.chunks_exact(8);
        let mut at = 0;
        for word in &mut words {
            let w = word
                .try_into()
                .map_or(u64::MAX, |bytes: [u8; 8]| u64::from_le_bytes(bytes));
            if let Some(run) = run_ending_in(w, at, seen) {
                return run;
            }
            seen |= w;
            at += 8;
        }
        let rest = words.remainder();
        let mut last = [b' '; 8];
        last[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(last);
        run_ending_in(w, at, seen).unwrap_or(PlainRun {
            len: text.len(),
            ascii: (seen | w) & HIGH == 0,
        })
    }

    /// The run, if it ends in the word `w` at `at` (`seen`: the words
    /// before it, or-ed): at its first byte that needs escaping.
    fn run_ending_in(w: u64, at: usize, seen: u64) -> Option<PlainRun> {
        let escapes = escape_bytes(w);
        if escapes == 0 {
            return None;
        }
        // The lowest flag is exact (see `escape_bytes`): the bytes below it
        // are the run's last ones.
        let plain = escapes.trailing_zeros() / 8;
        let before = w & ((1u64 << (8 * plain)) - 1);
        Some(PlainRun {
            len: at + plain as usize,
            ascii: (seen | before) & HIGH == 0,
        })
    }

    /// The high bit of each byte of `w` that is below 0x20, `"` or `\\`. A
    /// byte above a flagged one may be flagged too (a borrow carries into
    /// it), but the lowest flag is always a byte that needs escaping.
    fn escape_bytes(w: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        below_space | zero_in(w ^ (ONES * u64::from(b'"'))) | zero_in(w ^ (ONES * u64::from(b'\\')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The run, a byte at a time.
    fn naive(text: &[u8]) -> (usize, bool) {
        let len = text
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            .unwrap_or(text.len());
        (len, text[..len].is_ascii())
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                8 => 0x20u8..0x7F,
                1 => 0x80u8..=0xFF,
                1 => any::<u8>(),
            ],
            0..70,
        )
    }

    proptest! {
        #[test]
        fn the_scan_stops_where_a_byte_at_a_time_would(text in bytes()) {
            let run = plain_run(&text);
            prop_assert_eq!((run.len, run.ascii), naive(&text));
        }

        #[test]
        fn the_word_scan_stops_where_a_byte_at_a_time_would(text in bytes()) {
            let run = words::plain_run(&text);
            prop_assert_eq!((run.len, run.ascii), naive(&text));
        }
    }

    #[test]
    fn every_byte_value_at_every_place_of_a_block() {
        for len in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    let expected = naive(&text);
                    let run = plain_run(&text);
                    assert_eq!((run.len, run.ascii), expected, "{b:#x} at {at} of {len}");
                    let run = words::plain_run(&text);
                    assert_eq!(
                        (run.len, run.ascii),
                        expected,
                        "words: {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }
}
