//! `larder copy`: streaming copies between array files of any format (npy, Zarr, HDF5).

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Axis, Slice};

use crate::dtype::{Element, dispatch_element};
use crate::error::{Error, Result};
use crate::fsutil::{TempGuard, commit_or_remove, same_file};
use crate::npy::{MmapArray, NpyWriter, read_header, write_npy_as};
use crate::open::{Location, Place, detect_format, guess_format};
use crate::ops::group;
use crate::store::{ArrayRead, ArrayWrite, Chunks, Format};
use crate::sys::Access;
use crate::zarr::{Codec, StagedArray, ZarrArray, ZarrOptions, default_chunks};

/// Data read per step of a copy; memory use stays near this whatever the array's size.
const BLOCK: usize = 8 << 20;

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// Elements copied.
    pub elements: u64,
    /// Size of the file written.
    pub bytes: u64,
}

/// Copies the array at `src` to `dst` with default [`CopyOptions`], the destination's format
/// chosen as `larder copy` chooses it: from `dst`'s extension (`.npy`, `.zarr`, `.h5`/`.hdf5`),
/// or from its contents when it is an existing HDF5 file that receives a new dataset
/// (`FILE.h5:/group/name`). So `copy("a.npy", "b.zarr")` makes a Zarr array, never `.npy`
/// bytes named `b.zarr`; see [`copy_with`] for everything else a copy can do.
///
/// An `.npy` to `.npy` copy comes out in native byte order and C order, whatever the source's
/// byte order and memory order, streaming a block of rows at a time. A new file is written beside
/// `dst` under a temporary name and renamed over it only when it is complete, so a failed copy
/// never leaves a partial `dst` nor damages an existing one.
///
/// ```
/// use larder::{ArrayRead, Format};
/// # let dir = tempfile::tempdir()?;
/// # let (src, dst) = (dir.path().join("a.npy"), dir.path().join("b.zarr"));
/// larder::write_npy(&src, &ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn())?;
/// larder::copy(&src, &dst)?;
/// let z = larder::open_as::<f32>(&dst)?;
/// assert_eq!((z.format(), z.shape()), (Format::Zarr, &[2, 2][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Invalid`] naming `dst` if its format cannot be told (no known extension, and not an
/// existing file) or it is the same file as `src`; [`Error::Unsupported`] for an HDF5 source or
/// destination when larder was built without the `hdf5` feature; as [`copy_with`] otherwise.
pub fn copy(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<CopyReport> {
    copy_with(src, dst, &CopyOptions::new())
}

/// The `.npy` to `.npy` copy of [`copy`]: native byte order, C order, a block of rows at a time.
fn copy_npy(src: &Path, dst: &Path) -> Result<CopyReport> {
    if same_file(src, dst) {
        return Err(Error::invalid(
            dst,
            format!("is the same file as {}; copy to a new path", src.display()),
        ));
    }
    let element = read_header(src)?.dtype.element();
    crate::fsutil::check_parent_exists(dst)?;
    let tmp = TempGuard::beside(dst);
    let r = dispatch_element!(element, T => MmapArray::<T>::open(src)
        .and_then(|a| copy_typed(&a, tmp.path())));
    let elements = r.map_err(|e| crate::fsutil::at_destination(e, tmp.path(), dst))?;
    tmp.commit(dst)?;
    let bytes = fs::metadata(dst).map_err(|e| Error::io(dst, e))?.len();
    Ok(CopyReport { elements, bytes })
}

/// How `larder copy` lays out a chunked destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    pub(super) chunks: Option<Vec<usize>>,
    pub(super) codec: Option<Codec>,
    pub(super) shard: Option<Vec<usize>>,
    pub(super) deltas: Vec<PathBuf>,
    pub(super) resume: bool,
    pub(super) filter: Option<String>,
}

