//! A Zarr group back into a dataset directory: the group larder wrote, restored byte for byte
//! from its `larder` attribute, or any group of 1-d arrays of one length along one named
//! dimension, converted column by column.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::missing::is_fill;
use super::npyio::{HeaderText, NpyOut};
use super::{GroupReport, LarderAttribute, ReadStorage, unhex};
use crate::dataset::{MANIFEST, Manifest, ManifestColumn, REJECTS, STR_DTYPE, Source, names};
use crate::dtype::{DType, ElementType, Time};
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::zarr::group::{ChunkData, GroupReader, GroupType};

/// What `larder info` says of a Zarr group.
#[derive(Clone, Debug, Serialize)]
pub struct GroupInfo {
    /// True when larder wrote it from a dataset.
    pub dataset: bool,
    /// Rows of every column.
    pub rows: u64,
    /// The columns, in order.
    pub columns: Vec<GroupColumn>,
}

/// One column of a group, for `larder info`.
#[derive(Clone, Debug, Serialize)]
pub struct GroupColumn {
    /// The column's name.
    pub name: String,
    /// The array holding it.
    pub array: String,
    /// The stored data type (`string`, or a numpy typestr).
    pub dtype: String,
    /// Chunk (or shard) length in rows.
    pub chunk: u64,
    /// How missing values are stored: `none`, `fill`, or `mask`.
    pub missing: &'static str,
}

/// Describes the group at `node` of `storage`: its columns and rows.
///
/// # Errors
/// As [`GroupReader::open`]; [`Error::Invalid`] for a group that is neither one larder wrote
/// nor a group of 1-d arrays of one length.
pub fn describe_group(storage: ReadStorage, node: &str, label: &Path) -> Result<GroupInfo> {
    let reader = GroupReader::open(storage, node, label)?;
    let larder = larder_attribute(&reader)?;
    let typestr = |t: GroupType| match t {
        GroupType::Fixed(d) => d.typestr(),
        GroupType::String => "string".into(),
    };
    let Some(attr) = larder else {
        let (rows, arrays) = foreign_arrays(&reader)?;
        let columns = arrays
            .iter()
            .map(|(name, t, grid)| GroupColumn {
                name: name.clone(),
                array: name.clone(),
                dtype: typestr(*t),
                chunk: *grid,
                missing: "none",
            })
            .collect();
        return Ok(GroupInfo { dataset: false, rows, columns });
    };
    let manifest = parse_manifest(label, &attr.manifest)?;
    let mut columns = Vec::new();
    for (c, e) in manifest.columns.iter().zip(&attr.columns) {
        let a = reader.array(&e.array)?;
        let missing = match (&e.fill, &e.mask) {
            (Some(_), _) => "fill",
            (None, Some(_)) => "mask",
            (None, None) => "none",
        };
        columns.push(GroupColumn {
            name: c.name.clone(),
            array: e.array.clone(),
            dtype: typestr(a.dtype),
            chunk: a.grid,
            missing,
        });
    }
    Ok(GroupInfo { dataset: true, rows: manifest.rows, columns })
}

pub(super) fn larder_attribute(reader: &GroupReader) -> Result<Option<LarderAttribute>> {
    let Some(v) = reader.attributes().get("larder") else { return Ok(None) };
    let attr: LarderAttribute = serde_json::from_value(v.clone()).map_err(|e| {
        Error::format(reader.label().join("zarr.json"), 0, format!("attribute \"larder\": {e}"))
    })?;
    if attr.version != super::GROUP_VERSION {
        return Err(Error::invalid(
            reader.label(),
            format!(
                "is a dataset group of layout version {}; this larder reads version 1",
                attr.version
            ),
        ));
    }
    Ok(Some(attr))
}

fn parse_manifest(label: &Path, text: &str) -> Result<Manifest> {
    serde_json::from_str(text).map_err(|e| {
        Error::format(
            label.join("zarr.json"),
            0,
            format!("the manifest in attribute \"larder\": {e}"),
        )
    })
}

