//! Arrow export of datasets and columns (feature `arrow`), without copying what Arrow's layout
//! lets it share: numbers, date-times in seconds to nanoseconds, a string column's offsets and
//! bytes and a categorical's codes are Arrow buffers over the mapped files, which they keep
//! alive. Date-times read with an offset or a time zone are `Timestamp(unit, "UTC")`, others
//! naive `Timestamp(unit)` (UTC wall times). Missing values are Arrow nulls: rows `false` in a validity file and, in a float column
//! without one, NaN (`convert` stores a missing float as NaN, so NaN there means missing, as in
//! pandas; pyarrow's CSV reader gives null for both). What is copied: validity, packed to bits
//! (rows / 8 bytes; for floats only in a batch holding a NaN), bool values (the same), the
//! categories listed in the manifest, and date-times in days, hours or minutes (Arrow has no
//! such timestamp unit). The type mapping is in docs/format.md, "Arrow".
//!
//! The arrow-rs crates are re-exported so that users name the versions larder builds with.
//!
//! ```
//! use larder::convert::ConvertOptions;
//! use larder::dataset::Dataset;
//! use larder::dataset::arrow::{ArrowOptions, arrow_array::{Array, RecordBatchReader}};
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("log.csv");
//! std::fs::write(&csv, "region,status,msg\neu,200,ok\nus,NA,\neu,404,gone\n")?;
//! let out = dir.path().join("log");
//! ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
//!
//! let ds = Dataset::open(&out)?;
//! let reader = ArrowOptions::new().columns(["status", "region"]).batch_rows(2).reader(&ds)?;
//! assert_eq!(reader.schema().field(0).name(), "status");
//! let batches = reader.collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [2, 1]);
//! assert_eq!(batches[0].column(0).null_count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Range;
use std::sync::Arc;