/// How far a copy into object storage is, as [`copy_with_progress`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyProgress {
    /// Bytes of the array (in memory) copied so far, counting chunks skipped by a resume.
    pub bytes_done: u64,
    /// Bytes of the array (in memory) in all.
    pub bytes_total: u64,
    /// Chunks stored so far, counting the skipped ones (0 for an `.npy` destination).
    pub chunks_done: u64,
    /// Chunks in all (0 for an `.npy` destination).
    pub chunks_total: u64,
    /// Chunks a resumed copy found already stored and did not send again.
    pub chunks_skipped: u64,
}

impl CopyOptions {
    /// Defaults: the source's chunk shape when it has one (about 2 MiB chunks otherwise), zstd
    /// for Zarr, no compression for HDF5, no sharding.
    pub fn new() -> Self {
        CopyOptions::default()
    }
    /// The destination's chunk shape (with sharding: the chunks inside each shard).
    pub fn chunks(&mut self, chunks: &[usize]) -> &mut Self {
        self.chunks = Some(chunks.to_vec());
        self
    }
    /// The destination's compression.
    pub fn codec(&mut self, codec: Codec) -> &mut Self {
        self.codec = Some(codec);
        self
    }
    /// Shard shape for a Zarr destination.
    pub fn shard(&mut self, shard: &[usize]) -> &mut Self {
        self.shard = Some(shard.to_vec());
        self
    }
    /// Copies only the rows of a dataset source where the condition `filter` holds (see
    /// [`crate::query`]): the destination group holds a dataset of those rows, as
    /// `larder filter` writes it. Only for a dataset copied to a local Zarr group.
    pub fn filter(&mut self, filter: &str) -> &mut Self {
        self.filter = Some(filter.to_string());
        self
    }
    /// Copies the `.npy` source as seen through these delta files, applied in order
    /// ([`crate::open_with_deltas`]).
    pub fn deltas<P: AsRef<Path>>(&mut self, deltas: &[P]) -> &mut Self {
        self.deltas = deltas.iter().map(|d| d.as_ref().to_path_buf()).collect();
        self
    }
    /// Continues an interrupted copy into object storage: chunks already stored are not sent
    /// again (see `docs/reliability.md`). Only for Zarr destinations in object storage.
    pub fn resume(&mut self, resume: bool) -> &mut Self {
        self.resume = resume;
        self
    }
    fn is_default(&self) -> bool {
        *self == CopyOptions::default()
    }
}

/// Copies the array at `src` to `dst`, each of which may be an `.npy` file, a Zarr directory
/// (`.zarr`) or an HDF5 dataset (`FILE.h5[:/group/name]`), streaming one chunk at a time: peak
/// memory is a few chunks whatever the array's size.
///
/// The destination's format comes from its extension (or its contents, for an existing HDF5
/// file that receives a new dataset). A `.npy` or new-file destination is written under a
/// temporary name and renamed into place when complete; a Zarr destination must not exist yet.
///
/// # Errors
/// [`Error::Invalid`] (naming the destination) for an unknown destination format or options
/// that do not fit it; as the backends' `open`/`create`, reads and writes.
pub fn copy_with(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    options: &CopyOptions,
) -> Result<CopyReport> {
    copy_with_progress(src, dst, options, &mut |_| {})
}

