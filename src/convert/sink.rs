//! Column files: an [`NpyWriter`] of whichever element type a column is stored as.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::dtype::{DType, ElementType};
use crate::error::{Error, Result};
use crate::npy::NpyWriter;
use crate::npy::read_header;

use super::columns::Values;

/// A `.npy` column being written.
#[derive(Debug)]
pub(crate) enum Sink {
    Bool(NpyWriter<bool>),
    I8(NpyWriter<i8>),
    I16(NpyWriter<i16>),
    I32(NpyWriter<i32>),
    I64(NpyWriter<i64>),
    U8(NpyWriter<u8>),
    U16(NpyWriter<u16>),
    U32(NpyWriter<u32>),
    U64(NpyWriter<u64>),
    F32(NpyWriter<f32>),
    F64(NpyWriter<f64>),
}

macro_rules! each_sink {
    ($s:expr, $w:ident => $body:expr) => {
        match $s {
            Sink::Bool($w) => $body,
            Sink::I8($w) => $body,
            Sink::I16($w) => $body,
            Sink::I32($w) => $body,
            Sink::I64($w) => $body,
            Sink::U8($w) => $body,
            Sink::U16($w) => $body,
            Sink::U32($w) => $body,
            Sink::U64($w) => $body,
            Sink::F32($w) => $body,
            Sink::F64($w) => $body,
        }
    };
}

macro_rules! by_element {
    ($e:expr, $f:ident($($arg:expr),*)) => {
        match $e {
            ElementType::Bool => Sink::Bool(NpyWriter::$f($($arg),*)?),
            ElementType::I8 => Sink::I8(NpyWriter::$f($($arg),*)?),
            ElementType::I16 => Sink::I16(NpyWriter::$f($($arg),*)?),
            ElementType::I32 => Sink::I32(NpyWriter::$f($($arg),*)?),
            ElementType::I64 => Sink::I64(NpyWriter::$f($($arg),*)?),
            ElementType::U8 => Sink::U8(NpyWriter::$f($($arg),*)?),
            ElementType::U16 => Sink::U16(NpyWriter::$f($($arg),*)?),
            ElementType::U32 => Sink::U32(NpyWriter::$f($($arg),*)?),
            ElementType::U64 => Sink::U64(NpyWriter::$f($($arg),*)?),
            ElementType::F32 => Sink::F32(NpyWriter::$f($($arg),*)?),
            ElementType::F64 => Sink::F64(NpyWriter::$f($($arg),*)?),
            other => {
                return Err(Error::internal(format!("columns cannot be stored as {}", other.name())))
            }
        }
    };
}

impl Sink {
    /// A new, empty column file of element type `e`.
    pub(crate) fn create(path: &Path, e: ElementType) -> Result<Sink> {
        Ok(by_element!(e, create(path, &[])))
    }

    /// A new, empty column file whose header declares `dtype` (`<M8[unit]` for date-times).
    pub(crate) fn create_as(path: &Path, dtype: DType) -> Result<Sink> {
        Ok(by_element!(dtype.element(), create_as(path, &[], dtype)))
    }

    /// Continues a column file after its first `rows` rows.
    pub(crate) fn resume(path: &Path, e: ElementType, rows: u64) -> Result<Sink> {
        // With no rows checkpointed the file may still lack its header (it never reached the
        // disk); nothing is lost by making it again.
        if rows == 0 && read_header(path).is_err() {
            return Sink::create(path, e);
        }
        Ok(by_element!(e, resume(path, rows)))
    }

    /// Appends one block's values (categorical codes go through [`Sink::append_codes`]).
    pub(crate) fn append(&mut self, v: &Values) -> Result<()> {
        match (self, v) {
            (Sink::Bool(w), Values::Bool(v)) => w.append(v),
            (Sink::I8(w), Values::I8(v)) => w.append(v),
            (Sink::I16(w), Values::I16(v)) => w.append(v),
            (Sink::I32(w), Values::I32(v)) => w.append(v),
            (Sink::I64(w), Values::I64(v)) => w.append(v),
            (Sink::U8(w), Values::U8(v)) => w.append(v),
            (Sink::U16(w), Values::U16(v)) => w.append(v),
            (Sink::U32(w), Values::U32(v)) => w.append(v),
            (Sink::U64(w), Values::U64(v)) => w.append(v),
            (Sink::F32(w), Values::F32(v)) => w.append(v),
            (Sink::F64(w), Values::F64(v)) => w.append(v),
            (s, _) => Err(Error::internal(format!(
                "{}: values do not match the column type",
                each_sink!(s, w => w.path().display())
            ))),
        }
    }