/// Copies the Zarr group at `node` of `storage` into a new dataset directory `dst` (written
/// under a temporary name beside it, renamed when complete). A group larder wrote comes back
/// byte for byte, `manifest.json` and `rejects.csv` included; any other group of 1-d arrays
/// of one length with `dimension_names` becomes one column per array (numbers, booleans,
/// `numpy.datetime64`, strings), in name order.
///
/// # Errors
/// [`Error::Invalid`] if `dst` exists, or for a group that is neither (naming what does not
/// fit); [`Error::Storage`] for a chunk that does not decode; [`Error::Io`] writing `dst`.
// The handle is taken as zarrs takes its storage (a shared pointer, cloned per reader).
#[allow(clippy::needless_pass_by_value)]
pub fn group_to_dataset(
    storage: ReadStorage,
    node: &str,
    label: &Path,
    dst: impl AsRef<Path>,
) -> Result<GroupReport> {
    let dst = dst.as_ref();
    if dst.exists() {
        return Err(Error::invalid(dst, "already exists; remove it or choose another path"));
    }
    let reader = GroupReader::open(storage.clone(), node, label)?;
    let tmp = TempGuard::beside(dst);
    std::fs::create_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
    let report = match larder_attribute(&reader)? {
        Some(attr) => restore(&reader, &storage, node, &attr, tmp.path(), &Whole)?,
        None => import(&reader, tmp.path(), &|_| true, true)?,
    };
    // Checks the manifest as every reader of the dataset will.
    Manifest::read(tmp.path())?;
    crate::fsutil::sync_dir(&tmp.path().join(MANIFEST));
    tmp.commit(dst)?;
    Ok(report)
}

/// Refuses arrays of a larder group that its `larder` attribute does not list (one added by
/// `copy x.npy GROUP.zarr:/extra`, or by another tool): restoring the dataset would leave them
/// out without a word.
fn refuse_unlisted(reader: &GroupReader, attr: &LarderAttribute) -> Result<()> {
    let mut listed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for e in &attr.columns {
        listed.insert(&e.array);
        listed.extend(e.mask.as_deref());
        listed.extend(e.dictionary.as_deref());
    }
    listed.extend(attr.rejects.as_deref());
    listed.extend(attr.more_rejects.iter().map(|(_, a)| a.as_str()));
    let unlisted: Vec<String> = reader
        .arrays()
        .map(|a| a.name.as_str())
        .chain(reader.nested_arrays().iter().map(String::as_str))
        .filter(|a| !listed.contains(a))
        .map(|a| format!("{a:?}"))
        .collect();
    if unlisted.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        reader.label(),
        format!(
            "holds {} not among the dataset's columns ({}), which a copy back to a dataset \
             would leave out; copy {} on its own, or remove {}",
            if unlisted.len() == 1 { "an array" } else { "arrays" },
            unlisted.join(", "),
            if unlisted.len() == 1 { "it" } else { "them" },
            if unlisted.len() == 1 { "it" } else { "them" },
        ),
    ))
}

/// Which parts of a group [`restore`] writes into its directory.
pub(super) enum Part<'a> {
    /// Every column and the rejects: the dataset, byte for byte.
    Whole,
    /// The manifest and the files of the columns `want` keeps; arrays the manifest does not
    /// list are not looked at (a computation reads the columns it names).
    Columns(&'a dyn Fn(&ManifestColumn) -> bool),
}
use Part::Whole;

