//! `larder convert`: CSV columns into a dataset directory of memory-mapped `.npy` arrays.
//!
//! The input is read in blocks of whole records; blocks are parsed in parallel and written in
//! input order, so memory stays bounded whatever the input's size. Output goes to a hidden
//! sibling of the output directory, which is renamed into place only when complete; a
//! checkpoint after each block lets an interrupted run continue ([`ConvertOptions::resume`])
//! and produce exactly the bytes an uninterrupted run would. See `docs/cli.md` and
//! `docs/format.md`.
//!
//! ```
//! use larder::convert::{ColumnType, ConvertOptions};
//! use larder::dataset::Manifest;
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("log.csv");
//! std::fs::write(&csv, "machine,duration\nm1,0.5\nm2,1.25\nm1,x\n")?;
//! let out = dir.path().join("log");
//! let report = ConvertOptions::new()
//!     .column_type("duration", ColumnType::F64) // "x" is then a bad value, not a category
//!     .convert(&csv, &out, &mut |_| {})?;
//! assert_eq!((report.manifest.rows, report.manifest.rejected), (2, 1));
//! let m = Manifest::read(&out)?;
//! assert_eq!(m.columns[0].categories.as_deref(), Some(&["m1".to_string(), "m2".to_string()][..]));
//! let d = larder::read_npy::<f64>(out.join(&m.columns[1].file))?;
//! assert_eq!(d.as_slice(), Some(&[0.5, 1.25][..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod columns;
mod names;
mod parse;
mod record;
mod schema;
mod sink;
mod split;
mod value;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use rayon::prelude::*;

use crate::dataset::{MANIFEST, Manifest, ManifestColumn, REJECTS, Source};
use crate::error::{Error, Result};
use crate::mmap::{self, Lock};

use checkpoint::{CHECKPOINT, Checkpoint, ColumnState, Plan, PlanColumn, SourceId};
use columns::{ColumnSpec, Fill, FxMap, Layout, Parsed, Values};
pub use schema::ColumnType;
use sink::Sink;
use split::{Block, BlockReader};

/// Default bytes per block.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Default time between checkpoints.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes appended to a column file after which the kernel is asked to start writing them to
/// disk, so that the syncs of checkpoints and of the end find little left to do.
const WRITEBACK_STEP: u64 = 4 << 20;

/// Default number of rows read to infer column types.
pub const DEFAULT_INFER_ROWS: usize = 10_000;

/// How to convert a CSV file. Build with [`ConvertOptions::new`], then call
/// [`convert`](ConvertOptions::convert).
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    delimiter: u8,
    header: bool,
    infer_rows: usize,
    schema: Option<PathBuf>,
    types: Vec<(String, ColumnType)>,
    columns: Option<Vec<String>>,
    fills: Vec<(String, String)>,
    shrink: bool,
    max_rejects: Option<u64>,
    resume: bool,
    block_size: usize,
    checkpoint_interval: Duration,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions::new()
    }
}

/// Progress of a running conversion, reported after each block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Records read so far (including before a resume).
    pub rows_read: u64,
    /// Records rejected so far.
    pub rejected: u64,
    /// Input bytes converted so far.
    pub bytes_read: u64,
    /// Input size, when known (not for standard input).
    pub total_bytes: Option<u64>,
    /// Input bytes converted by this process (excluding what an interrupted run did).
    pub bytes_this_run: u64,
}

/// What a finished conversion produced.
#[derive(Clone, Debug)]
pub struct ConvertReport {
    /// The manifest written to the output directory.
    pub manifest: Manifest,
    /// The output directory.
    pub out_dir: PathBuf,
    /// True when an interrupted run was continued.
    pub resumed: bool,
    /// Input bytes converted by this process.
    pub bytes_this_run: u64,
}