    /// Appends the rows of a validity file.
    pub(crate) fn append_bools(&mut self, v: &[bool]) -> Result<()> {
        match self {
            Sink::Bool(w) => w.append(v),
            s => Err(Error::internal(format!(
                "{}: validity goes to a bool file",
                each_sink!(s, w => w.path().display())
            ))),
        }
    }

    /// Appends categorical codes.
    pub(crate) fn append_codes(&mut self, codes: &[u32]) -> Result<()> {
        match self {
            Sink::U32(w) => w.append(codes),
            s => Err(Error::internal(format!(
                "{}: codes go to a u32 column",
                each_sink!(s, w => w.path().display())
            ))),
        }
    }

    /// Appends integers that are known to fit (used when narrowing).
    fn append_ints(&mut self, v: &[i128]) -> Result<()> {
        macro_rules! conv {
            ($w:expr, $t:ty) => {{
                let out: Option<Vec<$t>> = v.iter().map(|&x| <$t>::try_from(x).ok()).collect();
                let out = out.ok_or_else(|| {
                    Error::internal(format!("{}: value out of range", $w.path().display()))
                })?;
                $w.append(&out)
            }};
        }
        match self {
            Sink::I8(w) => conv!(w, i8),
            Sink::I16(w) => conv!(w, i16),
            Sink::I32(w) => conv!(w, i32),
            Sink::I64(w) => conv!(w, i64),
            Sink::U8(w) => conv!(w, u8),
            Sink::U16(w) => conv!(w, u16),
            Sink::U32(w) => conv!(w, u32),
            Sink::U64(w) => conv!(w, u64),
            s => Err(Error::internal(format!(
                "{}: not an integer column",
                each_sink!(s, w => w.path().display())
            ))),
        }
    }

    /// Starts writing appended data to disk once enough has piled up since the last time (see
    /// [`NpyWriter::start_writeback`]), so checkpoints and the final sync wait for little.
    pub(crate) fn start_writeback(&mut self, at_least: u64) -> Result<()> {
        each_sink!(self, w => if w.unsubmitted_bytes() >= at_least { w.start_writeback() } else { Ok(()) })
    }

    /// The file being written.
    pub(crate) fn path(&self) -> &Path {
        each_sink!(self, w => w.path())
    }

    /// Keeps the file closed but while writing, buffering at most `buffer` bytes (see
    /// [`NpyWriter::close_between_writes`]).
    pub(crate) fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        each_sink!(self, w => w.close_between_writes(buffer))
    }

    /// Checkpoints the file (data and header on disk).
    pub(crate) fn sync(&mut self) -> Result<u64> {
        each_sink!(self, w => w.sync())
    }

    /// Finishes the file.
    pub(crate) fn finish(self) -> Result<u64> {
        each_sink!(self, w => w.finish())
    }
}

/// A string column being written, in Arrow's large-string layout: the strings' bytes one after
/// another (`|u1`), and `rows + 1` offsets into them (`<i8`), the first 0, string `i` being the
/// bytes from `offsets[i]` to `offsets[i + 1]`.
#[derive(Debug)]
pub(crate) struct StrSink {
    data: NpyWriter<u8>,
    offsets: NpyWriter<i64>,
    /// Bytes in `data`: the last offset.
    bytes: u64,
    scratch: Vec<i64>,
}

impl StrSink {
    /// New, empty files: no bytes, and the one offset 0.
    pub(crate) fn create(data: &Path, offsets: &Path) -> Result<StrSink> {
        let data = NpyWriter::create(data, &[])?;
        let mut offsets = NpyWriter::create(offsets, &[])?;
        offsets.append(&[0])?;
        Ok(StrSink { data, offsets, bytes: 0, scratch: Vec::new() })
    }

