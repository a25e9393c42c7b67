//! `manifest.json`: what a dataset directory holds (see `docs/format.md`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest file's name inside a dataset directory.
pub const MANIFEST: &str = "manifest.json";

/// The rejected-records file's name inside a dataset directory.
pub const REJECTS: &str = "rejects.csv";

/// The manifest dtype of a string column.
pub const STR_DTYPE: &str = "str";

/// The contents of a dataset directory's `manifest.json` (see `docs/format.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The columns, in output order.
    pub columns: Vec<ManifestColumn>,
    /// Rows in every column file.
    pub rows: u64,
    /// Records written to `rejects.csv` instead.
    #[serde(default)]
    pub rejected: u64,
    /// Records read: always `rows + rejected`.
    #[serde(default)]
    pub rows_read: u64,
    /// The CSV the dataset was made from (the first, when there were several).
    #[serde(default)]
    pub source: Source,
    /// Every CSV the dataset was made from, in order, when there were several; empty for one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// The loads appended since, in order (`larder convert --append`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appends: Vec<Load>,
    /// Layout version of the dataset directory (currently 1).
    #[serde(default)]
    pub version: u32,
}

/// One column of a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestColumn {
    /// The column's name: unique in the dataset, as pandas' `read_csv` names columns (the
    /// header's name; `a.1`, `a.2`, … for a repeated name `a`; `Unnamed: N` for an empty one,
    /// N its position in the header); `column_1`, … without a header.
    pub name: String,
    /// The column's name as the CSV header has it, when that differs from `name` (a repeated
    /// or empty name). Absent in manifests larder wrote before it renamed such columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The `.npy` file in the dataset directory (a plain file name, never a path).
    pub file: String,
    /// numpy typestr of the stored values, e.g. `<f8`, `|u1`, `<M8[ms]`; [`STR_DTYPE`] for a
    /// string column, whose `file` then holds the strings' bytes (`|u1`).
    pub dtype: String,
    /// For categorical columns with few categories: the strings, in code order (code `i` means
    /// `categories[i]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// The validity file (`|b1`, `true` where a value is present) of a column with missing
    /// values that are not NaN: integer, bool, categorical, string and date-time columns.
    /// Missing rows hold 0 (`false`, code 0, the empty string) in the column file. Absent when
    /// every value is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<String>,
    /// For string columns: the offsets file (`<i8`, `rows + 1` offsets into `file`, the first
    /// 0; string `i` is the bytes from `offsets[i]` to `offsets[i + 1]`), Arrow's large-string
    /// layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets: Option<String>,
    /// For categorical columns with many categories: the files that hold them, in code order,
    /// in the layout of a string column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<DictionaryFiles>,
    /// For date-time columns read with a strftime format instead of as ISO 8601: the format
    /// (an append reads new rows the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// For integer, bool and date-time columns converted with a fill value: the value stored
    /// for a missing one, as given (an append fills the same way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    /// For date-time columns read as ISO 8601 text (no `format`) in which a value carried an
    /// offset or `Z`: `"UTC"`, the zone the stored instants are in. Absent for naive text and
    /// in manifests larder wrote before it recorded this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl ManifestColumn {
    /// True for a date-time column whose values came with a zone: read with a format that
    /// reads an offset or a time zone (`%z`, `%:z`, `%::z`, `%:::z`, `%Q`, `%:Q`), or ISO 8601
    /// text in which a value carried an offset or `Z` ([`zone`](Self::zone)). As `pd.read_csv`
    /// then gives tz-aware times, exports say UTC (pandas `datetime64[unit, UTC]`, Arrow
    /// `Timestamp(unit, "UTC")`). Other date-times (ISO 8601 text without offsets, formats
    /// without a zone) are naive: UTC wall times, as pandas gives text without an offset.
    pub fn zoned(&self) -> bool {
        self.zone.is_some() || self.format.as_deref().is_some_and(format_reads_zone)
    }
}

/// Whether a `strtime` format (a date-time column's `format`) holds a directive that reads an
/// offset or a time zone: `%`, then flags (`_-0^#`), a width, colons, then `z` or `Q`; `%%` is
/// a literal `%`. See [`ManifestColumn::zoned`].
pub fn format_reads_zone(format: &str) -> bool {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let directive =
            chars.by_ref().find(|d| !matches!(d, '_' | '-' | '0'..='9' | '^' | '#' | ':'));
        if matches!(directive, Some('z' | 'Q')) {
            return true;
        }
    }
    false
}

/// The files of a large categorical dictionary: the categories' bytes (`|u1`) and their
/// offsets (`<i8`, one more than there are categories).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictionaryFiles {
    /// The categories' bytes, one after another.
    pub file: String,
    /// Where each category starts and ends in `file`.
    pub offsets: String,
}

