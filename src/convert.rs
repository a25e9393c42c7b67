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
//!
//! # Layout
//!
//! One concept per file; each file uses only those listed above it (no cycles):
//!
//! ```text
//! value.rs       field bytes -> bool / integer / float, or the Reason they are not one
//! timefmt.rs     timestamps in a strftime format (jiff), for datetime columns given one
//! schema.rs      ColumnType: names, element types, inference from sample values
//! columns.rs     what a parsed block of input records produces: Layout, Values, Parsed, Reject
//! record.rs      the CSV record rules: the quote rule (Quotes), record ends, fields, byte masks
//! parse.rs       the general block parser, record by record; tries parse/regular.rs first
//! parse/regular.rs   the fast path for regular blocks (no quote, every value good)
//! input.rs       opening the input: plain, gzip or zstd (by its first bytes), decompressed on
//!                a thread of its own
//! sources.rs     several input files read as one stream, headers checked, lines mapped back
//! split.rs       cutting the input into blocks of whole records (BlockReader)
//! plan.rs        the column plan: header, selection, types (schema, inference), fills
//! widen.rs       widening an inferred column that a later value does not fit
//! checkpoint.rs  the checkpoint of an unfinished run (plan, offsets, file lengths)
//! workdir.rs     the hidden working directory: its checks, its lock; what identifies an input
//! sink.rs        one column's .npy file, of whichever element type
//! appender.rs    an append-only file a checkpoint records by length
//! dictionary.rs  categorical dictionaries and their files
//! rejects.rs     rejects.csv
//! faults.rs      the seam over the durable steps (FaultPlan, Step)
//! staged.rs      one column's staged files: appending, the categorical-to-string spill, the
//!                final files
//! staging.rs     the staged files of a run: writing blocks, checkpoints, the finish
//! append.rs      appending to a dataset: the plan its manifest fixes, files loaded before
//! commit.rs      adding staged rows to a dataset's files through a journal
//! convert.rs     (this file) the options and the top-level run: fresh or resumed
//! ```
//!
//! The dataset format itself (`manifest.json`, and the file names of columns) is
//! [`crate::dataset`], shared with `compute` and `ops`.

mod append;
mod appender;
mod checkpoint;
mod columns;
mod commit;
mod dictionary;
mod faults;
mod input;
mod parse;
mod plan;
mod record;
mod rejects;
mod schema;
mod sink;
mod sources;
mod split;
mod staged;
mod staging;
mod timefmt;
mod value;
mod widen;
mod workdir;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::dataset::{Load, MANIFEST, Manifest};
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;

use checkpoint::{Checkpoint, ColumnState, SourceId};
pub use faults::{FaultPlan, NoFaults, Step};
use plan::Plan;
pub use schema::{ColumnType, split_format};
use split::BlockReader;
pub use staging::Progress;
use staging::{Policy, Pumped, Staging};
pub use value::DEFAULT_NA;
use workdir::Fingerprints;

/// Default bytes per block.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Default time between checkpoints.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Default number of rows read to infer column types.
pub const DEFAULT_INFER_ROWS: usize = 10_000;

/// The most input read to find the rows that inference asks for.
const INFER_BYTES: usize = 16 << 20;

/// Default bound on a categorical column's dictionary, in categories: past it, the column
/// becomes a string column.
pub const DEFAULT_MAX_CATEGORIES: u64 = 1 << 20;

/// Default bound on a categorical column's dictionary, in bytes of text.
pub const DEFAULT_MAX_CATEGORY_BYTES: u64 = 64 << 20;

/// How to convert a CSV file. Build with [`ConvertOptions::new`], then call
/// [`convert`](ConvertOptions::convert).
///
/// ```
/// use larder::convert::{ColumnType, ConvertOptions};
/// use larder::dataset::Dataset;
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let csv = dir.path().join("t.csv");
/// # std::fs::write(&csv, "id;score\n1;2.5\n2;oops\n3;4.0\n").map_err(|e| larder::Error::io(&csv, e))?;
/// let out = dir.path().join("t");
/// let report = ConvertOptions::new()
///     .delimiter(b';')
///     .column_type("id", ColumnType::I32)
///     .column_type("score", ColumnType::F64)
///     .max_rejects(Some(10)) // a bad record is set aside (with its line and reason), not fatal
///     .convert(&csv, &out, &mut |_progress| {})?;
/// assert_eq!((report.manifest.rows, report.manifest.rejected), (2, 1));
/// let ds = Dataset::open(&out)?;
/// assert_eq!(ds.column("id")?.values::<i32>()?.as_slice()?, &[1, 3]);
/// # Ok::<(), larder::Error>(())
/// ```
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // each flag is a separate user choice
pub struct ConvertOptions {
    delimiter: u8,
    header: bool,
    infer_rows: usize,
    schema: Option<PathBuf>,
    types: Vec<(String, ColumnType)>,
    formats: Vec<(String, String)>,
    columns: Option<Vec<String>>,
    fills: Vec<(String, String)>,
    shrink: bool,
    na: Vec<String>,
    max_rejects: Option<u64>,
    max_categories: u64,
    max_category_bytes: u64,
    resume: bool,
    skip_loaded: bool,
    block_size: usize,
    checkpoint_interval: Duration,
    faults: Arc<dyn FaultPlan>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions::new()
    }
}

