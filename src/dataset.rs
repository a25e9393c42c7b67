//! The converted-dataset format: a directory of `.npy` column files described by
//! `manifest.json`, with the records that could not be converted in `rejects.csv`.
//!
//! `convert` writes it; [`Dataset`] reads it for `compute` and the operations, giving each
//! column with its kind, its typed values and its validity. This module depends on neither
//! `convert` nor `compute`.
//!
//! ```
//! use larder::convert::ConvertOptions;
//! use larder::dataset::{ColumnKind, Dataset};
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("log.csv");
//! std::fs::write(&csv, "machine,status\nm1,200\nm2,NA\nm1,404\n")?;
//! let out = dir.path().join("log");
//! ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
//!
//! let ds = Dataset::open(&out)?;
//! let status = ds.column("status")?;
//! assert_eq!(status.kind(), ColumnKind::Number);
//! assert_eq!(status.values::<i64>()?.as_slice()?, &[200, 0, 404]); // 0: a placeholder
//! assert_eq!(status.validity()?.unwrap().as_slice()?, &[true, false, true]);
//! assert_eq!(status.null_count()?, 1);
//! let machine = ds.column("machine")?;
//! assert_eq!(machine.categories()?.unwrap().to_vec()?, ["m1", "m2"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "arrow")]
#[cfg_attr(docsrs, doc(cfg(feature = "arrow")))]
pub mod arrow;
mod manifest;
pub(crate) mod names;
mod strings;
mod typed;

use std::path::{Path, PathBuf};

pub use manifest::{
    DictionaryFiles, Load, MANIFEST, Manifest, ManifestColumn, REJECTS, STR_DTYPE, Source,
    format_reads_zone, is_plain_file_name,
};
pub use strings::{Strings, StringsView};
pub use typed::{
    CategoricalColumn, Codes, ColumnData, DateTimeColumn, Nullable, Numbers, StringColumn,
};

use crate::dtype::{DType, Element, ElementType};
use crate::error::{Error, Result};
use crate::npy::MmapArray;

/// What a dataset column holds, as a data person sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Integers or floats.
    Number,
    /// `true`/`false`.
    Bool,
    /// Unsigned codes into the column's categories.
    Categorical,
    /// numpy `datetime64` values (`<M8[unit]`).
    DateTime,
    /// UTF-8 strings (see [`Strings`]).
    String,
}

impl ColumnKind {
    /// `number`, `bool`, `categorical`, `datetime` or `string`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Number => "number",
            ColumnKind::Bool => "bool",
            ColumnKind::Categorical => "categorical",
            ColumnKind::DateTime => "datetime",
            ColumnKind::String => "string",
        }
    }
}

/// A categorical column's categories, in code order.
#[derive(Debug)]
pub enum Categories<'a> {
    /// Few: listed in the manifest.
    Listed(&'a [String]),
    /// Many: in files of their own, mapped.
    Stored(Box<Strings>),
}

impl Categories<'_> {
    /// Number of categories.
    pub fn len(&self) -> usize {
        match self {
            Categories::Listed(v) => v.len(),
            Categories::Stored(s) => s.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The category of `code`.
    ///
    /// # Errors
    /// [`Error::Argument`] for a code past the last category; as [`Strings::get`].
    pub fn get(&self, code: usize) -> Result<&str> {
        match self {
            Categories::Listed(v) => v.get(code).map(String::as_str).ok_or_else(|| {
                Error::argument(format!("code {code} is not one of the {} categories", v.len()))
            }),
            Categories::Stored(s) => s.get(code),
        }
    }

    /// Every category, in code order, copied.
    ///
    /// # Errors
    /// As [`Categories::get`].
    pub fn to_vec(&self) -> Result<Vec<String>> {
        match self {
            Categories::Listed(v) => Ok(v.to_vec()),
            Categories::Stored(s) => s.iter().map(|r| r.map(str::to_string)).collect(),
        }
    }
}

/// A dataset directory, opened: its manifest, checked, and its columns.
///
/// ```
/// use larder::dataset::Dataset;
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let csv = dir.path().join("t.csv");
/// # std::fs::write(&csv, "ts,region,latency\n2024-01-01T10:00:00,eu,1.5\n2024-01-01T11:00:00,,2.5\n").map_err(|e| larder::Error::io(&csv, e))?;
/// # let out = dir.path().join("t");
/// # larder::convert::ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
/// let ds = Dataset::open(&out)?;
/// assert_eq!(ds.rows(), 2);
/// let names: Vec<&str> = ds.columns().map(|c| c.name()).collect();
/// assert_eq!(names, ["ts", "region", "latency"]);
/// // Numbers are memory-mapped arrays.
/// assert_eq!(ds.column("latency")?.values::<f64>()?.as_slice()?, &[1.5, 2.5]);
/// // A column with missing values has a validity array: row 1 has no region.
/// let region = ds.column("region")?;
/// assert_eq!(region.validity()?.unwrap().as_slice()?, &[true, false]);
/// assert_eq!(region.null_count()?, 1);
/// // Datetimes are numpy datetime64 counts in the column's unit.
/// let ts = ds.column("ts")?;
/// let unit = match ts.dtype()?.time() {
///     Some(larder::dtype::Time::DateTime(unit)) => unit,
///     other => panic!("{other:?}"),
/// };
/// let first = ts.values::<i64>()?.get(&[0])?;
/// assert_eq!(larder::dtype::format_datetime(first, unit), "2024-01-01T10:00:00");
/// # Ok::<(), larder::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Dataset {
    dir: PathBuf,
    manifest: Manifest,
}

