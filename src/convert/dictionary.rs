//! Categorical dictionaries: the codes of a categorical column's distinct strings, and the
//! append-only file that lists them (one JSON string per line, in code order).
//!
//! Each parsed block codes its values in order of first appearance within the block; the
//! dictionary turns those block-local codes into the column's codes, in order of first
//! appearance in the input.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::appender::Appender;
use super::columns::{CatMap, MISSING_CODE};
use super::value::NaTokens;

/// A categorical column's dictionary and its file.
pub(crate) struct Dictionary {
    /// Category bytes to code.
    map: CatMap<Box<[u8]>, u32>,
    /// Bytes of all categories together.
    text: u64,
    file: Appender,
}

impl Dictionary {
    /// An empty dictionary with a new file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Dictionary> {
        Ok(Dictionary { map: CatMap::default(), text: 0, file: Appender::create(path)? })
    }

    /// A dictionary that starts with `seed` (codes `0..seed.len()`), with a new file at
    /// `path` that lists them.
    pub(crate) fn create_seeded(path: PathBuf, seed: &[String]) -> Result<Dictionary> {
        let mut d = Dictionary::create(path)?;
        for s in seed {
            let c = u32::try_from(d.map.len())
                .map_err(|_| Error::invalid(d.file.path(), "more than 2^32 categories"))?;
            if d.map.insert(s.as_bytes().into(), c).is_some() {
                return Err(Error::invalid(
                    d.file.path(),
                    format!("category {s:?} is listed twice in the dictionary"),
                ));
            }
            d.text += s.len() as u64;
            d.append_line(s)?;
        }
        Ok(d)
    }

    /// Reopens the file at `path`, keeping its first `categories` entries (`bytes` long).
    pub(crate) fn reopen(path: PathBuf, categories: u64, bytes: u64) -> Result<Dictionary> {
        let map: CatMap<Box<[u8]>, u32> = read_categories(&path, categories)?
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c.into_bytes().into_boxed_slice(), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let text = map.keys().map(|k| k.len() as u64).sum();
        Ok(Dictionary { map, text, file: Appender::reopen(path, bytes)? })
    }

    /// Categories so far.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes of all categories together.
    pub(crate) fn text_bytes(&self) -> u64 {
        self.text
    }

    /// The categories in code order.
    pub(crate) fn by_code(&self) -> Vec<&[u8]> {
        let mut out: Vec<&[u8]> = vec![&[]; self.map.len()];
        for (k, &c) in &self.map {
            out[c as usize] = k;
        }
        out
    }

    pub(crate) fn file(&mut self) -> &mut Appender {
        &mut self.file
    }

    /// Sets `codes[i]` to the column's code for the block's `keys[i]`, adding the keys not seen
    /// before (in order) to the dictionary and its file; a key that means a missing value (`na`)
    /// gets [`MISSING_CODE`] and is not a category. `column` and `input` name the column in
    /// errors.
    pub(crate) fn translate(
        &mut self,
        keys: &[Box<[u8]>],
        na: &NaTokens,
        codes: &mut Vec<u32>,
        column: &str,
        input: &Path,
    ) -> Result<()> {
        codes.clear();
        codes.reserve(keys.len());
        for k in keys {
            if na.is_missing_text(k) {
                codes.push(MISSING_CODE);
                continue;
            }
            let next = self.map.len();
            let code = if let Some(&c) = self.map.get(k) {
                c
            } else {
                let c = u32::try_from(next).map_err(|_| {
                    Error::invalid(input, format!("column {column:?}: more than 2^32 categories"))
                })?;
                self.map.insert(k.clone(), c);
                self.text += k.len() as u64;
                // The bytes were checked to be UTF-8 when parsed.
                self.append_line(&String::from_utf8_lossy(k))?;
                c
            };
            codes.push(code);
        }
        Ok(())
    }
}

impl Dictionary {
    /// Appends category `s` to the file, as a JSON string on a line of its own.
    fn append_line(&mut self, s: &str) -> Result<()> {
        let mut line = serde_json::to_vec(s)
            .map_err(|e| Error::internal(format!("a category as a JSON string: {e}")))?;
        line.push(b'\n');
        self.file.append(&line)
    }
}

/// The first `n` categories of a dictionary file.
pub(crate) fn read_categories(path: &Path, n: u64) -> Result<Vec<String>> {
    let text = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in
        text.split(|&b| b == b'\n').take(usize::try_from(n).unwrap_or(usize::MAX)).enumerate()
    {
        out.push(
            serde_json::from_slice(line).map_err(|e| {
                Error::format(path, 0, format!("line {}: bad category: {e}", i + 1))
            })?,
        );
    }
    if out.len() as u64 != n {
        return Err(Error::format(
            path,
            0,
            format!("holds {} categories, expected {n}", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_first_appearance_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.categories");
        let input = Path::new("in.csv");
        let keys =
            |v: &[&str]| -> Vec<Box<[u8]>> { v.iter().map(|s| s.as_bytes().into()).collect() };
        let mut codes = Vec::new();
        let mut d = Dictionary::create(path.clone()).unwrap();
        d.translate(&keys(&["b", "a", "b"]), &NaTokens::new(["NA"]), &mut codes, "c", input)
            .unwrap();
        assert_eq!(codes, [0, 1, 0]);
        d.file().sync().unwrap();
        let bytes = d.file().len();
        d.translate(&keys(&["zz"]), &NaTokens::new(["NA"]), &mut codes, "c", input).unwrap();
        drop(d); // "zz" was never synced: as after a crash
        let mut d = Dictionary::reopen(path.clone(), 2, bytes).unwrap();
        d.translate(&keys(&["a", "\"q\""]), &NaTokens::new(["NA"]), &mut codes, "c", input)
            .unwrap();
        assert_eq!(codes, [1, 2]);
        d.file().sync().unwrap();
        assert_eq!(read_categories(&path, 3).unwrap(), ["b", "a", "\"q\""]);
        assert!(matches!(read_categories(&path, 4), Err(Error::Format { .. })));
    }

    /// Distinct bucket indexes (low `bits` bits) and control tags (top 7 bits) of `keys` in a
    /// [`CatMap`]: what hashbrown spreads entries by.
    fn spread(keys: &[String], bits: u32) -> (usize, usize) {
        use std::hash::BuildHasher;
        let state = CatMap::<Box<[u8]>, u32>::default().hasher().clone();
        let hashes: Vec<u64> = keys.iter().map(|k| state.hash_one(k.as_bytes())).collect();
        let low: std::collections::HashSet<u64> =
            hashes.iter().map(|h| h & ((1 << bits) - 1)).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        (low.len(), tags.len())
    }

    #[test]
    fn id_like_keys_spread_over_buckets() {
        // 100k keys into 2^17 buckets: a random hash fills about 70k of them. The old FxHash
        // put all 8-byte `S0000000`..`S0099999` into one (their low 18 bits were equal).
        let n = 100_000;
        for (what, keys) in [
            ("8-byte S0000123", (0..n).map(|i| format!("S{i:07}")).collect::<Vec<_>>()),
            ("16-byte order ids", (0..n).map(|i| format!("order-{i:010}")).collect()),
            ("12-byte, prefix varies", (0..n).map(|i| format!("{i:07}-tail")).collect()),
            ("u<N>", (0..n).map(|i| format!("u{}", i * 7919)).collect()),
        ] {
            let (low, tags) = spread(&keys, 17);
            assert!(low > 60_000, "{what}: {low} distinct buckets of 2^17");
            assert_eq!(tags, 128, "{what}: control tags");
        }
    }
}
