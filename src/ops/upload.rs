//! `larder copy` into object storage (feature `s3`): an `.npy` as one multipart upload, a Zarr
//! array as concurrent chunk uploads with the metadata last, and `--resume`.
//!
//! The order of a Zarr upload, which these parts must keep together:
//! 1. a marker object `.larder-upload.json` beside where the metadata will go, holding the
//!    metadata this copy will write and its source's identity (`identity`: path, size,
//!    modification time, content hash), so a resumed copy can tell it continues the same
//!    array from the same source;
//! 2. the chunks (or shards), each one PUT, several in flight;
//! 3. the array's `zarr.json` (and any missing parent group's), then the marker is deleted.
//!
//! A copy that dies anywhere before 3 leaves chunks and the marker but no metadata: no Zarr
//! reader sees an array. A resumed copy lists what is under the prefix and skips every chunk
//! whose object is listed: a PUT is atomic, so a listed object is a whole chunk.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::copy::{CopyOptions, CopyProgress, CopyReport};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::grid::ChunkGrid;
use crate::npy::Header;
use crate::remote::{Bucket, ObjectUrl, S3Options};
use crate::store::{ArrayRead, Chunks, Format};
use crate::zarr::{StorageArray, ZarrOptions, default_chunks};

/// The marker of an upload in progress, beside the metadata it will be replaced by.
pub(crate) const MARKER: &str = ".larder-upload.json";

/// Bytes of source blocks and encoded chunks a Zarr upload keeps in memory at most (what
/// bounds the number of chunks in flight when chunks are large).
const IN_FLIGHT_BYTES: usize = 64 << 20;

/// Source bytes copied between two releases of the source's pages (a mapped `.npy` keeps what
/// it has read resident until then).
const RELEASE_EVERY: usize = 32 << 20;

/// Size of the parts of an `.npy` upload, and the largest `.npy` sent in one request.
const PART: usize = 8 << 20;

