//! [`NpyWriter`]: streams rows into a `.npy` file with bounded memory.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use ndarray::{ArrayBase, Data, Dimension};

use super::header::Header;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::sys::{self, Lock};

/// Bytes buffered before they are handed to the operating system. Twice [`DIRECT`]: only
/// appends smaller than that are buffered, so a larger buffer would save few system calls, and
/// `convert` keeps one writer per column (a CSV of 5 000 columns with 1 MiB buffers reserved
/// 10 GiB).
const BUFFER: usize = 2 * DIRECT;

/// Appends of at least this many bytes are written straight to the file, not through the buffer.
const DIRECT: usize = 64 << 10;

/// Appends rows along axis 0 to a `.npy` file, holding only a small buffer in memory.
///
/// The header is written with room for axis 0 to grow to any length, and is rewritten in place
/// by [`sync`](NpyWriter::sync) and [`finish`](NpyWriter::finish). numpy's own `.npy` files
/// cannot be appended to; these can, and stay ordinary `.npy` files that numpy opens. After a
/// `sync` the file on disk is a valid `.npy` of the rows written so far, so a crash loses at most
/// the rows since; [`resume`](NpyWriter::resume) continues such a file.
///
/// A writer keeps its file open until it is finished, unless told by
/// [`close_between_writes`](NpyWriter::close_between_writes) to open it only to write out its
/// buffer, so that a program can write more files at once than it may keep open.
///
/// Data is written in native byte order, C order.
///
/// # Example
/// ```
/// use larder::{NpyWriter, read_npy};
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("rows.npy");
/// let mut w = NpyWriter::<f32>::create(&path, &[3])?; // rows of 3
/// for i in 0..1000 {
///     w.append(&[i as f32, 0.5, -1.0])?;
/// }
/// assert_eq!(w.finish()?, 1000);
/// assert_eq!(read_npy::<f32>(&path)?.shape(), &[1000, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NpyWriter<T: Element> {
    path: PathBuf,
    /// The file, while open: always, or only while writing (see `close_between_writes`).
    file: Option<File>,
    /// Appended bytes not yet handed to the file.
    buf: Vec<u8>,
    /// Bytes buffered at most.
    buffer: usize,
    /// Whether the file is closed after each write.
    close: bool,
    header: Header,
    header_len: usize,
    /// Elements per row (product of the row shape).
    row_len: usize,
    /// Elements written, whole rows and the start of the next.
    elements: u64,
    /// Rows whose count is on disk in the header.
    synced_rows: u64,
    /// `elements` when the last [`sync`](NpyWriter::sync) succeeded: a sync with nothing new
    /// since has nothing to do.
    synced_elements: Option<u64>,
    /// File offset up to which writeback was started by
    /// [`start_writeback`](NpyWriter::start_writeback).
    written_back: u64,
    finished: bool,
    _element: PhantomData<T>,
}

impl<T: Element> NpyWriter<T> {
    /// Creates (or replaces) `path` for an array of shape `(rows, *row_shape)`, rows to come.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be created; [`Error::Locked`] if another handle has it
    /// open.
    pub fn create(path: impl AsRef<Path>, row_shape: &[usize]) -> Result<Self> {
        Self::create_as(path, row_shape, DType::of::<T>())
    }

