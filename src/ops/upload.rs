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
fn zarr_options<T: Element>(src: &dyn ArrayRead<T>, options: &CopyOptions) -> Result<ZarrOptions> {
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
    o.attributes(src.attributes()?);
    if let Some(time) = src.dtype().time() {
        o.time(time);
    }
    Ok(o)
}

/// The key of `name` in the directory of the key `meta` (`a.zarr/g/zarr.json` -> `a.zarr/g/NAME`).
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
    let zopts = zarr_options(src, options)?;
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
    match bucket.get(&marker_key)? {
        Some(_) if !options.resume => {
            return Err(Error::remote(
                dst.to_string(),
                "an interrupted copy is there (chunks without metadata); resume it, or delete \
                 the prefix to start over",
            ));
        }
        Some(found) => {
            let found: Value = serde_json::from_slice(&found).unwrap_or(Value::Null);
            if found.get("metadata") != intent.get("metadata") {
                return Err(Error::remote(
                    dst.to_string(),
                    "the interrupted copy there has another shape, dtype, chunking or codec; \
                     delete the prefix to start over, or copy with the same options",
                ));
            }
            // Chunks of another source (or of this one before it changed) would be mixed in.
            if let Some(what) = super::identity::difference(found.get("source"), &source) {
                return Err(Error::remote(
                    dst.to_string(),
                    format!(
                        "the interrupted copy there was made from another source ({what}); \
                         delete the prefix to start over, or resume from the same, unchanged \
                         source"
                    ),
                ));
            }
            let under = beside(&meta_key, "");
            for (key, size) in bucket.list(under.trim_end_matches('/'))? {
                if size > 0 {
                    done.insert(key);
                }
            }
        }
        None => {
            let body =
                serde_json::to_vec_pretty(&intent).map_err(|e| Error::internal(e.to_string()))?;
            bucket.put(&marker_key, body.into())?;
        }
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
    // Each worker holds a source block and its encoded chunk at once.
    let workers = bucket
        .options()
        .requests_in_flight()
        .min((IN_FLIGHT_BYTES / (2 * block_bytes.max(1))).max(1))
        .min(todo.len().max(1));
    send_chunks(src, &z, &grid, &todo, workers, &mut state, progress)?;
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

/// Reads, encodes and stores the chunks `todo` on `workers` threads, reporting progress from
/// this one. The first failure stops every worker and is returned.
fn send_chunks<T: Element>(
    src: &dyn ArrayRead<T>,
    z: &StorageArray<T>,
    grid: &ChunkGrid,
    todo: &[usize],
    workers: usize,
    state: &mut CopyProgress,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<()> {
    let itemsize = std::mem::size_of::<T>();
    let dims = grid.grid_shape();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Result<u64>>();
        for _ in 0..workers {
            let (tx, next, stop, dims) = (tx.clone(), &next, &stop, &dims);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let index = unravel(i, dims);
                    let region = grid.region(&index);
                    let r = crate::sys::check_interrupt()
                        .and_then(|()| src.read_region(&region))
                        .and_then(|data| z.store_block(region.start(), &data.view()))
                        .map(|()| region_bytes(grid, &index, itemsize));
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