/// Where a dataset came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    /// The input path as given (`-` for standard input).
    #[serde(deserialize_with = "null_as_default")]
    pub path: String,
    /// Bytes of input read.
    #[serde(deserialize_with = "null_as_default")]
    pub bytes: u64,
    /// The file's modification time when it was read (RFC 3339, UTC), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// The file's fingerprint: XXH3-64 of its bytes as stored (compressed or not), 16 hex
    /// digits; absent for standard input. With `bytes` it tells an append that the same file
    /// was loaded before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xxh3: Option<String>,
    /// For a compressed file: the size of its CSV once decompressed. Absent for a plain file,
    /// whose CSV is its bytes (and in manifests written before larder recorded it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_bytes: Option<u64>,
    /// For a compressed file: XXH3-64 of its CSV once decompressed, 16 hex digits. With
    /// `csv_bytes` it tells an append that the same CSV was loaded before, whatever its
    /// compression or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_xxh3: Option<String>,
}

impl Source {
    /// The size and fingerprint of the CSV this file holds: `csv_bytes` and `csv_xxh3` where
    /// recorded (a compressed file), otherwise the file's own `bytes` and `xxh3` (a plain
    /// file; or a compressed one loaded by a larder that did not record its CSV, which then
    /// matches no plain file).
    pub fn content(&self) -> Option<(u64, &str)> {
        match (self.csv_bytes, &self.csv_xxh3) {
            (Some(n), Some(h)) => Some((n, h.as_str())),
            _ => self.xxh3.as_deref().map(|h| (self.bytes, h)),
        }
    }
}

/// Rows appended to a dataset by one `larder convert --append`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Load {
    /// The first row it added (the dataset's rows before it).
    pub first_row: u64,
    /// Rows it added.
    pub rows: u64,
    /// Records it rejected.
    pub rejected: u64,
    /// Records it read: `rows + rejected`.
    pub rows_read: u64,
    /// The file of its rejected records (in the layout of `rejects.csv`), when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects: Option<String>,
    /// The files it read, in order.
    pub sources: Vec<Source>,
}

/// True for a name that can only be a file in the dataset directory itself: not empty, not
/// hidden, no path separator, drive colon or NUL.
pub fn is_plain_file_name(f: &str) -> bool {
    !f.is_empty() && !f.starts_with('.') && !f.contains(['/', '\\', ':', '\0'])
}

