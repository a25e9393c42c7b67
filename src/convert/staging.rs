//! The staged output of a running conversion: every column's `.part` file (and dictionary),
//! `rejects.csv` and the checkpoint, in the temporary directory. Parsed blocks are written in
//! input order; a checkpoint records how far they go once every file holds them on disk; the
//! end turns the staged files into the dataset.
//!
//! Every durable step is announced to the [`FaultPlan`] first (see [`Step`]).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::dataset::{MANIFEST, Manifest, REJECTS, Source};
use crate::error::{Error, Result};

use super::checkpoint::{self, CHECKPOINT, Checkpoint};
use super::columns::{Layout, Parsed};
use super::faults::{self, FaultPlan, Step};
use super::parse;
use super::plan::Plan;
use super::rejects::Rejects;
use super::schema::ColumnType;
use super::sources::FileMap;
use super::split::{Block, BlockReader};
use super::staged::{self, BlockValues, StagedColumn};
use super::widen::{self, Widening};

/// Bytes appended to a column file after which the kernel is asked to start writing them to
/// disk, so that the syncs of checkpoints and of the end find little left to do.
const WRITEBACK_STEP: u64 = 4 << 20;

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
    /// For compressed input (whose uncompressed size is not known ahead): the bytes of the
    /// compressed file consumed so far, to compare with `total_bytes`. Every other count here
    /// is of uncompressed CSV.
    pub compressed_bytes_read: Option<u64>,
}

/// How the staging behaves, from the options.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    /// Stop when more records than this are rejected.
    pub(crate) max_rejects: Option<u64>,
    /// Time between checkpoints.
    pub(crate) interval: Duration,
    /// A categorical column whose dictionary grows past this many categories, or this many
    /// bytes of them, becomes a string column.
    pub(crate) max_categories: u64,
    pub(crate) max_category_bytes: u64,
    /// Whether such a column may become a string column; if not (an append, which cannot
    /// change a column's kind), outgrowing the bound is an error.
    pub(crate) spill: bool,
    /// Whether inferred columns may widen (which needs the input read again: not standard
    /// input).
    pub(crate) widen: bool,
    pub(crate) faults: Arc<dyn FaultPlan>,
}

/// Where writing stopped for a widening: the index of the parsed block among those pending,
/// the widening, and the line (in that block) of the record that asked for it.
type Stop = (usize, Widening, u64);

/// How a [`Staging::pump`] ended.
#[derive(Debug)]
pub(crate) enum Pumped {
    /// Every block is written; the bytes converted.
    Done(u64),
    /// Inferred columns had to widen: the whole input must be converted again with this plan
    /// (every widening it needs is in it, the notes say which).
    Again(Plan),
}

/// Writes parsed blocks in order into the staged files, checkpointing as it goes.
pub(crate) struct Staging {
    dir: PathBuf,
    input: PathBuf,
    ck: Checkpoint,
    layout: Layout,
    /// One per plan column; empty once the checkpoint says all input is converted.
    columns: Vec<StagedColumn>,
    /// Smallest and largest value so far, per integer column (with `shrink`).
    ranges: Vec<Option<(i128, i128)>>,
    rejects: Rejects,
    policy: Policy,
    last_checkpoint: Instant,
    /// Files to remove once a checkpoint no longer names them (those of spilled columns).
    stale: Vec<PathBuf>,
    /// With several inputs: which file, and which line of it, each line of the stream is.
    files: Option<FileMap>,
}

impl Staging {
    /// New, empty staged files in `dir` for the plan of `ck`, made durable by a first
    /// checkpoint. A categorical column with `seeds[i]` starts with those categories, codes
    /// `0..n` (an append continues its dataset's dictionaries).
    pub(crate) fn create(
        dir: &Path,
        input: &Path,
        mut ck: Checkpoint,
        policy: Policy,
        seeds: &[Option<Vec<String>>],
    ) -> Result<Self> {
        let mut columns = Vec::new();
        let buffer = super::workdir::column_buffer(ck.plan.columns.len());
        for (i, c) in ck.plan.columns.iter().enumerate() {
            let seed = seeds.get(i).and_then(Option::as_deref).unwrap_or_default();
            let mut column = StagedColumn::create(dir, c, seed)?;
            if let Some(b) = buffer {
                column.close_between_writes(b)?;
            }
            columns.push(column);
        }
        let rejects = Rejects::create(dir.join(REJECTS), !ck.more_sources.is_empty())?;
        ck.rejects_bytes = rejects.len();
        let ranges = vec![None; ck.plan.columns.len()];
        let mut staging = Staging::new(dir, input, ck, columns, ranges, rejects, policy)?;
        staging.checkpoint()?;
        Ok(staging)
    }