/// Restores a dataset larder wrote (or, with [`Part::Columns`], the part of it asked for).
pub(super) fn restore(
    reader: &GroupReader,
    storage: &ReadStorage,
    node: &str,
    attr: &LarderAttribute,
    dir: &Path,
    part: &Part<'_>,
) -> Result<GroupReport> {
    let label = reader.label();
    let whole = matches!(part, Whole);
    if whole {
        refuse_unlisted(reader, attr)?;
    }
    let manifest = parse_manifest(label, &attr.manifest)?;
    if manifest.columns.len() != attr.columns.len() {
        return Err(Error::invalid(label, "the \"larder\" attribute does not list every column"));
    }
    let r = Restorer { reader, dir, attr, sync: whole };
    let mut elements = 0;
    let mut arrays = 0;
    for (c, e) in manifest.columns.iter().zip(&attr.columns) {
        if let Part::Columns(want) = part
            && !want(c)
        {
            continue;
        }
        let info = reader.array(&e.array)?;
        let values_len = info.shape.first().copied().unwrap_or(0);
        if info.shape.len() != 1 || values_len != manifest.rows {
            return Err(Error::invalid(
                label,
                format!(
                    "array {:?} has shape {:?}; the manifest says {} rows",
                    e.array, info.shape, manifest.rows
                ),
            ));
        }
        arrays += 1;
        elements += manifest.rows;
        if c.dtype == STR_DTYPE {
            let offsets = c.offsets.as_deref().unwrap_or_default();
            r.strings(&e.array, &c.file, offsets)?;
        } else {
            let dtype = DType::parse(&c.dtype).map_err(|e| Error::invalid(label, e.to_string()))?;
            let fill = match &e.fill {
                Some(h) => Some(unhex(h).ok_or_else(|| {
                    Error::invalid(label, format!("column {:?}: fill {h:?} is not hex", c.name))
                })?),
                None => None,
            };
            r.fixed(&e.array, &c.file, dtype, fill.as_deref(), c.valid.as_deref())?;
        }
        if let (Some(mask), Some(valid)) = (&e.mask, &c.valid) {
            r.fixed(mask, valid, DType::native(ElementType::Bool), None, None)?;
            arrays += 1;
        }
        if let (Some(name), Some(d)) = (&e.dictionary, &c.dictionary) {
            r.strings(name, &d.file, &d.offsets)?;
            arrays += 1;
        }
    }
    let rejects = attr.rejects.iter().map(|a| (REJECTS, a.as_str()));
    let more = attr.more_rejects.iter().map(|(f, a)| (f.as_str(), a.as_str()));
    for (file, array) in rejects.chain(more).filter(|_| whole) {
        if !crate::dataset::is_plain_file_name(file) {
            return Err(Error::invalid(
                label,
                format!("rejects file {file:?} is not a plain name"),
            ));
        }
        let (sub, name) = array.split_once('/').unwrap_or(("", array));
        let sub_node = if node == "/" { format!("/{sub}") } else { format!("{node}/{sub}") };
        let sub_reader = GroupReader::open(storage.clone(), &sub_node, label)?;
        let path = dir.join(file);
        let mut out =
            std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?);
        for_each_unit(&sub_reader, name, |data| match data {
            ChunkData::Fixed(b) => {
                std::io::Write::write_all(&mut out, &b).map_err(|e| Error::io(&path, e))
            }
            ChunkData::Strings(..) => Err(Error::invalid(label, format!("{array} is not bytes"))),
        })?;
        let file = out.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        arrays += 1;
    }
    write_synced(&dir.join(MANIFEST), attr.manifest.as_bytes(), whole)?;
    Ok(GroupReport { rows: manifest.rows, arrays, elements })
}

/// Writes `bytes` to a new file `path`, synced to disk with `sync`.
fn write_synced(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    std::io::Write::write_all(&mut f, bytes)
        .and_then(|()| if sync { f.sync_all() } else { Ok(()) })
        .map_err(|e| Error::io(path, e))
}

/// Reads every unit of array `name` in order, a batch decoded in parallel at a time, and
/// hands each to `sink`.
fn for_each_unit(
    reader: &GroupReader,
    name: &str,
    mut sink: impl FnMut(ChunkData) -> Result<()>,
) -> Result<()> {
    let units = reader.array(name)?.units();
    let batch = rayon::current_num_threads().max(1) as u64;
    let mut at = 0;
    while at < units {
        crate::sys::check_interrupt()?;
        let end = (at + batch).min(units);
        let chunks: Vec<ChunkData> =
            (at..end).into_par_iter().map(|u| reader.read_unit(name, u)).collect::<Result<_>>()?;
        for c in chunks {
            sink(c)?;
        }
        at = end;
    }
    Ok(())
}

struct Restorer<'a> {
    reader: &'a GroupReader,
    dir: &'a Path,
    attr: &'a LarderAttribute,
    /// Files are synced to disk (a dataset restored for good, not a scratch copy).
    sync: bool,
}