/// Reads `null` as the type's default: datasets made by other tools may not know their source.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Manifest {
    /// Every file loaded into the dataset: the sources of the conversion that made it, then
    /// those of each append.
    pub fn loaded(&self) -> impl Iterator<Item = &Source> {
        let first = if self.sources.is_empty() { std::slice::from_ref(&self.source) } else { &[] };
        first.iter().chain(&self.sources).chain(self.appends.iter().flat_map(|l| &l.sources))
    }

    /// Reads `dir/manifest.json`, checking that every column file is a plain file name.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read; [`Error::Format`] if it is not a valid manifest.
    pub fn read(dir: impl AsRef<Path>) -> Result<Manifest> {
        let path = dir.as_ref().join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Manifest::parse(&path, &text)
    }

    /// The manifest in `dir`, if `dir` holds a dataset: `None` when it has no `manifest.json`,
    /// or one that is JSON without a list of columns (another tool's file).
    ///
    /// # Errors
    /// As [`Manifest::read`], for a dataset manifest.
    pub fn read_if_any(dir: impl AsRef<Path>) -> Result<Option<Manifest>> {
        let path = dir.as_ref().join(MANIFEST);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        match Manifest::parse(&path, &text) {
            Ok(m) => Ok(Some(m)),
            Err(e) => match serde_json::from_slice::<serde_json::Value>(&text) {
                Ok(v) if !v.get("columns").is_some_and(serde_json::Value::is_array) => Ok(None),
                _ => Err(e),
            },
        }
    }

    /// [`Manifest::read`] of the text `text` of the manifest at `path`.
    fn parse(path: &Path, text: &[u8]) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(text).map_err(|e| {
            Error::format(path, 0, format!("not a dataset manifest: {e} (line {})", e.line()))
        })?;
        let plain = is_plain_file_name;
        for c in &m.columns {
            let dictionary = c.dictionary.iter().flat_map(|d| [&d.file, &d.offsets]);
            for f in std::iter::once(&c.file).chain(&c.valid).chain(&c.offsets).chain(dictionary) {
                if c.dtype == STR_DTYPE && c.offsets.is_none() {
                    return Err(Error::format(
                        path,
                        0,
                        format!("column {:?}: a string column needs an offsets file", c.name),
                    ));
                }
                if !plain(f) {
                    return Err(Error::format(
                        path,
                        0,
                        format!("column {:?}: file {:?} is not a plain file name", c.name, f),
                    ));
                }
            }
        }
        for f in m.appends.iter().filter_map(|l| l.rejects.as_ref()) {
            if !plain(f) {
                return Err(Error::format(
                    path,
                    0,
                    format!("rejects file {f:?} of an append is not a plain file name"),
                ));
            }
        }
        let mut m = m;
        m.name_uniquely();
        Ok(m)
    }

    /// Gives columns that share a name, or have none, unique names as a conversion does now
    /// (see [`unique_names`](super::names::unique_names)), keeping the name they had as their
    /// `header`: a dataset written before columns were renamed reads as one written now.
    fn name_uniquely(&mut self) {
        let mut seen = std::collections::HashSet::new();
        if self.columns.iter().all(|c| !c.name.is_empty() && seen.insert(c.name.as_str())) {
            return;
        }
        let old: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        for (c, name) in self.columns.iter_mut().zip(super::names::unique_names(&old)) {
            if c.name != name {
                let text = std::mem::replace(&mut c.name, name);
                c.header.get_or_insert(text);
            }
        }
    }

    /// The column of the dataset whose file is `path` (a `.npy` in a dataset directory), if it
    /// is one: the reductions of a column honour its kind and validity file.
    ///
    /// # Errors
    /// As [`Manifest::read_if_any`].
    pub fn column_at(path: &Path) -> Result<Option<ManifestColumn>> {
        let Some((m, i)) = Manifest::of_column_file(path)? else { return Ok(None) };
        Ok(m.columns.into_iter().nth(i))
    }

    /// The manifest of the dataset whose column file is `path`, with the column's index, if
    /// `path` is a column file of a dataset.
    ///
    /// # Errors
    /// As [`Manifest::read_if_any`].
    pub fn of_column_file(path: &Path) -> Result<Option<(Manifest, usize)>> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return Ok(None) };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let Some(m) = Manifest::read_if_any(dir)? else { return Ok(None) };
        let i = m.columns.iter().position(|c| std::ffi::OsStr::new(&c.file) == name);
        Ok(i.map(|i| (m, i)))
    }

    /// The column called `name`: the column of that (unique) name, or else the one column
    /// whose header text is `name` (an empty name, say, for the column named `Unnamed: 0`).
    ///
    /// # Errors
    /// [`Error::Argument`] naming the columns there are, if there is none, or the columns'
    /// unique names if the header has `name` more than once.
    pub fn column(&self, name: &str) -> Result<&ManifestColumn> {
        self.position(name).map(|i| &self.columns[i])
    }

    /// The index of the column called `name` (see [`Manifest::column`]).
    ///
    /// # Errors
    /// As [`Manifest::column`].
    pub fn position(&self, name: &str) -> Result<usize> {
        if let Some(i) = self.columns.iter().position(|c| c.name == name) {
            return Ok(i);
        }
        let text = |c: &ManifestColumn| c.header.clone().unwrap_or_else(|| c.name.clone());
        let hits: Vec<usize> =
            (0..self.columns.len()).filter(|&i| text(&self.columns[i]) == name).collect();
        match hits[..] {
            [i] => Ok(i),
            [] => {
                let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
                Err(Error::argument(format!("no column {name:?}; the dataset has {names:?}")))
            }
            _ => {
                let names: Vec<&str> =
                    hits.iter().map(|&i| self.columns[i].name.as_str()).collect();
                Err(Error::argument(format!(
                    "{} columns have the header name {name:?}; name one by its column name: \
                     {names:?}",
                    hits.len()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_accepts_manifests_other_tools_write() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"columns": [{"name": "x", "file": "x.npy", "dtype": "<f8"}],
                       "rows": 3, "source": {"path": null, "bytes": null, "tool": "y"}}"#;
        std::fs::write(dir.path().join(MANIFEST), text).unwrap();
        let m = Manifest::read(dir.path()).unwrap();
        assert_eq!((m.rows, m.rejected, m.source.bytes), (3, 0, 0));
        assert_eq!(m.column("x").unwrap().dtype, "<f8");
        assert!(m.column("y").unwrap_err().to_string().contains("[\"x\"]"));
    }

    #[test]
    fn read_refuses_column_files_that_are_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest {
            columns: vec![ManifestColumn {
                name: "x".into(),
                header: None,
                file: "x.npy".into(),
                dtype: "<f8".into(),
                categories: None,
                valid: None,
                offsets: None,
                dictionary: None,
                format: None,
                fill: None,
                zone: None,
            }],
            rows: 0,
            rejected: 0,
            rows_read: 0,
            source: Source { path: "in.csv".into(), bytes: 0, ..Source::default() },
            sources: Vec::new(),
            appends: Vec::new(),
            version: 1,
        };
        let path = dir.path().join(MANIFEST);
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
        for bad in ["../x.npy", "/etc/passwd", ".hidden.npy", "a\\b.npy", ""] {
            m.columns[0].file = bad.into();
            std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
            let e = Manifest::read(dir.path()).unwrap_err().to_string();
            assert!(e.contains("not a plain file name"), "{bad}: {e}");
        }
    }
}

#[cfg(test)]
mod zone_tests {
    use super::format_reads_zone;

    #[test]
    fn formats_that_read_a_zone() {
        for f in ["%d/%b/%Y:%H:%M:%S %z", "%F %T%:z", "%F %H:%M %Q", "%F %::z", "%F %:Q"] {
            assert!(format_reads_zone(f), "{f}");
        }
        for f in ["%d/%m/%Y", "%s", "%Y-%m-%d %H:%M:%S%.f", "100%% %F", "%%z %F", "%F z Q"] {
            assert!(!format_reads_zone(f), "{f}");
        }
    }
}
