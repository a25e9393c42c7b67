//! Datasets as Zarr v3 groups (`docs/format.md`, "Datasets as Zarr groups"): `larder copy
//! DATASET out.zarr` writes one array per column, chunked in the same row ranges, with the
//! encodings xarray decodes; [`group_to_dataset`] gives the dataset back byte for byte.
//!
//! Both directions take a zarrs storage handle ([`Storage`], [`ReadStorage`]) and a node
//! path inside it, so any store zarrs can address works; [`copy_dataset_to_group`] and
//! [`copy_group_to_dataset`] are the local-directory forms `larder copy` uses.

mod missing;
mod npyio;
mod restore;
mod source;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use restore::{GroupColumn, GroupInfo, describe_group, group_to_dataset};
pub use source::GroupSource;

use self::missing::Missing;
use self::npyio::{HeaderText, NpyIn};
use crate::dataset::{ColumnKind, Dataset, MANIFEST, REJECTS};
use crate::dtype::{DType, ElementType, Time, TimeUnit};
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::store::Attributes;
use crate::zarr::Codec;
use crate::zarr::group::{
    GroupArraySpec, GroupType, GroupWriter, local_read_storage, local_storage,
};
pub use crate::zarr::group::{ReadStorage, Storage};

/// The dimension every column array of a dataset group runs along.
pub const ROW_DIMENSION: &str = "row";

/// Rows per chunk when none is asked for: 2 MiB of `float64`.
pub const DEFAULT_CHUNK_ROWS: u64 = 1 << 18;

/// The layout version of a dataset group, in its `larder` attribute.
pub const GROUP_VERSION: u64 = 1;

/// Where `rejects.csv` goes inside the group: a subgroup xarray does not open.
const REJECTS_ARRAY: &str = "_larder/rejects.csv";

/// How a dataset group is chunked and compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupOptions {
    chunk: Option<u64>,
    shard: Option<u64>,
    codec: Codec,
}

impl GroupOptions {
    /// Defaults: [`DEFAULT_CHUNK_ROWS`] rows per chunk, zstd level 3, no sharding.
    pub fn new() -> Self {
        GroupOptions::default()
    }
    /// Rows per chunk (with sharding: per inner chunk).
    pub fn chunk_rows(&mut self, rows: u64) -> &mut Self {
        self.chunk = Some(rows);
        self
    }
    /// Rows per shard, a multiple of the chunk rows.
    pub fn shard_rows(&mut self, rows: u64) -> &mut Self {
        self.shard = Some(rows);
        self
    }
    /// The compression.
    pub fn codec(&mut self, codec: Codec) -> &mut Self {
        self.codec = codec;
        self
    }
}

/// What a group copy did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupReport {
    /// Rows of the dataset.
    pub rows: u64,
    /// Arrays written or read.
    pub arrays: usize,
    /// Elements copied, over all arrays.
    pub elements: u64,
}

/// How one column is stored in the group (the `larder.columns` attribute).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnEntry {
    /// The array of its values.
    array: String,
    /// The fill value that marks its missing rows (element bytes, hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fill: Option<String>,
    /// The `bool` array of its validity, when stored as an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mask: Option<String>,
    /// The string array of a large dictionary's categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dictionary: Option<String>,
}

/// The `larder` attribute of a dataset group: what restores the dataset byte for byte.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LarderAttribute {
    version: u64,
    /// `manifest.json`, verbatim.
    manifest: String,
    columns: Vec<ColumnEntry>,
    /// Headers of `.npy` files that differ from the ones larder writes, by file name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, HeaderText>,
    /// The array holding `rejects.csv`, when the dataset has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejects: Option<String>,
    /// The rejected records of appends (`larder convert --append`): file name in the dataset,
    /// and array in the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    more_rejects: Vec<(String, String)>,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn stem(file: &str) -> String {
    file.strip_suffix(".npy").unwrap_or(file).to_string()
}