impl Restorer<'_> {
    fn header(&self, file: &str) -> Option<&HeaderText> {
        self.attr.headers.get(file)
    }

    fn create(&self, file: &str, dtype: DType) -> Result<NpyOut> {
        NpyOut::create(&self.dir.join(file), dtype, self.header(file))
    }

    /// Restores a fixed-size file from array `name`; with `fill`, rows holding it become the
    /// zero placeholder and `false` in the validity file `valid`.
    fn fixed(
        &self,
        name: &str,
        file: &str,
        dtype: DType,
        fill_bytes: Option<&[u8]>,
        valid: Option<&str>,
    ) -> Result<()> {
        self.fixed_decoded(name, file, dtype, fill_bytes, valid, 0)
    }

    /// [`fixed`](Restorer::fixed) whose int64 values are moved by `shift` as they are read
    /// (CF times with another epoch than 1970's; see `dtype::cf`).
    fn fixed_decoded(
        &self,
        name: &str,
        file: &str,
        dtype: DType,
        fill_bytes: Option<&[u8]>,
        valid: Option<&str>,
        shift: i64,
    ) -> Result<()> {
        let info = self.reader.array(name)?;
        let stored = match info.dtype {
            GroupType::Fixed(d) => d,
            GroupType::String => DType::native(ElementType::U8),
        };
        if stored.element() != dtype.element() {
            return Err(Error::invalid(
                self.reader.label(),
                format!(
                    "array {name:?} holds {}, the manifest says {}",
                    stored.typestr(),
                    dtype.typestr()
                ),
            ));
        }
        let mut out = self.create(file, dtype)?;
        let mut valid_out = match (fill_bytes, valid) {
            (Some(_), Some(v)) => Some(self.create(v, DType::native(ElementType::Bool))?),
            _ => None,
        };
        let size = dtype.itemsize();
        let label = self.reader.label().to_path_buf();
        for_each_unit(self.reader, name, |data| {
            let ChunkData::Fixed(mut v) = data else {
                return Err(Error::invalid(&label, format!("array {name:?} holds strings")));
            };
            if shift != 0 {
                crate::dtype::cf::shift_bytes(&mut v, shift)
                    .map_err(|e| Error::invalid(&label, format!("array {name:?}: {e}")))?;
            }
            if let (Some(fill), Some(vo)) = (fill_bytes, valid_out.as_mut()) {
                let mut ok = Vec::with_capacity(v.len() / size);
                for elem in v.chunks_exact_mut(size) {
                    let missing = is_fill(dtype.element(), elem, fill);
                    if missing {
                        elem.fill(0);
                    }
                    ok.push(u8::from(!missing));
                }
                vo.write(&ok)?;
            }
            out.write(&v)
        })?;
        out.finish_with(self.sync)?;
        if let Some(vo) = valid_out {
            vo.finish_with(self.sync)?;
        }
        Ok(())
    }

    /// Restores a string column (or dictionary): its bytes file and `<i8` offsets file.
    fn strings(&self, name: &str, file: &str, offsets: &str) -> Result<()> {
        let mut bytes_out = self.create(file, DType::native(ElementType::U8))?;
        let mut offsets_out = self.create(offsets, DType::native(ElementType::I64))?;
        offsets_out.write_i64(&[0])?;
        let mut base: i64 = 0;
        let label = self.reader.label().to_path_buf();
        for_each_unit(self.reader, name, |data| {
            let ChunkData::Strings(b, offs) = data else {
                return Err(Error::invalid(
                    &label,
                    format!("array {name:?} does not hold strings"),
                ));
            };
            bytes_out.write(&b)?;
            let abs: Vec<i64> =
                offs[1..].iter().map(|&o| base + (o as u64).cast_signed()).collect();
            offsets_out.write_i64(&abs)?;
            base += (b.len() as u64).cast_signed();
            Ok(())
        })?;
        bytes_out.finish_with(self.sync)?;
        offsets_out.finish_with(self.sync)
    }
}

/// A column of a group larder did not write: array name, type and chunk length.
type Foreign = (String, GroupType, u64);

