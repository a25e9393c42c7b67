//! The `.npy` files of a dataset as a group copy reads and writes them: 1-d, little-endian,
//! read a range of rows at a time and written a chunk at a time, with their headers kept
//! byte for byte.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dtype::{ByteOrder, DType};
use crate::error::{Error, Result};
use crate::npy::{Header, read_header};

/// A header that is not the one larder writes for the file's dtype and shape, kept as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct HeaderText {
    /// Format version (major, minor).
    pub(super) version: [u8; 2],
    /// The header dict with its padding and final newline.
    pub(super) dict: String,
}

impl HeaderText {
    /// The whole header: magic, version, length and dict.
    pub(super) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = b"\x93NUMPY".to_vec();
        out.extend_from_slice(&self.version);
        let n = self.dict.len();
        if self.version[0] == 1 {
            let n = u16::try_from(n).map_err(|_| Error::argument("npy header too long"))?;
            out.extend_from_slice(&n.to_le_bytes());
        } else {
            let n = u32::try_from(n).map_err(|_| Error::argument("npy header too long"))?;
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(self.dict.as_bytes());
        Ok(out)
    }
}

/// The header larder writes for a 1-d file of `dtype` and `len` elements.
pub(super) fn standard_header(dtype: DType, len: u64) -> Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| Error::argument("array too long"))?;
    Ok(Header::new(dtype, &[len], false).to_bytes())
}

/// A 1-d `.npy` file of a dataset, opened for reading rows.
#[derive(Debug)]
pub(super) struct NpyIn {
    pub(super) path: PathBuf,
    pub(super) dtype: DType,
    pub(super) len: u64,
    data_offset: u64,
    /// `Some` when the header differs from the one larder would write.
    pub(super) header: Option<HeaderText>,
}

impl NpyIn {
    /// Opens `path`, checking it is 1-d, little-endian (or byte-sized), of `len` elements when
    /// given, and holds exactly its data after the header (so a copy can restore it whole).
    pub(super) fn open(path: &Path, len: Option<u64>) -> Result<NpyIn> {
        let h = read_header(path)?;
        let bad = |why: String| Error::invalid(path, why);
        if h.shape.len() != 1 {
            return Err(bad(format!("holds shape {:?}; a dataset column is 1-d", h.shape)));
        }
        if h.dtype.itemsize() > 1 && h.dtype.order() != ByteOrder::Little {
            return Err(bad("is big-endian; a dataset copy reads little-endian columns".into()));
        }
        let n = h.shape[0] as u64;
        if len.is_some_and(|l| l != n) {
            return Err(bad(format!("holds {n} elements, the manifest says {}", len.unwrap_or(0))));
        }
        let data = n * h.dtype.itemsize() as u64;
        let size = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        if size != h.data_offset as u64 + data {
            return Err(bad(format!(
                "is {size} bytes, its header says {} (bytes past the data are not copied)",
                h.data_offset as u64 + data
            )));
        }
        let mut head = vec![0u8; h.data_offset];
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
        let header = if head == standard_header(h.dtype, n)? {
            None
        } else {
            let prefix = if h.version.0 == 1 { 10 } else { 12 };
            let dict = String::from_utf8(head[prefix..].to_vec())
                .map_err(|_| bad("has a header that is not UTF-8".into()))?;
            Some(HeaderText { version: [h.version.0, h.version.1], dict })
        };
        Ok(NpyIn {
            path: path.to_path_buf(),
            dtype: h.dtype.to_native(),
            len: n,
            data_offset: h.data_offset as u64,
            header,
        })
    }

    /// The bytes of elements `start..start + count`.
    pub(super) fn read(&self, start: u64, count: u64) -> Result<Vec<u8>> {
        let size = self.dtype.itemsize() as u64;
        let n = usize::try_from(count * size).map_err(|_| Error::argument("block too large"))?;
        let mut buf = vec![0u8; n];
        let mut f = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        f.seek(SeekFrom::Start(self.data_offset + start * size))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(buf)
    }

    /// Elements `start..start + count` of a `<i8` file.
    pub(super) fn read_i64(&self, start: u64, count: u64) -> Result<Vec<i64>> {
        let bytes = self.read(start, count)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect())
    }
}

/// A 1-d `.npy` file being written in order: header space first, the header itself at the end
/// when the length is known.
pub(super) struct NpyOut {
    path: PathBuf,
    out: BufWriter<File>,
    dtype: DType,
    len: u64,
    header: Option<Vec<u8>>,
    header_len: usize,
}

impl NpyOut {
    /// Creates `path` for elements of `dtype`; `header` is the exact header to write, else the
    /// standard one.
    pub(super) fn create(path: &Path, dtype: DType, header: Option<&HeaderText>) -> Result<NpyOut> {
        let header = header.map(HeaderText::to_bytes).transpose()?;
        let header_len = match &header {
            Some(h) => h.len(),
            None => standard_header(dtype, 0)?.len(),
        };
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&vec![b' '; header_len]).map_err(|e| Error::io(path, e))?;
        Ok(NpyOut { path: path.to_path_buf(), out, dtype, len: 0, header, header_len })
    }

    /// Appends element bytes.
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| Error::io(&self.path, e))?;
        self.len += (bytes.len() / self.dtype.itemsize()) as u64;
        Ok(())
    }

    /// Appends `<i8` values.
    pub(super) fn write_i64(&mut self, values: &[i64]) -> Result<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.write(&bytes)
    }

    /// Writes the header, and syncs the file with `sync` (a scratch file that dies with its
    /// process needs no durability).
    pub(super) fn finish_with(self, sync: bool) -> Result<()> {
        let NpyOut { path, out, dtype, len, header, header_len } = self;
        let header = match header {
            Some(h) => h,
            None => standard_header(dtype, len)?,
        };
        if header.len() != header_len {
            return Err(Error::internal("npy header changed length"));
        }
        let mut file = out.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .and_then(|()| if sync { file.sync_all() } else { Ok(()) })
            .map_err(|e| Error::io(&path, e))
    }
}