impl ConvertOptions {
    /// Defaults: comma-delimited, with a header, types inferred from the first
    /// [`DEFAULT_INFER_ROWS`] rows, every column, bad records rejected without limit.
    pub fn new() -> Self {
        ConvertOptions {
            delimiter: b',',
            header: true,
            infer_rows: DEFAULT_INFER_ROWS,
            schema: None,
            types: Vec::new(),
            columns: None,
            fills: Vec::new(),
            shrink: false,
            max_rejects: None,
            resume: false,
            block_size: DEFAULT_BLOCK_SIZE,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }

    /// The field delimiter (one byte; not `"`, `\r` or `\n`).
    pub fn delimiter(&mut self, d: u8) -> &mut Self {
        self.delimiter = d;
        self
    }

    /// Whether the first record names the columns (default true). Without a header, columns
    /// are named `column_1`, `column_2`, ….
    pub fn header(&mut self, yes: bool) -> &mut Self {
        self.header = yes;
        self
    }

    /// Rows read to infer the types of columns no schema names (at most those in the first
    /// block).
    pub fn infer_rows(&mut self, n: usize) -> &mut Self {
        self.infer_rows = n;
        self
    }

    /// A JSON schema file: an object mapping column names to type names.
    pub fn schema_file(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.schema = Some(path.into());
        self
    }

    /// Sets the type of one column; overrides the schema file and inference.
    pub fn column_type(&mut self, name: impl Into<String>, t: ColumnType) -> &mut Self {
        self.types.push((name.into(), t));
        self
    }

    /// Keeps only these columns, in this order; the others are never parsed.
    pub fn columns(&mut self, names: Vec<String>) -> &mut Self {
        self.columns = Some(names);
        self
    }

    /// The value stored for empty fields of an integer or bool column (otherwise such a record
    /// is rejected with reason `missing value`).
    pub fn fill(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.fills.push((name.into(), value.into()));
        self
    }

    /// Stores each integer column in the narrowest type that holds its values.
    pub fn shrink(&mut self, yes: bool) -> &mut Self {
        self.shrink = yes;
        self
    }

    /// Aborts when more than `n` records are rejected (`Some(0)`: on the first).
    pub fn max_rejects(&mut self, n: Option<u64>) -> &mut Self {
        self.max_rejects = n;
        self
    }

    /// Continues an interrupted conversion into the same directory, if there is one.
    pub fn resume(&mut self, yes: bool) -> &mut Self {
        self.resume = yes;
        self
    }

    /// Bytes per block, from 1 byte to 256 MiB (memory use grows with it; the output does not
    /// depend on it).
    pub fn block_size(&mut self, bytes: usize) -> &mut Self {
        self.block_size = bytes.clamp(1, split::MAX_RECORD);
        self
    }

    /// Time between checkpoints: one is written after the first block that ends at least this
    /// long after the previous one (zero: after every block). A checkpoint makes every file
    /// durable (`fsync`), so very short intervals cost throughput; an interruption loses at most
    /// the work since the last one.
    pub fn checkpoint_interval(&mut self, every: Duration) -> &mut Self {
        self.checkpoint_interval = every;
        self
    }

    /// The options that shape the output, for the checkpoint.
    fn settings(&self) -> Result<serde_json::Value> {
        let schema = match &self.schema {
            Some(p) => Some(fs::read_to_string(p).map_err(|e| Error::io(p, e))?),
            None => None,
        };
        let types: Vec<(&str, &str)> =
            self.types.iter().map(|(n, t)| (n.as_str(), t.name())).collect();
        Ok(serde_json::json!({
            "delimiter": self.delimiter,
            "header": self.header,
            "infer_rows": self.infer_rows,
            "schema": schema,
            "types": types,
            "columns": self.columns,
            "fills": self.fills,
            "shrink": self.shrink,
            "max_rejects": self.max_rejects,
        }))
    }

    /// Converts the CSV at `input` (`-` for standard input) into the dataset directory
    /// `out_dir`, which must not exist yet. `progress` is called after each block.
    ///
    /// # Errors
    /// [`Error::Argument`] for bad options, an existing `out_dir`, or an unfinished conversion
    /// into `out_dir` without [`resume`](ConvertOptions::resume); [`Error::Io`] on read or write
    /// errors (a full disk among them: the run can then be resumed); [`Error::Format`] for an
    /// empty input or an unusable header; [`Error::Rejected`] when more records are rejected
    /// than allowed.
    pub fn convert(
        &self,
        input: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<ConvertReport> {
        let (input, out) = (input.as_ref(), out_dir.as_ref());
        if matches!(self.delimiter, b'"' | b'\r' | b'\n') {
            return Err(Error::argument("the delimiter cannot be a quote or a line break"));
        }
        let stdin = input.as_os_str() == "-";
        if out.exists() {
            return Err(Error::argument(format!(
                "{}: already exists; convert into a new directory",
                out.display()
            )));
        }
        let tmp = temp_dir(out)?;
        let settings = self.settings()?;
        let (reader_input, source) = open_input(input)?;
        let existing = if tmp.exists() { Checkpoint::read(&tmp)? } else { None };
        if existing.is_some() && !self.resume {
            return Err(Error::argument(format!(
                "{}: an interrupted conversion into {} is there; pass --resume to continue it, \
                 or delete it to start over",
                tmp.display(),
                out.display()
            )));
        }
        if self.resume && stdin {
            return Err(Error::argument(
                "cannot resume from standard input: the bytes read before the interruption are \
                 gone; convert from a file to be able to resume",
            ));
        }
        let result = if let Some(ck) = existing {
            let lock = lock_dir(&tmp)?;
            if ck.settings != settings {
                return Err(Error::argument(format!(
                    "{}: the interrupted conversion used other options; resume with the same \
                     options, or delete it to start over",
                    tmp.display()
                )));
            }
            if ck.source != source {
                return Err(Error::argument(format!(
                    "{}: changed since the interrupted conversion began (size or modification \
                     time); delete {} to start over",
                    input.display(),
                    tmp.display()
                )));
            }
            drop(reader_input);
            let result = self.run_resumed(ck, &tmp, input, progress)?;
            drop(lock);
            result
        } else {
            if tmp.exists() {
                // Killed before its first checkpoint: nothing worth keeping.
                drop(lock_dir(&tmp)?);
                fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
            }
            fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let lock = lock_dir(&tmp)?;
            let result = self.run_fresh(settings, source, &tmp, input, reader_input, progress);
            drop(lock);
            if let Err(Error::Rejected { .. } | Error::Format { .. } | Error::Argument(_)) = &result
            {
                // Not resumable: the same input would stop the same way.
                let _ = fs::remove_dir_all(&tmp);
            }
            result?
        };
        let (manifest, resumed, bytes_this_run) = result;
        crate::fsutil::rename_durably(&tmp, out)?;
        Ok(ConvertReport { manifest, out_dir: out.to_path_buf(), resumed, bytes_this_run })
    }

    fn run_fresh(
        &self,
        settings: serde_json::Value,
        source: SourceId,
        tmp: &Path,
        input: &Path,
        reader_input: Box<dyn Read + Send>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Manifest, bool, u64)> {
        let mut reader = BlockReader::new(reader_input, input, 0, self.block_size);
        let first = reader.next_block()?;
        let Some(mut first) = first else {
            return Err(Error::format(input, 0, "the input is empty: no header and no records"));
        };
        if first.data.starts_with(b"\xEF\xBB\xBF") {
            first.data.drain(..3);
            first.offset += 3;
        }
        let header_end = record::record_end(&first.data, 0);
        let first_record =
            first.data[..header_end].strip_suffix(b"\r").unwrap_or(&first.data[..header_end]);
        let header_fields = record::fields_of(first_record, self.delimiter).map_err(|r| {
            Error::format(input, first.offset, format!("cannot read the first record: {r}"))
        })?;
        let mut line = 1;
        let names: Vec<String> = if self.header {
            let taken = (header_end + 1).min(first.data.len());
            line += memchr::memchr_iter(b'\n', &first.data[..taken]).count() as u64;
            first.data.drain(..taken);
            first.offset += taken as u64;
            header_fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
        } else {
            (1..=header_fields.len()).map(|i| format!("column_{i}")).collect()
        };
        let plan = self.plan(input, &names, &first.data)?;
        let ck = Checkpoint {
            version: 1,
            settings,
            source,
            columns: vec![ColumnState::default(); plan.columns.len()],
            plan,
            offset: first.offset,
            line,
            rows_read: 0,
            rows_written: 0,
            rejected: 0,
            rejects_bytes: 0,
            done: false,
        };
        let mut run = Writer::create(tmp, input, &ck, self.max_rejects)?;
        run.interval = self.checkpoint_interval;
        run.ck.write(tmp)?;
        let first = if first.data.is_empty() { None } else { Some(first) };
        let bytes = run.pump(first, &mut reader, progress)?;
        let manifest = run.finish()?;
        Ok((manifest, false, bytes))
    }

    fn run_resumed(
        &self,
        ck: Checkpoint,
        tmp: &Path,
        input: &Path,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Manifest, bool, u64)> {
        if ck.done && tmp.join(MANIFEST).exists() {
            // Interrupted while cleaning up: the dataset is complete.
            let manifest = Manifest::read(tmp)?;
            cleanup(tmp, &ck.plan)?;
            return Ok((manifest, true, 0));
        }
        let mut run = Writer::resume(tmp, input, ck, self.max_rejects)?;
        run.interval = self.checkpoint_interval;
        let mut bytes = 0;
        if !run.ck.done {
            let offset = run.ck.offset;
            let mut f = File::open(input).map_err(|e| Error::io(input, e))?;
            f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(input, e))?;
            let mut reader = BlockReader::new(f, input, offset, self.block_size);
            bytes = run.pump(None, &mut reader, progress)?;
        }
        let manifest = run.finish()?;
        Ok((manifest, true, bytes))
    }

    /// Resolves names, types and file names.
    fn plan(&self, input: &Path, names: &[String], sample: &[u8]) -> Result<Plan> {
        let find = |name: &str, what: &str| -> Result<usize> {
            let mut hits = names.iter().enumerate().filter(|(_, n)| *n == name).map(|(i, _)| i);
            match (hits.next(), hits.next()) {
                (Some(i), None) => Ok(i),
                (Some(a), Some(b)) => Err(Error::argument(format!(
                    "{what}: column name {name:?} is ambiguous (columns {} and {})",
                    a + 1,
                    b + 1
                ))),
                (None, _) => Err(Error::argument(format!(
                    "{what}: {} has no column {name:?} (columns: {})",
                    input.display(),
                    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ))),
            }
        };
        let fields: Vec<usize> = match &self.columns {
            Some(list) => {
                let mut v = Vec::new();
                for n in list {
                    let i = find(n, "--columns")?;
                    if v.contains(&i) {
                        return Err(Error::argument(format!("--columns: {n:?} is listed twice")));
                    }
                    v.push(i);
                }
                v
            }
            None => (0..names.len()).collect(),
        };
        let mut types: Vec<Option<ColumnType>> = vec![None; names.len()];
        if let Some(p) = &self.schema {
            let text = fs::read(p).map_err(|e| Error::io(p, e))?;
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&text)
                .map_err(|e| {
                    Error::format(p, 0, format!("not a JSON object of column types: {e}"))
                })?;
            for (name, t) in map {
                let t = t.as_str().ok_or_else(|| {
                    Error::format(p, 0, format!("column {name:?}: the type must be a string"))
                })?;
                let what = format!("schema {}", p.display());
                types[find(&name, &what)?] = Some(t.parse()?);
            }
        }
        for (name, t) in &self.types {
            types[find(name, "--type")?] = Some(*t);
        }
        // Infer the rest from the sample.
        let need: Vec<usize> = fields.iter().copied().filter(|&f| types[f].is_none()).collect();
        if !need.is_empty() {
            let mut samples: Vec<Vec<Vec<u8>>> = vec![Vec::new(); names.len()];
            let mut pos = 0;
            let mut n = 0;
            while pos < sample.len() && n < self.infer_rows {
                let end = record::record_end(sample, pos);
                let rec = sample[pos..end].strip_suffix(b"\r").unwrap_or(&sample[pos..end]);
                pos = end + 1;
                if rec.is_empty() {
                    continue;
                }
                n += 1;
                if let Ok(f) = record::fields_of(rec, self.delimiter)
                    && f.len() == names.len()
                {
                    for (i, v) in f.into_iter().enumerate() {
                        if types[i].is_none() && fields.contains(&i) {
                            samples[i].push(v);
                        }
                    }
                }
            }
            for &f in &need {
                types[f] = Some(schema::infer(samples[f].iter().map(Vec::as_slice)));
            }
        }
        let files = names::file_names(fields.iter().map(|&f| names[f].as_str()));
        let mut columns: Vec<PlanColumn> = fields
            .iter()
            .zip(files)
            .map(|(&f, file)| PlanColumn {
                name: names[f].clone(),
                field: f,
                ty: types[f].unwrap_or(ColumnType::F64),
                file,
                fill: None,
            })
            .collect();
        for (name, value) in &self.fills {
            let f = find(name, "--fill")?;
            let c = columns.iter_mut().find(|c| c.field == f).ok_or_else(|| {
                Error::argument(format!("--fill: column {name:?} is not converted"))
            })?;
            fill_value(c.ty, value)
                .map_err(|e| Error::argument(format!("--fill {name}={value}: {e}")))?;
            c.fill = Some(value.clone());
        }
        Ok(Plan { delimiter: self.delimiter, fields: names.len(), columns, shrink: self.shrink })
    }
}

