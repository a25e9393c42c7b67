//! Which pages the copy-on-write experiment modifies, and with what: pure functions shared by
//! `larder bench cow` and the criterion bench `benches/cow.rs`, and mirrored exactly by
//! `benches/peers/cow_numpy.py`.

use std::fmt;
use std::str::FromStr;

use larder::{Error, Result};
use serde::Serialize;

/// Which pages a run modifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Pattern {
    /// Evenly spaced over the array: page `i * pages / n` for `i` in `0..n`.
    Strided,
    /// `n` distinct pages drawn with a fixed seed (Floyd's algorithm over splitmix64).
    Random,
    /// One block of `n` consecutive pages in the middle of the array.
    Contiguous,
}

impl Pattern {
    /// `strided`, `random` or `contiguous`.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Pattern::Strided => "strided",
            Pattern::Random => "random",
            Pattern::Contiguous => "contiguous",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Pattern> {
        match s {
            "strided" => Ok(Pattern::Strided),
            "random" => Ok(Pattern::Random),
            "contiguous" => Ok(Pattern::Contiguous),
            _ => Err(Error::argument(format!(
                "unknown pattern {s:?}: expected strided, random or contiguous"
            ))),
        }
    }
}

/// The pages a run with `pattern` modifies: `ceil(fraction * pages)` of `0..pages`, sorted.
/// `benches/peers/cow_numpy.py` computes the same list.
#[allow(clippy::cast_precision_loss)] // page counts are far below 2^52
pub(crate) fn select_pages(pages: usize, fraction: f64, pattern: Pattern, seed: u64) -> Vec<usize> {
    let want = (fraction.clamp(0.0, 1.0) * pages as f64).ceil();
    let n = if want >= pages as f64 {
        pages
    } else {
        // In range: 0 ≤ want < pages.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = want as usize;
        n
    };
    match pattern {
        Pattern::Strided => {
            (0..n).map(|i| (i as u128 * pages as u128 / n as u128) as usize).collect()
        }
        Pattern::Contiguous => {
            let start = (pages - n) / 2;
            (start..start + n).collect()
        }
        Pattern::Random => {
            let mut state = seed;
            let mut chosen = vec![false; pages];
            for j in pages - n..pages {
                let t = usize::try_from(splitmix64(&mut state) % (j as u64 + 1)).unwrap_or(0);
                if chosen[t] {
                    chosen[j] = true;
                } else {
                    chosen[t] = true;
                }
            }
            chosen.iter().enumerate().filter(|&(_, &c)| c).map(|(i, _)| i).collect()
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first element whose bytes start in `page`, for a `<f8` array whose data starts at
/// byte `offset` of the file (elements never straddle pages: `offset` is a multiple of 64).
pub(crate) fn element_in_page(page: usize, offset: usize, page_size: usize) -> usize {
    (page * page_size).saturating_sub(offset).div_ceil(8)
}

/// The value a run writes into `page`: never an integer, so it always differs from the base
/// (whose element `i` holds `i`).
#[allow(clippy::cast_precision_loss)] // page numbers are far below 2^52
pub(crate) fn value_for_page(page: usize) -> f64 {
    page as f64 + 0.5
}