/// [`copy_with`], where `src` and `dst` may also be object-storage locations
/// (`s3://bucket/key.npy`, `s3://bucket/prefix.zarr`), calling `progress` as a copy into object
/// storage goes (at least every 200 ms while one runs).
///
/// Into object storage, an `.npy` is one multipart upload that becomes visible only when
/// complete; a Zarr array is written chunks first and metadata last, so an interrupted copy
/// never leaves an array that reads chunks that are not there, and
/// [`CopyOptions::resume`] continues it. Connections use [`crate::remote::S3Options::current`].
///
/// # Errors
/// As [`copy_with`]; [`Error::Remote`] naming the object for object-storage failures (after
/// the retries), an interrupted copy at the destination when not resuming, or a build
/// without the `s3` feature.
pub fn copy_with_progress(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let splace = Place::parse(src)?;
    let dplace = Place::parse(dst)?;
    refuse_filter(src, &dplace, options)?;
    if crate::dataset::Dataset::is_dataset(src) {
        return match &dplace {
            Place::Local(_) if options.filter.is_some() => copy_dataset_where(src, dst, options),
            Place::Local(_) => copy_dataset(src, dst, options),
            Place::Object(url) => dataset_to_object(src, url, options),
        };
    }
    if let Place::Object(url) = &splace
        && matches!(dplace, Place::Local(_))
        && guess_format(dst).is_none()
    {
        if !options.is_default() {
            return Err(Error::invalid(dst, "a dataset directory is not chunked or compressed"));
        }
        return group_object_to_dataset(url, dst);
    }
    if guess_format(dst).is_none()
        && src.join(".zgroup").is_file()
        && !src.join("zarr.json").exists()
    {
        // Not a destination without a format: a Zarr v2 group, which makes no dataset.
        return Err(Error::invalid(
            src,
            "is a Zarr v2 group; a dataset is made from a Zarr v3 group (name one of its \
             arrays, SRC:/NAME, to copy it alone)",
        ));
    }
    if group::is_local_group(src) && guess_format(dst).is_none() {
        if !options.is_default() {
            return Err(Error::invalid(dst, "a dataset directory is not chunked or compressed"));
        }
        let report = group::copy_group_to_dataset(src, dst)?;
        let bytes = crate::fsutil::disk_usage(dst);
        return Ok(CopyReport { elements: report.elements, bytes });
    }
    let dloc = match dplace {
        Place::Local(loc) => loc,
        Place::Object(url) => return to_object(src, &url, options, progress),
    };
    if options.resume {
        return Err(Error::invalid(dst, "only copies into object storage resume"));
    }
    let sfmt = match &splace {
        Place::Local(sloc) => Some(detect_format(&sloc.file)?),
        Place::Object(_) => None,
    };
    let dfmt = match guess_format(&dloc.file) {
        Some(f) => f,
        None if dloc.file.is_file() => detect_format(&dloc.file)?,
        None => {
            return Err(Error::invalid(
                dst,
                "cannot tell the destination format; name it .npy, .zarr or .h5",
            ));
        }
    };
    let sfmt = sfmt.unwrap_or(Format::Memory);
    if sfmt == Format::Npy && dfmt == Format::Npy && options.is_default() {
        return copy_npy(src, dst);
    }
    // One Zarr store or HDF5 file may be both source and destination when the copy goes to
    // another node of it (`f.h5:/data` to `f.h5:/data2`), as adding to an existing file is.
    let within_one_file = match &splace {
        Place::Local(sloc) if same_file(&sloc.file, &dloc.file) => {
            let node = |inner: Option<&str>| inner.map(|s| s.trim_matches('/').to_string());
            let (from, to) = (node(sloc.inner.as_deref()), node(dloc.inner.as_deref()));
            if !(sfmt == dfmt && matches!(dfmt, Format::Zarr | Format::Hdf5))
                || to.is_none()
                || from == to
            {
                return Err(Error::invalid(
                    dst,
                    format!("is the same file as {}; copy to a new path", src.display()),
                ));
            }
            true
        }
        _ => false,
    };
    #[cfg(feature = "hdf5")]
    let _hold = match (within_one_file, dfmt) {
        (true, Format::Hdf5) => Some(crate::hdf5::hold_for_writing(&dloc.file)?),
        _ => None,
    };
    #[cfg(not(feature = "hdf5"))]
    let _ = within_one_file;
    let store = if options.deltas.is_empty() {
        crate::open::open(src)?
    } else {
        crate::open::open_with_deltas(src, &options.deltas)?
    };
    let elements =
        crate::store_dispatch!(&store, s => copy_store(s.as_ref(), &dloc, dfmt, options))?;
    let bytes = crate::fsutil::disk_usage(&dloc.file);
    Ok(CopyReport { elements, bytes })
}