pub use arrow_array;
pub use arrow_buffer;
pub use arrow_data;
pub use arrow_schema;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, LargeStringArray, PrimitiveArray,
    RecordBatch, RecordBatchOptions, RecordBatchReader, TimestampSecondArray,
};
use arrow_buffer::{ArrowNativeType, BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use super::typed::each_number;
use super::{Codes, ColumnData, Dataset, Numbers, Strings};
use crate::dtype::{Element, TimeUnit};
use crate::error::{Error, Result};
use crate::npy::MmapArray;
use crate::sys::{self, MapOwner, Mapping, StringDamage};

/// Rows per batch of [`ArrowOptions::reader`] unless told otherwise: 65,536 (64 Ki), about
/// 0.5 MiB per 8-byte column, what `DuckDB` and polars take in one vector of work many times over
/// and small enough that a batch of strings stays well inside the caches of a consumer.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// The time zone of exported zoned date-times ([`DateTimeColumn::zoned`]: read with an offset
/// or a zone): larder stores instants as counts since 1970-01-01 UTC. Other date-times are
/// exported without a time zone (naive: UTC wall times), as CSV readers give text without an
/// offset.
///
/// [`DateTimeColumn::zoned`]: super::DateTimeColumn::zoned
pub const TIME_ZONE: &str = "UTC";

/// Keys of a field's metadata: what larder knows of the column that Arrow's type does not say.
pub const KIND_KEY: &str = "larder.kind";
/// The stored numpy dtype (`<i8`, `|u1`, `<M8[s]`, `str`).
pub const DTYPE_KEY: &str = "larder.dtype";

impl<T: Element> MapOwner for MmapArray<T> {
    fn mapping(&self) -> Result<&Mapping> {
        MmapArray::mapping(self)
    }
}

/// Which columns to export and in batches of how many rows.
#[derive(Clone, Debug)]
pub struct ArrowOptions {
    columns: Option<Vec<String>>,
    batch_rows: usize,
}

impl Default for ArrowOptions {
    fn default() -> Self {
        ArrowOptions::new()
    }
}

impl ArrowOptions {
    /// Every column, in batches of [`DEFAULT_BATCH_ROWS`].
    pub fn new() -> ArrowOptions {
        ArrowOptions { columns: None, batch_rows: DEFAULT_BATCH_ROWS }
    }

    /// Only these columns, in this order (names as [`Dataset::column`] takes them).
    pub fn columns<S: Into<String>>(&mut self, names: impl IntoIterator<Item = S>) -> &mut Self {
        self.columns = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// At most `rows` rows per batch (at least 1).
    pub fn batch_rows(&mut self, rows: usize) -> &mut Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// The schema of the selected columns.
    ///
    /// # Errors
    /// As [`Dataset::column`] for a name that is not a column, [`ColumnData::of`].
    pub fn schema(&self, ds: &Dataset) -> Result<Schema> {
        Ok(Schema::new(self.selected(ds)?.iter().map(field).collect::<Result<Vec<_>>>()?))
    }

    /// A reader of the selected columns in batches of at most `batch_rows` rows. Opening it
    /// types every column ([`ColumnData::of`]); each batch is checked as it is made (string
    /// offsets and UTF-8, codes inside the dictionary), and a damaged one is an error of that
    /// batch, naming the file and the byte.
    ///
    /// # Errors
    /// As [`schema`](ArrowOptions::schema).
    pub fn reader(&self, ds: &Dataset) -> Result<DatasetReader> {
        let columns = self
            .selected(ds)?
            .into_iter()
            .map(|data| {
                let field = field(&data)?;
                let dictionary = dictionary_values(&data)?;
                Ok(Exported { data, dictionary, field })
            })
            .collect::<Result<Vec<_>>>()?;
        let schema =
            Arc::new(Schema::new(columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>()));
        let rows = usize::try_from(ds.rows()).map_err(|_| {
            Error::invalid(ds.path(), format!("{} rows do not fit in memory", ds.rows()))
        })?;
        Ok(DatasetReader { columns, schema, rows, next: 0, batch_rows: self.batch_rows })
    }

    /// The reader as an Arrow C stream (the C stream interface's `ArrowArrayStream`), for
    /// consumers in other languages: each call makes a fresh stream from the first row.
    ///
    /// # Errors
    /// As [`reader`](ArrowOptions::reader).
    pub fn stream(&self, ds: &Dataset) -> Result<FFI_ArrowArrayStream> {
        Ok(FFI_ArrowArrayStream::new(Box::new(self.reader(ds)?)))
    }

    /// The schema as an Arrow C schema (`ArrowSchema`).
    ///
    /// # Errors
    /// As [`schema`](ArrowOptions::schema); [`Error::Internal`] if Arrow cannot export it.
    pub fn ffi_schema(&self, ds: &Dataset) -> Result<FFI_ArrowSchema> {
        FFI_ArrowSchema::try_from(&self.schema(ds)?).map_err(|e| Error::internal(e.to_string()))
    }

    fn selected(&self, ds: &Dataset) -> Result<Vec<ColumnData>> {
        match &self.columns {
            Some(names) => names.iter().map(|n| ds.column_data(n)).collect(),
            None => (0..ds.manifest().columns.len()).map(|i| ds.column_data_at(i)).collect(),
        }
    }
}

/// The Arrow schema of every column of `ds`.
///
/// # Errors
/// As [`ArrowOptions::schema`].
pub fn schema(ds: &Dataset) -> Result<Schema> {
    ArrowOptions::new().schema(ds)
}

/// The Arrow field of a column: its name, type (docs/format.md, "Arrow"), nullability (it has a
/// validity file, or holds floats, whose NaN are exported as null) and metadata [`KIND_KEY`] and
/// [`DTYPE_KEY`].
///
/// # Errors
/// [`Error::UnsupportedDType`] for nothing larder writes today; kept for future kinds.
pub fn field(data: &ColumnData) -> Result<Field> {
    let dtype = match data {
        ColumnData::Number(n) => n.values_dtype(),
        ColumnData::Bool(b) => b.values_file().dtype(),
        ColumnData::Categorical(c) => match c.codes() {
            Codes::U8(a) => a.dtype(),
            Codes::U16(a) => a.dtype(),
            Codes::U32(a) => a.dtype(),
        },
        ColumnData::DateTime(d) => d.counts().values_file().dtype(),
        ColumnData::String(_) => crate::DType::native(crate::ElementType::U8),
    };
    let dtype = if matches!(data, ColumnData::String(_)) {
        super::STR_DTYPE.to_string()
    } else {
        dtype.typestr()
    };
    let metadata =
        [(KIND_KEY.to_string(), data.kind().as_str().to_string()), (DTYPE_KEY.to_string(), dtype)];
    let floats =
        matches!(data, ColumnData::Number(Numbers::F16(_) | Numbers::F32(_) | Numbers::F64(_)));
    Ok(Field::new(data.name(), data_type(data), floats || data.validity_file().is_some())
        .with_metadata(metadata.into_iter().collect()))
}

/// The Arrow type a column is exported as.
pub fn data_type(data: &ColumnData) -> DataType {
    let large = || Box::new(DataType::LargeUtf8);
    match data {
        ColumnData::Number(n) => match n {
            Numbers::I8(_) => DataType::Int8,
            Numbers::I16(_) => DataType::Int16,
            Numbers::I32(_) => DataType::Int32,
            Numbers::I64(_) => DataType::Int64,
            Numbers::U8(_) => DataType::UInt8,
            Numbers::U16(_) => DataType::UInt16,
            Numbers::U32(_) => DataType::UInt32,
            Numbers::U64(_) => DataType::UInt64,
            Numbers::F16(_) => DataType::Float16,
            Numbers::F32(_) => DataType::Float32,
            Numbers::F64(_) => DataType::Float64,
        },
        ColumnData::Bool(_) => DataType::Boolean,
        ColumnData::Categorical(c) => match c.codes() {
            Codes::U8(_) => DataType::Dictionary(Box::new(DataType::UInt8), large()),
            Codes::U16(_) => DataType::Dictionary(Box::new(DataType::UInt16), large()),
            Codes::U32(_) => DataType::Dictionary(Box::new(DataType::UInt32), large()),
        },
        ColumnData::DateTime(d) => {
            use arrow_schema::TimeUnit as A;
            let ts = |u| DataType::Timestamp(u, d.zoned().then(|| TIME_ZONE.into()));
            match d.unit() {
                TimeUnit::D => DataType::Date32,
                TimeUnit::H | TimeUnit::M | TimeUnit::S => ts(A::Second),
                TimeUnit::Ms => ts(A::Millisecond),
                TimeUnit::Us => ts(A::Microsecond),
                TimeUnit::Ns => ts(A::Nanosecond),
            }
        }
        ColumnData::String(_) => DataType::LargeUtf8,
    }
}

/// Rows `rows` of a column as an Arrow array (all of them: `0..data.len()`), zero-copy where
/// the layout allows (see the module's documentation).
///
/// # Errors
/// [`Error::Argument`] for rows past the end; [`Error::Format`] for damaged string offsets or
/// text, or codes past the dictionary, naming the file and the byte; as [`Nullable::values`].
///
/// [`Nullable::values`]: super::Nullable::values
pub fn array(data: &ColumnData, rows: Range<usize>) -> Result<ArrayRef> {
    slice(data, dictionary_values(data)?.as_ref(), rows)
}

/// A column's dictionary as Arrow values, once per column: the categories listed in the
/// manifest copied, a stored dictionary over its files.
fn dictionary_values(data: &ColumnData) -> Result<Option<ArrayRef>> {
    let ColumnData::Categorical(c) = data else { return Ok(None) };
    let values: ArrayRef = match c.dictionary_files() {
        Some(s) => Arc::new(strings(s, 0..s.len(), None)?),
        None => Arc::new(LargeStringArray::from_iter_values(c.categories())),
    };
    Ok(Some(values))
}

fn slice(data: &ColumnData, dictionary: Option<&ArrayRef>, rows: Range<usize>) -> Result<ArrayRef> {
    if rows.start > rows.end || rows.end > data.len() {
        return Err(Error::argument(format!(
            "rows {}..{} of column {:?}, which has {} rows",
            rows.start,
            rows.end,
            data.name(),
            data.len()
        )));
    }
    let nulls = match (data.validity_file(), data) {
        (Some(v), _) => Some(NullBuffer::new(bits(v, rows.clone())?)),
        (None, ColumnData::Number(n)) => nan_nulls(n, rows.clone())?,
        (None, _) => None,
    };
    Ok(match data {
        ColumnData::Number(n) => numbers(n, rows, nulls)?,
        ColumnData::Bool(b) => Arc::new(BooleanArray::new(bits(b.values_file(), rows)?, nulls)),
        ColumnData::Categorical(c) => {
            let values = dictionary
                .cloned()
                .ok_or_else(|| Error::internal("categorical without dictionary"))?;
            // First with an error that names the byte; Arrow checks the keys again.
            c.check_codes(rows.clone())?;
            let at = |e: ArrowError, path: &std::path::Path| {
                Error::format(path, 0, format!("column {:?}: {e}", c.name()))
            };
            match c.codes() {
                Codes::U8(a) => Arc::new(
                    DictionaryArray::<UInt8Type>::try_new(primitive(a, rows, nulls)?, values)
                        .map_err(|e| at(e, a.path()))?,
                ),
                Codes::U16(a) => Arc::new(
                    DictionaryArray::<UInt16Type>::try_new(primitive(a, rows, nulls)?, values)
                        .map_err(|e| at(e, a.path()))?,
                ),
                Codes::U32(a) => Arc::new(
                    DictionaryArray::<UInt32Type>::try_new(primitive(a, rows, nulls)?, values)
                        .map_err(|e| at(e, a.path()))?,
                ),
            }
        }
        ColumnData::DateTime(d) => datetimes(d, rows, nulls)?,
        ColumnData::String(s) => Arc::new(strings(s.strings(), rows, nulls)?),
    })
}

/// Rows `rows` of a bool file packed to bits (Arrow's layout for bools and validity), reading
/// only those rows; a byte other than 0 or 1 is an error naming the file and the byte. The
/// packed copy is what Arrow keeps, so the pages read are released from this process's
/// resident set afterwards ([`MmapArray::release_range`]).
fn bits(a: &MmapArray<bool>, rows: Range<usize>) -> Result<BooleanBuffer> {
    let bytes = a.data_bytes()?.get(rows.clone()).ok_or_else(|| {
        Error::internal(format!("rows {}..{} of {}", rows.start, rows.end, a.path().display()))
    })?;
    if let Some(i) = bytes.iter().position(|&b| b > 1) {
        let at = a.header().data_offset + rows.start + i;
        return Err(Error::format(
            a.path(),
            at as u64,
            format!("bool of row {} is {}, not 0 or 1", rows.start + i, bytes[i]),
        ));
    }
    let packed = bytes.iter().map(|&b| b == 1).collect();
    // Best effort: a refused hint only leaves the pages counted.
    let _ = a.release_range(rows.start, rows.len());
    Ok(packed)
}

/// The null bitmap of rows `rows` of a float column without a validity file: null where the
/// value is NaN, which is how `convert` stores a missing float (an empty field or a missing-value
/// token, `NaN` and `nan` among them by default, as in pandas); `None` when no row of them is
/// NaN, and for integers. The values read are released from this process's resident set, as
/// [`bits`] does.
fn nan_nulls(n: &Numbers, rows: Range<usize>) -> Result<Option<NullBuffer>> {
    fn of<T: Element + bytemuck::Pod>(
        a: &MmapArray<T>,
        rows: Range<usize>,
        is_nan: impl Fn(&T) -> bool,
    ) -> Result<Option<NullBuffer>> {
        // Only the batch's bytes are cast (`as_slice` would check every element of the column
        // in an unoptimised build); opening the column checked its byte order and alignment.
        let size = std::mem::size_of::<T>();
        let values = a
            .data_bytes()?
            .get(rows.start * size..rows.end * size)
            .and_then(|b| bytemuck::try_cast_slice::<u8, T>(b).ok())
            .ok_or_else(|| {
                let path = a.path().display();
                Error::internal(format!("rows {}..{} of {path}", rows.start, rows.end))
            })?;
        let nulls = values
            .iter()
            .any(&is_nan)
            .then(|| NullBuffer::new(values.iter().map(|v| !is_nan(v)).collect()));
        // Best effort: a refused hint only leaves the pages counted.
        let _ = a.release_range(rows.start * size, rows.len() * size);
        Ok(nulls)
    }
    match n {
        Numbers::F16(x) => of(x.values_file(), rows, |v| v.is_nan()),
        Numbers::F32(x) => of(x.values_file(), rows, |v| v.is_nan()),
        Numbers::F64(x) => of(x.values_file(), rows, |v| v.is_nan()),
        _ => Ok(None),
    }
}

/// Rows `rows` of a number column as an Arrow array over the mapping.
fn numbers(n: &Numbers, rows: Range<usize>, nulls: Option<NullBuffer>) -> Result<ArrayRef> {
    use arrow_array::types as t;
    Ok(match n {
        Numbers::I8(x) => Arc::new(primitive::<_, t::Int8Type>(x.values_file(), rows, nulls)?),
        Numbers::I16(x) => Arc::new(primitive::<_, t::Int16Type>(x.values_file(), rows, nulls)?),
        Numbers::I32(x) => Arc::new(primitive::<_, t::Int32Type>(x.values_file(), rows, nulls)?),
        Numbers::I64(x) => Arc::new(primitive::<_, t::Int64Type>(x.values_file(), rows, nulls)?),
        Numbers::U8(x) => Arc::new(primitive::<_, t::UInt8Type>(x.values_file(), rows, nulls)?),
        Numbers::U16(x) => Arc::new(primitive::<_, t::UInt16Type>(x.values_file(), rows, nulls)?),
        Numbers::U32(x) => Arc::new(primitive::<_, t::UInt32Type>(x.values_file(), rows, nulls)?),
        Numbers::U64(x) => Arc::new(primitive::<_, t::UInt64Type>(x.values_file(), rows, nulls)?),
        Numbers::F16(x) => Arc::new(primitive::<_, t::Float16Type>(x.values_file(), rows, nulls)?),
        Numbers::F32(x) => Arc::new(primitive::<_, t::Float32Type>(x.values_file(), rows, nulls)?),
        Numbers::F64(x) => Arc::new(primitive::<_, t::Float64Type>(x.values_file(), rows, nulls)?),
    })
}

/// Rows `rows` of a mapped 1-d array as an Arrow primitive array over the mapping.
fn primitive<T, A>(
    a: &Arc<MmapArray<T>>,
    rows: Range<usize>,
    nulls: Option<NullBuffer>,
) -> Result<PrimitiveArray<A>>
where
    T: Element + ArrowNativeType,
    A: arrow_array::ArrowPrimitiveType<Native = T>,
{
    let size = std::mem::size_of::<T>();
    let start = a.header().data_offset + rows.start * size;
    let buffer = sys::mapped_buffer(Arc::clone(a), start, rows.len() * size)?;
    if buffer.as_ptr().align_offset(std::mem::align_of::<T>()) != 0 {
        // Opening the column viewed it as `&[T]`, which checks alignment; kept as an error, not a
        // panic in Arrow, should that ever change.
        return Err(Error::NotViewable {
            path: a.path().to_path_buf(),
            reason: format!("data is not aligned for {}", T::TYPE.name()),
        });
    }
    let values = ScalarBuffer::<T>::new(buffer, 0, rows.len());
    PrimitiveArray::<A>::try_new(values, nulls).map_err(|e| Error::internal(e.to_string()))
}

/// Rows `rows` of date-times: over the mapping for seconds to nanoseconds, converted for days
/// (to `Date32`), hours and minutes (to seconds).
fn datetimes(
    d: &super::DateTimeColumn,
    rows: Range<usize>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let a = d.counts().values_file();
    let overflow = |row: usize, what: &str| {
        let at = a.header().data_offset + 8 * row;
        Error::format(a.path(), at as u64, format!("row {row}: {what}"))
    };
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    let zone = d.zoned().then_some(TIME_ZONE);
    Ok(match d.unit() {
        TimeUnit::S => {
            Arc::new(primitive::<_, TimestampSecondType>(a, rows, nulls)?.with_timezone_opt(zone))
        }
        TimeUnit::Ms => Arc::new(
            primitive::<_, TimestampMillisecondType>(a, rows, nulls)?.with_timezone_opt(zone),
        ),
        TimeUnit::Us => Arc::new(
            primitive::<_, TimestampMicrosecondType>(a, rows, nulls)?.with_timezone_opt(zone),
        ),
        TimeUnit::Ns => Arc::new(
            primitive::<_, TimestampNanosecondType>(a, rows, nulls)?.with_timezone_opt(zone),
        ),
        TimeUnit::D => {
            let v = &a.as_slice()?[rows.clone()];
            let days = v
                .iter()
                .enumerate()
                .map(|(i, &x)| match i32::try_from(x) {
                    Ok(x) => Ok(x),
                    Err(_) if !valid(i) => Ok(0),
                    Err(_) => Err(overflow(
                        rows.start + i,
                        &format!("{x} days do not fit Arrow's date32"),
                    )),
                })
                .collect::<Result<Vec<i32>>>()?;
            Arc::new(Date32Array::new(days.into(), nulls))
        }
        unit @ (TimeUnit::H | TimeUnit::M) => {
            let per = unit.nanos() / TimeUnit::S.nanos();
            let v = &a.as_slice()?[rows.clone()];
            let secs = v
                .iter()
                .enumerate()
                .map(|(i, &x)| match x.checked_mul(per) {
                    Some(s) => Ok(s),
                    None if !valid(i) => Ok(0),
                    None => Err(overflow(
                        rows.start + i,
                        &format!("{x} {} do not fit 64-bit seconds", unit.as_str()),
                    )),
                })
                .collect::<Result<Vec<i64>>>()?;
            Arc::new(TimestampSecondArray::new(secs.into(), nulls).with_timezone_opt(zone))
        }
    })
}

/// Strings `rows` of `s` as a large-string array over the mapped offsets and bytes, checked
/// first (`sys::large_strings`); damage is an error naming the file and the byte. The check
/// reads every offset and byte of the rows; their pages are then released from this process's
/// resident set ([`Strings::release`]), so an export whose consumer never reads a string
/// column (a query on other columns) does not keep the column in RSS. A consumer that reads
/// the strings maps the same bytes again from the page cache.
fn strings(s: &Strings, rows: Range<usize>, nulls: Option<NullBuffer>) -> Result<LargeStringArray> {
    let (offsets, bytes) = (s.offsets_file(), s.bytes_file());
    let o_start = offsets.header().data_offset + rows.start * 8;
    let o_buf = sys::mapped_buffer(Arc::clone(offsets), o_start, (rows.len() + 1) * 8)?;
    if o_buf.as_ptr().align_offset(8) != 0 {
        return Err(Error::NotViewable {
            path: offsets.path().to_path_buf(),
            reason: "offsets are not aligned for int64".into(),
        });
    }
    let values = sys::mapped_buffer(Arc::clone(bytes), bytes.header().data_offset, bytes.len())?;
    let checked = sys::large_strings(ScalarBuffer::new(o_buf, 0, rows.len() + 1), values, nulls);
    if checked.is_ok() {
        // Best effort: a refused hint only leaves the pages counted.
        let _ = s.release(rows.start, rows.end);
    }
    checked.map_err(|d| match d {
        StringDamage::Offset { index, value, reason } => Error::format(
            offsets.path(),
            (o_start + index * 8) as u64,
            format!("offset {} ({value}) {reason} ({} bytes)", rows.start + index, bytes.len()),
        ),
        StringDamage::Utf8 { at, reason } => Error::format(
            bytes.path(),
            (bytes.header().data_offset + at) as u64,
            format!("not UTF-8: {reason}"),
        ),
        StringDamage::Nulls { nulls, strings } => {
            Error::internal(format!("{nulls} validity flags for {strings} strings"))
        }
    })
}

/// One exported column: its data, its field, its dictionary made once.
#[derive(Debug)]
struct Exported {
    data: ColumnData,
    dictionary: Option<ArrayRef>,
    field: Field,
}

/// A dataset's columns as Arrow record batches of at most a given number of rows (see
/// [`ArrowOptions::reader`]). Each batch's arrays keep the mappings they use alive, so batches
/// may outlive the reader and the [`Dataset`].
#[derive(Debug)]
pub struct DatasetReader {
    columns: Vec<Exported>,
    schema: SchemaRef,
    rows: usize,
    next: usize,
    batch_rows: usize,
}

impl DatasetReader {
    /// Rows in the dataset.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows not read yet.
    pub fn remaining(&self) -> usize {
        self.rows - self.next
    }

    fn batch(&self, rows: Range<usize>) -> Result<RecordBatch> {
        let arrays = self
            .columns
            .iter()
            .map(|c| slice(&c.data, c.dictionary.as_ref(), rows.clone()))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)
            .map_err(|e| Error::internal(e.to_string()))
    }
}

impl Iterator for DatasetReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.rows {
            return None;
        }
        let end = self.rows.min(self.next.saturating_add(self.batch_rows));
        let rows = self.next..end;
        let batch = self.batch(rows);
        // A damaged batch ends the stream: its error is the last item.
        self.next = if batch.is_ok() { end } else { self.rows };
        Some(batch.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for DatasetReader {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// The mapped array's dtype, for [`field`].
impl Numbers {
    fn values_dtype(&self) -> crate::DType {
        each_number!(self, n => n.values_file().dtype())
    }
}