/// What an append did.
#[derive(Clone, Debug)]
pub struct AppendReport {
    /// The dataset's manifest after it.
    pub manifest: Manifest,
    /// The rows it added, its rejects and its files (the manifest's last load); `None` when
    /// every input had been loaded before and was skipped.
    pub load: Option<Load>,
    /// Inputs skipped as loaded before.
    pub skipped: Vec<PathBuf>,
    /// True when an interrupted append was finished.
    pub resumed: bool,
    /// True when a resume found nothing to do: no append was pending and every input had been
    /// loaded (the append it was asked to finish had completed). Nothing was changed.
    pub complete_before: bool,
    /// Input bytes converted by this process.
    pub bytes_this_run: u64,
}

impl AppendReport {
    fn of(
        manifest: Manifest,
        appended: bool,
        skipped: Vec<PathBuf>,
        resumed: bool,
        bytes: u64,
    ) -> Self {
        let load = if appended { manifest.appends.last().cloned() } else { None };
        AppendReport {
            manifest,
            load,
            skipped,
            resumed,
            complete_before: false,
            bytes_this_run: bytes,
        }
    }
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
    /// True when a resume found the conversion complete already (`out_dir` is the dataset
    /// converted from the same inputs): nothing was changed.
    pub complete_before: bool,
    /// Input bytes converted by this process.
    pub bytes_this_run: u64,
    /// What the user should know of how the input was stored: categorical columns whose
    /// dictionary outgrew its bound and that became string columns; columns renamed from a
    /// repeated or empty header name.
    pub notes: Vec<String>,
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
            formats: Vec::new(),
            columns: None,
            fills: Vec::new(),
            shrink: false,
            na: DEFAULT_NA.iter().map(|t| (*t).to_string()).collect(),
            max_rejects: None,
            max_categories: DEFAULT_MAX_CATEGORIES,
            max_category_bytes: DEFAULT_MAX_CATEGORY_BYTES,
            resume: false,
            skip_loaded: false,
            block_size: DEFAULT_BLOCK_SIZE,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            faults: Arc::new(NoFaults),
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

    /// Reads the datetime column `name` (its type set to `datetime64[UNIT]`) with a strftime
    /// format instead of as ISO 8601: `%d/%b/%Y:%H:%M:%S %z` for `01/Jan/2024:10:00:00 +0000`,
    /// `%d/%m/%Y` for `31/12/2024` (the directives of `jiff::fmt::strtime`). Values with an
    /// offset are converted to UTC, values without one are taken as UTC; a value that does not
    /// match rejects its record. Overrides a format the schema file gives.
    pub fn datetime_format(
        &mut self,
        name: impl Into<String>,
        format: impl Into<String>,
    ) -> &mut Self {
        self.formats.push((name.into(), format.into()));
        self
    }

    /// Keeps only these columns, in this order; the others are never parsed.
    pub fn columns(&mut self, names: Vec<String>) -> &mut Self {
        self.columns = Some(names);
        self
    }

    /// The value stored for missing values of an integer or bool column, which then has no
    /// validity file (otherwise a missing value stores 0 or `false` and is marked missing in
    /// the column's validity file, `NAME.valid.npy`).
    pub fn fill(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.fills.push((name.into(), value.into()));
        self
    }