/// Copies a dataset directory to a new Zarr v3 group (`ops::group`): chunks and shards are
/// row counts, one value each.
fn copy_dataset(src: &Path, dst: &Path, options: &CopyOptions) -> Result<CopyReport> {
    if guess_format(dst) != Some(Format::Zarr) {
        return Err(Error::invalid(dst, "a dataset copies to a Zarr group; name it .zarr"));
    }
    let report = group::copy_dataset_to_group(src, dst, &group_options(src, dst, options)?)?;
    Ok(CopyReport { elements: report.elements, bytes: crate::fsutil::disk_usage(dst) })
}

/// An error unless a copy with a filter copies a dataset to a local Zarr group.
fn refuse_filter(src: &Path, dplace: &Place, options: &CopyOptions) -> Result<()> {
    if options.filter.is_some()
        && !(crate::dataset::Dataset::is_dataset(src) && matches!(dplace, Place::Local(_)))
    {
        return Err(Error::invalid(
            src,
            "only a dataset directory copied to a local Zarr group can be filtered by rows",
        ));
    }
    Ok(())
}

/// [`copy_dataset`] of the rows where `options.filter` holds: they are written as a dataset
/// in a temporary directory beside `dst` (removed after), which is then copied.
fn copy_dataset_where(src: &Path, dst: &Path, options: &CopyOptions) -> Result<CopyReport> {
    if guess_format(dst) != Some(Format::Zarr) {
        return Err(Error::invalid(dst, "a dataset copies to a Zarr group; name it .zarr"));
    }
    if dst.exists() {
        return Err(Error::invalid(dst, "already exists; remove it or choose another path"));
    }
    let name = dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staged = crate::fsutil::TempGuard::new(crate::fsutil::temp_sibling(
        &dst.with_file_name(format!("{name}.rows")),
    ));
    let filter = options.filter.as_deref().unwrap_or_default();
    super::subset::filter(src, filter, staged.path(), super::subset::Output::Dataset, None)?;
    copy_dataset(staged.path(), dst, options)
}

/// The group layout `options` ask for, copying the dataset `src` to `dst`: chunks and shards
/// are row counts, one value each.
fn group_options(src: &Path, dst: &Path, options: &CopyOptions) -> Result<group::GroupOptions> {
    if !options.deltas.is_empty() {
        return Err(Error::invalid(src, "delta files apply to .npy arrays, not to a dataset"));
    }
    let rows = |what: &str, v: &[usize]| match v {
        [n] => Ok(*n as u64),
        _ => Err(Error::invalid(
            dst,
            format!("a dataset is cut into rows: give one {what} length (rows), not {v:?}"),
        )),
    };
    let mut o = group::GroupOptions::new();
    if let Some(c) = &options.chunks {
        o.chunk_rows(rows("chunk", c)?);
    }
    if let Some(s) = &options.shard {
        o.shard_rows(rows("shard", s)?);
    }
    if let Some(c) = options.codec {
        o.codec(c);
    }
    Ok(o)
}