    /// [`create`](NpyWriter::create) with the header declaring `dtype`, a dtype of `T`'s
    /// element type in native order that says more than `T` does: `<M8[ms]` for `i64`
    /// date-times.
    ///
    /// # Errors
    /// As [`create`](NpyWriter::create); [`Error::DTypeMismatch`] if `dtype` is not `T`'s
    /// element type in native order.
    pub fn create_as(path: impl AsRef<Path>, row_shape: &[usize], dtype: DType) -> Result<Self> {
        let path = path.as_ref();
        if dtype.element() != T::TYPE || !dtype.is_native() {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: dtype.typestr(),
            });
        }
        let row_len = row_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::invalid(path, format!("row shape {row_shape:?} is too large")))?;
        let mut shape = vec![0];
        shape.extend_from_slice(row_shape);
        crate::limits::check_numpy_size(&shape, dtype.itemsize())
            .map_err(|e| Error::invalid(path, e))?;
        let header = Header::new(dtype, &shape, false);
        let bytes = header.to_bytes();
        let file = sys::create_locked(path)?;
        let header_len = bytes.len();
        Ok(NpyWriter {
            path: path.to_path_buf(),
            file: Some(file),
            buf: bytes,
            buffer: BUFFER,
            close: false,
            header_len,
            header,
            row_len,
            elements: 0,
            synced_rows: 0,
            synced_elements: None,
            written_back: 0,
            finished: false,
            _element: PhantomData,
        })
    }

    /// Reopens a file this writer made, keeps its first `rows` rows, drops anything after them
    /// (rows written after the last checkpoint of a crashed run) and continues appending.
    ///
    /// # Errors
    /// [`Error::Format`] if the file's header is bad or has no room to grow, is Fortran order,
    /// or holds fewer than `rows` rows of data; [`Error::DTypeMismatch`] if it does not hold `T`
    /// in native order.
    pub fn resume(path: impl AsRef<Path>, rows: u64) -> Result<Self> {
        let path = path.as_ref();
        let mut file =
            OpenOptions::new().read(true).write(true).open(path).map_err(|e| Error::io(path, e))?;
        sys::lock(&file, path, Lock::Exclusive)?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        // Headers larder writes are small; read enough for any of them.
        let mut head = vec![0u8; usize::try_from(len.min(1 << 20)).unwrap_or(1 << 20)];
        std::io::Read::read_exact(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        let mut header = Header::parse(&head).map_err(|e| e.at(path))?;
        if header.dtype.element() != T::TYPE || !header.dtype.is_native() {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: header.dtype.typestr(),
            });
        }
        if header.fortran_order || header.shape.is_empty() {
            return Err(Error::format(path, 0, "only C-order arrays of rank ≥ 1 can be appended"));
        }
        let row_len: usize = header.shape[1..].iter().product();
        let row_bytes = (row_len * header.dtype.itemsize()) as u64;
        let data_offset = header.data_offset as u64;
        let have = (len - data_offset).checked_div(row_bytes).unwrap_or(u64::MAX);
        if have < rows {
            return Err(Error::format(
                path,
                len,
                format!("file holds {have} whole rows, fewer than the {rows} to resume from"),
            ));
        }
        header.shape[0] =
            usize::try_from(rows).map_err(|_| Error::invalid(path, "too many rows"))?;
        let bytes = header.to_bytes_in(header.version, header.data_offset).ok_or_else(|| {
            Error::format(path, 8, "header has no room to grow; it was not written by larder")
        })?;
        file.set_len(data_offset + rows * row_bytes).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
        file.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            file: Some(file),
            buf: Vec::new(),
            buffer: BUFFER,
            close: false,
            header_len: header.data_offset,
            header,
            row_len,
            elements: rows * row_len as u64,
            synced_rows: rows,
            synced_elements: None,
            written_back: 0,
            finished: false,
            _element: PhantomData,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// From now on, keeps the file closed but while writing to it: appends gather in a buffer
    /// of at most `buffer` bytes (at least 1), and each time it is written out (when full, on
    /// [`sync`](NpyWriter::sync), [`start_writeback`](NpyWriter::start_writeback) or
    /// [`finish`](NpyWriter::finish)) the file is opened, locked, written and closed again.
    /// This lets a program write many more files than it may keep open (a CSV of 100 000
    /// columns), each with a small buffer; writing them in larger pieces is faster, so only do
    /// this when the files would not all fit.
    ///
    /// While the file is closed, nothing holds its lock: another writer could open it.
    ///
    /// # Errors
    /// [`Error::Io`] on a write error while writing out what is buffered now.
    pub fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        self.buffer = buffer.max(1);
        self.close = true;
        self.write_out()?;
        self.buf = Vec::new();
        Ok(())
    }

    /// Hands what is buffered to the file, and closes the file if it is kept closed between
    /// writes.
    fn write_out(&mut self) -> Result<()> {
        let r = self.flush_buffer();
        self.done_writing();
        r
    }

    /// Hands what is buffered to the file (opening it if need be).
    fn flush_buffer(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let path = &self.path;
        let r = open_file(&mut self.file, path)
            .and_then(|f| f.write_all(&buf).map_err(|e| Error::io(path, e)));
        self.buf = buf;
        r?;
        self.buf.clear();
        Ok(())
    }

    /// Closes the file if it is kept closed between writes.
    fn done_writing(&mut self) {
        if self.close {
            self.file = None;
        }
    }

    /// Whole rows appended so far.
    pub fn rows(&self) -> u64 {
        if self.row_len == 0 { self.synced_rows } else { self.elements / self.row_len as u64 }
    }

    /// Appends elements in C order. They need not be whole rows; rows are completed by later
    /// calls, and [`finish`](NpyWriter::finish) checks that none is left half-written.
    ///
    /// # Errors
    /// [`Error::Io`] on a write error (e.g. a full disk).
    pub fn append(&mut self, values: &[T]) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        if self.buf.len() + bytes.len() > self.buffer {
            self.write_out()?;
        }
        if bytes.len() >= DIRECT.min(self.buffer) {
            // Large appends skip the buffer: one copy (into the page cache) instead of two,
            // after what is buffered.
            let r = self.flush_buffer().and_then(|()| {
                let f = open_file(&mut self.file, &self.path)?;
                f.write_all(bytes).map_err(|e| Error::io(&self.path, e))
            });
            self.done_writing();
            r?;
        } else {
            if !self.close && self.buf.capacity() < self.buffer {
                self.buf.reserve_exact(self.buffer - self.buf.len());
            }
            self.buf.extend_from_slice(bytes);
        }
        self.elements += values.len() as u64;
        Ok(())
    }

    /// Appends the rows of `rows`, an array of shape `(n, *row_shape)`, in logical order whatever
    /// its memory layout.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the row shape differs; [`Error::Io`] on a write error.
    pub fn append_rows<S, D>(&mut self, rows: &ArrayBase<S, D>) -> Result<()>
    where
        S: Data<Elem = T>,
        D: Dimension,
    {
        if rows.ndim() == 0 || rows.shape()[1..] != self.header.shape[1..] {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "rows of shape {:?} do not fit an array of shape (n, {:?})",
                    rows.shape().get(1..).unwrap_or(&[]),
                    &self.header.shape[1..]
                ),
            ));
        }
        if let Some(s) = rows.as_slice() {
            self.append(s)?;
        } else {
            let mut buf = Vec::with_capacity((BUFFER / std::mem::size_of::<T>()).max(1));
            // `iter` walks in logical (C) order whatever the layout.
            for &v in rows {
                buf.push(v);
                if buf.len() == buf.capacity() {
                    self.append(&buf)?;
                    buf.clear();
                }
            }
            self.append(&buf)?;
        }
        if self.row_len == 0 {
            self.synced_rows += rows.shape()[0] as u64;
        }
        Ok(())
    }

    /// A checkpoint: writes out buffered data, rewrites the header's row count, and waits until
    /// both are on disk (`fsync`). Returns the rows now durable.
    ///
    /// # Errors
    /// [`Error::Io`] on a write or sync error.
    pub fn sync(&mut self) -> Result<u64> {
        let rows = self.rows();
        if self.row_len > 0 && self.synced_elements == Some(self.elements) {
            // Data and header are on disk as they are now.
            return Ok(rows);
        }
        let synced = self.write_header(rows).and_then(|()| {
            let path = &self.path;
            open_file(&mut self.file, path)?.sync_data().map_err(|e| Error::io(path, e))
        });
        self.done_writing();
        synced?;
        self.synced_rows = rows;
        self.synced_elements = Some(self.elements);
        Ok(rows)
    }

    /// Hands buffered data to the operating system and asks it to start writing the whole
    /// pages of data not yet started to disk, without waiting. Durability still needs
    /// [`sync`](NpyWriter::sync); this makes that `sync` (or the operating system's own
    /// writeback) find less to do, so writing overlaps the caller's work. A no-op where the
    /// system has no such call (outside Linux).
    ///
    /// # Errors
    /// [`Error::Io`] on a write error.
    pub fn start_writeback(&mut self) -> Result<()> {
        if let Err(e) = self.flush_buffer() {
            self.done_writing();
            return Err(e);
        }
        let end = self.header_len as u64 + self.elements * std::mem::size_of::<T>() as u64;
        // Whole pages only: a page still being appended to would be written twice.
        let page = 4096;
        let end = end / page * page;
        if end > self.written_back {
            let from = self.written_back;
            let path = &self.path;
            let r = open_file(&mut self.file, path).and_then(|f| {
                sys::start_writeback(f, from, end - from).map_err(|e| Error::io(path, e))
            });
            self.done_writing();
            r?;
            self.written_back = end;
        }
        self.done_writing();
        Ok(())
    }

    /// Bytes appended (buffered or not) since writeback was last started.
    pub fn unsubmitted_bytes(&self) -> u64 {
        let end = self.header_len as u64 + self.elements * std::mem::size_of::<T>() as u64;
        end.saturating_sub(self.written_back)
    }

    /// Hands what is buffered to the file and rewrites the header's row count, leaving the
    /// file open (the caller closes it with `done_writing`).
    fn write_header(&mut self, rows: u64) -> Result<()> {
        self.header.shape[0] =
            usize::try_from(rows).map_err(|_| Error::invalid(&self.path, "too many rows"))?;
        let bytes = self
            .header
            .to_bytes_in(self.header.version, self.header_len)
            .ok_or_else(|| Error::invalid(&self.path, "header cannot hold the row count"))?;
        self.flush_buffer()?;
        let path = &self.path;
        let io = |e| Error::io(path, e);
        let file = open_file(&mut self.file, path)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(())
    }

    /// Finishes the file: checks that the last row is complete, writes the final header and
    /// syncs. Returns the number of rows.
    ///
    /// # Errors
    /// [`Error::Invalid`] if a row was left half-written; [`Error::Io`] on a write error.
    pub fn finish(mut self) -> Result<u64> {
        self.finished = true;
        if self.row_len > 0 && !self.elements.is_multiple_of(self.row_len as u64) {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "{} elements left over, not a whole row of {}",
                    self.elements % self.row_len as u64,
                    self.row_len
                ),
            ));
        }
        self.sync()
    }
}

