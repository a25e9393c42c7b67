//! Typed, null-aware columns: [`ColumnData`], one variant per [`ColumnKind`], each with
//! accessors that hide how the column is stored (code width, validity file, offsets, time unit).
//!
//! Values that may be missing come out as `Option`: reading a value without its validity takes
//! asking for the raw `values()` by name, which say that missing rows hold placeholders.

use std::sync::Arc;

use half::f16;
use jiff::Timestamp;

use super::{Column, ColumnKind, Strings};
use crate::dtype::{Element, ElementType, TimeUnit};
use crate::error::{Error, Result};
use crate::npy::MmapArray;

/// A dataset column with its values typed by kind (see [`Dataset::column_data`]).
///
/// [`Dataset::column_data`]: super::Dataset::column_data
///
/// ```
/// use larder::convert::ConvertOptions;
/// use larder::dataset::{CategoricalColumn, ColumnData, Dataset, Nullable};
/// # let dir = tempfile::tempdir()?;
/// # let csv = dir.path().join("log.csv");
/// std::fs::write(&csv, "region,status\neu,200\nus,NA\n,404\n")?;
/// let out = dir.path().join("log");
/// ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
///
/// let ds = Dataset::open(&out)?;
/// let ColumnData::Categorical(region) = ds.column_data("region")? else { unreachable!() };
/// assert_eq!(region.labels()?.collect::<Vec<_>>(), [Some("eu"), Some("us"), None]);
/// let ColumnData::Number(status) = ds.column_data_at(1)? else { unreachable!() };
/// assert_eq!(status.iter_f64()?.collect::<Vec<_>>(), [Some(200.0), None, Some(404.0)]);
///
/// // A column whose kind (and number type) you know: `try_into`, an error if it is not.
/// let region: CategoricalColumn = ds.column_data("region")?.try_into()?;
/// let status: Nullable<i64> = ds.column_data("status")?.try_into()?;
/// assert_eq!((region.label(1)?, status.get(1)?), (Some("us"), None));
/// let as_f64 = Nullable::<f64>::try_from(ds.column_data("status")?); // stored as <i8
/// assert!(matches!(as_f64, Err(larder::Error::DTypeMismatch { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ColumnData {
    /// Integers or floats.
    Number(Numbers),
    /// `true`/`false`.
    Bool(Nullable<bool>),
    /// Labels stored as codes into a dictionary.
    Categorical(CategoricalColumn),
    /// Date-times (`datetime64`).
    DateTime(DateTimeColumn),
    /// Free text.
    String(StringColumn),
}