/// Names an array of a group cannot take: larder's own subgroup, and the metadata files of
/// Zarr v2 and v3 (an array there would be overwritten by, or read as, metadata).
const RESERVED_ARRAY_NAMES: [&str; 6] =
    ["_larder", "zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"];

/// The array name of every file `files` of a dataset: its stem, or for a stem that is a
/// reserved name, the stem with the first `_N` suffix no other file takes. The `larder`
/// attribute records each array's name, so the copy back restores the original file names.
fn array_names(files: &[&str]) -> BTreeMap<String, String> {
    let stems: std::collections::BTreeSet<String> = files.iter().map(|f| stem(f)).collect();
    let mut taken = stems.clone();
    let mut names = BTreeMap::new();
    for s in &stems {
        let name = if RESERVED_ARRAY_NAMES.contains(&s.as_str()) {
            // Among `taken.len() + 1` candidates one is free: at most that many names are taken.
            let free = (1..=taken.len() + 1)
                .map(|n| format!("{s}_{n}"))
                .find(|c| !taken.contains(c))
                .unwrap_or_default();
            taken.insert(free.clone());
            free
        } else {
            s.clone()
        };
        names.insert(s.clone(), name);
    }
    names
}

/// CF's name of a time unit, as in `units: "seconds since 1970-01-01"`: the same plural words
/// numpy prints after a `timedelta64` count.
pub(crate) fn cf_unit(unit: TimeUnit) -> &'static str {
    unit.numpy_plural()
}

/// Copies the dataset directory `src` into a new local Zarr v3 group at `dst`, written under a
/// temporary name beside it and renamed into place when complete.
///
/// # Errors
/// [`Error::Invalid`] if `dst` exists; as [`dataset_to_group`].
pub fn copy_dataset_to_group(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    options: &GroupOptions,
) -> Result<GroupReport> {
    let src = src.as_ref();
    let dst = dst.as_ref();
    if dst.exists() {
        return Err(Error::invalid(dst, "already exists; remove it or choose another path"));
    }
    let tmp = TempGuard::beside(dst);
    let report = local_storage(tmp.path())
        .and_then(|storage| dataset_to_group(src, storage, "/", dst, options))
        .map_err(|e| crate::fsutil::at_destination(e, tmp.path(), dst))?;
    tmp.commit(dst)?;
    Ok(report)
}