/// Copies a dataset directory to a new Zarr group in object storage: every chunk stored before
/// any metadata, the group's own `zarr.json` last, so a copy cut short leaves no group there.
///
/// Resuming works as for an array (`ops::upload`): a marker object `.larder-upload.json` at
/// the group's root, written before the first chunk and deleted after the metadata, records
/// the layout asked for and the source's identity (size, modification time, content hash). A
/// copy that finds the marker is refused unless resuming; a resumed copy checks the layout and
/// the source are the same, then stores only the chunks not already there.
#[cfg(feature = "s3")]
fn dataset_to_object(
    src: &Path,
    dst: &crate::remote::ObjectUrl,
    options: &CopyOptions,
) -> Result<CopyReport> {
    let label = PathBuf::from(dst.to_string());
    if dst.inner().is_some() {
        return Err(Error::invalid(
            &label,
            "a dataset copies to a whole Zarr group, not inside one",
        ));
    }
    let o = group_options(src, &label, options)?;
    let bucket = crate::remote::Bucket::connect(dst, &crate::remote::S3Options::current())?;
    let storage = bucket.storage(dst.key())?;
    let marker = dst.child_key(super::upload::MARKER);
    let source = super::identity::source_identity(src, &[])?;
    let layout = serde_json::json!({
        "chunk_rows": options.chunks,
        "shard_rows": options.shard,
        "codec": options.codec.map(|c| format!("{c:?}")),
    });
    let intent =
        serde_json::json!({ "larder_upload": 1, "dataset_group": layout, "source": source });
    let mut stored = std::collections::HashSet::new();
    let what = "another chunking, sharding or codec, or is not of a dataset";
    let layout = super::upload::Layout { key: "dataset_group", what };
    if super::upload::interrupted(
        &bucket,
        &marker,
        &dst.to_string(),
        &intent,
        &layout,
        options.resume,
    )? {
        let under = dst.child_key("");
        for (key, size) in bucket.list(dst.key())? {
            if let Some(rel) = key.strip_prefix(&under)
                && size > 0
            {
                stored.insert(rel.to_string());
            }
        }
    } else {
        // The hierarchy rules first (no group over an existing node), so that a refused copy
        // leaves no marker behind.
        crate::zarr::group::GroupWriter::new(storage.clone(), "/", &label)?;
        super::upload::put_marker(&bucket, &marker, &intent)?;
    }
    let report = group::dataset_to_group_skipping(src, storage, "/", &label, &o, stored)?;
    bucket.delete(&marker)?;
    let bytes = bucket.list(dst.key())?.iter().map(|(_, n)| n).sum();
    Ok(CopyReport { elements: report.elements, bytes })
}

/// Copies a Zarr group in object storage to a new dataset directory (as
/// [`group::copy_group_to_dataset`] does a local one).
#[cfg(feature = "s3")]
fn group_object_to_dataset(src: &crate::remote::ObjectUrl, dst: &Path) -> Result<CopyReport> {
    let label = PathBuf::from(src.to_string());
    let bucket = crate::remote::Bucket::connect(src, &crate::remote::S3Options::current())?;
    let storage: group::ReadStorage = bucket.read_storage(src.key())?;
    let report = group::group_to_dataset(storage, "/", &label, dst)?;
    Ok(CopyReport { elements: report.elements, bytes: crate::fsutil::disk_usage(dst) })
}

#[cfg(not(feature = "s3"))]
fn dataset_to_object(
    _src: &Path,
    dst: &crate::remote::ObjectUrl,
    _options: &CopyOptions,
) -> Result<CopyReport> {
    Err(crate::remote::not_built(&dst.to_string()))
}

#[cfg(not(feature = "s3"))]
fn group_object_to_dataset(src: &crate::remote::ObjectUrl, _dst: &Path) -> Result<CopyReport> {
    Err(crate::remote::not_built(&src.to_string()))
}