/// Copies the array at `src` (local or in object storage) to the object-storage location
/// `dst`: `.npy` or `.zarr` by its extension.
pub(super) fn copy_to_object(
    src: &Path,
    dst: &ObjectUrl,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport> {
    let here = dst.to_string();
    let format = match (dst.inner(), dst.extension().as_deref()) {
        (Some(_), _) | (None, Some("zarr")) => Format::Zarr,
        (None, Some("npy")) => Format::Npy,
        _ => {
            return Err(Error::remote(
                here,
                "cannot tell the destination format; name it .npy or .zarr",
            ));
        }
    };
    let bucket = Bucket::connect(dst, &S3Options::current())?;
    bucket.check()?;
    let store = if options.deltas.is_empty() {
        crate::open::open(src)?
    } else {
        crate::open::open_with_deltas(src, &options.deltas)?
    };
    let elements = crate::store_dispatch!(&store, s => match format {
        Format::Npy => upload_npy(s.as_ref(), &bucket, dst, options, progress),
        _ => upload_zarr(s.as_ref(), src, &bucket, dst, options, progress),
    })?;
    let bytes = match format {
        Format::Npy => bucket.size(dst.key())?.unwrap_or(0),
        _ => bucket.list(dst.key())?.iter().map(|(_, n)| n).sum(),
    };
    Ok(CopyReport { elements, bytes })
}

/// Streams `src` as one `.npy` object: header, then C-order rows, in parts of [`PART`] bytes.
/// The object appears only when the upload completes; a failed one leaves nothing.
fn upload_npy<T: Element>(
    src: &dyn ArrayRead<T>,
    bucket: &Bucket,
    dst: &ObjectUrl,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<u64> {
    if options.chunks.is_some() || options.codec.is_some() || options.shard.is_some() {
        return Err(Error::remote(dst.to_string(), ".npy files are not chunked or compressed"));
    }
    let shape = src.shape().to_vec();
    let elements: u64 = shape.iter().map(|&n| n as u64).product();
    let header = Header::new(src.dtype().to_native(), &shape, false).to_bytes();
    let itemsize = std::mem::size_of::<T>();
    let total = header.len() as u64 + elements * itemsize as u64;
    let mut state = CopyProgress { bytes_total: total, ..CopyProgress::default() };
    let rows = crate::grid::contiguous_chunks(&shape, itemsize, false);
    let blocks = Chunks::new(src, &rows);
    if total <= PART as u64 {
        let mut all = header;
        for block in blocks {
            let block = block?;
            let view = block.data.view();
            all.extend_from_slice(element_bytes(&view).as_ref());
        }
        bucket.put(dst.key(), all.into())?;
        state.bytes_done = total;
        progress(&state);
        return Ok(elements);
    }
    let mut upload = bucket.upload(dst.key(), PART)?;
    upload.write(&header)?;
    state.bytes_done = header.len() as u64;
    let mut since = 0usize;
    for block in blocks {
        let block = block?;
        let view = block.data.view();
        let bytes = element_bytes(&view);
        upload.write(bytes.as_ref())?;
        state.bytes_done += bytes.len() as u64;
        since += bytes.len();
        if since >= RELEASE_EVERY {
            src.release()?;
            since = 0;
        }
        progress(&state);
    }
    upload.finish()?;
    Ok(elements)
}

/// The native-order bytes of a block, in C order.
fn element_bytes<'a, T: Element>(data: &'a ndarray::ArrayViewD<'a, T>) -> Cow<'a, [u8]> {
    if let Some(values) = data.as_slice() {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        let owned: Vec<T> = data.iter().copied().collect();
        Cow::Owned(bytemuck::cast_slice(&owned).to_vec())
    }
}

/// The layout of the new Zarr array: as [`super::copy`] lays out a local one.
fn zarr_options<T: Element>(
    src: &dyn ArrayRead<T>,
    inner: Option<&str>,
    options: &CopyOptions,
) -> Result<ZarrOptions> {
    let shape = src.shape();
    let chunks = match (&options.chunks, src.format()) {
        (Some(c), _) => c.clone(),
        (None, Format::Zarr | Format::Hdf5) => src.chunk_shape().to_vec(),
        (None, _) => default_chunks(shape, std::mem::size_of::<T>()),
    };
    let mut o = ZarrOptions::new();
    o.chunks(&chunks).codec(options.codec.unwrap_or_default());
    if let Some(shard) = &options.shard {
        o.shard(shard);
    }
    let mut attributes = src.attributes()?;
    if let Some(inner) = inner {
        // A node of a hierarchy: named dimensions, for xarray.
        o.dimension_names(&crate::zarr::added_dimension_names(inner, shape.len(), &mut attributes));
    }
    o.attributes(attributes);
    if let Some(time) = src.dtype().time() {
        o.time(time);
    }
    Ok(o)
}

/// The key of `name` in the directory of the key `meta` (`a.zarr/g/zarr.json` -> `a.zarr/g/NAME`).
/// Which entry of an upload's marker describes its layout, and how to name a different one.
pub(crate) struct Layout {
    pub(crate) key: &'static str,
    pub(crate) what: &'static str,
}

/// Whether an interrupted copy is at `dst` (its marker, `marker`, is there) that `resume`
/// continues: refused without `resume`, or when its layout (`intent[layout.key]`) or its source
/// (`intent["source"]`) differ from this copy's, since chunks of another layout or source would
/// be mixed in. `false`: nothing is there; the caller writes the marker ([`put_marker`]).
pub(crate) fn interrupted(
    bucket: &Bucket,
    marker: &str,
    dst: &str,
    intent: &Value,
    layout: &Layout,
    resume: bool,
) -> Result<bool> {
    let Some(found) = bucket.get(marker)? else { return Ok(false) };
    if !resume {
        return Err(Error::remote(
            dst,
            "an interrupted copy is there (chunks without metadata); resume it, or delete the \
             prefix to start over",
        ));
    }
    let found: Value = serde_json::from_slice(&found).unwrap_or(Value::Null);
    if found.get(layout.key) != intent.get(layout.key) {
        return Err(Error::remote(
            dst,
            format!(
                "the interrupted copy there has {}; delete the prefix to start over, or copy \
                 with the same options",
                layout.what
            ),
        ));
    }
    let source = intent.get("source").unwrap_or(&Value::Null);
    if let Some(what) = super::identity::difference(found.get("source"), source) {
        return Err(Error::remote(
            dst,
            format!(
                "the interrupted copy there was made from another source ({what}); delete the \
                 prefix to start over, or resume from the same, unchanged source"
            ),
        ));
    }
    Ok(true)
}

/// Writes an upload's marker: what it copies, from which source, in which layout.
pub(crate) fn put_marker(bucket: &Bucket, marker: &str, intent: &Value) -> Result<()> {
    let body = serde_json::to_vec_pretty(intent).map_err(|e| Error::internal(e.to_string()))?;
    bucket.put(marker, body.into())
}

fn beside(meta: &str, name: &str) -> String {
    match meta.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => name.to_string(),
    }
}

/// Uploads `src` as a Zarr array at `dst`, chunks first, metadata last (see the module doc).
fn upload_zarr<T: Element>(
    src: &dyn ArrayRead<T>,
    src_path: &Path,
    bucket: &Bucket,
    dst: &ObjectUrl,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<u64> {
    let shape = src.shape().to_vec();
    let elements: u64 = shape.iter().map(|&n| n as u64).product();
    let label = dst.object(dst.key());
    let zopts = zarr_options(src, dst.inner(), options)?;
    let z =
        StorageArray::<T>::create(bucket.storage(dst.key())?, dst.inner(), &shape, &zopts, &label)?;
    let meta_key = dst.child_key(&z.metadata_key());
    let marker_key = beside(&meta_key, MARKER);
    // The same rules as a local store: nothing there is replaced or hidden (an array over an
    // array, a group written over an array, a root over nodes already under the prefix).
    z.check_new()?;
    let source = super::identity::source_identity(src_path, &options.deltas)?;
    let intent = json!({ "larder_upload": 1, "metadata": z.metadata_json(), "source": source });
    let mut done = HashSet::new();
    let layout = Layout { key: "metadata", what: "another shape, dtype, chunking or codec" };
    if interrupted(bucket, &marker_key, &dst.to_string(), &intent, &layout, options.resume)? {
        let under = beside(&meta_key, "");
        for (key, size) in bucket.list(under.trim_end_matches('/'))? {
            if size > 0 {
                done.insert(key);
            }
        }
    } else {
        put_marker(bucket, &marker_key, &intent)?;
    }
    let grid = z.grid();
    let dims = grid.grid_shape();
    // Linear chunk numbers: a few bytes per chunk, however many chunks there are.
    let todo: Vec<usize> = (0..grid.count())
        .filter(|&i| !done.contains(&dst.child_key(&z.chunk_key(&unravel(i, &dims)))))
        .collect();
    let itemsize = std::mem::size_of::<T>();
    let block_bytes: usize = z.chunk_shape().iter().product::<usize>() * itemsize;
    let mut state = CopyProgress {
        bytes_total: elements * itemsize as u64,
        chunks_total: grid.count() as u64,
        chunks_skipped: (grid.count() - todo.len()) as u64,
        ..CopyProgress::default()
    };
    state.chunks_done = state.chunks_skipped;
    state.bytes_done = state.bytes_total
        - todo.iter().map(|&i| region_bytes(&grid, &unravel(i, &dims), itemsize)).sum::<u64>();
    progress(&state);
    let plan = Plan::new(
        options.codec.unwrap_or_default(),
        block_bytes,
        z.inner_chunk_shape().map(|c| c.iter().product::<usize>() * itemsize),
        bucket.options().requests_in_flight(),
        todo.len(),
    );
    send_chunks(src, &z, &grid, &todo, &plan, &mut state, progress)?;
    z.commit()?;
    if let Some(inner) = dst.inner() {
        // Added to a hierarchy: its groups' consolidated metadata must list the array.
        crate::zarr::refresh_consolidated_with(
            Path::new(&label),
            inner,
            &mut |key| Ok(bucket.get(&dst.child_key(key))?.map(|b| b.to_vec())),
            &mut |key, bytes| bucket.put(&dst.child_key(key), bytes.into()),
        )?;
    }
    bucket.delete(&marker_key)?;
    Ok(elements)
}

/// The grid index of the `i`-th chunk in C order of a grid of `dims` chunks.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for k in (0..dims.len()).rev() {
        index[k] = i % dims[k].max(1);
        i /= dims[k].max(1);
    }
    index
}

