//! The zarrs array behind a [`ZarrArray`](super::ZarrArray), renewed now and then.
//!
//! zarrs' `FilesystemStore` keeps a lock for every chunk key it has ever read and never drops
//! one, so a reduction over an array of ten million chunks would hold ten million locks (about
//! 120 bytes each) by its end: memory growing with the number of chunks, not with what is in
//! flight. The locks only order writers within this process, so a read-only array replaces its
//! store with a fresh one (same metadata) every [`RENEW_EVERY`] chunk reads, which bounds the
//! table; the old store goes away with the last read still using it. A writable array's store
//! is renewed only when its owner says no write is in flight ([`Handle::renew_now`]): `larder
//! copy` does so between its batches of chunks, so writing ten million chunks does not keep ten
//! million locks either.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;

use super::store_at;

/// Chunk reads between two renewals of a read-only array's store.
const RENEW_EVERY: usize = 1 << 14;

/// The zarrs array, shared by the threads that read it.
pub(super) struct Handle {
    array: RwLock<Arc<Array<FilesystemStore>>>,
    root: PathBuf,
    /// Renew the store (read-only arrays only: a writer keeps its locks).
    renew: bool,
    reads: AtomicUsize,
}

impl Handle {
    pub(super) fn new(array: Array<FilesystemStore>, root: PathBuf, writable: bool) -> Handle {
        Handle {
            array: RwLock::new(Arc::new(array)),
            root,
            renew: !writable,
            reads: AtomicUsize::new(0),
        }
    }

    /// The array, without counting a read.
    pub(super) fn get(&self) -> Arc<Array<FilesystemStore>> {
        self.array.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The array for one chunk read; every [`RENEW_EVERY`] reads, first a fresh store.
    pub(super) fn for_read(&self) -> Arc<Array<FilesystemStore>> {
        let n = self.reads.fetch_add(1, Ordering::Relaxed) + 1;
        if self.renew && n.is_multiple_of(RENEW_EVERY) {
            self.renew_now();
        }
        self.get()
    }

    /// A fresh store now (same metadata), dropping every per-key lock. For a writable array,
    /// only when no write through it is in flight: the locks order those writes.
    pub(super) fn renew_now(&self) {
        let current = self.get();
        let fresh = store_at(&self.root).ok().and_then(|store| {
            Array::new_with_metadata(store, current.path().as_str(), current.metadata().clone())
                .ok()
        });
        if let Some(fresh) = fresh {
            *self.array.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ArrayRead;
    use crate::zarr::{ZarrArray, ZarrOptions};

    /// Limit: memory of a walk independent of the number of chunks (zarrs' per-key locks are
    /// dropped with the store every `RENEW_EVERY` reads).
    #[test]
    fn read_only_store_is_renewed_so_per_chunk_locks_do_not_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.zarr");
        let mut opts = ZarrOptions::new();
        opts.chunks(&[1]);
        drop(ZarrArray::<f64>::create(&p, None, &[4], &opts).unwrap());
        let z = ZarrArray::<f64>::open(&p).unwrap();
        let first = z.array.get();
        for _ in 0..RENEW_EVERY {
            drop(z.array.for_read());
        }
        assert!(!Arc::ptr_eq(&first, &z.array.get()), "the store was not renewed");
        let all = z.read(&crate::select::Selection::all()).unwrap();
        assert_eq!(all.as_slice().unwrap(), &[0.0; 4]);
        // A writable array keeps its store and its locks while it reads, and lets them go
        // when its owner releases it (between writes).
        let w = ZarrArray::<f64>::open_mut(&p, None).unwrap();
        let first = w.array.get();
        for _ in 0..RENEW_EVERY {
            drop(w.array.for_read());
        }
        assert!(Arc::ptr_eq(&first, &w.array.get()));
        w.store_block(&[1], &ndarray::arr1(&[2.5]).into_dyn().view()).unwrap();
        w.release().unwrap();
        assert!(!Arc::ptr_eq(&first, &w.array.get()), "release did not renew the store");
        w.store_block(&[2], &ndarray::arr1(&[3.5]).into_dyn().view()).unwrap();
        let all = w.read(&crate::select::Selection::all()).unwrap();
        assert_eq!(all.as_slice().unwrap(), &[0.0, 2.5, 3.5, 0.0]);
    }
}