    /// The staged files in `dir` of an input without records (a header only), finished: each
    /// column's (empty) files are made and closed in turn, so that no file stays open and a
    /// header of any width converts whatever the limit on open files.
    pub(crate) fn create_empty(
        dir: &Path,
        input: &Path,
        mut ck: Checkpoint,
        policy: Policy,
        seeds: &[Option<Vec<String>>],
    ) -> Result<Self> {
        let faults = &*policy.faults;
        for (i, (c, state)) in ck.plan.columns.iter().zip(&mut ck.columns).enumerate() {
            let seed = seeds.get(i).and_then(Option::as_deref).unwrap_or_default();
            let mut column = StagedColumn::create(dir, c, seed)?;
            column.sync(faults, state)?;
            column.finish(faults)?;
        }
        let rejects = Rejects::create(dir.join(REJECTS), !ck.more_sources.is_empty())?;
        ck.rejects_bytes = rejects.len();
        ck.done = true;
        let ranges = vec![None; ck.plan.columns.len()];
        let mut staging = Staging::new(dir, input, ck, Vec::new(), ranges, rejects, policy)?;
        staging.checkpoint()?;
        Ok(staging)
    }

    /// Reopens the staged files in `dir` as checkpoint `ck` left them.
    pub(crate) fn resume(dir: &Path, input: &Path, ck: Checkpoint, policy: Policy) -> Result<Self> {
        let mut columns = Vec::new();
        let mut ranges = Vec::new();
        let buffer = super::workdir::column_buffer(ck.plan.columns.len());
        for (c, s) in ck.plan.columns.iter().zip(&ck.columns) {
            ranges.push(checkpoint::get_range(s));
            if ck.done {
                continue;
            }
            let mut column = StagedColumn::resume(dir, c, s, ck.rows_written)?;
            if let Some(b) = buffer {
                column.close_between_writes(b)?;
            }
            columns.push(column);
        }
        let several = !ck.more_sources.is_empty();
        let rejects = Rejects::reopen(dir.join(REJECTS), ck.rejects_bytes, several)?;
        Staging::new(dir, input, ck, columns, ranges, rejects, policy)
    }

    fn new(
        dir: &Path,
        input: &Path,
        ck: Checkpoint,
        columns: Vec<StagedColumn>,
        ranges: Vec<Option<(i128, i128)>>,
        rejects: Rejects,
        policy: Policy,
    ) -> Result<Self> {
        let layout = ck.plan.layout().map_err(|e| Error::format(dir.join(CHECKPOINT), 0, e))?;
        Ok(Staging {
            dir: dir.to_path_buf(),
            input: input.to_path_buf(),
            ck,
            layout,
            columns,
            ranges,
            rejects,
            policy,
            last_checkpoint: Instant::now(),
            stale: Vec::new(),
            files: None,
        })
    }

    /// Names, in rejected records, the input file and its own line, by `files` (for several
    /// inputs read as one stream).
    pub(crate) fn attribute_lines(&mut self, files: FileMap) {
        self.files = Some(files);
    }

    /// The checkpoint of the run so far (its staged files closed).
    pub(crate) fn into_checkpoint(self) -> Checkpoint {
        self.ck
    }

    /// True when the checkpoint says all input is converted.
    pub(crate) fn is_done(&self) -> bool {
        self.ck.done
    }

    /// Input offset of the next record to read.
    pub(crate) fn offset(&self) -> u64 {
        self.ck.offset
    }