fn region_bytes(grid: &ChunkGrid, index: &[usize], itemsize: usize) -> u64 {
    grid.region(index).shape().iter().map(|&n| n as u64).product::<u64>() * itemsize as u64
}

/// How a Zarr upload shares its memory: a few threads encode (the CPU-bound part, each with a
/// compression context that grows with the codec's level), many send (waiting on the network,
/// each holding only an encoded chunk), and the bytes of source blocks and encoded chunks in
/// flight between them stay within [`IN_FLIGHT_BYTES`]. A slow codec then leaves the senders
/// idle instead of multiplying compression contexts by `--concurrency`.
#[derive(Debug)]
struct Plan {
    /// Threads reading and encoding chunks.
    encoders: usize,
    /// Threads sending encoded chunks (requests in flight).
    senders: usize,
    /// Bytes one chunk needs from reading until encoded: the source block and an output of
    /// up to its size (a larger one waits for the budget alone).
    block_bytes: usize,
}

impl Plan {
    /// A plan for chunks (or shards) of `block_bytes`, compressed with `codec` (in inner
    /// chunks of `inner_bytes` when sharded), with `requests` requests in flight at most and
    /// `chunks` chunks to send.
    fn new(
        codec: crate::zarr::Codec,
        block_bytes: usize,
        inner_bytes: Option<usize>,
        requests: usize,
        chunks: usize,
    ) -> Plan {
        let block_bytes = block_bytes.max(1);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        // A shard's inner chunks may be compressed on every core at once.
        let contexts = match inner_bytes {
            Some(inner) => codec.encoder_memory(inner) * cores,
            None => codec.encoder_memory(block_bytes),
        };
        let per_encoder = contexts + 2 * block_bytes;
        let encoders = (ENCODING_BYTES / per_encoder).clamp(1, cores).min(chunks.max(1));
        let senders = requests.min(IN_FLIGHT_BYTES / (2 * block_bytes)).clamp(1, chunks.max(1));
        Plan { encoders, senders, block_bytes }
    }
}

