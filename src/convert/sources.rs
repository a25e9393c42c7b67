//! Several input files converted as one table: their CSVs read one after another as a single
//! stream, each file's header checked against the first file's and left out of the stream.
//!
//! Each file may be plain or compressed (see `input.rs`). A file that does not end with a line
//! break gets one, so its last record never runs into the next file's first; a file that ends
//! inside a quoted field is an error naming it (its quote would swallow the next file). The
//! stream's line numbers are mapped back to each file's own by a [`FileMap`], filled as files
//! are reached, so that rejected records name their file and line there.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

use super::input::{self, InputError};
use super::record::{MAX_RECORD, Quotes, fields_of};

/// Where one input file's records start in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStart {
    /// Line of the stream (1-based) that holds the file's first record after its header.
    line: u64,
    /// That line's number in the file itself.
    local: u64,
    /// Byte of the stream where that record starts, and its byte in the file itself.
    offset: u64,
    local_offset: u64,
    /// Index of the file among the inputs.
    file: usize,
}

/// Maps lines and bytes of the stream back to the files and their own lines and bytes.
#[derive(Clone, Debug)]
pub(crate) struct FileMap {
    paths: Arc<Vec<PathBuf>>,
    starts: Arc<Mutex<Vec<FileStart>>>,
}

impl FileMap {
    fn starts(&self) -> std::sync::MutexGuard<'_, Vec<FileStart>> {
        self.starts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last file start at or before `key`, by the key `at` gives.
    fn start_of(&self, key: u64, at: fn(&FileStart) -> u64) -> Option<FileStart> {
        let starts = self.starts();
        let i = starts.partition_point(|s| at(s) <= key);
        i.checked_sub(1).and_then(|i| starts.get(i)).copied()
    }

    /// The file and its own line number of stream line `line`.
    pub(crate) fn locate(&self, line: u64) -> (&Path, u64) {
        match self.start_of(line, |s| s.line) {
            Some(s) => (&self.paths[s.file], s.local + (line - s.line)),
            None => (&self.paths[0], line),
        }
    }

    /// The file and its own byte offset of stream byte `offset` (of a compressed file: of its
    /// decompressed CSV).
    pub(crate) fn locate_byte(&self, offset: u64) -> (PathBuf, u64) {
        match self.start_of(offset, |s| s.offset) {
            Some(s) => (self.paths[s.file].clone(), s.local_offset + (offset - s.offset)),
            None => (self.paths[0].clone(), offset),
        }
    }

    fn push(&self, s: FileStart) {
        self.starts().push(s);
    }
}
/// The files being read, as one stream of CSV bytes.
pub(crate) struct Chain {
    paths: Vec<PathBuf>,
    delimiter: u8,
    header: bool,
    /// The next file to open.
    next: usize,
    current: Option<Current>,
    /// The first file's header fields, which every other file's must equal.
    first_header: Option<Vec<Vec<u8>>>,
    /// Bytes to hand out before reading on: what was read past a header, or a line break
    /// added after a file that ends without one.
    pending: Vec<u8>,
    pos: usize,
    /// Line breaks and bytes handed out so far.
    newlines: u64,
    handed: u64,
    files: FileMap,
    /// Bytes of the input files consumed so far (compressed bytes where compressed).
    consumed: Arc<AtomicU64>,
    /// Sizes of the files finished.
    done_bytes: u64,
    /// What each file's CSV bytes are, once read (see [`input::ContentSlot`]).
    contents: Vec<input::ContentSlot>,
}

/// The file being read.
struct Current {
    index: usize,
    size: u64,
    reader: Box<dyn Read + Send>,
    /// Its compressed bytes consumed, for compressed input.
    counter: Option<Arc<AtomicU64>>,
    /// Bytes of it handed out (header and added line break excluded).
    read: u64,
    /// Where the quote rule stands after the bytes handed out.
    quotes: Quotes,
    last: Option<u8>,
}

impl Chain {
    /// The stream of the files at `paths`, in order; with `header`, each one's first record
    /// must name the same columns as the first file's.
    pub(crate) fn new(paths: Vec<PathBuf>, delimiter: u8, header: bool) -> Chain {
        let files = FileMap { paths: Arc::new(paths.clone()), starts: Arc::default() };
        let n = paths.len();
        Chain {
            paths,
            delimiter,
            header,
            next: 0,
            current: None,
            first_header: None,
            pending: Vec::new(),
            pos: 0,
            newlines: 0,
            handed: 0,
            files,
            consumed: Arc::new(AtomicU64::new(0)),
            done_bytes: 0,
            contents: (0..n).map(|_| input::ContentSlot::default()).collect(),
        }
    }

    /// One slot per file, set as each compressed one is read to its end.
    pub(crate) fn contents(&self) -> Vec<input::ContentSlot> {
        self.contents.clone()
    }

    /// The map from the stream's lines to each file's, filled as files are reached.
    pub(crate) fn files(&self) -> FileMap {
        self.files.clone()
    }