    /// Reads, parses (in parallel) and writes every block, then checkpoints the end; returns
    /// the bytes converted. When a value does not fit its inferred column (and the policy lets
    /// columns widen), stops writing, reads the rest of the input to find every widening, and
    /// returns the widened plan instead ([`Pumped::Again`]).
    pub(crate) fn pump<R: Read + Send>(
        &mut self,
        first: Option<Block>,
        reader: &mut BlockReader<R>,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<Pumped> {
        let start = self.ck.offset;
        // Several small blocks per thread keep every core busy to the end of each batch.
        let batch_len = 2 * rayon::current_num_threads() + 2;
        let mut batch = read_batch(reader, first, batch_len)?;
        let mut pending: Vec<Parsed> = Vec::new();
        // The blocks of `pending`, kept until written: a widening parses them again.
        let mut pending_blocks: Vec<Block> = Vec::new();
        while !(batch.is_empty() && pending.is_empty()) {
            // Taken anew for each batch: a column may have become a string column.
            let layout = self.layout.clone();
            // Parse this batch while the previous one is written and the next one read.
            let (parsed, next) = rayon::join(
                || batch.par_iter().map(|b| parse::parse_block(&layout, &b.data)).collect(),
                || -> Result<(Option<Stop>, Vec<Block>)> {
                    for (k, p) in pending.iter().enumerate() {
                        if let Some((w, line)) = self.widening(p, &self.ranges) {
                            return Ok((Some((k, w, line)), Vec::new()));
                        }
                        self.write_block(p)?;
                        progress(&self.progress(start, reader.consumed()));
                    }
                    pending.clear();
                    Ok((None, read_batch(reader, None, batch_len)?))
                },
            );
            let (widening, next) = next?;
            if let Some((k, w, line)) = widening {
                let rest: Vec<Block> = pending_blocks.drain(k..).chain(batch.drain(..)).collect();
                let plan = self.find_widenings(&w, line, rest, reader, batch_len)?;
                return Ok(Pumped::Again(plan));
            }
            reader.recycle(pending_blocks.drain(..).map(|b| b.data));
            pending_blocks = std::mem::replace(&mut batch, next);
            // Only a block that rejected a record can ask for a widening: the batch's text is
            // kept (to be parsed again) only then, not held for every batch while it is written.
            let parsed: Vec<Parsed> = parsed;
            if !(self.policy.widen && parsed.iter().any(|p| !p.rejects.is_empty())) {
                reader.recycle(pending_blocks.drain(..).map(|b| b.data));
            }
            pending = parsed;
        }
        self.ck.done = true;
        self.checkpoint()?;
        Ok(Pumped::Done(self.ck.offset - start))
    }

    /// The first widening block `p` asks for, with the line (counted from the block's) of the
    /// record that asks for it; `ranges` are the ranges of the blocks before `p`.
    fn widening(&self, p: &Parsed, ranges: &[Option<(i128, i128)>]) -> Option<(Widening, u64)> {
        if !self.policy.widen || p.rejects.is_empty() {
            return None;
        }
        let mut with = ranges.to_vec();
        merge_ranges(&mut with, &p.ranges);
        widen::first(&self.ck.plan, p, &with)
    }

    /// Applies widening `w` (asked for by the record at line `line` of `rest[0]`), then reads
    /// `rest` and the rest of the input, widening further as their values ask, without writing
    /// anything; returns the plan with every widening and its notes.
    fn find_widenings<R: Read + Send>(
        &mut self,
        w: &Widening,
        line: u64,
        rest: Vec<Block>,
        reader: &mut BlockReader<R>,
        batch_len: usize,
    ) -> Result<Plan> {
        let mut plan = self.ck.plan.clone();
        let mut layout = self.layout.clone();
        let mut ranges = self.ranges.clone();
        let mut block_line = self.ck.line;
        let mut version = 0u64;
        let at = self.line_text(block_line + line);
        widen_plan(w, &at, &mut plan, &mut layout, &mut ranges);
        version += 1;
        let mut batch = rest;
        while !batch.is_empty() {
            // Parsed in parallel with the types so far; a block after a widening in its batch
            // is parsed again with the wider types, and so is a block that asks for one.
            let parsed_at = version;
            let mut parsed: Vec<Option<Parsed>> = {
                let l = &layout;
                batch.par_iter().map(|b| Some(parse::parse_block(l, &b.data))).collect()
            };
            for (b, early) in batch.iter().zip(&mut parsed) {
                let mut p = match early.take() {
                    Some(p) if version == parsed_at => p,
                    _ => parse::parse_block(&layout, &b.data),
                };
                loop {
                    let mut with = ranges.clone();
                    merge_ranges(&mut with, &p.ranges);
                    let Some((w, line)) = widen::first(&plan, &p, &with) else {
                        ranges = with;
                        block_line += p.newlines;
                        break;
                    };
                    let at = self.line_text(block_line + line);
                    widen_plan(&w, &at, &mut plan, &mut layout, &mut ranges);
                    version += 1;
                    p = parse::parse_block(&layout, &b.data);
                }
            }
            reader.recycle(batch.drain(..).map(|b| b.data));
            batch = read_batch(reader, None, batch_len)?;
        }
        Ok(plan)
    }

    /// Line `line` of the input as a note names it: `line N`, or `FILE:N` with several inputs.
    fn line_text(&self, line: u64) -> String {
        match &self.files {
            Some(map) => {
                let (path, local) = map.locate(line);
                format!("{}:{local}", path.display())
            }
            None => format!("line {line}"),
        }
    }

    fn progress(&self, start: u64, compressed_bytes_read: Option<u64>) -> Progress {
        Progress {
            rows_read: self.ck.rows_read,
            rejected: self.ck.rejected,
            bytes_read: self.ck.offset,
            total_bytes: (self.ck.source.path != "-").then(|| {
                self.ck.source.bytes + self.ck.more_sources.iter().map(|s| s.bytes).sum::<u64>()
            }),
            bytes_this_run: self.ck.offset - start,
            compressed_bytes_read,
        }
    }

    /// Writes one parsed block: values, categories and rejects; checkpoints when the interval
    /// has passed.
    fn write_block(&mut self, p: &Parsed) -> Result<()> {
        self.check_reject_limit(p)?;
        let rows_before = self.ck.rows_written;
        for (i, v) in p.columns.iter().enumerate() {
            let plan = &self.ck.plan.columns[i];
            let c = &mut self.columns[i];
            let block = BlockValues { rows_before, values: v, missing: &p.missing[i] };
            c.append(&self.dir, plan, &block, &self.layout.na, &self.input)?;
            if c.dictionary_outgrown(self.policy.max_categories, self.policy.max_category_bytes) {
                if !self.policy.spill {
                    return Err(Error::invalid(
                        &self.input,
                        format!(
                            "column {:?}: its dictionary would pass {} categories (or {} bytes \
                             of them), and an append cannot turn a categorical column into a \
                             string column; raise the bound, or convert the whole table again",
                            plan.name, self.policy.max_categories, self.policy.max_category_bytes
                        ),
                    ));
                }
                self.spill(i, rows_before + v.len() as u64)?;
            }
        }
        merge_ranges(&mut self.ranges, &p.ranges);
        for (state, &zoned) in self.ck.columns.iter_mut().zip(&p.zoned) {
            state.zoned |= zoned;
        }
        self.write_rejects(p)?;
        for c in &mut self.columns {
            c.start_writeback(WRITEBACK_STEP)?;
        }
        let rejected = p.rejects.len() as u64;
        self.ck.rows_read += p.rows_read;
        self.ck.rejected += rejected;
        self.ck.rows_written += p.rows_read - rejected;
        self.ck.line += p.newlines;
        self.ck.offset += p.bytes;
        if self.last_checkpoint.elapsed() >= self.policy.interval {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// [`Error::AllRejected`], with the first reasons, when the input had records and every one
    /// was rejected: exiting as if all went well would hide that nothing was converted.
    fn check_some_converted(&self) -> Result<()> {
        if self.ck.rows_read == 0 || self.ck.rows_written > 0 {
            return Ok(());
        }
        let several = !self.ck.more_sources.is_empty();
        let shown = 3;
        let mut first = super::rejects::first(&self.dir.join(REJECTS), several, shown)?;
        if self.ck.rejected > shown as u64 {
            first.push("…".to_string());
        }
        Err(Error::AllRejected {
            path: self.input.clone(),
            rejected: self.ck.rejected,
            first: format!("the first: {}", first.join("; ")),
        })
    }

    /// [`Error::Rejected`] for the first reject of `p` past the allowed number, if any.
    fn check_reject_limit(&self, p: &Parsed) -> Result<()> {
        let Some(max) = self.policy.max_rejects else { return Ok(()) };
        let allowed = max.saturating_sub(self.ck.rejected);
        let Some(r) = p.rejects.get(usize::try_from(allowed).unwrap_or(usize::MAX)) else {
            return Ok(());
        };
        let column = r.column.map(|c| self.ck.plan.columns[c].name.clone());
        let line = self.ck.line + r.line;
        let (path, line) = match &self.files {
            Some(map) => {
                let (path, local) = map.locate(line);
                (path.to_path_buf(), local)
            }
            None => (self.input.clone(), line),
        };
        Err(Error::Rejected {
            path,
            line,
            reason: match column {
                Some(c) => format!("column {c:?}: {}", r.reason),
                None => r.reason.to_string(),
            },
            limit: max,
        })
    }

    /// Makes categorical column `i`, which holds `rows` rows, a string column from now on
    /// (see [`StagedColumn::spill`]); the next checkpoint records it.
    fn spill(&mut self, i: usize, rows: u64) -> Result<()> {
        let plan = &mut self.ck.plan.columns[i];
        self.columns[i].spill(&self.dir, plan, rows)?;
        plan.ty = ColumnType::Str;
        self.layout.columns[i].ty = ColumnType::Str;
        self.ck.columns[i].spilled = true;
        self.stale.extend(staged::spilled_files(&self.dir, plan));
        Ok(())
    }

    fn write_rejects(&mut self, p: &Parsed) -> Result<()> {
        for r in &p.rejects {
            let column = r.column.map_or("", |c| self.ck.plan.columns[c].name.as_str());
            let line = self.ck.line + r.line;
            let (file, line) = match &self.files {
                Some(map) => {
                    let (path, local) = map.locate(line);
                    (Some(path.display().to_string()), local)
                }
                None => (None, line),
            };
            self.rejects.write(file.as_deref(), line, column, &r.reason.to_string(), &r.raw)?;
        }
        self.ck.rejects_bytes = self.rejects.len();
        Ok(())
    }

    /// Puts every file's data on disk, then records the checkpoint.
    fn checkpoint(&mut self) -> Result<()> {
        let faults = &*self.policy.faults;
        let rejects = self.rejects.file();
        faults::before(faults, Step::Sync, rejects.path())?;
        rejects.sync()?;
        // In parallel: each sync mostly waits for the disk, and waits overlap.
        self.columns
            .par_iter_mut()
            .zip(self.ck.columns.par_iter_mut())
            .try_for_each(|(c, state)| c.sync(faults, state))?;
        for (s, r) in self.ck.columns.iter_mut().zip(&self.ranges) {
            checkpoint::put_range(s, *r);
        }
        faults::before(faults, Step::Checkpoint, &self.dir.join(CHECKPOINT))?;
        self.ck.write(&self.dir)?;
        self.last_checkpoint = Instant::now();
        for p in self.stale.drain(..) {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&p, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Turns the staged column files into the final ones, writes the manifest and removes
    /// everything else; returns the manifest and notes for the user (columns that became
    /// string columns). `fingerprints` are the inputs' fingerprints (of their bytes as stored),
    /// in order, for the manifest; `contents` the size and fingerprint of each compressed
    /// input's decompressed bytes. Safe to repeat after an interruption.
    ///
    /// # Errors
    /// [`Error::AllRejected`] when every record was rejected (nothing is finished then).
    pub(crate) fn finish(
        self,
        fingerprints: &[Option<String>],
        contents: &[Option<(u64, String)>],
    ) -> Result<(Manifest, Vec<String>)> {
        self.check_some_converted()?;
        let Staging { dir, ck, columns, rejects, ranges, policy, .. } = self;
        let faults = &*policy.faults;
        let mut texts = Vec::with_capacity(columns.len());
        for c in columns {
            texts.push(c.finish(faults)?);
        }
        drop(rejects);
        let mut out = Vec::new();
        let mut notes = ck.plan.notes.clone();
        let mut texts = texts.into_iter();
        for ((c, state), range) in ck.plan.columns.iter().zip(&ck.columns).zip(ranges) {
            let text = texts.next().flatten();
            out.push(staged::finish_column(&dir, c, state, range, ck.plan.shrink, text, faults)?);
            if state.spilled {
                notes.push(format!(
                    "column {:?}: more than {} categories (or {} bytes of them), so it is stored \
                     as a string column",
                    c.name, policy.max_categories, policy.max_category_bytes
                ));
            }
        }
        let bytes = if ck.source.path == "-" { ck.offset } else { ck.source.bytes };
        let source = |(i, s): (usize, &checkpoint::SourceId)| Source {
            path: s.path.clone(),
            bytes: s.bytes,
            modified: super::workdir::modified_text(s.modified),
            xxh3: fingerprints.get(i).cloned().flatten(),
            csv_bytes: contents.get(i).and_then(|c| c.as_ref().map(|c| c.0)),
            csv_xxh3: contents.get(i).and_then(|c| c.as_ref().map(|c| c.1.clone())),
        };
        let all: Vec<Source> =
            std::iter::once(&ck.source).chain(&ck.more_sources).enumerate().map(source).collect();
        let manifest = Manifest {
            columns: out,
            rows: ck.rows_written,
            rejected: ck.rejected,
            rows_read: ck.rows_read,
            source: Source { bytes, ..all[0].clone() },
            sources: if ck.more_sources.is_empty() { Vec::new() } else { all },
            appends: Vec::new(),
            version: 1,
        };
        let mpath = dir.join(MANIFEST);
        let mut text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::internal(format!("the manifest as JSON: {e}")))?;
        text.push(b'\n');
        faults::before(faults, Step::Manifest, &mpath)?;
        crate::fsutil::write_bytes_atomically(&mpath, &text)?;
        cleanup(&dir, &ck.plan, faults)?;
        Ok((manifest, notes))
    }
}

/// Widens a column of `plan` and `layout` as `w` says (`at` names the line that asked for it, in
/// the note), and its range so far to the new type's units.
fn widen_plan(
    w: &Widening,
    at: &str,
    plan: &mut Plan,
    layout: &mut Layout,
    ranges: &mut [Option<(i128, i128)>],
) {
    let c = w.column;
    plan.notes.push(w.note(plan, at));
    plan.columns[c].ty = w.to;
    layout.columns[c].ty = w.to;
    ranges[c] = widen::rescale(ranges[c], w.from, w.to);
}

/// Merges the integer ranges of a block into those so far.
fn merge_ranges(into: &mut [Option<(i128, i128)>], block: &[Option<(i128, i128)>]) {
    for (range, block) in into.iter_mut().zip(block) {
        if let Some((lo, hi)) = *block {
            *range = Some(match *range {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
    }
}

/// Up to `len` blocks: `first`, then what `reader` gives.
fn read_batch<R: Read>(
    reader: &mut BlockReader<R>,
    first: Option<Block>,
    len: usize,
) -> Result<Vec<Block>> {
    let mut batch = Vec::with_capacity(len);
    batch.extend(first);
    while batch.len() < len {
        match reader.next_block()? {
            Some(b) => batch.push(b),
            None => break,
        }
    }
    Ok(batch)
}

/// Removes the working files of a finished conversion (any may already be gone); the
/// checkpoint goes last, so until then a resume sees a finished run and redoes this.
pub(crate) fn cleanup(dir: &Path, plan: &Plan, faults: &dyn FaultPlan) -> Result<()> {
    let checkpoint = dir.join(CHECKPOINT);
    faults::before(faults, Step::Cleanup, &checkpoint)?;
    let remove = |p: PathBuf| match fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(&p, e)),
        _ => Ok(()),
    };
    for c in &plan.columns {
        // A string column may have been categorical until its dictionary outgrew its bound.
        if matches!(c.ty, ColumnType::Cat | ColumnType::Str) {
            for p in staged::spilled_files(dir, c) {
                remove(p)?;
            }
        }
    }
    remove(dir.join("lock"))?;
    // Temporaries of an atomic write that a crash interrupted (`fsutil::temp_sibling` names
    // them after the process, so a later run never reuses them).
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".larder-tmp-") {
            remove(entry.path())?;
        }
    }
    remove(checkpoint)
}