impl Dataset {
    /// Reads the dataset in `dir`.
    ///
    /// # Errors
    /// As [`Manifest::read`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Dataset> {
        let dir = dir.as_ref();
        Ok(Dataset { dir: dir.to_path_buf(), manifest: Manifest::read(dir)? })
    }

    /// The dataset whose column file is `path`, with the column's index, if `path` is one.
    ///
    /// # Errors
    /// As [`Manifest::read_if_any`].
    pub fn of_column_file(path: impl AsRef<Path>) -> Result<Option<(Dataset, usize)>> {
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Ok(Manifest::of_column_file(path)?
            .map(|(manifest, i)| (Dataset { dir: dir.to_path_buf(), manifest }, i)))
    }

    /// True when `path` is a directory holding a `manifest.json`.
    pub fn is_dataset(path: impl AsRef<Path>) -> bool {
        let path = path.as_ref();
        path.is_dir() && path.join(MANIFEST).is_file()
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Rows in every column.
    pub fn rows(&self) -> u64 {
        self.manifest.rows
    }

    /// The columns, in order.
    pub fn columns(&self) -> impl Iterator<Item = Column<'_>> {
        let rows = self.manifest.rows;
        self.manifest.columns.iter().map(move |meta| Column { dir: &self.dir, meta, rows })
    }

    /// The column called `name` (see [`Manifest::column`]).
    ///
    /// # Errors
    /// As [`Manifest::column`].
    pub fn column(&self, name: &str) -> Result<Column<'_>> {
        Ok(Column { dir: &self.dir, meta: self.manifest.column(name)?, rows: self.manifest.rows })
    }

    /// The column at `index`, in the manifest's order.
    ///
    /// # Errors
    /// [`Error::Argument`] for an index past the last column.
    pub fn nth_column(&self, index: usize) -> Result<Column<'_>> {
        let meta = self.manifest.columns.get(index).ok_or_else(|| {
            Error::argument(format!(
                "column {index}: the dataset has {} columns",
                self.manifest.columns.len()
            ))
        })?;
        Ok(Column { dir: &self.dir, meta, rows: self.manifest.rows })
    }

    /// The column called `name`, typed by kind, with its missing values as `None` (see
    /// [`ColumnData`]).
    ///
    /// # Errors
    /// As [`Dataset::column`] and [`ColumnData::of`].
    pub fn column_data(&self, name: &str) -> Result<ColumnData> {
        ColumnData::of(&self.column(name)?)
    }

    /// The column at `index`, in the manifest's order, typed by kind (see [`ColumnData`]).
    ///
    /// # Errors
    /// As [`Dataset::nth_column`] and [`ColumnData::of`].
    pub fn column_data_at(&self, index: usize) -> Result<ColumnData> {
        ColumnData::of(&self.nth_column(index)?)
    }
}

/// One column of a [`Dataset`].
#[derive(Clone, Copy, Debug)]
pub struct Column<'a> {
    dir: &'a Path,
    meta: &'a ManifestColumn,
    rows: u64,
}