/// Copies the local Zarr group at `src` (one larder wrote, or any group of 1-d arrays of one
/// length) into a new dataset directory `dst`.
///
/// # Errors
/// As [`group_to_dataset`].
pub fn copy_group_to_dataset(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> Result<GroupReport> {
    let src = src.as_ref();
    let dst = dst.as_ref();
    let storage: ReadStorage = local_storage_read(src)?;
    group_to_dataset(storage, "/", src, dst)
}

fn local_storage_read(dir: &Path) -> Result<ReadStorage> {
    if !dir.join("zarr.json").is_file() {
        return Err(Error::invalid(dir, "is not a Zarr v3 group (no zarr.json)"));
    }
    local_read_storage(dir)
}

/// True when `path` is a directory whose `zarr.json` describes a group.
pub fn is_local_group(path: impl AsRef<Path>) -> bool {
    let path = path.as_ref();
    std::fs::read(path.join("zarr.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| v.get("node_type").and_then(Value::as_str) == Some("group"))
}

/// Writes the dataset directory `src` as a Zarr v3 group at `node` of `storage` (see the
/// module docs); `label` names the destination in errors. Every chunk is stored before any
/// metadata, the group's own `zarr.json` last.
///
/// # Errors
/// As [`Dataset::open`]; [`Error::Invalid`] for a dataset file a group cannot restore exactly
/// (not 1-d, big-endian, bytes past its data) or a file the manifest does not name, or
/// options that do not fit; [`Error::Storage`] from the store.
pub fn dataset_to_group(
    src: &Path,
    storage: Storage,
    node: &str,
    label: &Path,
    options: &GroupOptions,
) -> Result<GroupReport> {
    dataset_to_group_skipping(src, storage, node, label, options, HashSet::new())
}

/// [`dataset_to_group`], taking the units whose keys are in `stored` as already stored (a
/// resumed copy: see `ops::copy`).
pub(crate) fn dataset_to_group_skipping(
    src: &Path,
    storage: Storage,
    node: &str,
    label: &Path,
    options: &GroupOptions,
    stored: HashSet<String>,
) -> Result<GroupReport> {
    let ds = Dataset::open(src)?;
    let manifest_path = src.join(MANIFEST);
    let manifest =
        std::fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    check_only_named_files(&ds)?;
    let chunk = options.chunk.unwrap_or(DEFAULT_CHUNK_ROWS);
    if chunk == 0 || options.shard.is_some_and(|s| s == 0 || !s.is_multiple_of(chunk)) {
        let reason = match options.shard {
            _ if chunk == 0 => "chunks of 0 rows: a chunk holds at least one row".to_string(),
            Some(shard) => {
                format!("shards of {shard} rows are not a whole number of {chunk}-row chunks")
            }
            None => format!("chunks of {chunk} rows do not fit"),
        };
        return Err(Error::invalid(label, reason));
    }
    let names = array_names(&named_files(&ds)[2..]);
    let mut gw = GroupWriter::new(storage, node, label)?;
    gw.skip_stored(stored);
    // Every array name is checked before the first chunk is stored.
    for name in names.values() {
        gw.check_name(name)?;
    }
    let mut w = Writer {
        w: gw,
        names,
        chunk,
        shard: options.shard,
        codec: options.codec,
        headers: BTreeMap::new(),
        elements: 0,
    };
    let mut columns = Vec::new();
    for col in ds.columns() {
        columns.push(w.column(&ds, col)?);
    }
    let rejects_path = src.join(REJECTS);
    let rejects = if rejects_path.is_file() {
        let n = std::fs::metadata(&rejects_path).map_err(|e| Error::io(&rejects_path, e))?.len();
        w.raw_bytes(&rejects_path, REJECTS_ARRAY, n)?;
        Some(REJECTS_ARRAY.to_string())
    } else {
        None
    };
    let m = ds.manifest();
    let mut more_rejects = Vec::new();
    for name in m.appends.iter().filter_map(|l| l.rejects.as_ref()) {
        let path = src.join(name);
        let n = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        let array = format!("_larder/{name}");
        w.raw_bytes(&path, &array, n)?;
        more_rejects.push((name.clone(), array));
    }
    let attribute = LarderAttribute {
        version: GROUP_VERSION,
        manifest,
        columns,
        headers: std::mem::take(&mut w.headers),
        rejects,
        more_rejects,
    };
    let mut attributes = Attributes::new();
    attributes.insert("rows".into(), json!(m.rows));
    attributes.insert("rejected".into(), json!(m.rejected));
    attributes.insert("rows_read".into(), json!(m.rows_read));
    attributes.insert("source".into(), json!(m.source));
    if !m.sources.is_empty() {
        attributes.insert("sources".into(), json!(m.sources));
    }
    if !m.appends.is_empty() {
        attributes.insert("appends".into(), json!(m.appends));
    }
    attributes.insert(
        "columns".into(),
        json!(m.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()),
    );
    attributes.insert(
        "larder".into(),
        serde_json::to_value(&attribute).map_err(|e| Error::internal(e.to_string()))?,
    );
    let arrays = w.w.arrays_len();
    let elements = w.elements;
    w.w.finish(attributes)?;
    Ok(GroupReport { rows: m.rows, arrays, elements })
}

/// Refuses a dataset directory holding files its manifest does not name (besides
/// `manifest.json` and `rejects.csv`): a group carries only those, and restoring would lose
/// the others.
fn check_only_named_files(ds: &Dataset) -> Result<()> {
    let mut named = named_files(ds);
    named.extend(ds.manifest().appends.iter().filter_map(|l| l.rejects.as_deref()));
    let dir = ds.path();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        // larder's own working files (an append under way or cut short, a manifest being
        // replaced) are not part of the dataset.
        let own = name.to_string_lossy().starts_with('.')
            && name.to_string_lossy().contains(".larder-tmp");
        // Zone maps are derived from the columns: a restored dataset is indexed again.
        let own = own || (name == crate::zones::ZONES_DIR && entry.path().is_dir());
        if !own && !named.iter().any(|n| std::ffi::OsStr::new(n) == name) {
            return Err(Error::invalid(
                entry.path(),
                "is not named by the dataset's manifest; a dataset group holds only the \
                 manifest's files and rejects.csv (move it out of the dataset first)",
            ));
        }
    }
    Ok(())
}

/// `manifest.json`, `rejects.csv`, then every file of a column (values, validity, offsets,
/// dictionary).
fn named_files(ds: &Dataset) -> Vec<&str> {
    let mut named: Vec<&str> = vec![MANIFEST, REJECTS];
    for c in &ds.manifest().columns {
        named.push(&c.file);
        named.extend(c.valid.as_deref());
        named.extend(c.offsets.as_deref());
        if let Some(d) = &c.dictionary {
            named.push(&d.file);
            named.push(&d.offsets);
        }
    }
    named
}

struct Writer {
    w: GroupWriter,
    /// The array name of each file stem (see [`array_names`]).
    names: BTreeMap<String, String>,
    chunk: u64,
    shard: Option<u64>,
    codec: Codec,
    headers: BTreeMap<String, HeaderText>,
    elements: u64,
}

impl Writer {
    /// The array name of the dataset file `file`.
    fn name(&self, file: &str) -> String {
        let s = stem(file);
        self.names.get(&s).cloned().unwrap_or(s)
    }

    fn spec(&self, name: &str, dtype: GroupType, len: u64, fill: Vec<u8>) -> GroupArraySpec {
        GroupArraySpec {
            name: name.to_string(),
            dtype,
            len,
            chunk: self.chunk,
            shard: self.shard,
            codec: self.codec,
            fill,
            attributes: Attributes::new(),
            dimension: ROW_DIMENSION.to_string(),
        }
    }

    fn open(&mut self, file: &Path, len: Option<u64>) -> Result<NpyIn> {
        let f = NpyIn::open(file, len)?;
        if let (Some(h), Some(name)) = (&f.header, file.file_name()) {
            self.headers.insert(name.to_string_lossy().into_owned(), h.clone());
        }
        Ok(f)
    }

    /// Writes one column: its values array, and its validity or categories array if any.
    fn column(&mut self, ds: &Dataset, col: crate::dataset::Column<'_>) -> Result<ColumnEntry> {
        let meta = col.manifest();
        let rows = ds.rows();
        let array = self.name(&meta.file);
        let mut entry = ColumnEntry { array: array.clone(), ..ColumnEntry::default() };
        let valid = match col.validity_file() {
            Some(f) => Some(self.open(&f, Some(rows))?),
            None => None,
        };
        let mut attributes = Attributes::new();
        attributes.insert("column".into(), json!(meta.name));
        if col.kind() == ColumnKind::String {
            let offsets_file = ds.path().join(meta.offsets.as_deref().unwrap_or_default());
            let bytes = self.open(&col.file(), None)?;
            let offsets = self.open(&offsets_file, Some(rows + 1))?;
            let mut spec = self.spec(&array, GroupType::String, rows, Vec::new());
            if let Some(v) = &valid {
                let mask = self.name(meta.valid.as_deref().unwrap_or_default());
                attributes.insert("ancillary_variables".into(), json!(mask));
                self.mask(v, &mask)?;
                entry.mask = Some(mask);
            }
            spec.attributes = attributes;
            self.strings(&spec, &bytes, &offsets)?;
            return Ok(entry);
        }
        let values = self.open(&col.file(), Some(rows))?;
        let dtype = values.dtype;
        let element = dtype.element();
        let mut codes = None;
        if let Some(cats) = col.categories()? {
            codes = Some(cats.len() as u64);
            match &meta.dictionary {
                None => {
                    let list = cats.to_vec()?;
                    let meanings: Vec<String> = list.iter().map(|c| flag_meaning(c)).collect();
                    attributes
                        .insert("flag_values".into(), json!((0..list.len()).collect::<Vec<_>>()));
                    attributes.insert("flag_meanings".into(), json!(meanings.join(" ")));
                    attributes.insert("categories".into(), json!(list));
                }
                Some(d) => {
                    let name = self.name(&d.file);
                    let file = self.open(&ds.path().join(&d.file), None)?;
                    let offsets =
                        self.open(&ds.path().join(&d.offsets), Some(cats.len() as u64 + 1))?;
                    let mut spec =
                        self.spec(&name, GroupType::String, cats.len() as u64, Vec::new());
                    spec.dimension.clone_from(&name);
                    self.strings(&spec, &file, &offsets)?;
                    attributes.insert("categories_variable".into(), json!(name));
                    entry.dictionary = Some(name);
                }
            }
        }
        if let Some(Time::DateTime(unit)) = dtype.time() {
            attributes.insert("units".into(), json!(format!("{} since 1970-01-01", cf_unit(unit))));
            attributes.insert("calendar".into(), json!("proleptic_gregorian"));
        }
        // Store datetimes as plain int64 (CF), everything else as it is.
        let stored = DType::native(element);
        let mut fill = if matches!(element, ElementType::F32 | ElementType::F64) {
            missing_nan(element)
        } else {
            vec![0u8; dtype.itemsize()]
        };
        let encoding = match &valid {
            Some(v) => Some(missing::choose(&values, v, self.chunk, codes)?),
            None => None,
        };
        match &encoding {
            Some(Missing::Fill(f, attr)) => {
                attributes.insert("_FillValue".into(), attr.clone());
                fill.clone_from(f);
                entry.fill = Some(hex(f));
            }
            Some(Missing::Mask) => {
                let mask = self.name(meta.valid.as_deref().unwrap_or_default());
                attributes.insert("ancillary_variables".into(), json!(mask));
                if let Some(v) = &valid {
                    self.mask(v, &mask)?;
                }
                entry.mask = Some(mask);
            }
            None => {}
        }
        let mut spec = self.spec(&array, GroupType::Fixed(stored), rows, fill.clone());
        spec.attributes = attributes;
        let fill_with = match (&encoding, &valid) {
            (Some(Missing::Fill(..)), Some(v)) => Some((fill.as_slice(), v)),
            _ => None,
        };
        self.fixed(&spec, &values, fill_with)?;
        Ok(entry)
    }

    /// Writes a validity file as a `bool` array.
    fn mask(&mut self, valid: &NpyIn, name: &str) -> Result<()> {
        let mut spec = self.spec(name, GroupType::Fixed(valid.dtype), valid.len, vec![0]);
        spec.attributes.insert("flag_meanings".into(), json!("missing present"));
        spec.attributes.insert("flag_values".into(), json!([false, true]));
        self.fixed(&spec, valid, None)
    }

    /// Writes a file of bytes (`rejects.csv`) as a `uint8` array.
    fn raw_bytes(&mut self, path: &Path, name: &str, len: u64) -> Result<()> {
        let mut spec =
            self.spec(name, GroupType::Fixed(DType::native(ElementType::U8)), len, vec![0]);
        spec.dimension = "byte".into();
        spec.chunk = spec.chunk.max(1 << 20);
        spec.shard = None;
        let id = self.w.add_array(spec.clone())?;
        let interrupt = crate::sys::Interrupt::here();
        (0..spec.units()).into_par_iter().try_for_each(|u| {
            interrupt.check()?;
            let start = u * spec.grid();
            let n = spec.grid().min(len - start);
            let mut buf = vec![0u8; usize::try_from(n).map_err(|_| Error::internal("block"))?];
            let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(start))
                .and_then(|_| std::io::Read::read_exact(&mut f, &mut buf))
                .map_err(|e| Error::io(path, e))?;
            self.w.store_fixed(id, u, &buf)
        })?;
        self.elements += len;
        Ok(())
    }

    /// Writes a fixed-size column, replacing missing rows by `fill` where given.
    fn fixed(
        &mut self,
        spec: &GroupArraySpec,
        values: &NpyIn,
        fill: Option<(&[u8], &NpyIn)>,
    ) -> Result<()> {
        let id = self.w.add_array(spec.clone())?;
        let size = values.dtype.itemsize();
        let interrupt = crate::sys::Interrupt::here();
        (0..spec.units()).into_par_iter().try_for_each(|u| {
            interrupt.check()?;
            let start = u * spec.grid();
            let n = spec.grid().min(spec.len - start);
            let mut v = values.read(start, n)?;
            if let Some((fill, valid)) = fill {
                let ok = valid.read(start, n)?;
                for (elem, &present) in v.chunks_exact_mut(size).zip(&ok) {
                    if present == 0 {
                        elem.copy_from_slice(fill);
                    }
                }
            }
            self.w.store_fixed(id, u, &v)
        })?;
        self.elements += spec.len;
        Ok(())
    }

    /// Writes strings in Arrow's large-string layout (`bytes`, `offsets`) as a string array.
    fn strings(&mut self, spec: &GroupArraySpec, bytes: &NpyIn, offsets: &NpyIn) -> Result<()> {
        let id = self.w.add_array(spec.clone())?;
        let interrupt = crate::sys::Interrupt::here();
        (0..spec.units()).into_par_iter().try_for_each(|u| {
            interrupt.check()?;
            let start = u * spec.grid();
            let n = spec.grid().min(spec.len - start);
            let offs = offsets.read_i64(start, n + 1)?;
            let bad = || {
                Error::invalid(
                    &offsets.path,
                    format!("offsets {start}..{} do not fit its strings", start + n),
                )
            };
            let (first, last) = (offs[0], offs[offs.len() - 1]);
            if first < 0
                || last < first
                || last.cast_unsigned() > bytes.len
                || offs.windows(2).any(|w| w[1] < w[0])
            {
                return Err(bad());
            }
            let data = bytes.read(first.cast_unsigned(), (last - first).cast_unsigned())?;
            if std::str::from_utf8(&data).is_err() {
                return Err(Error::invalid(
                    &bytes.path,
                    format!("rows {start}..{} are not UTF-8", start + n),
                ));
            }
            let rel = offs
                .iter()
                .map(|&o| usize::try_from(o - first).map_err(|_| bad()))
                .collect::<Result<Vec<usize>>>()?;
            self.w.store_strings(id, u, &data, &rel)
        })?;
        self.elements += spec.len;
        Ok(())
    }
}

/// A float NaN of `element`, as bytes.
fn missing_nan(element: ElementType) -> Vec<u8> {
    match element {
        ElementType::F32 => f32::NAN.to_le_bytes().to_vec(),
        _ => f64::NAN.to_le_bytes().to_vec(),
    }
}

/// A category as one word of CF's space-separated `flag_meanings`: spaces become `_`, an
/// empty category `_` (the exact categories are in the `categories` attribute).
fn flag_meaning(category: &str) -> String {
    let word: String = category.chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect();
    if word.is_empty() { "_".into() } else { word }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_odd_text() {
        let b = [0u8, 0x7f, 0xff, 0x10];
        assert_eq!(hex(&b), "007fff10");
        assert_eq!(unhex("007fff10").unwrap(), b);
        assert!(unhex("0g").is_none());
        assert!(unhex("123").is_none());
    }

    #[test]
    fn flag_meanings_are_single_words() {
        assert_eq!(flag_meaning("New York"), "New_York");
        assert_eq!(flag_meaning(""), "_");
        assert_eq!(flag_meaning("a\tb"), "a_b");
    }
}