#[cfg(feature = "s3")]
fn to_object(
    src: &Path,
    dst: &crate::remote::ObjectUrl,
    options: &CopyOptions,
    progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport> {
    super::upload::copy_to_object(src, dst, options, progress)
}

#[cfg(not(feature = "s3"))]
fn to_object(
    _src: &Path,
    dst: &crate::remote::ObjectUrl,
    _options: &CopyOptions,
    _progress: &mut (dyn FnMut(&CopyProgress) + Send),
) -> Result<CopyReport> {
    Err(crate::remote::not_built(&dst.to_string()))
}

fn copy_store<T: Element>(
    src: &dyn ArrayRead<T>,
    dst: &Location,
    format: Format,
    options: &CopyOptions,
) -> Result<u64> {
    let shape = src.shape().to_vec();
    let elements = shape.iter().map(|&n| n as u64).product();
    let itemsize = std::mem::size_of::<T>();
    let chunks = match (&options.chunks, src.format()) {
        (Some(c), _) => c.clone(),
        (None, Format::Zarr | Format::Hdf5) => src.chunk_shape().to_vec(),
        (None, _) => default_chunks(&shape, itemsize),
    };
    if chunks.len() != shape.len() || chunks.contains(&0) {
        return Err(Error::invalid(
            &dst.file,
            format!("chunk shape {chunks:?} does not fit an array of shape {shape:?}"),
        ));
    }
    if options.shard.is_some() && format != Format::Zarr {
        return Err(Error::invalid(&dst.file, "sharding applies to Zarr destinations only"));
    }
    crate::fsutil::check_parent_exists(&dst.file)?;
    match format {
        Format::Npy => {
            if options.chunks.is_some() || options.codec.is_some() {
                return Err(Error::invalid(&dst.file, ".npy files are not chunked or compressed"));
            }
            let tmp = TempGuard::beside(&dst.file);
            let r = copy_to_npy(src, tmp.path());
            commit_or_remove(r, tmp, &dst.file)?;
        }
        Format::Zarr => {
            let mut o = ZarrOptions::new();
            o.chunks(&chunks).codec(options.codec.unwrap_or_default());
            if let Some(shard) = &options.shard {
                o.shard(shard);
            }
            let mut attributes = src.attributes()?;
            if let Some(inner) = dst.inner.as_deref() {
                // A node of a hierarchy: named dimensions, for xarray.
                let names = crate::zarr::added_dimension_names(inner, shape.len(), &mut attributes);
                o.dimension_names(&names);
            }
            o.attributes(attributes);
            if let Some(time) = src.dtype().time() {
                o.time(time);
            }
            let unit = options.shard.clone().unwrap_or(chunks);
            match (dst.file.exists(), dst.inner.as_deref()) {
                (true, None) => {
                    return Err(Error::invalid(
                        &dst.file,
                        "already exists; remove it or choose another path",
                    ));
                }
                // Into an existing store: staged beside its node, which appears whole.
                (true, Some(inner)) => {
                    let z = StagedArray::<T>::create(&dst.file, inner, &shape, &o)?;
                    pump_parallel(src, z.array(), &unit)?;
                    z.publish()?;
                    // Added to an existing hierarchy: readers that open it from its
                    // consolidated metadata (xarray, zarr-python) must see the new array.
                    crate::zarr::refresh_consolidated(&dst.file, inner)?;
                }
                // A new store: written under a temporary name, renamed into place.
                (false, inner) => {
                    let tmp = TempGuard::beside(&dst.file);
                    let r = ZarrArray::<T>::create(tmp.path(), inner, &shape, &o)
                        .and_then(|z| pump_parallel(src, &z, &unit));
                    commit_or_remove(r, tmp, &dst.file)?;
                }
            }
        }
        Format::Hdf5 => copy_to_hdf5(src, dst, &shape, &chunks, options.codec)?,
        Format::Memory => {
            return Err(Error::internal("a copy destination guessed as a memory store"));
        }
    }
    Ok(elements)
}

#[cfg(feature = "hdf5")]
fn copy_to_hdf5<T: Element>(
    src: &dyn ArrayRead<T>,
    dst: &Location,
    shape: &[usize],
    chunks: &[usize],
    codec: Option<Codec>,
) -> Result<()> {
    let gzip = match codec {
        None | Some(Codec::None) => None,
        Some(Codec::Gzip(level)) => Some(u8::try_from(level).unwrap_or(9)),
        Some(Codec::Zstd(_)) => {
            return Err(Error::invalid(
                &dst.file,
                "HDF5 datasets are written with gzip or no compression",
            ));
        }
    };
    if dst.file.exists() {
        // Into an existing file: staged under a hidden name, moved to its own when complete.
        let mut staged = crate::hdf5::StagedDataset::<T>::create(
            &dst.file,
            dst.inner.as_deref(),
            shape,
            chunks,
            gzip,
        )?;
        let h = staged.array()?;
        if let Some(time) = src.dtype().time() {
            h.mark_time(time)?;
        }
        pump(src, h, chunks)?;
        return staged.publish();
    }
    let tmp = TempGuard::beside(&dst.file);
    let r = (|| {
        // Every chunk is written in full below, in a new file removed if the copy fails: no
        // chunk can be left unwritten, so chunks need no fill value first.
        let mut h = crate::hdf5::Hdf5Array::<T>::create_for_overwrite(
            tmp.path(),
            dst.inner.as_deref(),
            shape,
            chunks,
            gzip,
        )?;
        if let Some(time) = src.dtype().time() {
            h.mark_time(time)?;
        }
        pump(src, &mut h, chunks)?;
        h.flush()
    })();
    commit_or_remove(r, tmp, &dst.file)
}

#[cfg(not(feature = "hdf5"))]
fn copy_to_hdf5<T: Element>(
    _src: &dyn ArrayRead<T>,
    _dst: &Location,
    _shape: &[usize],
    _chunks: &[usize],
    _codec: Option<Codec>,
) -> Result<()> {
    Err(Error::Unsupported("HDF5 (larder was built without the `hdf5` feature)"))
}

/// Bytes written between flushes of a mapped destination, to keep dirty pages bounded.
const FLUSH_EVERY: usize = 64 << 20;

/// Moves `src` into `dst` one `unit`-shaped block at a time.
fn pump<T: Element>(
    src: &dyn ArrayRead<T>,
    dst: &mut dyn ArrayWrite<T>,
    unit: &[usize],
) -> Result<()> {
    let mut since = 0usize;
    for chunk in Chunks::new(src, unit) {
        let chunk = chunk?;
        dst.write_region(&chunk.origin, &chunk.data.view())?;
        since += chunk.data.len() * std::mem::size_of::<T>();
        if since >= FLUSH_EVERY {
            dst.flush()?;
            dst.release()?;
            src.release()?;
            since = 0;
        }
    }
    dst.flush()
}

/// What holding one block in a batch costs beyond its values (its origin, shape, strides and
/// allocations): counted with the values, so a batch of tiny chunks stays as small as a batch
/// of large ones.
const BLOCK_OVERHEAD: usize = 2048;

/// Blocks in one batch at most, whatever their size. Counting [`BLOCK_OVERHEAD`] alone let a
/// batch of one-element chunks grow to 32,768 blocks, and the peak with it (about 180 bytes
/// per block in flight, plus zarrs' per-key lock of each until the store is renewed): copies of
/// fewer chunks than that used less memory than copies of more. A thousand blocks keep every
/// core busy and make the per-batch memory the same for every chunk count above it.
const BATCH_BLOCKS: usize = 1024;

/// Moves `src` into the Zarr array `dst` one `unit`-shaped block (a whole chunk or shard) at a
/// time, encoding on every core: blocks are taken from `src` in order on this thread, about
/// [`FLUSH_EVERY`] bytes of them at a time (with [`BLOCK_OVERHEAD`] per block) and never more
/// than [`BATCH_BLOCKS`], then encoded and stored in parallel. Memory stays at one such batch plus one encoded block per thread,
/// whatever the number of chunks: after each batch `dst` lets go of its per-chunk state.
fn pump_parallel<T: Element>(
    src: &dyn ArrayRead<T>,
    dst: &ZarrArray<T>,
    unit: &[usize],
) -> Result<()> {
    use rayon::prelude::*;
    let mut chunks = Chunks::new(src, unit);
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    // The rayon workers check the caller's cancellation token, not their own (none).
    let interrupt = crate::sys::Interrupt::here();
    loop {
        let next = chunks.next().transpose()?;
        let done = next.is_none();
        if let Some(chunk) = next {
            bytes += chunk.data.len() * std::mem::size_of::<T>() + BLOCK_OVERHEAD;
            batch.push(chunk);
        }
        if bytes >= FLUSH_EVERY || batch.len() >= BATCH_BLOCKS || (done && !batch.is_empty()) {
            batch.par_iter().try_for_each(|c| {
                interrupt.check()?;
                dst.store_block(&c.origin, &c.data.view())
            })?;
            // `clear` would keep the capacity of a batch of tiny blocks.
            batch = Vec::new();
            bytes = 0;
            src.release()?;
            dst.release()?;
        }
        if done {
            return Ok(());
        }
    }
}

fn copy_to_npy<T: Element>(src: &dyn ArrayRead<T>, tmp: &Path) -> Result<()> {
    // A time type the source's metadata declares comes back as numpy's (`<M8[s]`).
    let mut out = MmapArray::<T>::create_as(tmp, src.shape(), src.dtype().to_native())?;
    // Walk the source in its own storage order: each stored chunk is decoded once.
    let unit = src.chunk_shape().to_vec();
    pump(src, &mut out, &unit)?;
    out.close()
}

fn copy_typed<T: Element>(a: &MmapArray<T>, dst: &Path) -> Result<u64> {
    let elements = a.len() as u64;
    // Rows of an empty array cannot be counted from its elements: `(2, 0, 3)` would come out as
    // zero rows. Nothing to stream, so the header alone is written, with the shape as it is.
    if a.ndim() == 0 || a.is_empty() {
        write_npy_as(dst, &a.read_all()?, a.dtype().to_native())?;
        return Ok(elements);
    }
    // The source's dtype in native order: `<M8[s]` stays a datetime, not `<i8`.
    let mut w = NpyWriter::<T>::create_as(dst, &a.shape()[1..], a.dtype().to_native())?;
    let (view, swapped) = match a.raw_view() {
        Ok(v) => v,
        // Misaligned source data: a converted copy is the only way to read it.
        Err(Error::NotViewable { .. }) => {
            w.append_rows(&a.read_all()?)?;
            w.finish()?;
            return Ok(elements);
        }
        Err(e) => return Err(e),
    };
    a.advise(Access::Sequential)?;
    let row_bytes = a.shape()[1..].iter().product::<usize>() * a.dtype().itemsize();
    let rows_per_block = (BLOCK / row_bytes.max(1)).max(1);
    let n = a.shape()[0];
    let c_order_plain = !swapped && view.is_standard_layout();
    let mut buf: Vec<T> = Vec::new();
    let mut start = 0;
    let data_len = a.len() * a.dtype().itemsize();
    while start < n {
        crate::sys::check_interrupt()?;
        // A source cut by another program since it was mapped is an error, not a fault.
        a.check_not_shrunk(0, data_len)?;
        let end = (start + rows_per_block).min(n);
        let block = view.slice_axis(Axis(0), Slice::from(start..end));
        if c_order_plain {
            w.append_rows(&block)?;
        } else {
            buf.clear();
            buf.extend(block.iter().map(|&v| if swapped { v.swap_bytes() } else { v }));
            w.append(&buf)?;
        }
        if c_order_plain {
            // The rows just written will not be read again: keep the resident set small.
            a.release_range(start * row_bytes, (end - start) * row_bytes)?;
        }
        start = end;
    }
    w.finish()?;
    Ok(elements)
}

/// Built without HDF5 (`cargo test` with default features): an `.h5` destination is refused by
/// name of the missing feature, and nothing is left behind.
#[cfg(all(test, not(feature = "hdf5")))]
mod tests {
    use super::*;

    #[test]
    fn copy_to_hdf5_without_the_feature_says_so_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.npy");
        crate::write_npy(&src, &ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[3, 2]))).unwrap();
        for name in ["b.h5", "b.hdf5", "c.h5:/g/x"] {
            let dst = dir.path().join(name);
            match copy(&src, &dst) {
                Err(Error::Unsupported(what)) => {
                    assert!(what.contains("`hdf5` feature"), "{name}: {what}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let mut left: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["a.npy"]);
    }
}