    /// The tokens that mean a missing value, replacing the default [`DEFAULT_NA`] (pandas'
    /// `na_values` default). The empty field is missing whatever the set; pass no tokens for
    /// only the empty field. Missing values never decide a column's inferred type; a float
    /// column stores them as NaN, the other types as a placeholder marked in a validity file.
    pub fn na_tokens<I, S>(&mut self, tokens: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.na = tokens.into_iter().map(Into::into).collect();
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

    /// Bounds a categorical column's dictionary (default [`DEFAULT_MAX_CATEGORIES`]
    /// categories, [`DEFAULT_MAX_CATEGORY_BYTES`] bytes of text): a column whose dictionary
    /// grows past either during the run becomes a string column, every row kept, so memory
    /// stays bounded whatever the input. The report's notes name such columns.
    pub fn max_categories(&mut self, categories: u64, bytes: u64) -> &mut Self {
        self.max_categories = categories;
        self.max_category_bytes = bytes;
        self
    }

    /// Continues an interrupted conversion into the same directory, if there is one.
    pub fn resume(&mut self, yes: bool) -> &mut Self {
        self.resume = yes;
        self
    }

    /// In an append, skips the input files loaded into the dataset before (the same size and
    /// content fingerprint) instead of refusing them (see
    /// [`append_files`](ConvertOptions::append_files)).
    pub fn skip_loaded(&mut self, yes: bool) -> &mut Self {
        self.skip_loaded = yes;
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

    /// The plan consulted before each durable step (default [`NoFaults`]): a test passes one
    /// that fails the N-th step to check that a resume recovers from a crash there. See
    /// [`FaultPlan`].
    pub fn faults(&mut self, plan: Arc<dyn FaultPlan>) -> &mut Self {
        self.faults = plan;
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
        let mut settings = serde_json::json!({
            "delimiter": self.delimiter,
            "header": self.header,
            "infer_rows": self.infer_rows,
            "schema": schema,
            "types": types,
            "columns": self.columns,
            "fills": self.fills,
            "shrink": self.shrink,
            "na": self.na,
            "max_rejects": self.max_rejects,
            "max_categories": [self.max_categories, self.max_category_bytes],
        });
        // Only when given, so checkpoints written before formats existed still resume.
        if !self.formats.is_empty() {
            settings["formats"] = serde_json::json!(self.formats);
        }
        Ok(settings)
    }

    /// Converts the CSV at `input` (`-` for standard input) into the dataset directory
    /// `out_dir`, which must not exist yet. `progress` is called after each block.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an existing `out_dir`, options that do not fit the input (columns
    /// it does not have), or a resume with other options or a changed input;
    /// [`Error::Interrupted`] for an unfinished conversion into `out_dir` without
    /// [`resume`](ConvertOptions::resume); [`Error::Argument`] for malformed options;
    /// [`Error::Io`] on read or write errors (a full disk among them: the run can then be
    /// resumed); [`Error::Format`] for an empty input or an unusable header; [`Error::Rejected`]
    /// when more records are rejected than allowed; [`Error::AllRejected`], naming the first
    /// reasons, when the input has records and every one is rejected (nothing is left behind).
    pub fn convert(
        &self,
        input: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<ConvertReport> {
        self.convert_files(&[input.as_ref().to_path_buf()], out_dir, progress)
    }

    /// Converts several CSV files as one table, in the order given, into the dataset directory
    /// `out_dir`, as [`convert`](ConvertOptions::convert) does one. With a header, every file
    /// must start with the same column names as the first, and each file's header is left out
    /// of the table; each file may be compressed on its own. Rejected records name their file
    /// and their line in it (`rejects.csv` gains a `file` column), and the manifest lists every
    /// input (`sources`). Names whose last component holds `*` or `?` and that are not
    /// existing files are expanded to the files of their directory that match, in name order.
    ///
    /// # Errors
    /// As [`convert`](ConvertOptions::convert); also [`Error::Format`] naming a file whose
    /// header differs from the first's or that ends inside a quoted field,
    /// [`Error::Invalid`] for a pattern that matches nothing, and [`Error::Argument`] for no
    /// input or standard input among several.
    pub fn convert_files(
        &self,
        inputs: &[PathBuf],
        out_dir: impl AsRef<Path>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<ConvertReport> {
        // A location with a scheme is never a local path (no directory `s3:` appears here).
        for p in inputs.iter().map(PathBuf::as_path).chain([out_dir.as_ref()]) {
            crate::open::refuse_object(p)?;
        }
        let inputs = sources::expand(inputs)?;
        let out = out_dir.as_ref();
        self.check_inputs(&inputs)?;
        if out.exists() {
            // A retried `--resume` whose previous try finished: nothing left to do.
            if self.resume
                && let Some(manifest) = workdir::converted_from(out, &inputs)?
            {
                let out_dir = out.to_path_buf();
                return Ok(ConvertReport {
                    manifest,
                    out_dir,
                    resumed: false,
                    complete_before: true,
                    bytes_this_run: 0,
                    notes: Vec::new(),
                });
            }
            let why = if self.resume {
                "already exists, and is not the finished conversion of these inputs (their \
                 paths, sizes and modification times); convert into a new directory"
            } else {
                "already exists; convert into a new directory"
            };
            return Err(Error::invalid(out, why));
        }
        let tmp = workdir::temp_dir(out)?;
        let held = workdir::check_temp_dir(&tmp, out)?;
        let fingerprints = Fingerprints::start(&inputs);
        let (manifest, notes, resumed, bytes_this_run) =
            self.stage(&inputs, &tmp, out, held, None, fingerprints, progress)?;
        // Last, so that until the rename the directory is still recognised as larder's (by
        // its manifest once the checkpoint is gone).
        match fs::remove_file(tmp.join(workdir::MARKER)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&tmp, e)),
            _ => {}
        }
        faults::before(&*self.faults, Step::Rename, out)?;
        crate::fsutil::rename_durably(&tmp, out)?;
        let mut notes = notes;
        notes.extend(plan::renamed_note(&manifest));
        Ok(ConvertReport {
            manifest,
            out_dir: out.to_path_buf(),
            resumed,
            complete_before: false,
            bytes_this_run,
            notes,
        })
    }

    /// Appends the rows of the CSV files `inputs` (as [`convert_files`] reads them) to the
    /// dataset in `dataset`, under its schema: its columns, found by name, with their types,
    /// datetime formats and fill values; a categorical column's dictionary grows in place, its
    /// codes widening when it passes 256 or 65,536 categories.
    ///
    /// Exactly once: the manifest records each file loaded (size, modification time, content
    /// fingerprint), and a file loaded before (the same size and fingerprint, under any name)
    /// is refused, or skipped with [`skip_loaded`](ConvertOptions::skip_loaded), so a retried
    /// pipeline step changes nothing. Atomic: the new rows are staged as a resumable
    /// conversion inside the dataset (`.append.larder-tmp`), then added to the column files
    /// through a journal, and the new manifest is written last; readers of the dataset see it
    /// before or after the append, never half of it. After an interruption (a crash, a full
    /// disk) the dataset is as it was, and [`resume`](ConvertOptions::resume) finishes the
    /// append with the bytes an uninterrupted one writes. Every column stays a `.npy` file numpy
    /// maps. The time an append takes grows with the rows it adds, not with the dataset (but
    /// for the rare rewrites: a column's codes widening, and a validity file made for a column
    /// whose first missing value arrives).
    ///
    /// [`convert_files`]: ConvertOptions::convert_files
    ///
    /// # Errors
    /// [`Error::Invalid`] for a `dataset` that is not a dataset directory, an input with a
    /// column the dataset lacks or lacking one it has, options that conflict with its schema, a
    /// file loaded before (without `skip_loaded`), or a categorical dictionary that would pass
    /// its bound; [`Error::Interrupted`] for an interrupted append without `resume`;
    /// [`Error::Argument`] for standard input; otherwise as [`convert_files`].
    pub fn append_files(
        &self,
        inputs: &[PathBuf],
        dataset: impl AsRef<Path>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<AppendReport> {
        let dataset = dataset.as_ref();
        let inputs = sources::expand(inputs)?;
        self.check_inputs(&inputs)?;
        if inputs.iter().any(|p| p.as_os_str() == "-") {
            return Err(Error::argument(
                "an append reads files, not standard input: it records each file's fingerprint \
                 so that loading the same file again is refused",
            ));
        }
        if !crate::dataset::Dataset::is_dataset(dataset) {
            return Err(Error::invalid(
                dataset,
                "is not a dataset directory (it has no manifest.json); append to what convert made",
            ));
        }
        // One append at a time; readers are not held up.
        let dir_lock = fs::File::open(dataset).map_err(|e| Error::io(dataset, e))?;
        match crate::sys::lock(&dir_lock, dataset, crate::sys::Lock::Exclusive) {
            Err(Error::Locked { .. }) => {
                return Err(Error::io(
                    dataset,
                    io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "another append to this dataset is running; wait for it to finish",
                    ),
                ));
            }
            other => other?,
        }
        let mut before = Manifest::read(dataset)?;
        let zones = crate::zones::before_append(dataset);
        let tmp = append::staging_dir(dataset);
        commit::remove_leftovers(&tmp)?;
        let mut held = workdir::check_temp_dir(&tmp, dataset)?;
        let faults = &*self.faults;
        // An interrupted append whose rows are all staged is finished first; the inputs it read
        // count as loaded, and any others given are appended after it.
        let finished = self.finish_interrupted(dataset, &tmp, &mut held, &mut before)?;
        let candidates = inputs.into_iter().map(append::candidate).collect::<Result<Vec<_>>>()?;
        // A resume with nothing pending whose every input is loaded: the append it was asked to
        // finish had completed (a retry loop whose last try won). Nothing to do.
        let pending = held.is_some() && Checkpoint::read(&tmp)?.is_some();
        if self.resume
            && finished.is_none()
            && !pending
            && candidates.iter().all(|c| append::loaded_before(&before, &[], c).is_some())
        {
            if held.is_some() {
                // Only a run killed before its first checkpoint left it.
                fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
            }
            let paths = candidates.into_iter().map(|c| c.path).collect();
            let mut r = AppendReport::of(before, false, paths, false, 0);
            r.complete_before = true;
            return Ok(r);
        }
        let mut kept: Vec<append::Candidate> = Vec::new();
        let mut skipped = Vec::new();
        for c in candidates {
            if finished.as_ref().is_some_and(|l| l.sources.iter().any(|s| c.is(s))) {
                continue;
            }
            match append::loaded_before(&before, &kept, &c) {
                None => kept.push(c),
                Some(_) if self.skip_loaded => skipped.push(c.path),
                Some(when) => return Err(append::loaded_error(&c.path, dataset, &when)),
            }
        }
        let (mut resumed, mut bytes) = (finished.is_some(), 0);
        // Staged, then checked by content: a compressed input's CSV is known once read. One
        // found loaded before is skipped (or refused) and the others staged again without it.
        while !kept.is_empty() {
            let paths: Vec<PathBuf> = kept.iter().map(|c| c.path.clone()).collect();
            let fingerprints =
                Fingerprints::ready(kept.iter().map(|c| Some(c.xxh3.clone())).collect());
            let target = Some((dataset, &before));
            let (_, _notes, again, n) =
                self.stage(&paths, &tmp, dataset, held.take(), target, fingerprints, progress)?;
            (resumed, bytes) = (resumed || again, bytes + n);
            let loaded = match commit::prepare_or_discard(dataset, &tmp, &before, faults)? {
                commit::Prepared::Journal(j) => {
                    commit::apply(dataset, &tmp, &j, faults)?;
                    crate::zones::after_append(dataset, &zones);
                    drop(dir_lock);
                    return Ok(AppendReport::of(j.after, true, skipped, resumed, bytes));
                }
                commit::Prepared::Loaded(loaded) => loaded,
            };
            if !self.skip_loaded {
                let (i, when) = &loaded[0];
                return Err(append::loaded_error(&kept[*i].path, dataset, when));
            }
            for (i, _) in loaded.iter().rev() {
                skipped.push(kept.remove(*i).path);
            }
        }
        if held.is_some() {
            // Only a run killed before its first checkpoint left it.
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        if finished.is_some() {
            crate::zones::after_append(dataset, &zones);
        }
        Ok(AppendReport::of(before, finished.is_some(), skipped, resumed, bytes))
    }

    /// Finishes the interrupted append in `tmp` (whose lock is `held`) if its rows are all
    /// staged or its commit began: commits it, and returns its load (`before` becomes the
    /// manifest after it). Staged rows whose CSV was loaded before are discarded, then skipped
    /// (with `skip_loaded`) or refused.
    fn finish_interrupted(
        &self,
        dataset: &Path,
        tmp: &Path,
        held: &mut Option<File>,
        before: &mut Manifest,
    ) -> Result<Option<Load>> {
        if held.is_none() {
            return Ok(None);
        }
        let faults = &*self.faults;
        let journal = commit::Journal::read(tmp)?;
        let staged =
            journal.is_none() && Checkpoint::read(tmp)?.is_none() && tmp.join(MANIFEST).is_file();
        if (journal.is_some() || staged) && !self.resume {
            return Err(Error::Interrupted { path: tmp.to_path_buf(), out: dataset.to_path_buf() });
        }
        let journal = match journal {
            Some(j) => j,
            None if staged => {
                let delta = Manifest::read(tmp)?;
                match commit::prepare_or_discard(dataset, tmp, before, faults)? {
                    commit::Prepared::Journal(j) => *j,
                    commit::Prepared::Loaded(loaded) => {
                        *held = None;
                        if self.skip_loaded {
                            return Ok(None);
                        }
                        let (i, when) = &loaded[0];
                        let path = delta.loaded().nth(*i).map_or("", |s| s.path.as_str());
                        return Err(append::loaded_error(Path::new(path), dataset, when));
                    }
                }
            }
            None => return Ok(None),
        };
        commit::apply(dataset, tmp, &journal, faults)?;
        *held = None;
        *before = journal.after.clone();
        Ok(journal.after.appends.last().cloned())
    }

    /// Refuses no input, standard input among several, and a delimiter that cannot be one.
    fn check_inputs(&self, inputs: &[PathBuf]) -> Result<()> {
        if inputs.is_empty() {
            return Err(Error::argument("no input to convert"));
        }
        if inputs.len() > 1 && inputs.iter().any(|p| p.as_os_str() == "-") {
            return Err(Error::argument("standard input can only be converted on its own"));
        }
        if matches!(self.delimiter, b'"' | b'\r' | b'\n') {
            return Err(Error::argument("the delimiter cannot be a quote or a line break"));
        }
        Ok(())
    }

    /// Converts `inputs` into the working directory `tmp` (for `out`), continuing the run
    /// there if `held` (its lock) says there is one. With `target` (an append: the dataset's
    /// directory and manifest), the dataset fixes the plan.
    #[allow(clippy::too_many_arguments)]
    fn stage(
        &self,
        inputs: &[PathBuf],
        tmp: &Path,
        out: &Path,
        held: Option<File>,
        target: Option<(&Path, &Manifest)>,
        fingerprints: Fingerprints,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Manifest, Vec<String>, bool, u64)> {
        let input = inputs.first().map_or(Path::new("-"), PathBuf::as_path);
        let stdin = input.as_os_str() == "-";
        let mut settings = self.settings()?;
        if target.is_some() {
            settings["append"] = serde_json::json!(true);
        }
        let (reader_input, sources, files) = self.open_inputs(inputs)?;
        let existing = if held.is_some() { Checkpoint::read(tmp)? } else { None };
        if existing.is_some() && !self.resume {
            return Err(Error::Interrupted { path: tmp.to_path_buf(), out: out.to_path_buf() });
        }
        if self.resume && stdin {
            return Err(Error::argument(
                "cannot resume from standard input: the bytes read before the interruption are \
                 gone; convert from a file to be able to resume",
            ));
        }
        if let (Some(ck), Some(lock)) = (existing, held) {
            if ck.settings != settings {
                return Err(Error::invalid(
                    tmp,
                    "the interrupted conversion used other options; resume with the same \
                     options, or delete it to start over",
                ));
            }
            let recorded: Vec<&SourceId> =
                std::iter::once(&ck.source).chain(&ck.more_sources).collect();
            if recorded.len() != sources.len() {
                return Err(Error::invalid(
                    input,
                    format!(
                        "the interrupted conversion read {} inputs, not {}; resume with the same \
                         inputs, or delete {} to start over",
                        recorded.len(),
                        sources.len(),
                        tmp.display()
                    ),
                ));
            }
            if let Some((_, now)) =
                recorded.iter().zip(&sources).find(|(a, b)| !workdir::same_source(a, b))
            {
                return Err(Error::invalid(
                    &now.path,
                    format!(
                        "changed since the interrupted conversion began (another file, or its \
                         size or modification time); delete {} to start over",
                        tmp.display()
                    ),
                ));
            }
            drop(reader_input);
            let result = self.run_resumed(ck, tmp, inputs, fingerprints, progress);
            drop(lock);
            if let Err(Error::AllRejected { .. }) = &result {
                // Not resumable: the same input would stop the same way.
                fs::remove_dir_all(tmp).map_err(|e| Error::io(tmp, e))?;
            }
            return result;
        }
        if tmp.exists() {
            // Killed before its first checkpoint: nothing worth keeping, and `check_temp_dir`
            // found only what a conversion writes there. (Its lock is held, and released by
            // the removal.)
            fs::remove_dir_all(tmp).map_err(|e| Error::io(tmp, e))?;
        }
        crate::fsutil::check_parent_exists(out)?;
        fs::create_dir(tmp).map_err(|e| Error::io(tmp, e))?;
        // Removed again unless the run ends in a state a resume can continue from.
        let guard = TempGuard::new(tmp.to_path_buf());
        fs::write(tmp.join(workdir::MARKER), workdir::MARKER_TEXT)
            .map_err(|e| Error::io(tmp, e))?;
        let lock = workdir::lock_dir(tmp)?;
        let run = Fresh { settings, sources, input: reader_input, files, target, fingerprints };
        let result = self.run_fresh(run, tmp, inputs, progress);
        drop(lock);
        match &result {
            // Not resumable: the same input would stop the same way. (An I/O error, an
            // injected one among them, leaves everything for a resume, as a crash would.)
            Err(
                Error::Rejected { .. }
                | Error::AllRejected { .. }
                | Error::Format { .. }
                | Error::Invalid { .. }
                | Error::Argument(_)
                | Error::Internal(_),
            ) => drop(guard),
            _ => guard.keep(),
        }
        result
    }

    fn policy(&self) -> Policy {
        Policy {
            max_rejects: self.max_rejects,
            interval: self.checkpoint_interval,
            max_categories: self.max_categories,
            max_category_bytes: self.max_category_bytes,
            spill: true,
            widen: true,
            faults: Arc::clone(&self.faults),
        }
    }

    /// The opened input (one file, or several as one stream with the map of their lines),
    /// and what identifies each file.
    fn open_inputs(
        &self,
        inputs: &[PathBuf],
    ) -> Result<(input::Input, Vec<SourceId>, Option<sources::FileMap>)> {
        if let [one] = inputs {
            let (i, id) = workdir::open_input(one, self.delimiter)?;
            return Ok((i, vec![id], None));
        }
        let ids = inputs.iter().map(|p| workdir::source_id(p)).collect::<Result<Vec<_>>>()?;
        let chain = sources::Chain::new(inputs.to_vec(), self.delimiter, self.header);
        let (files, consumed, contents) = (chain.files(), chain.consumed(), chain.contents());
        let input = input::Input { reader: Box::new(chain), consumed: Some(consumed), contents };
        Ok((input, ids, Some(files)))
    }

    fn run_fresh(
        &self,
        run: Fresh<'_>,
        tmp: &Path,
        inputs: &[PathBuf],
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Manifest, Vec<String>, bool, u64)> {
        let input = inputs.first().map_or(Path::new("-"), PathBuf::as_path);
        let Fresh { settings, sources, input: reader_input, files, target, fingerprints } = run;
        // Each compressed input's content, known once its decompression reached the end.
        let slots = reader_input.contents.clone();
        let mut sources = sources.into_iter();
        let source = sources.next().ok_or_else(|| Error::internal("no input"))?;
        let mut reader =
            BlockReader::new(reader_input.reader, input, self.delimiter, 0, self.block_size)
                .counting(reader_input.consumed)
                .naming(files.clone());
        let first = reader.next_block()?;
        let Some(mut first) = first else {
            return Err(Error::format(input, 0, "the input is empty: no header and no records"));
        };
        let (names, line) = plan::header_names(&mut first, self.delimiter, self.header, input)?;
        let header = plan::Header::new(names);
        // Inference needs records: when the first block holds fewer than it asks for (long
        // records, or a first record longer than a block), the next blocks are read too, up to
        // a bound, and their records join the sample; the blocks themselves are given back to
        // be converted as they are. (Blocks are consecutive runs of whole records.)
        let mut sample = std::borrow::Cow::Borrowed(&first.data[..]);
        let mut ahead = Vec::new();
        while target.is_none()
            && memchr::memchr_iter(b'\n', &sample).take(self.infer_rows).count() < self.infer_rows
            && sample.len() < INFER_BYTES
        {
            match reader.next_block()? {
                Some(b) => {
                    sample.to_mut().extend_from_slice(&b.data);
                    ahead.push(b);
                }
                None => break,
            }
        }
        let request = plan::Request {
            delimiter: self.delimiter,
            infer_rows: self.infer_rows,
            schema: self.schema.as_deref(),
            types: &self.types,
            formats: &self.formats,
            columns: self.columns.as_deref(),
            fills: &self.fills,
            shrink: self.shrink,
            na: &self.na,
        };
        let (plan, seeds) = match target {
            Some((dir, m)) => append::fixed_plan(dir, m, &request, input, &header)?,
            None => (Plan::build(&request, input, &header, &sample)?, Vec::new()),
        };
        drop(sample);
        // An input without records (a header only) makes each column's empty files in turn.
        let mut no_records = first.data.is_empty() && ahead.is_empty();
        reader.unread(ahead);
        if no_records && let Some(b) = reader.next_block()? {
            no_records = false;
            reader.unread(vec![b]);
        }
        let ck = Checkpoint {
            version: 1,
            settings,
            source,
            more_sources: sources.collect(),
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
        let mut policy = self.policy();
        policy.spill = target.is_none();
        // Standard input cannot be read again.
        policy.widen = target.is_none() && input.as_os_str() != "-";
        if no_records {
            let run = Staging::create_empty(tmp, input, ck, policy, &seeds)?;
            let contents = workdir::contents(inputs, &slots)?;
            let (manifest, notes) = run.finish(&fingerprints.wait()?, &contents)?;
            return Ok((manifest, notes, false, 0));
        }
        let mut run = Staging::create(tmp, input, ck, policy, &seeds)?;
        if let Some(files) = files {
            run.attribute_lines(files);
        }
        let first = if first.data.is_empty() { None } else { Some(first) };
        let (run, bytes) = match run.pump(first, &mut reader, progress)? {
            Pumped::Done(bytes) => (run, bytes),
            Pumped::Again(plan) => {
                drop(reader);
                self.convert_again(run.into_checkpoint(), plan, tmp, inputs, progress)?
            }
        };
        let contents = workdir::contents(inputs, &slots)?;
        let (manifest, notes) = run.finish(&fingerprints.wait()?, &contents)?;
        Ok((manifest, notes, false, bytes))
    }

    /// Converts the whole input again into `tmp`, emptied of the attempt that `old` recorded,
    /// with `plan`: its inferred columns widened to hold every value. This is the one re-read a
    /// widening costs (the first attempt read the input to its end to find every widening).
    fn convert_again(
        &self,
        old: Checkpoint,
        plan: Plan,
        tmp: &Path,
        inputs: &[PathBuf],
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Staging, u64)> {
        let input = inputs.first().map_or(Path::new("-"), PathBuf::as_path);
        workdir::clear_attempt(tmp)?;
        let (reader_input, _, files) = self.open_inputs(inputs)?;
        let mut reader =
            BlockReader::new(reader_input.reader, input, self.delimiter, 0, self.block_size)
                .counting(reader_input.consumed)
                .naming(files.clone());
        let Some(mut first) = reader.next_block()? else {
            return Err(Error::format(input, 0, "the input is empty now: it changed while read"));
        };
        let (_, line) = plan::header_names(&mut first, self.delimiter, self.header, input)?;
        let ck = Checkpoint {
            version: 1,
            columns: vec![ColumnState::default(); plan.columns.len()],
            plan,
            offset: first.offset,
            line,
            rows_read: 0,
            rows_written: 0,
            rejected: 0,
            rejects_bytes: 0,
            done: false,
            ..old
        };
        let mut policy = self.policy();
        policy.widen = false;
        let mut run = Staging::create(tmp, input, ck, policy, &[])?;
        if let Some(files) = files {
            run.attribute_lines(files);
        }
        let first = if first.data.is_empty() { None } else { Some(first) };
        match run.pump(first, &mut reader, progress)? {
            Pumped::Done(bytes) => Ok((run, bytes)),
            Pumped::Again(_) => Err(Error::internal("a column widened with widening off")),
        }
    }

    fn run_resumed(
        &self,
        ck: Checkpoint,
        tmp: &Path,
        inputs: &[PathBuf],
        fingerprints: Fingerprints,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Manifest, Vec<String>, bool, u64)> {
        let input = inputs.first().ok_or_else(|| Error::internal("no input"))?;
        if ck.done && tmp.join(MANIFEST).exists() {
            // Interrupted while cleaning up: the dataset is complete.
            let manifest = Manifest::read(tmp)?;
            staging::cleanup(tmp, &ck.plan, &*self.faults)?;
            return Ok((manifest, Vec::new(), true, 0));
        }
        let mut policy = self.policy();
        // An append cannot change a column's kind.
        policy.spill = ck.settings.get("append").is_none();
        policy.widen = policy.spill;
        let mut run = Staging::resume(tmp, input, ck, policy)?;
        let mut bytes = 0;
        // Empty when nothing is read: `workdir::contents` then reads compressed inputs itself.
        let mut slots = Vec::new();
        if !run.is_done() {
            let offset = run.offset();
            let (f, files) = if inputs.len() == 1 {
                (input::open_at(input, offset, self.delimiter)?, None)
            } else {
                // One stream of several files cannot be entered in the middle: read it again
                // up to the checkpoint, which also maps the lines of the files passed.
                let (mut f, _, files) = self.open_inputs(inputs)?;
                let skipped = io::copy(&mut (&mut f.reader).take(offset), &mut io::sink())
                    .map_err(|e| input::read_error(input, e))?;
                if skipped < offset {
                    return Err(Error::format(
                        input,
                        0,
                        format!(
                            "the inputs hold {skipped} bytes, fewer than the {offset} an \
                             interrupted conversion had read"
                        ),
                    ));
                }
                if let Some(files) = &files {
                    run.attribute_lines(files.clone());
                }
                (f, files)
            };
            slots.clone_from(&f.contents);
            let mut reader =
                BlockReader::new(f.reader, input, self.delimiter, offset, self.block_size)
                    .counting(f.consumed)
                    .naming(files);
            match run.pump(None, &mut reader, progress)? {
                Pumped::Done(b) => bytes = b,
                Pumped::Again(plan) => {
                    drop(reader);
                    let ck = run.into_checkpoint();
                    (run, bytes) = self.convert_again(ck, plan, tmp, inputs, progress)?;
                }
            }
        }
        let contents = workdir::contents(inputs, &slots)?;
        let (manifest, notes) = run.finish(&fingerprints.wait()?, &contents)?;
        Ok((manifest, notes, true, bytes))
    }
}

/// A fresh run's inputs: the options recorded, what identifies each input file, the opened
/// input, (for several files) the map of their lines, and the inputs' fingerprints.
struct Fresh<'a> {
    settings: serde_json::Value,
    sources: Vec<SourceId>,
    input: input::Input,
    files: Option<sources::FileMap>,
    /// For an append: the dataset's directory and manifest.
    target: Option<(&'a Path, &'a Manifest)>,
    fingerprints: Fingerprints,
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    /// Convert's files in the order of the layout above: each may use only those before it.
    const LAYERS: [&str; 23] = [
        "value",
        "timefmt",
        "schema",
        "columns",
        "record",
        "parse/regular",
        "parse",
        "input",
        "sources",
        "split",
        "plan",
        "widen",
        "checkpoint",
        "workdir",
        "sink",
        "appender",
        "dictionary",
        "rejects",
        "faults",
        "staged",
        "staging",
        "append",
        "commit",
    ];

    /// The modules of `convert` the non-test, non-comment code of `file` names, as indices into
    /// [`LAYERS`] (`LAYERS.len()` for `convert` itself).
    fn uses(file: &str, text: &str) -> Vec<(usize, String)> {
        let code = text
            .split(
                "
#[cfg(test)]",
            )
            .next()
            .unwrap_or("");
        let mut out = Vec::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for prefix in ["super::", "crate::convert::"] {
                for (at, _) in line.match_indices(prefix) {
                    let rest = &line[at + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    // In `parse/regular.rs`, `super` is `parse`.
                    let name = if prefix == "super::" && file.contains('/') {
                        "parse".to_string()
                    } else {
                        name
                    };
                    let layer = LAYERS.iter().position(|l| *l == name).unwrap_or(LAYERS.len());
                    out.push((layer, name));
                }
            }
        }
        out
    }

    #[test]
    fn each_file_uses_only_the_files_below_it_in_the_layout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let listed: Vec<String> = fs::read_dir(root.join("convert"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
            .collect();
        for name in &listed {
            assert!(LAYERS.contains(&name.as_str()), "{name}.rs is not in the layout");
        }
        for (i, file) in LAYERS.iter().enumerate() {
            let text = fs::read_to_string(root.join(format!("convert/{file}.rs"))).unwrap();
            for (layer, name) in uses(file, &text) {
                assert!(layer < i, "{file}.rs uses {name}, which is not below it");
            }
        }
        // The check sees a use that points up.
        assert_eq!(uses("value", "use super::staging::Staging;\n"), [(20, "staging".into())]);
        let dataset = fs::read_to_string(root.join("dataset.rs")).unwrap();
        assert!(!dataset.contains("crate::convert") && !dataset.contains("crate::compute"));
    }
}