impl ColumnData {
    /// Types the column `column`, checking what later reads rely on without reading its values:
    /// every file holds one value per row; values are in this machine's byte order and aligned;
    /// a large dictionary's offsets and text are valid. What is checked as it is read: bool and
    /// validity bytes (0 or 1), a categorical's codes in rows with a value (inside the
    /// dictionary), strings (offsets and UTF-8).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a file that does not hold one value per row; [`Error::Format`]
    /// for damaged dictionary offsets or text, naming the file and the byte;
    /// [`Error::NotViewable`] for values in the other byte order or misaligned;
    /// [`Error::UnsupportedDType`] for a number type with no typed column (complex); as
    /// [`MmapArray::open`].
    pub fn of(column: &Column<'_>) -> Result<ColumnData> {
        // Bool bytes (validity included) and codes are checked where they are read, not here:
        // typing a column reads none of its values, so exporting it costs nothing up front.
        let validity = column.validity()?.map(Arc::new);
        let name: Arc<str> = column.name().into();
        Ok(match column.kind() {
            ColumnKind::String => ColumnData::String(StringColumn {
                name,
                strings: Arc::new(column.strings()?),
                validity,
            }),
            ColumnKind::Bool => ColumnData::Bool(Nullable::new(name, column.values()?, validity)?),
            ColumnKind::DateTime => {
                let unit = column.dtype()?.time().map_or(TimeUnit::Ns, crate::dtype::Time::unit);
                let values = Nullable::new(name, column.values()?, validity)?;
                let zoned = column.manifest().zoned();
                ColumnData::DateTime(DateTimeColumn { values, unit, zoned })
            }
            ColumnKind::Categorical => {
                ColumnData::Categorical(CategoricalColumn::new(column, name, validity)?)
            }
            ColumnKind::Number => ColumnData::Number(Numbers::new(column, name, validity)?),
        })
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            ColumnData::Number(n) => n.name(),
            ColumnData::Bool(b) => b.name(),
            ColumnData::Categorical(c) => &c.name,
            ColumnData::DateTime(d) => d.values.name(),
            ColumnData::String(s) => &s.name,
        }
    }

    /// Its kind.
    pub fn kind(&self) -> ColumnKind {
        match self {
            ColumnData::Number(_) => ColumnKind::Number,
            ColumnData::Bool(_) => ColumnKind::Bool,
            ColumnData::Categorical(_) => ColumnKind::Categorical,
            ColumnData::DateTime(_) => ColumnKind::DateTime,
            ColumnData::String(_) => ColumnKind::String,
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Number(n) => n.len(),
            ColumnData::Bool(b) => b.len(),
            ColumnData::Categorical(c) => c.codes.len(),
            ColumnData::DateTime(d) => d.values.len(),
            ColumnData::String(s) => s.strings.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The validity file, mapped: `true` where a row holds a value; `None` when no value is
    /// missing (floats: NaN is a value, as in numpy and Arrow; see [`Numbers::iter_f64`]).
    pub fn validity_file(&self) -> Option<&Arc<MmapArray<bool>>> {
        match self {
            ColumnData::Number(n) => n.validity_file(),
            ColumnData::Bool(b) => b.validity.as_ref(),
            ColumnData::Categorical(c) => c.validity.as_ref(),
            ColumnData::DateTime(d) => d.values.validity.as_ref(),
            ColumnData::String(s) => s.validity.as_ref(),
        }
    }

    /// Rows whose value is missing.
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the validity file changed since it was checked.
    pub fn null_count(&self) -> Result<usize> {
        match self.validity_file() {
            Some(v) => Ok(v.as_slice()?.iter().filter(|&&ok| !ok).count()),
            None => Ok(0),
        }
    }
}

/// The values of a column with a validity: numbers, bools, or date-times as their raw counts.
#[derive(Debug, Clone)]
pub struct Nullable<T: Element> {
    name: Arc<str>,
    values: Arc<MmapArray<T>>,
    validity: Option<Arc<MmapArray<bool>>>,
}

impl<T: Element> Nullable<T> {
    fn new(
        name: Arc<str>,
        values: MmapArray<T>,
        validity: Option<Arc<MmapArray<bool>>>,
    ) -> Result<Nullable<T>> {
        // Byte order and alignment, which cost nothing to check; bools are checked as read.
        if T::TYPE != ElementType::Bool {
            values.as_slice()?;
        }
        Ok(Nullable { name, values: Arc::new(values), validity })
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored values, one per row; **missing rows hold placeholders** (0, `false`): read
    /// them with [`validity`](Nullable::validity), or use [`iter`](Nullable::iter).
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the file changed since it was checked (bool bytes are checked
    /// again on each call: look the slice up once, not per row).
    pub fn values(&self) -> Result<&[T]> {
        self.values.as_slice()
    }

    /// `true` where a row holds a value; `None` when every row does.
    ///
    /// # Errors
    /// As [`values`](Nullable::values).
    pub fn validity(&self) -> Result<Option<&[bool]>> {
        self.validity.as_deref().map(MmapArray::as_slice).transpose()
    }

    /// Row `i`: `None` where it is missing. Only its pages are read.
    ///
    /// # Errors
    /// [`Error::Argument`] for a row past the end.
    pub fn get(&self, i: usize) -> Result<Option<T>> {
        if !row_present(&self.name, self.len(), self.validity.as_deref(), i)? {
            return Ok(None);
        }
        self.values.get(&[i]).map(Some)
    }

    /// Every row, `None` where it is missing.
    ///
    /// # Errors
    /// As [`values`](Nullable::values).
    // `Result` first: the files are looked up once, then every row is read without a check.
    #[allow(clippy::iter_not_returning_iterator)]
    pub fn iter(&self) -> Result<impl Iterator<Item = Option<T>> + '_> {
        Ok(with_validity(self.values()?.iter().copied(), self.validity()?))
    }

    /// Rows whose value is missing.
    ///
    /// # Errors
    /// As [`validity`](Nullable::validity).
    pub fn null_count(&self) -> Result<usize> {
        Ok(self.validity()?.map_or(0, |v| v.iter().filter(|&&ok| !ok).count()))
    }

    /// The values file, mapped (shared with Arrow arrays made over it).
    pub fn values_file(&self) -> &Arc<MmapArray<T>> {
        &self.values
    }

    /// The validity file, mapped, where there is one.
    pub fn validity_file(&self) -> Option<&Arc<MmapArray<bool>>> {
        self.validity.as_ref()
    }
}

/// `values` as `Some`, or `None` where `validity` is false.
fn with_validity<'a, T: 'a>(
    values: impl Iterator<Item = T> + 'a,
    validity: Option<&'a [bool]>,
) -> impl Iterator<Item = Option<T>> + 'a {
    let mut valid = validity.map(|v| v.iter());
    values.map(move |x| match valid.as_mut() {
        Some(v) => v.next().copied().unwrap_or(false).then_some(x),
        None => Some(x),
    })
}

/// A number column, by stored element type.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the element types are the documentation
pub enum Numbers {
    I8(Nullable<i8>),
    I16(Nullable<i16>),
    I32(Nullable<i32>),
    I64(Nullable<i64>),
    U8(Nullable<u8>),
    U16(Nullable<u16>),
    U32(Nullable<u32>),
    U64(Nullable<u64>),
    F16(Nullable<f16>),
    F32(Nullable<f32>),
    F64(Nullable<f64>),
}

/// `$body` with `$n` bound to the `Nullable` of whatever element type `$numbers` holds.
macro_rules! each_number {
    ($numbers:expr, $n:ident => $body:expr) => {
        match $numbers {
            Numbers::I8($n) => $body,
            Numbers::I16($n) => $body,
            Numbers::I32($n) => $body,
            Numbers::I64($n) => $body,
            Numbers::U8($n) => $body,
            Numbers::U16($n) => $body,
            Numbers::U32($n) => $body,
            Numbers::U64($n) => $body,
            Numbers::F16($n) => $body,
            Numbers::F32($n) => $body,
            Numbers::F64($n) => $body,
        }
    };
}
#[cfg(feature = "arrow")]
pub(crate) use each_number;

impl Numbers {
    fn new(
        column: &Column<'_>,
        name: Arc<str>,
        validity: Option<Arc<MmapArray<bool>>>,
    ) -> Result<Numbers> {
        let v = validity;
        Ok(match column.element()? {
            ElementType::I8 => Numbers::I8(Nullable::new(name, column.values()?, v)?),
            ElementType::I16 => Numbers::I16(Nullable::new(name, column.values()?, v)?),
            ElementType::I32 => Numbers::I32(Nullable::new(name, column.values()?, v)?),
            ElementType::I64 => Numbers::I64(Nullable::new(name, column.values()?, v)?),
            ElementType::U8 => Numbers::U8(Nullable::new(name, column.values()?, v)?),
            ElementType::U16 => Numbers::U16(Nullable::new(name, column.values()?, v)?),
            ElementType::U32 => Numbers::U32(Nullable::new(name, column.values()?, v)?),
            ElementType::U64 => Numbers::U64(Nullable::new(name, column.values()?, v)?),
            ElementType::F16 => Numbers::F16(Nullable::new(name, column.values()?, v)?),
            ElementType::F32 => Numbers::F32(Nullable::new(name, column.values()?, v)?),
            ElementType::F64 => Numbers::F64(Nullable::new(name, column.values()?, v)?),
            e @ (ElementType::Bool | ElementType::C64 | ElementType::C128) => {
                return Err(Error::UnsupportedDType {
                    path: column.file(),
                    descr: column.manifest().dtype.clone(),
                    reason: format!(
                        "column {:?} holds {}, which has no typed number column",
                        column.name(),
                        e.name()
                    ),
                });
            }
        })
    }

    /// The stored element type.
    pub fn element(&self) -> ElementType {
        each_number!(self, n => n.values.dtype().element())
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        each_number!(self, n => n.name())
    }

    /// Rows.
    pub fn len(&self) -> usize {
        each_number!(self, n => n.len())
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The validity file, where there is one.
    pub fn validity_file(&self) -> Option<&Arc<MmapArray<bool>>> {
        each_number!(self, n => n.validity.as_ref())
    }

    /// Every row as `f64` (exact up to 2^53 for 64-bit integers), `None` where it is missing.
    /// A float's NaN is a value (`Some(NaN)`), as numpy and Arrow hold it; pandas counts it as
    /// missing, so use `x.filter(|v| !v.is_nan())` for pandas' `isna`.
    ///
    /// # Errors
    /// As [`Nullable::values`].
    pub fn iter_f64(&self) -> Result<Box<dyn Iterator<Item = Option<f64>> + '_>> {
        #[allow(clippy::cast_precision_loss)] // documented: f64 as numpy's astype gives it
        let it: Box<dyn Iterator<Item = Option<f64>>> = match self {
            Numbers::I8(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::I16(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::I32(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::I64(n) => Box::new(n.iter()?.map(|v| v.map(|x| x as f64))),
            Numbers::U8(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::U16(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::U32(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::U64(n) => Box::new(n.iter()?.map(|v| v.map(|x| x as f64))),
            Numbers::F16(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::F32(n) => Box::new(n.iter()?.map(|v| v.map(f64::from))),
            Numbers::F64(n) => Box::new(n.iter()?),
        };
        Ok(it)
    }
}

impl ColumnData {
    /// The column's values file (the codes of a categorical, the bytes of a string column).
    fn file(&self) -> &std::path::Path {
        match self {
            ColumnData::Number(n) => each_number!(n, x => x.values.path()),
            ColumnData::Bool(b) => b.values.path(),
            ColumnData::Categorical(c) => c.codes.path(),
            ColumnData::DateTime(d) => d.values.values.path(),
            ColumnData::String(s) => s.strings.bytes_file().path(),
        }
    }

    fn not_a(&self, wanted: &str) -> Error {
        let (name, kind) = (self.name(), self.kind().as_str());
        Error::invalid(self.file(), format!("column {name:?} is a {kind} column, not {wanted}"))
    }
}

/// One kind of [`ColumnData`] out of the enum, or an [`Error::Invalid`] naming the column, its
/// file and its kind: `let region: CategoricalColumn = ds.column_data("region")?.try_into()?`.
macro_rules! kind_from_data {
    ($($variant:ident $t:ty, $what:literal;)*) => {$(
        impl TryFrom<ColumnData> for $t {
            type Error = Error;
            fn try_from(data: ColumnData) -> Result<$t> {
                match data {
                    ColumnData::$variant(c) => Ok(c),
                    other => Err(other.not_a($what)),
                }
            }
        }
    )*};
}
kind_from_data! {
    Number Numbers, "a number column";
    Categorical CategoricalColumn, "a categorical column";
    DateTime DateTimeColumn, "a datetime column";
    String StringColumn, "a string column";
}

/// A number column stored as `T` (or a bool column, for `T = bool`) with its validity, whatever
/// `Numbers` variant holds it: `let status: Nullable<i64> = ds.column_data("status")?.try_into()?`.
///
/// # Errors
/// [`Error::DTypeMismatch`] naming the file for numbers stored as another type;
/// [`Error::Invalid`] for a column of another kind.
impl<T: Element> TryFrom<ColumnData> for Nullable<T> {
    type Error = Error;
    fn try_from(data: ColumnData) -> Result<Nullable<T>> {
        let (path, found) = (
            data.file().to_path_buf(),
            match &data {
                ColumnData::Number(n) => each_number!(n, x => x.values.dtype().typestr()),
                ColumnData::Bool(b) => b.values.dtype().typestr(),
                other => return Err(other.not_a("a number or bool column")),
            },
        );
        let any: Box<dyn std::any::Any> = match data {
            ColumnData::Number(n) => each_number!(n, x => Box::new(x)),
            ColumnData::Bool(b) => Box::new(b),
            other => return Err(other.not_a("a number or bool column")),
        };
        let expected = crate::dtype::DType::native(T::TYPE).typestr();
        any.downcast().map(|n| *n).map_err(|_| Error::DTypeMismatch { path, expected, found })
    }
}

/// A date-time column: counts of a unit since 1970-01-01T00:00:00 UTC.
#[derive(Debug, Clone)]
pub struct DateTimeColumn {
    values: Nullable<i64>,
    unit: TimeUnit,
    zoned: bool,
}

impl DateTimeColumn {
    /// The unit of the stored counts.
    pub fn unit(&self) -> TimeUnit {
        self.unit
    }

    /// True when the values were read with an offset or a time zone
    /// ([`ManifestColumn::zoned`](super::ManifestColumn::zoned)): UTC instants that exports
    /// mark as UTC; otherwise naive (UTC wall times).
    pub fn zoned(&self) -> bool {
        self.zoned
    }

    /// The raw counts with their validity (missing rows hold 0).
    pub fn counts(&self) -> &Nullable<i64> {
        &self.values
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` as an instant; `None` where it is missing (or `NaT`).
    ///
    /// # Errors
    /// As [`Nullable::get`]; [`Error::Format`] for a value outside the years -9999 to 9999 that
    /// `jiff` holds, naming the file and the value's byte.
    pub fn get(&self, i: usize) -> Result<Option<Timestamp>> {
        self.values.get(i)?.map(|v| self.timestamp(i, v)).transpose().map(Option::flatten)
    }

    /// Every row as an instant, `None` where it is missing (or `NaT`).
    ///
    /// # Errors
    /// As [`Nullable::values`]; each item as [`get`](DateTimeColumn::get).
    // `Result` first: the files are looked up once, then every row is read without a check.
    #[allow(clippy::iter_not_returning_iterator)]
    pub fn iter(&self) -> Result<impl Iterator<Item = Result<Option<Timestamp>>> + '_> {
        Ok(self
            .values
            .iter()?
            .enumerate()
            .map(|(i, v)| v.map(|v| self.timestamp(i, v)).transpose().map(Option::flatten)))
    }

    fn timestamp(&self, row: usize, v: i64) -> Result<Option<Timestamp>> {
        if v == i64::MIN {
            return Ok(None);
        }
        let n = i128::from(v) * i128::from(self.unit.nanos());
        Timestamp::from_nanosecond(n).map(Some).map_err(|e| {
            let file = &self.values.values;
            let at = file.header().data_offset as u64 + 8 * row as u64;
            Error::format(
                file.path(),
                at,
                format!("row {row}: {v} {} is not a date-time jiff holds: {e}", self.unit.as_str()),
            )
        })
    }
}

/// A categorical column's codes, by width.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the widths are the documentation
pub enum Codes {
    U8(Arc<MmapArray<u8>>),
    U16(Arc<MmapArray<u16>>),
    U32(Arc<MmapArray<u32>>),
}

impl Codes {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Codes::U8(c) => c.len(),
            Codes::U16(c) => c.len(),
            Codes::U32(c) => c.len(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per code: 1, 2 or 4.
    pub fn width(&self) -> usize {
        match self {
            Codes::U8(_) => 1,
            Codes::U16(_) => 2,
            Codes::U32(_) => 4,
        }
    }

    /// Every code widened to `u32`, placeholders included.
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the file changed since it was checked.
    pub fn widened(&self) -> Result<Box<dyn Iterator<Item = u32> + '_>> {
        Ok(match self {
            Codes::U8(c) => Box::new(c.as_slice()?.iter().map(|&x| u32::from(x))),
            Codes::U16(c) => Box::new(c.as_slice()?.iter().map(|&x| u32::from(x))),
            Codes::U32(c) => Box::new(c.as_slice()?.iter().copied()),
        })
    }

    fn path(&self) -> &std::path::Path {
        match self {
            Codes::U8(c) => c.path(),
            Codes::U16(c) => c.path(),
            Codes::U32(c) => c.path(),
        }
    }

    fn data_offset(&self) -> usize {
        match self {
            Codes::U8(c) => c.header().data_offset,
            Codes::U16(c) => c.header().data_offset,
            Codes::U32(c) => c.header().data_offset,
        }
    }
}

/// A categorical column: codes into a dictionary of labels.
#[derive(Debug, Clone)]
pub struct CategoricalColumn {
    name: Arc<str>,
    codes: Codes,
    validity: Option<Arc<MmapArray<bool>>>,
    categories: Arc<[String]>,
    // The dictionary files, for a dictionary too large for the manifest.
    stored: Option<Arc<Strings>>,
}

impl CategoricalColumn {
    fn new(
        column: &Column<'_>,
        name: Arc<str>,
        validity: Option<Arc<MmapArray<bool>>>,
    ) -> Result<CategoricalColumn> {
        let codes = match column.element()? {
            ElementType::U8 => Codes::U8(Arc::new(checked(column.values()?)?)),
            ElementType::U16 => Codes::U16(Arc::new(checked(column.values()?)?)),
            ElementType::U32 => Codes::U32(Arc::new(checked(column.values()?)?)),
            e => {
                return Err(Error::format(
                    column.dir.join(super::MANIFEST),
                    0,
                    format!(
                        "column {:?}: categorical codes are {}, not u8, u16 or u32",
                        column.name(),
                        e.name()
                    ),
                ));
            }
        };
        let (categories, stored): (Arc<[String]>, _) = if column.meta.dictionary.is_none() {
            (column.meta.categories.clone().unwrap_or_default().into(), None)
        } else {
            let Some(super::Categories::Stored(s)) = column.categories()? else {
                return Err(Error::internal("a dictionary column without its files"));
            };
            let labels = s.iter().map(|r| r.map(str::to_string)).collect::<Result<Vec<_>>>()?;
            (labels.into(), Some(Arc::from(s)))
        };
        Ok(CategoricalColumn { name, codes, validity, categories, stored })
    }

    /// An error naming the first code of rows `rows` that holds a value and is past the
    /// dictionary: what makes a label lookup (or an Arrow dictionary array) go out of bounds.
    pub(crate) fn check_codes(&self, rows: std::ops::Range<usize>) -> Result<()> {
        let n = self.categories.len();
        // A validity byte other than 0 or 1 is reported by whoever reads the validity.
        let valid = match &self.validity {
            Some(v) => Some(v.data_bytes()?.get(rows.clone()).unwrap_or(&[])),
            None => None,
        };
        let is_valid = |i: usize| valid.is_none_or(|v| v.get(i).is_some_and(|&b| b != 0));
        let bad = match &self.codes {
            Codes::U8(c) => first_past(&c.as_slice()?[rows.clone()], n, is_valid),
            Codes::U16(c) => first_past(&c.as_slice()?[rows.clone()], n, is_valid),
            Codes::U32(c) => first_past(&c.as_slice()?[rows.clone()], n, is_valid),
        };
        let Some((i, code)) = bad else { return Ok(()) };
        Err(self.code_error(rows.start + i, code))
    }

    fn code_error(&self, row: usize, code: u32) -> Error {
        let at = self.codes.data_offset() + row * self.codes.width();
        Error::format(
            self.codes.path(),
            at as u64,
            format!(
                "row {row}: code {code} is past the {} categories of column {:?}",
                self.categories.len(),
                self.name
            ),
        )
    }

    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels, in code order: code `i` stands for `categories()[i]`.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The codes, by width; **missing rows hold code 0**, which may be a real label: read
    /// them with [`validity`](CategoricalColumn::validity), or use
    /// [`labels`](CategoricalColumn::labels).
    pub fn codes(&self) -> &Codes {
        &self.codes
    }

    /// `true` where a row holds a value; `None` when every row does.
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the file changed since it was checked.
    pub fn validity(&self) -> Result<Option<&[bool]>> {
        self.validity.as_deref().map(MmapArray::as_slice).transpose()
    }

    /// The validity file, where there is one.
    pub fn validity_file(&self) -> Option<&Arc<MmapArray<bool>>> {
        self.validity.as_ref()
    }

    /// The dictionary's files (strings in Arrow's large-string layout), for a dictionary too
    /// large for the manifest; `None` for categories listed in the manifest.
    pub fn dictionary_files(&self) -> Option<&Arc<Strings>> {
        self.stored.as_ref()
    }

    /// Every row's code widened to `u32`, `None` where it is missing.
    ///
    /// # Errors
    /// As [`validity`](CategoricalColumn::validity).
    pub fn codes_u32(&self) -> Result<impl Iterator<Item = Option<u32>> + '_> {
        Ok(with_validity(self.codes.widened()?, self.validity()?))
    }

    /// Every row's label, `None` where it is missing. The codes are checked first (one read
    /// of the codes), so every label of the iterator is one of the categories.
    ///
    /// # Errors
    /// As [`validity`](CategoricalColumn::validity); [`Error::Format`] naming the file and the
    /// byte of the first code (in a row with a value) past the dictionary.
    pub fn labels(&self) -> Result<impl Iterator<Item = Option<&str>> + '_> {
        self.check_codes(0..self.len())?;
        Ok(self
            .codes_u32()?
            .map(|c| c.and_then(|c| self.categories.get(c as usize)).map(String::as_str)))
    }

    /// Row `i`'s label, `None` where it is missing.
    ///
    /// # Errors
    /// [`Error::Argument`] for a row past the end; [`Error::Format`] naming the file and the
    /// byte of a code past the dictionary.
    pub fn label(&self, i: usize) -> Result<Option<&str>> {
        if !row_present(&self.name, self.len(), self.validity.as_deref(), i)? {
            return Ok(None);
        }
        let code = match &self.codes {
            Codes::U8(c) => u32::from(c.get(&[i])?),
            Codes::U16(c) => u32::from(c.get(&[i])?),
            Codes::U32(c) => c.get(&[i])?,
        };
        match self.categories.get(code as usize) {
            Some(label) => Ok(Some(label)),
            None => Err(self.code_error(i, code)),
        }
    }
}

/// The first `(index, code)` of `codes` that is `n` or more where `valid(index)`.
fn first_past<C: Copy + Into<u32>>(
    codes: &[C],
    n: usize,
    valid: impl Fn(usize) -> bool,
) -> Option<(usize, u32)> {
    let bad = |&c: &C| c.into() as usize >= n;
    codes
        .iter()
        .enumerate()
        .filter(|(_, c)| bad(c))
        .find(|&(i, _)| valid(i))
        .map(|(i, &c)| (i, c.into()))
}

/// `a` if its values can be viewed (native byte order, aligned).
fn checked<T: Element>(a: MmapArray<T>) -> Result<MmapArray<T>> {
    a.as_slice()?;
    Ok(a)
}

/// A string column: UTF-8 strings in Arrow's large-string layout, mapped.
#[derive(Debug, Clone)]
pub struct StringColumn {
    name: Arc<str>,
    strings: Arc<Strings>,
    validity: Option<Arc<MmapArray<bool>>>,
}

impl StringColumn {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The strings, mapped; **missing rows hold the empty string**.
    pub fn strings(&self) -> &Arc<Strings> {
        &self.strings
    }

    /// `true` where a row holds a value; `None` when every row does.
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the file changed since it was checked.
    pub fn validity(&self) -> Result<Option<&[bool]>> {
        self.validity.as_deref().map(MmapArray::as_slice).transpose()
    }

    /// The validity file, where there is one.
    pub fn validity_file(&self) -> Option<&Arc<MmapArray<bool>>> {
        self.validity.as_ref()
    }

    /// Row `i`, borrowed from the mapping; `None` where it is missing.
    ///
    /// # Errors
    /// [`Error::Argument`] for a row past the end; [`Error::Format`] for offsets out of order
    /// or outside the bytes, or bytes that are not UTF-8, naming the file and the byte.
    pub fn get(&self, i: usize) -> Result<Option<&str>> {
        if let Some(v) = &self.validity
            && i < v.len()
            && !v.get(&[i])?
        {
            return Ok(None);
        }
        self.strings.get(i).map(Some)
    }

    /// Every row, `None` where it is missing; each string is checked as it is read.
    ///
    /// # Errors
    /// As [`validity`](StringColumn::validity); each item as [`get`](StringColumn::get).
    // `Result` first: the files are looked up once, then every row is read without a check.
    #[allow(clippy::iter_not_returning_iterator)]
    pub fn iter(&self) -> Result<impl Iterator<Item = Result<Option<&str>>> + '_> {
        let view = self.strings.view()?;
        let rows = 0..self.strings.len();
        Ok(with_validity(rows, self.validity()?).map(move |i| i.map(|i| view.get(i)).transpose()))
    }
}

/// Whether row `i` of the column `name` (of `len` rows) holds a value: the one check behind
/// every typed `get`.
///
/// # Errors
/// [`Error::Argument`] for a row past the end; as [`MmapArray::get`] for the validity.
fn row_present(
    name: &str,
    len: usize,
    validity: Option<&MmapArray<bool>>,
    i: usize,
) -> Result<bool> {
    if i >= len {
        return Err(Error::argument(format!("row {i} of column {name:?}, which has {len} rows")));
    }
    match validity {
        Some(v) => v.get(&[i]),
        None => Ok(true),
    }
}
