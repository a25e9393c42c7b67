//! `rejects.csv`: one CSV record per rejected input record (line, column, reason, the record).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::appender::Appender;
use super::record::{fields_of, record_end};

/// The first line of `rejects.csv`.
const HEAD: &[u8] = b"line,column,reason,record\n";

/// The first line of `rejects.csv` when several inputs are converted as one: each record
/// names its file.
const HEAD_FILES: &[u8] = b"file,line,column,reason,record\n";

fn head(several: bool) -> &'static [u8] {
    if several { HEAD_FILES } else { HEAD }
}

/// The rejects file of a running conversion.
pub(crate) struct Rejects(Appender);

impl Rejects {
    /// A new file at `path` holding the header line (with a `file` column for `several`
    /// inputs).
    pub(crate) fn create(path: PathBuf, several: bool) -> Result<Rejects> {
        let mut file = Appender::create(path)?;
        file.append(head(several))?;
        Ok(Rejects(file))
    }

    /// Reopens the file at `path`, keeping its first `len` bytes (as checkpointed).
    pub(crate) fn reopen(path: PathBuf, len: u64, several: bool) -> Result<Rejects> {
        // At the first checkpoint the file holds only its header, which may never have reached
        // the disk: write it again.
        let on_disk = std::fs::metadata(&path).map_or(0, |m| m.len());
        if len == head(several).len() as u64 && on_disk < len {
            return Rejects::create(path, several);
        }
        Appender::reopen(path, len).map(Rejects)
    }

    pub(crate) fn file(&mut self) -> &mut Appender {
        &mut self.0
    }

    /// Bytes of the file, header included.
    pub(crate) fn len(&self) -> u64 {
        self.0.len()
    }

    /// Appends one rejected record: its file (with several inputs), its line there, the column
    /// of the bad value (empty for record-level problems), the reason and the record's bytes.
    pub(crate) fn write(
        &mut self,
        file: Option<&str>,
        line: u64,
        column: &str,
        reason: &str,
        raw: &[u8],
    ) -> Result<()> {
        let mut out = Vec::new();
        if let Some(f) = file {
            csv_field(&mut out, f.as_bytes());
            out.push(b',');
        }
        out.extend_from_slice(format!("{line},").as_bytes());
        csv_field(&mut out, column.as_bytes());
        out.push(b',');
        csv_field(&mut out, reason.as_bytes());
        out.push(b',');
        csv_field(&mut out, raw);
        out.push(b'\n');
        self.0.append(&out)
    }
}

/// The first `n` rejections listed in the `rejects.csv` at `path` (written by [`Rejects`],
/// with a `file` column for `several` inputs), each as `line L: column "C": REASON` (or
/// `FILE:L: …`).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read.
pub(crate) fn first(path: &Path, several: bool, n: usize) -> Result<Vec<String>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut pos = head(several).len().min(text.len());
    let mut out = Vec::new();
    while pos < text.len() && out.len() < n {
        let end = record_end(&text, pos, b',');
        let fields = fields_of(&text[pos..end], b',').unwrap_or_default();
        pos = end + 1;
        let f: Vec<String> =
            fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        let (file, rest) =
            if several { (f.first().cloned(), f.get(1..)) } else { (None, f.get(..)) };
        let Some([line, column, reason, ..]) = rest else { continue };
        let at = match file {
            Some(file) => format!("{file}:{line}"),
            None => format!("line {line}"),
        };
        out.push(if column.is_empty() {
            format!("{at}: {reason}")
        } else {
            format!("{at}: column {column:?}: {reason}")
        });
    }
    Ok(out)
}

/// Appends `v` as a quoted CSV field.
fn csv_field(out: &mut Vec<u8>, v: &[u8]) {
    out.push(b'"');
    for &b in v {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_with_doubled_quotes() {
        let mut out = Vec::new();
        csv_field(&mut out, b"a\"b,\nc");
        assert_eq!(out, b"\"a\"\"b,\nc\"");
    }
}