/// Parses a fill value for a column of type `t`.
fn fill_value(t: ColumnType, v: &str) -> std::result::Result<Fill, String> {
    match t {
        ColumnType::Bool => value::parse_bool(v.as_bytes()).map(Fill::Bool),
        ColumnType::I8 => value::parse_int::<i8>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::I16 => value::parse_int::<i16>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::I32 => value::parse_int::<i32>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::I64 => value::parse_int::<i64>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::U8 => value::parse_int::<u8>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::U16 => value::parse_int::<u16>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::U32 => value::parse_int::<u32>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::U64 => value::parse_int::<u64>(v.as_bytes()).map(|x| Fill::Int(x.into())),
        ColumnType::F32 | ColumnType::F64 | ColumnType::Cat => {
            return Err(format!("{t} columns need no fill (only integer and bool columns do)"));
        }
    }
    .map_err(|r| format!("{r} for a {t} column"))
}

/// The hidden sibling that holds the output until it is complete.
fn temp_dir(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| Error::argument(format!("{}: not a directory name", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut t = std::ffi::OsString::from(".");
    t.push(name);
    t.push(".larder-tmp");
    Ok(parent.join(t))
}

fn lock_dir(tmp: &Path) -> Result<File> {
    let path = tmp.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    mmap::lock(&f, &path, Lock::Exclusive)?;
    Ok(f)
}

fn open_input(input: &Path) -> Result<(Box<dyn Read + Send>, SourceId)> {
    if input.as_os_str() == "-" {
        return Ok((
            Box::new(io::stdin()),
            SourceId { path: "-".into(), bytes: 0, modified: None },
        ));
    }
    let f = File::open(input).map_err(|e| Error::io(input, e))?;
    let meta = f.metadata().map_err(|e| Error::io(input, e))?;
    if meta.is_dir() {
        return Err(Error::argument(format!(
            "{}: is a directory, not a CSV file",
            input.display()
        )));
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| (d.as_secs(), d.subsec_nanos()));
    let id = SourceId { path: input.display().to_string(), bytes: meta.len(), modified };
    Ok((Box::new(f), id))
}

/// Category bytes to code.
type Dict = FxMap<Box<[u8]>, u32>;

/// A categorical column's dictionary and its append-only file (one JSON string per line).
struct Dictionary {
    map: Dict,
    file: BufWriter<File>,
    path: PathBuf,
    bytes: u64,
}

/// Writes parsed blocks in order, checkpointing after each.
struct Writer {
    dir: PathBuf,
    input: PathBuf,
    ck: Checkpoint,
    layout: Layout,
    sinks: Vec<Sink>,
    dicts: Vec<Option<Dictionary>>,
    ranges: Vec<Option<(i128, i128)>>,
    rejects: BufWriter<File>,
    max_rejects: Option<u64>,
    codes: Vec<u32>,
    interval: Duration,
    last_checkpoint: Instant,
}

fn part(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.part", c.file))
}

fn dict_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.categories", c.file))
}

fn layout(plan: &Plan) -> Result<Layout> {
    let mut slots = vec![None; plan.fields];
    let mut columns = Vec::new();
    for (i, c) in plan.columns.iter().enumerate() {
        slots[c.field] = Some(i);
        let fill = match &c.fill {
            Some(v) => Some(fill_value(c.ty, v).map_err(Error::argument)?),
            None => None,
        };
        columns.push(ColumnSpec { ty: c.ty, fill });
    }
    Ok(Layout {
        delimiter: plan.delimiter,
        fields: plan.fields,
        slots,
        columns,
        ranges: plan.shrink,
    })
}

impl Writer {
    fn create(dir: &Path, input: &Path, ck: &Checkpoint, max_rejects: Option<u64>) -> Result<Self> {
        let mut sinks = Vec::new();
        let mut dicts = Vec::new();
        for c in &ck.plan.columns {
            sinks.push(Sink::create(&part(dir, c), c.ty.element())?);
            dicts.push(if c.ty == ColumnType::Cat {
                let path = dict_path(dir, c);
                let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
                Some(Dictionary { map: FxMap::default(), file: BufWriter::new(f), path, bytes: 0 })
            } else {
                None
            });
        }
        let rpath = dir.join(REJECTS);
        let mut rejects = BufWriter::new(File::create(&rpath).map_err(|e| Error::io(&rpath, e))?);
        let head = b"line,column,reason,record\n";
        rejects.write_all(head).map_err(|e| Error::io(&rpath, e))?;
        let mut ck = ck.clone();
        ck.rejects_bytes = head.len() as u64;
        Ok(Writer {
            dir: dir.to_path_buf(),
            input: input.to_path_buf(),
            layout: layout(&ck.plan)?,
            ranges: vec![None; ck.plan.columns.len()],
            ck,
            sinks,
            dicts,
            rejects,
            max_rejects,
            codes: Vec::new(),
            interval: DEFAULT_CHECKPOINT_INTERVAL,
            last_checkpoint: Instant::now(),
        })
    }

    fn resume(dir: &Path, input: &Path, ck: Checkpoint, max_rejects: Option<u64>) -> Result<Self> {
        let mut sinks = Vec::new();
        let mut dicts = Vec::new();
        let mut ranges = Vec::new();
        for (c, s) in ck.plan.columns.iter().zip(&ck.columns) {
            ranges.push(checkpoint::get_range(s));
            if ck.done {
                continue;
            }
            sinks.push(Sink::resume(&part(dir, c), c.ty.element(), ck.rows_written)?);
            dicts.push(if c.ty == ColumnType::Cat {
                let path = dict_path(dir, c);
                let (map, file) = reopen_dictionary(&path, s)?;
                Some(Dictionary { map, file, path, bytes: s.categories_bytes })
            } else {
                None
            });
        }
        let rpath = dir.join(REJECTS);
        let mut f =
            OpenOptions::new().write(true).open(&rpath).map_err(|e| Error::io(&rpath, e))?;
        f.set_len(ck.rejects_bytes).map_err(|e| Error::io(&rpath, e))?;
        f.seek(SeekFrom::End(0)).map_err(|e| Error::io(&rpath, e))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            input: input.to_path_buf(),
            layout: layout(&ck.plan)?,
            ranges,
            ck,
            sinks,
            dicts,
            rejects: BufWriter::new(f),
            max_rejects,
            codes: Vec::new(),
            interval: DEFAULT_CHECKPOINT_INTERVAL,
            last_checkpoint: Instant::now(),
        })
    }

    /// Reads, parses (in parallel) and writes every block; returns the bytes converted.
    fn pump<R: Read + Send>(
        &mut self,
        first: Option<Block>,
        reader: &mut BlockReader<R>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<u64> {
        let start = self.ck.offset;
        // Several small blocks per thread keep every core busy to the end of each batch.
        let batch_len = 2 * rayon::current_num_threads() + 2;
        let read_batch =
            |reader: &mut BlockReader<R>, first: Option<Block>| -> Result<Vec<Block>> {
                let mut batch = Vec::with_capacity(batch_len);
                batch.extend(first);
                while batch.len() < batch_len {
                    match reader.next_block()? {
                        Some(b) => batch.push(b),
                        None => break,
                    }
                }
                Ok(batch)
            };
        let mut batch = read_batch(reader, first)?;
        let mut pending: Vec<Parsed> = Vec::new();
        let layout = self.layout.clone();
        while !(batch.is_empty() && pending.is_empty()) {
            // Parse this batch while the previous one is written and the next one read.
            let (parsed, next) = rayon::join(
                || batch.par_iter().map(|b| parse::parse_block(&layout, &b.data)).collect(),
                || -> Result<Vec<Block>> {
                    for p in pending.drain(..) {
                        self.write_block(&p)?;
                        progress(&self.progress(start));
                    }
                    read_batch(reader, None)
                },
            );
            let next = next?;
            reader.recycle(batch.drain(..).map(|b| b.data));
            batch = next;
            pending = parsed;
        }
        self.ck.done = true;
        self.checkpoint()?;
        Ok(self.ck.offset - start)
    }

    fn progress(&self, start: u64) -> Progress {
        Progress {
            rows_read: self.ck.rows_read,
            rejected: self.ck.rejected,
            bytes_read: self.ck.offset,
            total_bytes: (self.ck.source.path != "-").then_some(self.ck.source.bytes),
            bytes_this_run: self.ck.offset - start,
        }
    }

    fn write_block(&mut self, p: &Parsed) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e| Error::io(path, e)
        };
        if let Some(max) = self.max_rejects {
            let allowed = max.saturating_sub(self.ck.rejected);
            if let Some(r) = p.rejects.get(usize::try_from(allowed).unwrap_or(usize::MAX)) {
                let column = r.column.map(|c| self.ck.plan.columns[c].name.clone());
                return Err(Error::Rejected {
                    path: self.input.clone(),
                    line: self.ck.line + r.line,
                    reason: match column {
                        Some(c) => format!("column {c:?}: {}", r.reason),
                        None => r.reason.to_string(),
                    },
                    limit: max,
                });
            }
        }
        for (i, v) in p.columns.iter().enumerate() {
            if let Values::Cat { codes, keys } = v {
                let Some(d) = self.dicts[i].as_mut() else {
                    return Err(Error::argument("categorical column without a dictionary"));
                };
                let mut trans = Vec::with_capacity(keys.len());
                for k in keys {
                    let next = d.map.len();
                    let code = if let Some(&c) = d.map.get(k) {
                        c
                    } else {
                        let c = u32::try_from(next).map_err(|_| {
                            Error::argument(format!(
                                "column {:?}: more than 2^32 categories",
                                self.ck.plan.columns[i].name
                            ))
                        })?;
                        d.map.insert(k.clone(), c);
                        // The bytes were checked to be UTF-8 when parsed.
                        let s = String::from_utf8_lossy(k);
                        let mut line =
                            serde_json::to_vec(&s).map_err(|e| Error::argument(e.to_string()))?;
                        line.push(b'\n');
                        d.file.write_all(&line).map_err(io(&d.path))?;
                        d.bytes += line.len() as u64;
                        c
                    };
                    trans.push(code);
                }
                self.codes.clear();
                self.codes.extend(codes.iter().map(|&c| trans[c as usize]));
                self.sinks[i].append_codes(&self.codes)?;
            } else {
                self.sinks[i].append(v)?;
            }
            if let Some((lo, hi)) = p.ranges[i] {
                self.ranges[i] = Some(match self.ranges[i] {
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                    None => (lo, hi),
                });
            }
        }
        let rpath = self.dir.join(REJECTS);
        for r in &p.rejects {
            let column = r.column.map_or("", |c| self.ck.plan.columns[c].name.as_str());
            let mut line = format!("{},", self.ck.line + r.line).into_bytes();
            csv_field(&mut line, column.as_bytes());
            line.push(b',');
            csv_field(&mut line, r.reason.to_string().as_bytes());
            line.push(b',');
            csv_field(&mut line, &r.raw);
            line.push(b'\n');
            self.rejects.write_all(&line).map_err(io(&rpath))?;
            self.ck.rejects_bytes += line.len() as u64;
        }
        for s in &mut self.sinks {
            s.start_writeback(WRITEBACK_STEP)?;
        }
        let rejected = p.rejects.len() as u64;
        self.ck.rows_read += p.rows_read;
        self.ck.rejected += rejected;
        self.ck.rows_written += p.rows_read - rejected;
        self.ck.line += p.newlines;
        self.ck.offset += p.bytes;
        if self.last_checkpoint.elapsed() >= self.interval {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Puts every file's data on disk, then records the checkpoint.
    fn checkpoint(&mut self) -> Result<()> {
        let rpath = self.dir.join(REJECTS);
        self.rejects.flush().map_err(|e| Error::io(&rpath, e))?;
        self.rejects.get_ref().sync_data().map_err(|e| Error::io(&rpath, e))?;
        // In parallel: each sync mostly waits for the disk, and waits overlap.
        self.sinks.par_iter_mut().try_for_each(|s| s.sync().map(drop))?;
        for (i, d) in self.dicts.iter_mut().enumerate() {
            if let Some(d) = d {
                d.file.flush().map_err(|e| Error::io(&d.path, e))?;
                d.file.get_ref().sync_data().map_err(|e| Error::io(&d.path, e))?;
                self.ck.columns[i].categories = d.map.len() as u64;
                self.ck.columns[i].categories_bytes = d.bytes;
            }
        }
        for (s, r) in self.ck.columns.iter_mut().zip(&self.ranges) {
            checkpoint::put_range(s, *r);
        }
        crash_point("block");
        self.ck.write(&self.dir)?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Turns the staged column files into the final ones, writes the manifest and removes
    /// everything else. Safe to repeat after an interruption.
    fn finish(self) -> Result<Manifest> {
        let Writer { dir, ck, sinks, dicts, rejects, ranges, .. } = self;
        for s in sinks {
            s.finish()?;
        }
        drop(dicts);
        drop(rejects);
        let mut columns = Vec::new();
        for (i, c) in ck.plan.columns.iter().enumerate() {
            let staged = c.ty.element();
            let categories = if c.ty == ColumnType::Cat {
                Some(read_categories(&dict_path(&dir, c), ck.columns[i].categories)?)
            } else {
                None
            };
            let stored = match (&categories, ranges[i]) {
                (Some(cats), _) => schema::code_element(cats.len()),
                (None, r) if ck.plan.shrink && c.ty.is_int() => {
                    let (lo, hi) = r.unwrap_or((0, 0));
                    schema::shrink_element(lo, hi)
                }
                _ => staged,
            };
            let final_path = dir.join(&c.file);
            let part = part(&dir, c);
            if part.exists() {
                if stored == staged {
                    fs::rename(&part, &final_path).map_err(|e| Error::io(&final_path, e))?;
                } else {
                    let t = dir.join(format!("{}.narrow", c.file));
                    sink::narrow(&part, staged, &t, stored)?;
                    fs::rename(&t, &final_path).map_err(|e| Error::io(&final_path, e))?;
                    fs::remove_file(&part).map_err(|e| Error::io(&part, e))?;
                }
                crash_point("finish");
            }
            columns.push(ManifestColumn {
                name: c.name.clone(),
                file: c.file.clone(),
                dtype: schema::typestr(stored),
                categories,
            });
        }
        let bytes = if ck.source.path == "-" { ck.offset } else { ck.source.bytes };
        let manifest = Manifest {
            columns,
            rows: ck.rows_written,
            rejected: ck.rejected,
            rows_read: ck.rows_read,
            source: Source { path: ck.source.path.clone(), bytes },
            version: 1,
        };
        let mpath = dir.join(MANIFEST);
        let mut text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::argument(e.to_string()))?;
        text.push(b'\n');
        crate::fsutil::write_bytes_atomically(&mpath, &text)?;
        crash_point("rename");
        cleanup(&dir, &ck.plan)?;
        Ok(manifest)
    }
}

