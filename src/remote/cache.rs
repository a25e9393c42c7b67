//! An in-memory cache of what a connection read (whole chunk objects, shard indexes, inner
//! chunks), bounded by a byte budget and emptied least recently used first.
//!
//! Off unless asked for ([`S3Options::cache`](super::S3Options::cache)). A write or delete
//! through the same connection drops what the cache holds of that object; another writer's
//! changes are not seen while an entry is held, as with any client-side cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use zarrs::storage::byte_range::ByteRange;

/// The part of an object an entry holds, as it was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Span {
    /// `length` bytes from `offset` (`None`: to the end).
    From(u64, Option<u64>),
    /// The last `n` bytes.
    Suffix(u64),
}

impl Span {
    pub(crate) fn of(range: ByteRange) -> Span {
        match range {
            ByteRange::FromStart(at, n) => Span::From(at, n),
            ByteRange::Suffix(n) => Span::Suffix(n),
        }
    }
}

/// What is held: entries by object and span, their ages, and the bytes they take.
#[derive(Default)]
struct Held {
    entries: HashMap<(String, Span), (Bytes, u64)>,
    /// Entries by the tick of their last use, oldest first.
    ages: BTreeMap<u64, (String, Span)>,
    bytes: u64,
    tick: u64,
}

/// A byte-budgeted LRU cache of object bytes, shared by the threads of one connection.
pub(crate) struct ChunkCache {
    budget: u64,
    held: Mutex<Held>,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("budget", &self.budget)
            .field("bytes", &self.bytes())
            .finish_non_exhaustive()
    }
}

impl ChunkCache {
    /// A cache that never holds more than `budget` bytes of data.
    pub(crate) fn new(budget: u64) -> ChunkCache {
        ChunkCache { budget, held: Mutex::new(Held::default()) }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes of data held now (never more than the budget).
    pub(crate) fn bytes(&self) -> u64 {
        self.held().bytes
    }

    /// The bytes of `span` of `key`, if held; it becomes the most recently used.
    pub(crate) fn get(&self, key: &str, span: Span) -> Option<Bytes> {
        let mut h = self.held();
        h.tick += 1;
        let tick = h.tick;
        let id = (key.to_string(), span);
        let (bytes, old) =
            h.entries.get_mut(&id).map(|(b, t)| (b.clone(), std::mem::replace(t, tick)))?;
        h.ages.remove(&old);
        h.ages.insert(tick, id);
        Some(bytes)
    }

    /// The bytes of `span` of `key`, if held, no longer held.
    pub(crate) fn take(&self, key: &str, span: Span) -> Option<Bytes> {
        let mut h = self.held();
        let (bytes, tick) = h.entries.remove(&(key.to_string(), span))?;
        h.ages.remove(&tick);
        h.bytes -= bytes.len() as u64;
        Some(bytes)
    }

    /// Holds `bytes` as `span` of `key`, dropping the least recently used entries to stay
    /// within the budget; bytes larger than the whole budget are not held.
    pub(crate) fn put(&self, key: &str, span: Span, bytes: Bytes) {
        let size = bytes.len() as u64;
        if size > self.budget {
            return;
        }
        let mut h = self.held();
        let id = (key.to_string(), span);
        if let Some((old, t)) = h.entries.remove(&id) {
            h.ages.remove(&t);
            h.bytes -= old.len() as u64;
        }
        while h.bytes + size > self.budget {
            let Some((_, oldest)) = h.ages.pop_first() else { break };
            if let Some((b, _)) = h.entries.remove(&oldest) {
                h.bytes -= b.len() as u64;
            }
        }
        h.tick += 1;
        let tick = h.tick;
        h.ages.insert(tick, id.clone());
        h.entries.insert(id, (bytes, tick));
        h.bytes += size;
    }

    /// Drops every entry of `key` (it was written or deleted).
    pub(crate) fn forget(&self, key: &str) {
        self.forget_where(|k| k == key);
    }

    /// Drops every entry of a key below `prefix`.
    pub(crate) fn forget_prefix(&self, prefix: &str) {
        self.forget_where(|k| k.starts_with(prefix));
    }

    fn forget_where(&self, gone: impl Fn(&str) -> bool) {
        let mut h = self.held();
        let ids: Vec<(String, Span)> = h.entries.keys().filter(|(k, _)| gone(k)).cloned().collect();
        for id in ids {
            if let Some((b, t)) = h.entries.remove(&id) {
                h.ages.remove(&t);
                h.bytes -= b.len() as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(n: usize, v: u8) -> Bytes {
        Bytes::from(vec![v; n])
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let c = ChunkCache::new(300);
        c.put("a", Span::From(0, None), bytes(100, 1));
        c.put("b", Span::From(0, None), bytes(100, 2));
        c.put("c", Span::Suffix(16), bytes(100, 3));
        assert!(c.get("a", Span::From(0, None)).is_some());
        c.put("d", Span::From(0, Some(100)), bytes(100, 4));
        // `b` was the oldest once `a` was used again.
        assert!(c.get("b", Span::From(0, None)).is_none());
        assert_eq!(c.get("a", Span::From(0, None)).unwrap()[0], 1);
        assert_eq!(c.get("c", Span::Suffix(16)).unwrap()[0], 3);
        assert!(c.get("c", Span::Suffix(8)).is_none(), "another span of c is not held");
        assert_eq!(c.bytes(), 300);
        c.put("big", Span::From(0, None), bytes(301, 5));
        assert!(c.get("big", Span::From(0, None)).is_none(), "larger than the budget");
        assert_eq!(c.bytes(), 300);
        c.forget("a");
        c.forget_prefix("c");
        assert_eq!(c.take("d", Span::From(0, Some(100))).unwrap()[0], 4);
        assert!(c.take("d", Span::From(0, Some(100))).is_none(), "taken once");
        c.put("d", Span::From(0, Some(100)), bytes(100, 4));
        assert_eq!(c.bytes(), 100);
        assert!(c.get("d", Span::From(0, Some(100))).is_some());
    }

    proptest! {
        #[test]
        fn the_cache_never_holds_more_than_its_budget(
            budget in 0u64..5000,
            ops in prop::collection::vec((0u8..4, 0usize..12, 0usize..3000), 1..200),
        ) {
            let c = ChunkCache::new(budget);
            for (op, key, n) in ops {
                let key = format!("c/{key}");
                match op {
                    0 | 1 => c.put(&key, Span::From(0, None), bytes(n, 0)),
                    2 => { let _ = c.get(&key, Span::From(0, None)); }
                    3 if n % 2 == 0 => { let _ = c.take(&key, Span::From(0, None)); }
                    _ => c.forget(&key),
                }
                let h = c.held();
                let sum: u64 = h.entries.values().map(|(b, _)| b.len() as u64).sum();
                prop_assert!(h.bytes <= budget);
                prop_assert_eq!(h.bytes, sum);
                prop_assert_eq!(h.ages.len(), h.entries.len());
            }
        }
    }
}