/// Bytes of compression contexts (and their chunk in and out) the encoding threads of an
/// upload use at most, as measured for the codec (see [`crate::zarr::Codec`]); one thread
/// encodes whatever that allows.
const ENCODING_BYTES: usize = 64 << 20;

/// A count of bytes in flight with a ceiling: `take` waits until the bytes fit (or nothing is
/// in flight, so that one item larger than the ceiling still moves) or `stop` is set.
struct Budget {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    cap: usize,
}

impl Budget {
    fn new(cap: usize) -> Budget {
        Budget { used: std::sync::Mutex::new(0), freed: std::sync::Condvar::new(), cap }
    }

    /// Takes `n` bytes; `false` when `stop` was set while waiting.
    fn take(&self, n: usize, stop: &AtomicBool) -> bool {
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used > 0 && *used + n > self.cap {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        *used += n;
        true
    }

    fn give(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// An encoded chunk on its way from an encoder to a sender.
struct Encoded {
    index: Vec<usize>,
    bytes: Option<zarrs::storage::Bytes>,
    /// Bytes of the budget it holds.
    held: usize,
    /// Source bytes it stands for (progress).
    source: u64,
}

/// Reads, encodes and stores the chunks `todo` as `plan` says, reporting progress from this
/// thread. The first failure stops every thread and is returned.
fn send_chunks<T: Element>(
    src: &dyn ArrayRead<T>,
    z: &StorageArray<T>,
    grid: &ChunkGrid,
    todo: &[usize],
    plan: &Plan,
    state: &mut CopyProgress,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<()> {
    let itemsize = std::mem::size_of::<T>();
    let dims = grid.grid_shape();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let budget = Budget::new(IN_FLIGHT_BYTES);
    let (to_send, queue) = mpsc::channel::<Encoded>();
    let queue = std::sync::Mutex::new(queue);
    // The threads below check the caller's cancellation token, not their own (none).
    let interrupt = &crate::sys::Interrupt::here();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Result<u64>>();
        for _ in 0..plan.encoders {
            let (tx, to_send, next, stop, dims, budget) =
                (tx.clone(), to_send.clone(), &next, &stop, &dims, &budget);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    // The source block and an output as large: the most one encode holds.
                    let need = 2 * plan.block_bytes;
                    if !budget.take(need, stop) {
                        break;
                    }
                    let index = unravel(i, dims);
                    let region = grid.region(&index);
                    let r = interrupt
                        .check()
                        .and_then(|()| src.read_region(&region))
                        .and_then(|data| z.encode_chunk(&index, &data.view()));
                    match r {
                        Ok(bytes) => {
                            // The block is gone; the encoded bytes stay until sent.
                            let held =
                                bytes.as_ref().map_or(0, zarrs::storage::Bytes::len).min(need);
                            budget.give(need - held);
                            let source = region_bytes(grid, &index, itemsize);
                            let item = Encoded { index, bytes, held, source };
                            if to_send.send(item).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            budget.give(need);
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
            });
        }
        drop(to_send);
        for _ in 0..plan.senders {
            let (tx, queue, stop, budget) = (tx.clone(), &queue, &stop, &budget);
            scope.spawn(move || {
                loop {
                    let item = {
                        let queue = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        queue.recv()
                    };
                    let Ok(item) = item else { break };
                    if stop.load(Ordering::Relaxed) {
                        budget.give(item.held);
                        continue;
                    }
                    let r = interrupt
                        .check()
                        .and_then(|()| z.store_encoded(&item.index, item.bytes))
                        .map(|()| item.source);
                    budget.give(item.held);
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut since = 0u64;
        let mut first_error = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Ok(bytes)) => {
                    state.chunks_done += 1;
                    state.bytes_done += bytes;
                    since += bytes;
                    if since >= RELEASE_EVERY as u64 {
                        src.release()?;
                        since = 0;
                    }
                    progress(state);
                }
                Ok(Err(e)) => {
                    stop.store(true, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => progress(state),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

#[cfg(test)]
mod tests {
    use super::Plan;
    use crate::zarr::Codec;

    #[test]
    fn encoders_are_bounded_by_the_codecs_memory_and_senders_by_the_bytes_in_flight() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mib = 1 << 20;
        // A zstd-19 context for a 1 MiB chunk is far larger than one for zstd:3.
        assert!(Codec::Zstd(19).encoder_memory(mib) > 8 * mib);
        assert!(Codec::Zstd(3).encoder_memory(mib) < 4 * mib);
        assert!(Codec::Gzip(9).encoder_memory(mib) < mib);
        let slow = Plan::new(Codec::Zstd(19), mib, None, 64, 1000);
        assert!((1..=3).contains(&slow.encoders), "{slow:?}");
        assert_eq!(slow.senders, 32, "64 MiB of 2 MiB (block and output) per request");
        let fast = Plan::new(Codec::Zstd(3), mib, None, 16, 1000);
        assert!(fast.encoders >= cores.min(8) && fast.encoders <= cores, "{fast:?}");
        assert_eq!(fast.senders, 16);
        // Huge chunks: one encoder and one request, however many are asked for.
        let huge = Plan::new(Codec::Zstd(19), 48 * mib, None, 64, 1000);
        assert_eq!((huge.encoders, huge.senders), (1, 1));
        // Sharded: the inner chunks' contexts, one per core, count for each encoder.
        let sharded = Plan::new(Codec::Zstd(19), 16 * mib, Some(mib), 16, 1000);
        assert_eq!(sharded.encoders, 1);
        // Never more threads than chunks.
        let few = Plan::new(Codec::None, mib, None, 16, 2);
        assert_eq!((few.encoders.max(few.senders)), 2);
    }
}
