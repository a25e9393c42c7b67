//! An append-only staged file (`rejects.csv`, a dictionary) that a checkpoint records by length.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file appended to through a buffer; [`sync`](Appender::sync) makes what was appended
/// durable.
///
/// Dropping it discards what is still buffered instead of writing it, as a crash would: a
/// conversion that stops on an error leaves its files as they are on disk, and a resume cuts
/// every file back to the length its checkpoint records.
pub(crate) struct Appender {
    /// Always `Some` until dropped.
    out: Option<BufWriter<File>>,
    path: PathBuf,
    /// Bytes appended (buffered or not).
    len: u64,
}

impl Appender {
    /// Creates (or truncates) the file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Appender> {
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Appender { out: Some(BufWriter::new(f)), path, len: 0 })
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
        Ok(Appender { out: Some(BufWriter::new(f)), path, len })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes appended so far, buffered or not.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self.out.as_mut().ok_or_else(|| Error::internal("appending to a closed file"))?;
        out.write_all(bytes).map_err(|e| Error::io(&self.path, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Puts everything appended on disk (`fdatasync`).
    pub(crate) fn sync(&mut self) -> Result<()> {
        let out = self.out.as_mut().ok_or_else(|| Error::internal("syncing a closed file"))?;
        out.flush().map_err(|e| Error::io(&self.path, e))?;
        out.get_ref().sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            // Close without writing the buffer (see the type's documentation).
            drop(out.into_parts());
        }
    }
}