/// The file in `slot`, opened (and locked, positioned at its end) if it is closed.
fn open_file<'a>(slot: &'a mut Option<File>, path: &Path) -> Result<&'a mut File> {
    if let Some(f) = slot {
        return Ok(f);
    }
    let mut f =
        OpenOptions::new().read(true).write(true).open(path).map_err(|e| Error::io(path, e))?;
    sys::lock(&f, path, Lock::Exclusive)?;
    f.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
    Ok(slot.insert(f))
}

impl<T: Element> Drop for NpyWriter<T> {
    /// Leaves a valid file of the whole rows written, as far as that is possible without
    /// reporting errors; call [`finish`](NpyWriter::finish) to see them.
    fn drop(&mut self) {
        if !self.finished {
            let rows = self.rows();
            let _ = self.write_header(rows);
            self.done_writing();
        }
    }
}

/// Writes `array` to a new `.npy` file at `path` (native byte order, C order).
///
/// # Errors
/// [`Error::Io`] on a write error.
pub fn write_npy<S, D, T>(path: impl AsRef<Path>, array: &ArrayBase<S, D>) -> Result<()>
where
    S: Data<Elem = T>,
    D: Dimension,
    T: Element,
{
    write_npy_as(path.as_ref(), array, DType::of::<T>())
}