/// The 1-d arrays of a group not written by larder, checked to share one length and one
/// dimension name: (name, type, grid) each, and the length.
fn foreign_arrays(reader: &GroupReader) -> Result<(u64, Vec<Foreign>)> {
    let label = reader.label();
    // An array in a subgroup is neither a column nor something to leave behind unsaid.
    let nested = reader.nested_arrays();
    if !nested.is_empty() {
        let names: Vec<String> = nested.iter().map(|n| format!("{n:?}")).collect();
        let what = if names.len() == 1 { "an array" } else { "arrays" };
        return Err(Error::invalid(
            label,
            format!(
                "holds {what} in subgroups ({}), which a dataset cannot place: its columns are \
                 the group's own 1-d arrays; copy the subgroup as a group of its own",
                names.join(", ")
            ),
        ));
    }
    let mut rows = None;
    let mut dim: Option<String> = None;
    let mut out = Vec::new();
    for a in reader.arrays() {
        let bad = |why: String| Error::invalid(label, format!("array {:?} {why}", a.name));
        let [len] = a.shape[..] else {
            return Err(bad(format!("has shape {:?}; a dataset needs 1-d arrays", a.shape)));
        };
        let name = a
            .dimension_names
            .as_ref()
            .and_then(|d| d.first().cloned().flatten())
            .ok_or_else(|| {
                bad("has no dimension_names; a dataset needs its arrays along one named dimension"
                    .into())
            })?;
        match (&dim, rows) {
            (Some(d), Some(r)) if *d != name || r != len => {
                return Err(bad(format!(
                    "runs along {name:?} ({len}), the others along {d:?} ({r})"
                )));
            }
            _ => {
                dim = Some(name);
                rows = Some(len);
            }
        }
        if let GroupType::Fixed(d) = a.dtype {
            let ok = matches!(d.time(), None | Some(Time::DateTime(_)))
                && !matches!(d.element(), ElementType::C64 | ElementType::C128 | ElementType::F16);
            if !ok {
                return Err(bad(format!("holds {}, which a dataset column cannot", d.typestr())));
            }
        }
        out.push((a.name.clone(), a.dtype, a.grid));
    }
    if out.is_empty() {
        return Err(Error::invalid(label, "holds no arrays"));
    }
    Ok((rows.unwrap_or(0), out))
}

/// How a column of a foreign group is stored, read from its CF attributes as xarray reads
/// them: times against any epoch (moved to numpy's), and an integer `_FillValue` marking
/// missing rows.
struct ForeignEncoding {
    dtype: DType,
    /// Added to each int64 value (see `dtype::cf`).
    shift: i64,
    /// The native-order bytes of the fill value, for an integer column that has one.
    fill: Option<Vec<u8>>,
}

/// The [`ForeignEncoding`] of array `name` holding `stored`. Packed values (`scale_factor`,
/// `add_offset`), a `missing_value` other than the `_FillValue`, and a fill value that is not
/// a value of the column's type are refused by name rather than read as something else.
fn foreign_encoding(reader: &GroupReader, name: &str, stored: DType) -> Result<ForeignEncoding> {
    use crate::dtype::cf;
    use serde_json::Value;
    let attrs = &reader.array(name)?.attributes;
    let bad = |why: String| Error::invalid(reader.label(), format!("array {name:?} {why}"));
    if let Some(k) = ["scale_factor", "add_offset"].into_iter().find(|k| attrs.contains_key(*k)) {
        return Err(bad(format!(
            "holds packed values ({k}), which a dataset column does not unpack; copy it on its \
             own (SRC:/{name}) and scale it there"
        )));
    }
    let text = |k: &str| attrs.get(k).and_then(Value::as_str);
    let (dtype, shift) = cf::decoded(stored, text(cf::UNITS), text(cf::CALENDAR));
    let fill_value = attrs.get("_FillValue").filter(|v| !v.is_null());
    if let Some(m) = attrs.get("missing_value").filter(|v| !v.is_null())
        && fill_value != Some(m)
    {
        return Err(bad(format!(
            "has a missing_value ({m}) other than its _FillValue ({}); larder reads one marker \
             of missing rows",
            fill_value.map_or_else(|| "none".to_string(), ToString::to_string)
        )));
    }
    let element = dtype.element();
    let float = matches!(element, ElementType::F32 | ElementType::F64);
    let fill = match fill_value {
        None => None,
        // Floats: NaN is the missing value already.
        Some(v) if float && v.as_f64().is_none_or(f64::is_nan) => None,
        // Times: NaT is the missing value already.
        Some(v) if dtype.time().is_some() && v.as_i64() == Some(i64::MIN) => None,
        Some(v) if dtype.time().is_none() && !float => {
            let x = v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from));
            let bytes = x.and_then(|x| int_bytes(element, x)).ok_or_else(|| {
                bad(format!("has _FillValue {v}, not a value of its type {}", dtype.typestr()))
            })?;
            Some(bytes)
        }
        // Another number in a float column would read as data, and times mark missing
        // rows as NaT.
        Some(v) => {
            return Err(bad(format!(
                "marks missing rows with _FillValue {v}, which a {} column cannot hold as \
                 missing; copy it on its own (SRC:/{name})",
                dtype.typestr()
            )));
        }
    };
    Ok(ForeignEncoding { dtype, shift, fill })
}