    /// The count of input bytes consumed, kept up to date as the stream is read.
    pub(crate) fn consumed(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.consumed)
    }

    fn open_next(&mut self) -> io::Result<()> {
        let index = self.next;
        self.next += 1;
        let path = self.paths[index].clone();
        let file = File::open(&path).map_err(|e| fail(&path, 0, &e.to_string()))?;
        let size = file.metadata().map_err(|e| fail(&path, 0, &e.to_string()))?.len();
        let file = input::Retrying::new(file, input::RETRY);
        let slot = Arc::clone(&self.contents[index]);
        let opened = input::open_into(Box::new(file), &path, self.delimiter, slot)
            .map_err(|e| fail(&path, 0, &e.to_string()))?;
        let mut cur = Current {
            index,
            size,
            reader: opened.reader,
            counter: opened.consumed,
            read: 0,
            quotes: Quotes::new(self.delimiter),
            last: None,
        };
        let (line, offset) = (self.newlines + 1, self.handed);
        if !self.header {
            let local_offset = 0;
            self.files.push(FileStart { line, local: 1, offset, local_offset, file: index });
            self.current = Some(cur);
            return Ok(());
        }
        let (blank, head, rest) = read_header(&mut cur.reader, &path, self.delimiter)?;
        let fields = header_fields(&head, self.delimiter, &path)?;
        if let Some(first) = &self.first_header {
            if *first != fields {
                let show = |f: &[Vec<u8>]| {
                    f.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>()
                };
                return Err(fail(
                    &path,
                    0,
                    &format!(
                        "its header {:?} differs from the header {:?} of {}; every input must \
                         have the same columns",
                        show(&fields),
                        show(first),
                        self.paths[0].display()
                    ),
                ));
            }
            // Blank lines and the header are left out of the stream.
            let skipped = blank.len() + head.len();
            let lines =
                memchr::memchr_iter(b'\n', &[&blank[..], &head[..]].concat()).count() as u64;
            cur.read = skipped as u64;
            let local_offset = skipped as u64;
            self.files.push(FileStart {
                line,
                local: lines + 1,
                offset,
                local_offset,
                file: index,
            });
            self.pending = rest;
        } else {
            self.first_header = Some(fields);
            self.files.push(FileStart { line, local: 1, offset, local_offset: 0, file: index });
            // The first file is handed out whole: the plan skips its blank lines and header.
            self.pending = [blank, head, rest].concat();
        }
        self.pos = 0;
        self.current = Some(cur);
        Ok(())
    }

    /// Ends the current file: checks it does not end inside a quoted field, and adds a line
    /// break if it ends without one.
    fn finish_file(&mut self) -> io::Result<()> {
        let Some(cur) = self.current.take() else { return Ok(()) };
        if cur.quotes.in_quotes() {
            let path = &self.paths[cur.index];
            return Err(fail(
                path,
                cur.size,
                "the file ends inside a quoted field (an unbalanced quote), which would run into \
                 the next input",
            ));
        }
        if cur.last.is_some_and(|b| b != b'\n') {
            self.pending = vec![b'\n'];
            self.pos = 0;
        }
        self.done_bytes += cur.size;
        self.consumed.store(self.done_bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Counts what is handed out in `out`.
    fn account(&mut self, out: &[u8], from_file: bool) {
        self.newlines += memchr::memchr_iter(b'\n', out).count() as u64;
        self.handed += out.len() as u64;
        if let Some(cur) = &mut self.current {
            cur.quotes.scan(out, false, |_| std::ops::ControlFlow::Continue(()));
            if let Some(&b) = out.last() {
                cur.last = Some(b);
            }
            if from_file {
                cur.read += out.len() as u64;
            }
            let used = cur.counter.as_ref().map_or(cur.read, |c| c.load(Ordering::Relaxed));
            self.consumed.store(self.done_bytes + used.min(cur.size), Ordering::Relaxed);
        }
    }
}

impl Read for Chain {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.pending.len() {
                let n = out.len().min(self.pending.len() - self.pos);
                out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.pending.len() {
                    self.pending.clear();
                    self.pos = 0;
                }
                // Bytes read past a header belong to the file; an added line break to none.
                let from_file = self.current.is_some();
                self.account(&out[..n], from_file);
                return Ok(n);
            }
            let Some(cur) = &mut self.current else {
                if self.next == self.paths.len() {
                    return Ok(0);
                }
                self.open_next()?;
                continue;
            };
            let n = match cur.reader.read(out) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.finish_file()?;
                continue;
            }
            self.account(&out[..n], true);
            return Ok(n);
        }
    }
}