/// [`write_npy`] with the file's dtype given: `T`'s in native order, or another of the same
/// element type (a `datetime64` for `i64` values).
///
/// # Errors
/// [`Error::DTypeMismatch`] for a dtype of another element type or byte order; [`Error::Io`]
/// on a write error.
pub(crate) fn write_npy_as<S, D, T>(
    path: &Path,
    array: &ArrayBase<S, D>,
    dtype: DType,
) -> Result<()>
where
    S: Data<Elem = T>,
    D: Dimension,
    T: Element,
{
    if array.ndim() > 0 {
        let mut w = NpyWriter::<T>::create_as(path, &array.shape()[1..], dtype)?;
        w.append_rows(array)?;
        w.finish()?;
        return Ok(());
    }
    if dtype.element() != T::TYPE || !dtype.is_native() {
        return Err(Error::DTypeMismatch {
            path: path.to_path_buf(),
            expected: DType::of::<T>().typestr(),
            found: dtype.typestr(),
        });
    }
    let header = Header::new(dtype, &[], false);
    let mut bytes = header.to_bytes();
    bytes.extend(array.iter().flat_map(|v| bytemuck::bytes_of(v).to_vec()));
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::read_npy;
    use ndarray::{Array, Array3, ArrayD, IxDyn, ShapeBuilder, arr0};

    #[test]
    fn start_writeback_leaves_the_data_and_the_row_count_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let mut w = NpyWriter::<u32>::create(&p, &[]).unwrap();
        let v: Vec<u32> = (0..5000).collect();
        w.append(&v[..3001]).unwrap();
        assert!(w.unsubmitted_bytes() > 12_000);
        w.start_writeback().unwrap();
        assert!(w.unsubmitted_bytes() < 4096, "whole pages are submitted");
        w.append(&v[3001..]).unwrap();
        w.start_writeback().unwrap();
        assert_eq!(w.finish().unwrap(), 5000);
        assert_eq!(read_npy::<u32>(&p).unwrap().as_slice(), Some(&v[..]));
    }

    #[test]
    fn a_large_first_append_lands_after_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        // Appends past the 64 KiB that go straight to the file, first and after small ones.
        for (first, pieces) in [(20_000usize, 1usize), (70_000, 3), (5, 4)] {
            let mut w = NpyWriter::<f64>::create(&p, &[]).unwrap();
            let mut want = Vec::new();
            for k in 0..pieces {
                let n = if k % 2 == 0 { first } else { 9000 };
                let v: Vec<f64> = (0..n).map(|i| (want.len() + i) as f64 * 0.5).collect();
                w.append(&v).unwrap();
                want.extend(v);
            }
            assert_eq!(w.finish().unwrap(), want.len() as u64);
            assert_eq!(read_npy::<f64>(&p).unwrap().as_slice(), Some(&want[..]), "{first}");
        }
    }

    /// Whether this process has a descriptor open on `path`.
    fn is_open(path: &Path) -> bool {
        let want = std::fs::canonicalize(path).unwrap();
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .any(|p| p == want)
    }

    #[test]
    fn a_writer_closed_between_writes_holds_no_descriptor_and_writes_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        for (buffer, rows) in [(16, 1000u32), (4096, 70_000), (1, 7)] {
            let (closed, open) = (dir.path().join("closed.npy"), dir.path().join("open.npy"));
            let p = closed.as_path();
            let mut w = NpyWriter::<u32>::create(p, &[]).unwrap();
            let mut o = NpyWriter::<u32>::create(&open, &[]).unwrap();
            w.close_between_writes(buffer).unwrap();
            assert!(!is_open(p), "{buffer}");
            let v: Vec<u32> = (0..rows).collect();
            for (i, piece) in v.chunks(37).enumerate() {
                w.append(piece).unwrap();
                o.append(piece).unwrap();
                assert!(!is_open(p), "{buffer}: after piece {i}");
                if i % 500 == 7 {
                    assert_eq!(w.sync().unwrap(), o.sync().unwrap());
                    w.start_writeback().unwrap();
                    assert!(!is_open(p), "{buffer}: after a sync");
                }
            }
            // Unfinished: what was synced is a valid file, and resumes.
            let synced = w.sync().unwrap();
            drop(w);
            assert!(!is_open(p));
            let mut w = NpyWriter::<u32>::resume(p, synced).unwrap();
            w.close_between_writes(buffer).unwrap();
            w.append(&[7, 8]).unwrap();
            o.append(&[7, 8]).unwrap();
            assert_eq!(w.finish().unwrap(), u64::from(rows) + 2);
            o.finish().unwrap();
            assert!(!is_open(p));
            assert_eq!(std::fs::read(p).unwrap(), std::fs::read(&open).unwrap(), "{buffer}");
        }
    }

    #[test]
    fn resume_drops_rows_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let mut w = NpyWriter::<u16>::create(&p, &[2]).unwrap();
        w.append(&[1, 2, 3, 4]).unwrap();
        assert_eq!(w.sync().unwrap(), 2);
        w.append(&[5, 6, 7]).unwrap();
        drop(w); // unfinished: the header says 3 rows, half a row trails
        assert_eq!(read_npy::<u16>(&p).unwrap().shape(), &[3, 2]);
        let mut w = NpyWriter::<u16>::resume(&p, 2).unwrap();
        w.append(&[8, 9]).unwrap();
        assert_eq!(w.finish().unwrap(), 3);
        let a = read_npy::<u16>(&p).unwrap();
        assert_eq!(a.into_raw_vec_and_offset().0, vec![1, 2, 3, 4, 8, 9]);
        assert!(NpyWriter::<u16>::resume(&p, 4).is_err());
        assert!(NpyWriter::<u32>::resume(&p, 1).is_err());
    }

    #[test]
    fn half_rows_are_refused_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = NpyWriter::<f64>::create(dir.path().join("a.npy"), &[3]).unwrap();
        w.append(&[1.0, 2.0]).unwrap();
        assert!(w.finish().unwrap_err().to_string().contains("left over"));
    }

    #[test]
    fn write_npy_handles_any_layout_and_rank() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let f = Array3::from_shape_fn((2, 3, 4).f(), |(i, j, k)| (i * 100 + j * 10 + k) as i64);
        write_npy(&p, &f).unwrap();
        assert_eq!(read_npy::<i64>(&p).unwrap(), f.into_dyn());
        write_npy(&p, &arr0(7.5f32)).unwrap();
        assert_eq!(read_npy::<f32>(&p).unwrap(), arr0(7.5f32).into_dyn());
        let e: ArrayD<u8> = Array::zeros(IxDyn(&[3, 0]));
        write_npy(&p, &e).unwrap();
        assert_eq!(read_npy::<u8>(&p).unwrap().shape(), &[3, 0]);
    }
}