impl<'a> Column<'a> {
    /// The column's name, unique in the dataset (see [`ManifestColumn::name`]).
    pub fn name(&self) -> &'a str {
        &self.meta.name
    }

    /// The column's name as the CSV header has it (its name, unless that was renamed).
    pub fn header(&self) -> &'a str {
        self.meta.header.as_deref().unwrap_or(&self.meta.name)
    }

    /// Its entry in the manifest.
    pub fn manifest(&self) -> &'a ManifestColumn {
        self.meta
    }

    /// What it holds.
    pub fn kind(&self) -> ColumnKind {
        if self.meta.dtype == STR_DTYPE {
            ColumnKind::String
        } else if self.meta.categories.is_some() || self.meta.dictionary.is_some() {
            ColumnKind::Categorical
        } else if self.meta.dtype.ends_with("b1") {
            ColumnKind::Bool
        } else if self.meta.dtype.get(1..3) == Some("M8") {
            ColumnKind::DateTime
        } else {
            ColumnKind::Number
        }
    }

    /// The stored dtype (`|u1`, the bytes, for a string column).
    ///
    /// # Errors
    /// [`Error::Format`] for a manifest dtype larder does not read.
    pub fn dtype(&self) -> Result<DType> {
        if self.meta.dtype == STR_DTYPE {
            return Ok(DType::native(ElementType::U8));
        }
        DType::parse(&self.meta.dtype).map_err(|e| {
            Error::format(self.dir.join(MANIFEST), 0, format!("column {:?}: {e}", self.meta.name))
        })
    }

    /// The stored element type.
    ///
    /// # Errors
    /// As [`Column::dtype`].
    pub fn element(&self) -> Result<ElementType> {
        Ok(self.dtype()?.element())
    }

    /// The column file.
    pub fn file(&self) -> PathBuf {
        self.dir.join(&self.meta.file)
    }

    /// The validity file, for a column with missing values that are not NaN.
    pub fn validity_file(&self) -> Option<PathBuf> {
        self.meta.valid.as_ref().map(|v| self.dir.join(v))
    }

    /// The categories, in code order, of a categorical column (`None` for other columns).
    ///
    /// # Errors
    /// As [`Strings::open`], for categories in files of their own.
    pub fn categories(&self) -> Result<Option<Categories<'a>>> {
        if let Some(c) = &self.meta.categories {
            return Ok(Some(Categories::Listed(c)));
        }
        let Some(d) = &self.meta.dictionary else { return Ok(None) };
        let (file, offsets) = (self.dir.join(&d.file), self.dir.join(&d.offsets));
        let len = MmapArray::<i64>::open(&offsets)?.len().saturating_sub(1) as u64;
        Ok(Some(Categories::Stored(Box::new(Strings::open(&file, &offsets, len)?))))
    }

    /// The strings of a string column, mapped; missing rows hold the empty string (see
    /// [`Column::validity`]).
    ///
    /// # Errors
    /// [`Error::Argument`] for a column that is not a string column; as [`Strings::open`].
    pub fn strings(&self) -> Result<Strings> {
        let Some(offsets) = &self.meta.offsets else {
            return Err(Error::argument(format!(
                "column {:?} is a {} column, not a string column",
                self.meta.name,
                self.kind().as_str()
            )));
        };
        Strings::open(&self.file(), &self.dir.join(offsets), self.rows)
    }

    /// The values, mapped; missing rows hold placeholders (see [`Column::validity`]).
    ///
    /// # Errors
    /// As [`MmapArray::open`], with [`Error::DTypeMismatch`] when the column is not `T`;
    /// [`Error::Invalid`] when the file does not hold one value per row of the dataset.
    pub fn values<T: Element>(&self) -> Result<MmapArray<T>> {
        self.one_per_row(MmapArray::open(self.file())?)
    }

    /// The validity, mapped: `true` where a row holds a value. `None` when no value is missing
    /// (or, for floats, when missing values are NaN).
    ///
    /// # Errors
    /// As [`MmapArray::open`]; [`Error::Invalid`] when the file does not hold one flag per row
    /// of the dataset.
    pub fn validity(&self) -> Result<Option<MmapArray<bool>>> {
        self.validity_file().map(|f| self.one_per_row(MmapArray::open(f)?)).transpose()
    }

    /// `a` if it is 1-d with the dataset's row count (the manifest's `rows`), else an error
    /// naming its file: readers index it by row. The manifest's count is the one that holds
    /// when the header counts fewer: an append adds rows to a file, then writes the manifest
    /// that counts them, and rewrites the file's header only after.
    fn one_per_row<T: Element>(&self, a: MmapArray<T>) -> Result<MmapArray<T>> {
        if a.shape().len() == 1 && a.len() as u64 == self.rows {
            return Ok(a);
        }
        let (shape, path) = (a.shape().to_vec(), a.path().to_path_buf());
        // Only ever more rows than the header counts: fewer would hide rows the file says it
        // holds, which is damage, not an append under way.
        usize::try_from(self.rows)
            .ok()
            .filter(|&rows| shape.len() == 1 && rows > shape[0])
            .and_then(|rows| a.with_rows(rows).ok())
            .ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("holds shape {shape:?}, the manifest says {} rows", self.rows),
                )
            })
    }

    /// The column typed by kind, with its missing values as `None` (see [`ColumnData`]).
    ///
    /// # Errors
    /// As [`ColumnData::of`].
    pub fn data(&self) -> Result<ColumnData> {
        ColumnData::of(self)
    }

    /// Rows whose value is missing (not counting NaN in float columns).
    ///
    /// # Errors
    /// As [`Column::validity`], and [`Error::NotViewable`] for a damaged validity file.
    pub fn null_count(&self) -> Result<u64> {
        match self.validity()? {
            Some(v) => Ok(v.as_slice()?.iter().filter(|&&ok| !ok).count() as u64),
            None => Ok(0),
        }
    }

    /// Bytes on disk of the column's files: values, validity, offsets and dictionary.
    pub fn bytes(&self) -> u64 {
        let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
        let others = self
            .meta
            .offsets
            .iter()
            .chain(self.meta.dictionary.iter().flat_map(|d| [&d.file, &d.offsets]));
        size(self.file())
            + self.validity_file().map_or(0, size)
            + others.map(|f| size(self.dir.join(f))).sum::<u64>()
    }
}