/// The blank lines that start a file, its first record (with its line break), and the bytes
/// read past it. The record is found by scanning each byte once, with the quote rule of
/// `record.rs`.
fn read_header(
    r: &mut Box<dyn Read + Send>,
    path: &Path,
    delimiter: u8,
) -> io::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    // Bytes of leading blank lines; then the scan's position and where the quote rule stands.
    let (mut blank, mut scanned, mut quotes) = (0, 0, Quotes::new(delimiter));
    loop {
        while scanned == blank {
            match &buf[blank..] {
                [b'\n', ..] => blank += 1,
                [b'\r', b'\n', ..] => blank += 2,
                _ => break,
            }
            scanned = blank;
        }
        // A lone `\r` at the end of what was read may yet start a blank `\r\n` line.
        let settled = !(buf.len() == blank + 1 && buf[blank] == b'\r');
        if settled {
            let end = quotes.scan(&buf[scanned..], false, |_| std::ops::ControlFlow::Break(()));
            if let Some(p) = end {
                let rest = buf.split_off(scanned + p + 1);
                let head = buf.split_off(blank);
                return Ok((buf, head, rest));
            }
            scanned = buf.len();
        }
        if buf.len() - blank > MAX_RECORD {
            return Err(fail(
                path,
                blank as u64,
                "the header is longer than a record may be (an unbalanced quote?)",
            ));
        }
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if buf.len() == blank {
                return Err(fail(path, 0, "the file has no header: it is empty or blank"));
            }
            let head = buf.split_off(blank);
            return Ok((buf, head, Vec::new()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The fields of a header record, without a byte-order mark or line end.
fn header_fields(head: &[u8], delimiter: u8, path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let rec = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
    let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
    fields_of(rec, delimiter).map_err(|r| fail(path, 0, &format!("cannot read the header: {r}")))
}

fn fail(path: &Path, at: u64, reason: &str) -> io::Error {
    InputError::new(path, at, reason).into()
}

/// Expands the inputs as given: a path that exists is itself; one whose file name holds `*` or
/// `?` is what its directory holds that matches, in name order, as a shell expands it: every
/// entry but directories (links followed), so a link to a file counts.
///
/// # Errors
/// [`Error::Invalid`] for a pattern that matches no file; [`Error::Io`] when its directory
/// cannot be listed.
pub(crate) fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if p.exists() || !(name.contains('*') || name.contains('?')) {
            out.push(p.clone());
            continue;
        }
        // A pattern without a directory lists the current one, and its matches are named as
        // a path typed without one would be (`day1.csv`, not `./day1.csv`).
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(std::result::Result::ok)
            .filter(|e| !std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()))
            .filter(|e| matches(name.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
            .map(|e| parent.map_or_else(|| PathBuf::from(e.file_name()), |d| d.join(e.file_name())))
            .collect();
        if found.is_empty() {
            return Err(Error::invalid(p, "no file matches this pattern"));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Whether `name` matches the glob `pat` (`*`: any run of bytes, `?`: one byte). A leading
/// `.` is matched only by a `.` in the pattern, as shells do.
fn matches(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    // Iterative matching with one backtrack point (the last `*`): linear in practice.
    let (mut p, mut n, mut star, mut mark) = (0, 0, None, 0);
    while n < name.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some(p);
                mark = n;
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some(s) => {
                    p = s + 1;
                    mark += 1;
                    n = mark;
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{Chain, matches};

    #[test]
    fn globs_match_as_shells_do() {
        for (p, n, ok) in [
            ("*.csv", "a.csv", true),
            ("*.csv", "a.csv.gz", false),
            ("log-??.csv*", "log-01.csv.zst", true),
            ("*", ".hidden", false),
            (".*", ".hidden", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
        ] {
            assert_eq!(matches(p.as_bytes(), n.as_bytes()), ok, "{p} {n}");
        }
    }

    #[test]
    fn files_are_joined_without_their_headers_and_lines_map_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, "x,y\n1,2\n3,\"a\nb\"").unwrap();
        std::fs::write(&b, "\u{feff}x,y\r\n5,6\n").unwrap();
        let mut c = Chain::new(vec![a.clone(), b.clone()], b',', true);
        let files = c.files();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert_eq!(out, "x,y\n1,2\n3,\"a\nb\"\n5,6\n");
        assert_eq!(files.locate(2), (a.as_path(), 2));
        assert_eq!(files.locate(3), (a.as_path(), 3));
        assert_eq!(files.locate(5), (b.as_path(), 2), "b's first record is on its line 2");
        assert_eq!(files.locate_byte(16), (b.clone(), 8), "after its BOM and header");
    }

    #[test]
    fn a_file_ending_inside_quotes_or_with_another_header_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        std::fs::write(&a, "x,y\n1,\"open\n").unwrap();
        std::fs::write(&b, "x,y\n1,2\n").unwrap();
        std::fs::write(&c, "x,z\n1,2\n").unwrap();
        let e = Chain::new(vec![a, b.clone()], b',', true).read_to_end(&mut Vec::new());
        assert!(e.unwrap_err().to_string().contains("inside a quoted field"));
        let e = Chain::new(vec![b, c], b',', true).read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("differs from the header"), "{e}");
    }
}