/// The native-order bytes of `x` as an `element` integer, if it is one.
fn int_bytes(element: ElementType, x: i128) -> Option<Vec<u8>> {
    Some(match element {
        ElementType::I8 => bytemuck::bytes_of(&i8::try_from(x).ok()?).to_vec(),
        ElementType::I16 => bytemuck::bytes_of(&i16::try_from(x).ok()?).to_vec(),
        ElementType::I32 => bytemuck::bytes_of(&i32::try_from(x).ok()?).to_vec(),
        ElementType::I64 => bytemuck::bytes_of(&i64::try_from(x).ok()?).to_vec(),
        ElementType::U8 => bytemuck::bytes_of(&u8::try_from(x).ok()?).to_vec(),
        ElementType::U16 => bytemuck::bytes_of(&u16::try_from(x).ok()?).to_vec(),
        ElementType::U32 => bytemuck::bytes_of(&u32::try_from(x).ok()?).to_vec(),
        ElementType::U64 => bytemuck::bytes_of(&u64::try_from(x).ok()?).to_vec(),
        _ => return None,
    })
}

/// Converts a group larder did not write: one column per array; the manifest lists every
/// array, the files are written for the columns `want` keeps (synced to disk with `sync`).
pub(super) fn import(
    reader: &GroupReader,
    dir: &Path,
    want: &dyn Fn(&ManifestColumn) -> bool,
    sync: bool,
) -> Result<GroupReport> {
    let (rows, arrays) = foreign_arrays(reader)?;
    let files = names::file_names(arrays.iter().map(|a| a.0.as_str()));
    let attr = LarderAttribute::default();
    let r = Restorer { reader, dir, attr: &attr, sync };
    let mut columns = Vec::new();
    for ((name, t, _), file) in arrays.iter().zip(&files) {
        let mut col = ManifestColumn {
            name: name.clone(),
            header: None,
            file: file.clone(),
            dtype: String::new(),
            categories: None,
            valid: None,
            offsets: None,
            dictionary: None,
            format: None,
            fill: None,
            zone: None,
        };
        // The manifest entry first: `want` chooses by it.
        let cf = match t {
            GroupType::Fixed(d) => {
                let cf = foreign_encoding(reader, name, *d)?;
                col.dtype = cf.dtype.typestr();
                if cf.fill.is_some() {
                    col.valid = Some(format!("{}.valid.npy", file.trim_end_matches(".npy")));
                }
                Some(cf)
            }
            GroupType::String => {
                col.dtype = STR_DTYPE.into();
                col.offsets = Some(format!("{}.offsets.npy", file.trim_end_matches(".npy")));
                None
            }
        };
        if want(&col) {
            match (&cf, &col.offsets) {
                (Some(cf), _) => {
                    let valid = col.valid.as_deref();
                    r.fixed_decoded(name, file, cf.dtype, cf.fill.as_deref(), valid, cf.shift)?;
                }
                (None, Some(offsets)) => r.strings(name, file, offsets)?,
                (None, None) => {}
            }
        }
        columns.push(col);
    }
    let manifest = Manifest {
        columns,
        rows,
        rejected: 0,
        rows_read: rows,
        source: Source {
            path: reader.label().display().to_string(),
            bytes: 0,
            ..Source::default()
        },
        sources: Vec::new(),
        appends: Vec::new(),
        version: 1,
    };
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
    write_synced(&dir.join(MANIFEST), text.as_bytes(), sync)?;
    Ok(GroupReport { rows, arrays: arrays.len(), elements: rows * arrays.len() as u64 })
}