/// Removes the working files of a finished conversion (any may already be gone); the
/// checkpoint goes last, so until then a resume sees a finished run and redoes this.
fn cleanup(dir: &Path, plan: &Plan) -> Result<()> {
    let remove = |p: PathBuf| match fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(&p, e)),
        _ => Ok(()),
    };
    for c in &plan.columns {
        if c.ty == ColumnType::Cat {
            remove(dict_path(dir, c))?;
        }
    }
    remove(dir.join("lock"))?;
    remove(dir.join(CHECKPOINT))
}

/// Test hook: `LARDER_CONVERT_CRASH=<point>:<n>` aborts the process the `n`-th time `point`
/// is reached, to test recovery from a crash at exactly that point.
fn crash_point(point: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("LARDER_CONVERT_CRASH") else { return };
    let Some((p, n)) = spec.split_once(':') else { return };
    if p == point && n.parse::<u64>().ok() == Some(SEEN.fetch_add(1, Ordering::SeqCst) + 1) {
        std::process::abort();
    }
}

/// Reopens a dictionary file, keeping its first `s.categories` entries.
fn reopen_dictionary(path: &Path, s: &ColumnState) -> Result<(Dict, BufWriter<File>)> {
    let cats = read_categories(path, s.categories)?;
    let map = cats
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c.into_bytes().into_boxed_slice(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut f = OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
    f.set_len(s.categories_bytes).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
    Ok((map, BufWriter::new(f)))
}

/// The first `n` categories of a dictionary file.
fn read_categories(path: &Path, n: u64) -> Result<Vec<String>> {
    let text = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in
        text.split(|&b| b == b'\n').take(usize::try_from(n).unwrap_or(usize::MAX)).enumerate()
    {
        out.push(
            serde_json::from_slice(line).map_err(|e| {
                Error::format(path, 0, format!("line {}: bad category: {e}", i + 1))
            })?,
        );
    }
    if out.len() as u64 != n {
        return Err(Error::format(
            path,
            0,
            format!("holds {} categories, expected {n}", out.len()),
        ));
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
