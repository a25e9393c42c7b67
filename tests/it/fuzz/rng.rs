//! A small seeded generator (splitmix64): the whole run follows from one `u64`, so a seed
//! printed by a run reproduces it.

/// splitmix64 (Steele, Lea and Flood), enough for choosing mutations.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1 / n`.
    pub(crate) fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A number that often sits on a boundary: 0, 1, powers of two and their neighbours,
    /// the largest values of each width.
    pub(crate) fn interesting(&mut self) -> u64 {
        match self.below(6) {
            0 => *self.pick(&[0, 1, 2, 3, 7, 8, 64, 255, 256, 4095, 4096, 65535, 65536]),
            1 => {
                let p = 1u64 << self.below(64);
                match self.below(3) {
                    0 => p,
                    1 => p.wrapping_sub(1),
                    _ => p.wrapping_add(1),
                }
            }
            2 => *self.pick(&[
                u64::from(u32::MAX),
                u64::from(u32::MAX) + 1,
                i64::MAX as u64,
                u64::MAX,
                u64::MAX - 1,
                1 << 53,
                1 << 62,
            ]),
            _ => self.next_u64() % 1024,
        }
    }
}
