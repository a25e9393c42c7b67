//! An append-only staged file (`rejects.csv`, a dictionary) that a checkpoint records by length.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Bytes buffered before they are written, unless [`Appender::close_between_writes`] says less.
const BUFFER: usize = 8 << 10;

/// A file appended to through a buffer; [`sync`](Appender::sync) makes what was appended
/// durable.
///
/// Dropping it discards what is still buffered instead of writing it, as a crash would: a
/// conversion that stops on an error leaves its files as they are on disk, and a resume cuts
/// every file back to the length its checkpoint records.
pub(crate) struct Appender {
    /// The file, while open: always, or only while writing (see `close_between_writes`).
    file: Option<File>,
    path: PathBuf,
    /// Appended bytes not yet written.
    buf: Vec<u8>,
    /// Bytes buffered at most.
    buffer: usize,
    /// Whether the file is closed after each write.
    close: bool,
    /// Bytes appended (buffered or not).
    len: u64,
}

impl Appender {
    /// Creates (or truncates) the file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Appender> {
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Appender::with(f, path, 0))
    }

    /// Reopens the file at `path`, keeping its first `len` bytes.
    pub(crate) fn reopen(path: PathBuf, len: u64) -> Result<Appender> {
        let mut f = OpenOptions::new().write(true).open(&path).map_err(|e| Error::io(&path, e))?;
        let on_disk = f.metadata().map_err(|e| Error::io(&path, e))?.len();
        if on_disk < len {
            // Growing it would put zeros where checkpointed bytes should be.
            return Err(Error::format(
                &path,
                on_disk,
                format!("holds {on_disk} bytes, fewer than the {len} checkpointed"),
            ));
        }
        f.set_len(len).map_err(|e| Error::io(&path, e))?;
        f.seek(SeekFrom::End(0)).map_err(|e| Error::io(&path, e))?;
        Ok(Appender::with(f, path, len))
    }

    fn with(file: File, path: PathBuf, len: u64) -> Appender {
        Appender { file: Some(file), path, buf: Vec::new(), buffer: BUFFER, close: false, len }
    }

    /// From now on, keeps the file closed but while writing to it, buffering at most `buffer`
    /// bytes (see [`NpyWriter::close_between_writes`](crate::NpyWriter::close_between_writes)).
    pub(crate) fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        self.buffer = buffer.max(1);
        self.close = true;
        self.write_out()?;
        self.buf = Vec::new();
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes appended so far, buffered or not.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if self.buf.len() + bytes.len() > self.buffer {
            self.write_out()?;
        }
        if bytes.len() >= self.buffer {
            let r = self
                .open()
                .and_then(|(f, path)| f.write_all(bytes).map_err(|e| Error::io(path, e)));
            self.done_writing();
            r?;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Puts everything appended on disk (`fdatasync`).
    pub(crate) fn sync(&mut self) -> Result<()> {
        let r = self.flush_buffer().and_then(|()| {
            let (f, path) = self.open()?;
            f.sync_data().map_err(|e| Error::io(path, e))
        });
        self.done_writing();
        r
    }

    /// The file, opened (and positioned at its end) if it is closed; and its path.
    fn open(&mut self) -> Result<(&mut File, &Path)> {
        let path = &self.path;
        let f = match &mut self.file {
            Some(f) => f,
            slot @ None => {
                let mut f =
                    OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
                f.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
                slot.insert(f)
            }
        };
        Ok((f, path))
    }

    /// Writes what is buffered (opening the file if need be).
    fn flush_buffer(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let r = self.open().and_then(|(f, path)| f.write_all(&buf).map_err(|e| Error::io(path, e)));
        self.buf = buf;
        r?;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered, and closes the file if it is kept closed between writes.
    fn write_out(&mut self) -> Result<()> {
        let r = self.flush_buffer();
        self.done_writing();
        r
    }

    fn done_writing(&mut self) {
        if self.close {
            self.file = None;
        }
    }
}