    /// Continues the files after their first `rows` strings, `bytes` bytes long together.
    pub(crate) fn resume(data: &Path, offsets: &Path, rows: u64, bytes: u64) -> Result<StrSink> {
        // Before the first checkpoint's sync the files may lack their headers.
        if rows == 0 && (read_header(data).is_err() || read_header(offsets).is_err()) {
            return StrSink::create(data, offsets);
        }
        let data = NpyWriter::resume(data, bytes)?;
        let offsets = NpyWriter::resume(offsets, rows + 1)?;
        Ok(StrSink { data, offsets, bytes, scratch: Vec::new() })
    }

    /// Appends one block's strings: their bytes, and where each ends in them.
    pub(crate) fn append(&mut self, data: &[u8], ends: &[u32]) -> Result<()> {
        self.data.append(data)?;
        let base = i64::try_from(self.bytes)
            .map_err(|_| Error::invalid(self.data.path(), "more than 2^63 bytes of strings"))?;
        self.scratch.clear();
        self.scratch.extend(ends.iter().map(|&e| base + i64::from(e)));
        self.offsets.append(&self.scratch)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Bytes of strings so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keeps both files closed but while writing (see [`Sink::close_between_writes`]).
    pub(crate) fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        self.data.close_between_writes(buffer)?;
        self.offsets.close_between_writes(buffer)
    }

    /// The two files being written: bytes, offsets.
    pub(crate) fn paths(&self) -> [&Path; 2] {
        [self.data.path(), self.offsets.path()]
    }

    /// See [`Sink::start_writeback`].
    pub(crate) fn start_writeback(&mut self, at_least: u64) -> Result<()> {
        if self.data.unsubmitted_bytes() >= at_least {
            self.data.start_writeback()?;
        }
        if self.offsets.unsubmitted_bytes() >= at_least {
            self.offsets.start_writeback()?;
        }
        Ok(())
    }

    /// Checkpoints both files.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.data.sync()?;
        self.offsets.sync()?;
        Ok(())
    }

    /// Finishes both files.
    pub(crate) fn finish(self) -> Result<()> {
        self.data.finish()?;
        self.offsets.finish()?;
        Ok(())
    }
}

/// Rewrites the integer column at `src` (element type `from`) as `dst` with element type `to`,
/// streaming; every value must fit `to`.
pub(crate) fn narrow(src: &Path, from: ElementType, dst: &Path, to: ElementType) -> Result<()> {
    const BUFFER: usize = 256 << 10;
    let header = read_header(src)?;
    let rows = header.shape.first().copied().unwrap_or(0) as u64;
    let mut file = File::open(src).map_err(|e| Error::io(src, e))?;
    file.seek(SeekFrom::Start(header.data_offset as u64)).map_err(|e| Error::io(src, e))?;
    let mut out = Sink::create(dst, to)?;
    // u64 words keep the buffer aligned for every integer type.
    let mut words = vec![0u64; BUFFER / 8];
    let mut left = rows * from.size() as u64;
    let mut ints = Vec::with_capacity(BUFFER / from.size());
    while left > 0 {
        let n = usize::try_from(left.min(BUFFER as u64)).unwrap_or(BUFFER);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        file.read_exact(&mut bytes[..n]).map_err(|e| Error::io(src, e))?;
        let bytes = &bytes[..n];
        ints.clear();
        macro_rules! widen {
            ($t:ty) => {
                ints.extend(bytemuck::cast_slice::<u8, $t>(bytes).iter().map(|&x| i128::from(x)))
            };
        }
        match from {
            ElementType::I8 => widen!(i8),
            ElementType::I16 => widen!(i16),
            ElementType::I32 => widen!(i32),
            ElementType::I64 => widen!(i64),
            ElementType::U8 => widen!(u8),
            ElementType::U16 => widen!(u16),
            ElementType::U32 => widen!(u32),
            ElementType::U64 => widen!(u64),
            other => {
                return Err(Error::internal(format!("cannot narrow a {} column", other.name())));
            }
        }
        out.append_ints(&ints)?;
        left -= n as u64;
    }
    out.finish()?;
    Ok(())
}
