//! The `larder` command: a thin layer over the library. It parses arguments, calls the library
//! and prints; all format logic lives in the library.

// The bench experiments' tests build arrays from loop counters and compare exact float values
// on purpose, as the library's tests do.
#![cfg_attr(
    test,
    allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        clippy::float_cmp
    )
)]

mod bench;
mod convert_cli;
mod group_cli;
mod index_cli;
mod report;
mod sort_cli;
mod transfer;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use larder::Selection;
use larder::ops::cat::TextFormat;

/// Numeric arrays kept on disk; only the slices you touch come into memory.
#[derive(Parser)]
#[command(name = "larder", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    // Global flags under a heading of their own, after each command's own options.
    #[command(flatten, next_help_heading = "Object storage (s3:// locations)")]
    s3: transfer::S3Args,
}

#[derive(Subcommand)]
enum Command {
    /// Describe an array: format, dtype, shape, order, chunks, size, and how much is in RAM now;
    /// or a delta file: its base, depth and pages.
    Info {
        /// The array: FILE.npy, DIR.zarr[:/group/name] or FILE.h5[:/group/name]; or a delta.
        path: PathBuf,
        #[command(flatten)]
        deltas: Deltas,
        /// Print one JSON object; docs/cli.md lists its keys.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: Where,
    },
    /// Print the values of an array, or of a numpy-style selection of it.
    Cat {
        /// The array file, a dataset directory, or a dataset's Zarr group (its rows as a table).
        path: PathBuf,
        #[command(flatten)]
        deltas: Deltas,
        /// numpy slice syntax without brackets, e.g. `10:20,::2`, `-1`, `...,0`.
        #[arg(long, allow_hyphen_values = true)]
        slice: Option<String>,
        /// Print nested JSON arrays (NaN and infinities as the strings "NaN", "Infinity").
        #[arg(long, conflicts_with = "all")]
        json: bool,
        /// Print every element; by default more than 1000 are summarized with `...` as numpy does.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: Where,
    },
    /// Statistics of an array in one streaming pass: count, sum, mean, std, min, max, NaN count.
    Stats {
        /// The array file; a dataset's column file (DATASET/COLUMN.npy) or a dataset group's
        /// column array (`DIR.zarr:/COLUMN`, `s3://BUCKET/PREFIX.zarr:/COLUMN`).
        path: PathBuf,
        #[command(flatten)]
        deltas: Deltas,
        /// Reduce along this axis only: one value per position of the other axes.
        #[arg(long)]
        axis: Option<usize>,
        /// Print JSON (keys: dtype, count, sum, mean, std, var, min, max, `nan_count`; with
        /// `--axis`, each a nested array, plus axis and shape).
        #[arg(long)]
        json: bool,
        /// Also count values in this many equal bins between min and max (a second pass).
        #[arg(long, conflicts_with = "axis")]
        bins: Option<usize>,
        /// The histogram's range instead of min and max, as numpy's `range=(LO, HI)`: values
        /// outside it are not counted, and the histogram is made in the same pass.
        #[arg(long, value_name = "LO,HI", requires = "bins", allow_hyphen_values = true,
              value_parser = parse_range)]
        range: Option<(f64, f64)>,
        /// Also compute these quantiles (comma-separated, in [0, 1]), as `np.nanquantile`.
        #[arg(long, value_delimiter = ',', conflicts_with = "axis")]
        quantile: Vec<f64>,
        /// Leave out std and var: every other statistic then comes from a single read of the
        /// data, at the speed of memory.
        #[arg(long, conflicts_with = "axis")]
        no_std: bool,
        /// Only the rows where this SQL condition holds, for a column file of a dataset
        /// (DATASET/COLUMN.npy), e.g. "region = 'eu-west'" (docs/compute.md, "Row filters").
        #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true,
              conflicts_with_all = ["axis", "paths"])]
        filter: Option<String>,
        /// Print the plan the filter would use (index probe, pruned or full scan), why, the
        /// zones scanned and skipped and the pages touched, and do nothing else (with --json,
        /// as JSON).
        #[arg(long, requires = "filter")]
        explain: bool,
    },
    /// Group the rows of a converted dataset by a categorical, small-range integer or datetime
    /// column (time buckets with --every).
    Groupby {
        /// The dataset directory (with manifest.json), or its Zarr group: `DIR.zarr[:/node]` or
        /// `s3://BUCKET/PREFIX.zarr`.
        dataset: PathBuf,
        /// The column to group by: categorical, a small-range integer, or datetime64 (exact
        /// values, or time buckets with --every).
        #[arg(long, allow_hyphen_values = true)]
        by: String,
        /// Fixed-width time buckets of a datetime64 --by column: 1s, 15min (15m), 1h, 1d, or
        /// combinations as 1h30min (units ns, us, ms, s, min, h, d; pandas' aliases too).
        #[arg(long, value_name = "WIDTH")]
        every: Option<String>,
        /// Aggregates, comma-separated or repeated: count, count:COL, sum:COL, mean:COL,
        /// min:COL, max:COL. A column name holding a comma goes in double quotes, as in CSV:
        /// sum:"a,b" (a quote inside doubled).
        #[arg(long, required = true, allow_hyphen_values = true)]
        agg: Vec<String>,
        /// Print JSON: {"by", "keys", "aggregates": {NAME: [one value per group]}}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: Where,
    },
    /// Copy an array between .npy, Zarr and HDF5, streaming chunk by chunk; writes native byte
    /// order, C order.
    Copy {
        /// Source array: FILE.npy, DIR.zarr[:/path], FILE.h5[:/path] or `s3://BUCKET/KEY`.
        src: PathBuf,
        /// Destination, local or `s3://BUCKET/KEY`; its extension (.npy, .zarr, .h5) picks the
        /// format. An .npy appears only once complete; a Zarr array must not exist yet.
        dst: PathBuf,
        #[command(flatten)]
        layout: Layout,
        #[command(flatten)]
        deltas: Deltas,
        /// Continue an interrupted copy into Zarr in object storage; stored chunks are kept.
        #[arg(long)]
        resume: bool,
        /// Copy only the rows of a dataset where this SQL condition holds (a dataset to a local
        /// .zarr group; docs/compute.md, "Row filters").
        #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
        filter: Option<String>,
        /// Print the plan the filter would use (index probe, pruned or full scan), why, the
        /// zones scanned and skipped and the pages touched, and do nothing else (with --json,
        /// as JSON).
        #[arg(long, requires = "filter")]
        explain: bool,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write the rows of a dataset where a condition holds: as a new dataset (OUT), or their
    /// row numbers (--rows) or a boolean mask (--mask) as .npy.
    Filter {
        /// The dataset directory (with manifest.json).
        dataset: PathBuf,
        /// The new dataset directory; must not exist.
        #[arg(required_unless_present_any = ["rows", "mask", "explain"])]
        out: Option<PathBuf>,
        /// The condition, e.g. "region = 'eu-west' AND latency > 2.5" (docs/compute.md).
        #[arg(long = "where", value_name = "EXPR", required = true, allow_hyphen_values = true)]
        expr: String,
        /// Keep only these columns, in this order (comma-separated or repeated; a name holding
        /// a comma in double quotes).
        #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["rows", "mask"])]
        columns: Vec<String>,
        /// Write the matching row numbers instead, ascending, as a 1-d int64 .npy (for
        /// `np.load(col, mmap_mode="r")[rows]`); must not exist.
        #[arg(long, value_name = "ROWS.npy", conflicts_with_all = ["out", "mask"])]
        rows: Option<PathBuf>,
        /// Write a boolean mask instead, one flag a row, as a 1-d bool .npy; must not exist.
        #[arg(long, value_name = "MASK.npy", conflicts_with = "out")]
        mask: Option<PathBuf>,
        /// Print JSON: {"rows", "`source_rows`", "columns"}.
        #[arg(long)]
        json: bool,
        /// Print the plan the filter would use (index probe, pruned or full scan), why, the
        /// zones scanned and skipped and the pages touched, and do nothing else (with --json,
        /// as JSON).
        #[arg(long, requires = "expr")]
        explain: bool,
    },
    /// Write rows of a dataset, by number, as a new dataset (as `df.iloc[rows]`).
    Take {
        /// The dataset directory (with manifest.json).
        dataset: PathBuf,
        /// The new dataset directory; must not exist.
        out: PathBuf,
        /// The rows: an int64 .npy of row numbers, a list `3,1,-1`, or a range `START:STOP[:STEP]`
        /// as Python slices them (negative numbers count from the end).
        #[arg(long, value_name = "FILE|LIST|RANGE", allow_hyphen_values = true)]
        rows: String,
        /// Keep only these columns, in this order (as `filter --columns`).
        #[arg(long, allow_hyphen_values = true)]
        columns: Vec<String>,
        /// Print JSON: {"rows", "`source_rows`", "columns"}.
        #[arg(long)]
        json: bool,
    },
    /// Convert CSV files (plain, gzip or zstd) into a dataset directory: one memory-mapped .npy per column and a
    /// manifest.json (see docs/cli.md).
    Convert(convert_cli::ConvertArgs),
    /// Build the zone maps of a dataset (per 8,192 rows of each column: min, max, missing and
    /// NaN counts, codes present) or a sorted index of some columns (--sorted), or show the plan
    /// a filter would take (--explain).
    Index(index_cli::IndexArgs),
    /// Write a dataset's rows sorted by some of its columns as a new dataset, in bounded memory;
    /// or only the first K (--limit).
    Sort(sort_cli::SortArgs),
    /// Run an experiment and print its measurements.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Copy-on-write clones: for each fraction of pages modified, the time to clone, write,
    /// save a delta, reopen and materialize, the clone's private memory and the delta's size,
    /// next to a full in-memory copy saved whole (the numpy way).
    Cow {
        /// Bytes of array data (`<f8`); accepts suffixes K, M, G (powers of 1024), e.g. 512M.
        #[arg(long, default_value = "256M", value_parser = parse_size, conflicts_with = "base")]
        size: u64,
        /// Use this existing 1-d `<f8` `.npy` as the base instead of writing one (it is only
        /// read), e.g. the file another tool is measured on.
        #[arg(long)]
        base: Option<PathBuf>,
        /// Fractions of the pages to modify, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1,0.5,1")]
        fractions: Vec<f64>,
        /// Which pages: evenly spaced, random (fixed seed) or one contiguous block.
        #[arg(long, default_value = "strided", value_parser = ["strided", "random", "contiguous"])]
        pattern: String,
        /// Seed of the random pattern.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Leave the files (base, deltas, materialized copies) in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Skip the in-process numpy `.copy()` way (it holds the whole array in memory).
        #[arg(long)]
        no_full_copy: bool,
        /// Skip materializing a standalone `.npy` for each fraction.
        #[arg(long)]
        no_materialize: bool,
    },
    /// Write, read whole and read 1000 random 1000-element slices of a 1-d float64 array.
    Chunked {
        /// Where to write the array: DIR.zarr or FILE.h5 (or FILE.npy); must not exist.
        path: PathBuf,
        /// Elements in the array.
        #[arg(long, default_value_t = 16 << 20)]
        elements: usize,
        /// Elements per chunk.
        #[arg(long, default_value_t = 1 << 20)]
        chunk: usize,
        #[arg(long)]
        /// Compression (default zstd for Zarr, none for HDF5).
        codec: Option<larder::Codec>,
        /// Random reads to time.
        #[arg(long, default_value_t = 1000)]
        reads: usize,
        /// Elements per random read.
        #[arg(long, default_value_t = 1000)]
        read_len: usize,
        /// Zarr only: make each chunk a shard of inner chunks of this many elements.
        #[arg(long)]
        shard_inner: Option<usize>,
    },
    /// Time reading an existing 1-d float64 array: all of it into memory, or short slices at
    /// given offsets; prints the count, the sum of what was read and the seconds it took.
    Read {
        /// The array: `FILE.npy`, `DIR.zarr` or `FILE.h5:/dataset`.
        path: PathBuf,
        /// A 1-d int64 `.npy` of start offsets: read `--len` elements at each, one after the
        /// other, instead of the whole array.
        #[arg(long, requires = "len")]
        offsets: Option<PathBuf>,
        /// Elements per read with `--offsets`.
        #[arg(long, requires = "offsets")]
        len: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses `123`, `64K`, `512M`, `2G` (also `KiB`, `MiB`, `GiB`) into bytes.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size in bytes"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use K, M or G)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

/// `--where`: a row filter over a dataset, shared by the commands that read one.
#[derive(clap::Args)]
struct Where {
    /// Only the rows of a dataset where this SQL condition holds, e.g. "region = 'eu-west' AND
    /// latency > 2.5" (names, types, NULL and NaN: docs/compute.md, "Row filters").
    #[arg(long = "where", value_name = "EXPR", allow_hyphen_values = true)]
    expr: Option<String>,
    /// Print the plan the filter would use (index probe, pruned or full scan), why, the zones
    /// scanned and skipped and the pages touched, and do nothing else (with --json, as JSON).
    #[arg(long, requires = "expr")]
    explain: bool,
}

/// The rows `--where` filters: of a dataset directory, or of a group opened for computing.
enum Rows<'a> {
    Dataset(&'a str),
    Group(Box<larder::ops::group::GroupSource>, &'a str),
}

impl Where {
    /// The filter, when one is given: an error unless `path` is a dataset or a dataset's
    /// group (opened here).
    fn of(&self, path: &std::path::Path) -> Result<Option<Rows<'_>>> {
        let Some(e) = &self.expr else { return Ok(None) };
        if let Some(g) = larder::ops::group::GroupSource::open(path)? {
            return Ok(Some(Rows::Group(Box::new(g), e)));
        }
        Ok(self.of_opened(path, false)?.map(Rows::Dataset))
    }

    /// The filter, when one is given: an error unless `path` is a dataset, or `group` (the
    /// caller opened `path` as a group).
    fn of_opened(&self, path: &std::path::Path, group: bool) -> Result<Option<&str>> {
        let Some(e) = &self.expr else { return Ok(None) };
        if !group && !larder::dataset::Dataset::is_dataset(path) {
            anyhow::bail!(
                "--where filters the rows of a dataset (a directory with manifest.json) or of \
                 its Zarr group; {} is neither (for an array, use --slice)",
                path.display()
            );
        }
        Ok(Some(e))
    }
}

/// Delta files over an `.npy` (saved copy-on-write changes), shared by the reading commands.
#[derive(clap::Args)]
struct Deltas {
    /// Read the .npy through this delta file (repeatable: each saved over the one before).
    #[arg(long = "delta", value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Layout of a chunked destination.
#[derive(clap::Args)]
struct Layout {
    /// Chunk shape, e.g. `1000,1000` (with --shard: the chunks inside each shard).
    #[arg(long, value_parser = parse_shape)]
    chunks: Option<Shape>,
    /// Compression: zstd[:LEVEL], gzip[:0-9] or none (default zstd for Zarr, none for HDF5).
    #[arg(long)]
    codec: Option<larder::Codec>,
    /// Zarr shard shape, a multiple of the chunk shape on every axis.
    #[arg(long, value_parser = parse_shape)]
    shard: Option<Shape>,
}

/// A shape given on the command line as `100,200`.
#[derive(Clone)]
struct Shape(Vec<usize>);

fn parse_shape(s: &str) -> std::result::Result<Shape, String> {
    s.split(',')
        .map(|p| {
            p.trim().parse::<usize>().map_err(|_| format!("{s:?}: expected sizes like 100,200"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Shape)
}

/// `larder bench read`: the whole array, or `len` elements at each offset in a file.
fn bench_read(
    path: &std::path::Path,
    slices: Option<(&std::path::Path, usize)>,
    json: bool,
    out: &mut impl Write,
) -> Result<()> {
    let report = match slices {
        Some((offsets, len)) => {
            serde_json::to_value(bench::read::read_slices(path, offsets, len)?)?
        }
        None => serde_json::to_value(bench::read::read_all(path)?)?,
    };
    if json {
        writeln!(out, "{report}")?;
    } else if let Some(map) = report.as_object() {
        for (key, value) in map {
            writeln!(out, "{key:<9} {value}")?;
        }
    }
    Ok(())
}

/// `larder bench ...`.
fn run_bench(bench: Bench, out: &mut impl Write) -> Result<()> {
    match bench {
        Bench::Cow {
            size,
            base,
            fractions,
            pattern,
            seed,
            json,
            keep,
            no_full_copy,
            no_materialize,
        } => {
            let opts = bench::cow::CowBenchOptions {
                size,
                base,
                fractions,
                pattern: pattern.parse()?,
                seed,
                keep,
                full_copy: !no_full_copy,
                materialize: !no_materialize,
            };
            let report = bench::cow::run(&opts)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                report.write_table(out)?;
            }
        }
        Bench::Read { path, offsets, len, json } => {
            bench_read(&path, offsets.as_deref().zip(len), json, out)?;
        }
        Bench::Chunked { path, elements, chunk, codec, reads, read_len, shard_inner } => {
            let mut spec = bench::ChunkedBench::new(elements, chunk);
            spec.reads(reads, read_len);
            if let Some(c) = codec {
                spec.codec(c);
            }
            if let Some(inner) = shard_inner {
                spec.shard_inner(inner);
            }
            let result =
                spec.run(&path).with_context(|| format!("benchmarking {}", path.display()))?;
            writeln!(out, "{}", serde_json::to_string(&result)?)?;
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    cli.s3.apply();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if explain_only(&cli.command, &mut out)? {
        out.flush()?;
        return Ok(());
    }
    match cli.command {
        Command::Info { path, deltas, json, filter } => match filter.of(&path)? {
            Some(Rows::Group(g, f)) => group_cli::info_where(&mut out, &path, &g, f, json)?,
            Some(Rows::Dataset(f)) => report::dataset_info_where(&mut out, &path, f, json)?,
            None => report::info(&mut out, &path, &deltas.paths, json)?,
        },
        cmd @ Command::Cat { .. } => run_cat(cmd, &mut out)?,
        Command::Stats {
            path, deltas, axis, json, bins, range, quantile, no_std, filter, ..
        } => {
            let mut options = larder::compute::StatsOptions::new();
            options.std(!no_std);
            if let Some(n) = bins {
                options.bins(n);
            }
            if let Some((lo, hi)) = range {
                options.range(lo, hi);
            }
            options.quantiles(&quantile);
            let view = report::StatsOf { deltas: &deltas.paths, axis, filter: filter.as_deref() };
            if !group_cli::stats(&mut out, &path, &view, json, &options)? {
                report::stats(&mut out, &path, &view, json, &options)?;
            }
        }
        Command::Groupby { dataset, by, every, agg, json, filter } => {
            let agg = split_lists(&agg, "--agg", true)?;
            let f = filter.expr.as_deref();
            if !group_cli::groupby(&mut out, &dataset, &by, every.as_deref(), &agg, json, f)? {
                let filter = filter.of_opened(&dataset, false)?;
                report::groupby(&mut out, &dataset, &by, every.as_deref(), &agg, json, filter)?;
            }
        }
        Command::Copy { src, dst, layout, deltas, resume, filter, quiet, .. } => {
            let mut options = larder::CopyOptions::new();
            options.deltas(&deltas.paths).resume(resume);
            if let Some(f) = &filter {
                options.filter(f);
            }
            if let Some(c) = &layout.chunks {
                options.chunks(&c.0);
            }
            if let Some(c) = layout.codec {
                options.codec(c);
            }
            if let Some(s) = &layout.shard {
                options.shard(&s.0);
            }
            transfer::copy(&src, &dst, &options, quiet)?;
        }
        cmd @ (Command::Filter { .. } | Command::Take { .. }) => run_subset(cmd, &mut out)?,
        Command::Bench { bench } => run_bench(bench, &mut out)?,
        Command::Convert(args) => convert_cli::convert(&args, &mut out)?,
        Command::Index(args) => index_cli::index(&args, &mut out)?,
        Command::Sort(args) => sort_cli::sort(&args, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// The error and its causes on one line, leaving out a cause whose text the message before it
/// already includes (larder's I/O errors name their OS error in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// The items of comma-separated lists `values` (a flag given several times), in order. An item
/// that starts with a double quote is quoted as a CSV field is, so that it may hold commas (a
/// quote inside is doubled); with `after_colon`, so is the part after an item's first `:`
/// (`sum:"a,b"`). Other quotes are kept as they are.
pub(crate) fn split_lists(values: &[String], what: &str, after_colon: bool) -> Result<Vec<String>> {
    let mut items = Vec::new();
    for v in values {
        items.extend(split_list(v, after_colon).with_context(|| format!("{what} {v:?}"))?);
    }
    Ok(items)
}

fn split_list(s: &str, after_colon: bool) -> Result<Vec<String>> {
    let mut items = Vec::new();
    let mut item = String::new();
    // Whether a quote here opens a quoted run: at the item's start, or right after its first
    // `:` with `after_colon`.
    let mut quotable = true;
    let mut colon_seen = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quotable => {
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            item.push('"');
                        }
                        Some('"') => break,
                        Some(q) => item.push(q),
                        None => anyhow::bail!("a quote is not closed"),
                    }
                }
                if let Some(&next) = chars.peek()
                    && next != ','
                {
                    anyhow::bail!(
                        "{next:?} after a closing quote (a quote inside quotes is doubled)"
                    );
                }
                quotable = false;
            }
            ',' => {
                items.push(std::mem::take(&mut item));
                (quotable, colon_seen) = (true, false);
            }
            _ => {
                quotable = after_colon && c == ':' && !colon_seen;
                colon_seen |= c == ':';
                item.push(c);
            }
        }
    }
    items.push(item);
    Ok(items)
}

/// `--explain` of `filter` and of the commands taking `--where`: prints the filter's plan and
/// returns true (the command does nothing else); false when not asked.
fn explain_only(command: &Command, out: &mut impl Write) -> Result<bool> {
    let (path, expr, json) = match command {
        Command::Filter { dataset, expr, json, explain: true, .. } => (dataset, expr, *json),
        Command::Info { path, json, filter: Where { expr: Some(e), explain: true }, .. }
        | Command::Cat { path, json, filter: Where { expr: Some(e), explain: true }, .. }
        | Command::Groupby {
            dataset: path,
            json,
            filter: Where { expr: Some(e), explain: true },
            ..
        }
        | Command::Stats { path, json, filter: Some(e), explain: true, .. } => (path, e, *json),
        Command::Copy { src: path, filter: Some(e), explain: true, .. } => (path, e, false),
        _ => return Ok(false),
    };
    let ds = if larder::dataset::Dataset::is_dataset(path) {
        larder::Dataset::open(path)?
    } else if let Some((ds, _)) = larder::Dataset::of_column_file(path)? {
        ds
    } else {
        anyhow::bail!(
            "--where filters the rows of a dataset (a directory with manifest.json); {} is not \
             one",
            path.display()
        );
    };
    let f = larder::query::Filter::new(&ds, expr)
        .with_context(|| format!("planning the filter over {}", path.display()))?;
    if json {
        writeln!(out, "{}", serde_json::to_string(f.plan())?)?;
    } else {
        write!(out, "{}", f.plan())?;
    }
    Ok(true)
}

/// `larder cat`: a dataset's table, a dataset group's, or one array's values.
fn run_cat(command: Command, out: &mut impl Write) -> Result<()> {
    let Command::Cat { path, deltas, slice, json, all, filter } = command else {
        unreachable!("run_cat is given cat commands only")
    };
    let group =
        if deltas.paths.is_empty() { larder::ops::group::GroupSource::open(&path)? } else { None };
    let filter = filter.of_opened(&path, group.is_some())?;
    let selection = match &slice {
        Some(s) => Selection::parse(s)?,
        None => Selection::all(),
    };
    let format = match (json, all) {
        (true, _) => TextFormat::Json,
        (false, true) => TextFormat::TextAll,
        (false, false) => TextFormat::Text,
    };
    if let Some(g) = &group {
        group_cli::cat(out, g, filter, &selection, format)?;
    } else if deltas.paths.is_empty() && larder::dataset::Dataset::is_dataset(&path) {
        // As pandas wraps a wide frame: to the terminal's `COLUMNS`, else 80.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&w| w > 0)
            .unwrap_or(larder::ops::table::LINE_WIDTH);
        larder::ops::table::cat_dataset_where(&path, filter, &selection, format, width, out)?;
    } else if deltas.paths.is_empty() {
        larder::ops::cat::cat(&path, &selection, format, out)?;
    } else {
        larder::ops::cat::cat_with_deltas(&path, &deltas.paths, &selection, format, out)?;
    }

    Ok(())
}

/// `larder filter` and `larder take`.
fn run_subset(command: Command, out: &mut impl Write) -> Result<()> {
    match command {
        Command::Filter { dataset, out: dst, expr, columns, rows, mask, json, .. } => {
            use larder::ops::subset::{Output, filter};
            let columns = split_lists(&columns, "--columns", false)?;
            let columns = (!columns.is_empty()).then_some(columns.as_slice());
            let (dst, output) = match (dst, rows, mask) {
                (_, Some(r), _) => (r, Output::Rows),
                (_, _, Some(m)) => (m, Output::Mask),
                (Some(d), None, None) => (d, Output::Dataset),
                (None, None, None) => anyhow::bail!("give OUT, --rows or --mask"),
            };
            let r = filter(&dataset, &expr, &dst, output, columns)
                .with_context(|| format!("filtering {}", dataset.display()))?;
            subset_report(out, &r, &dst, json)?;
        }
        Command::Take { dataset, out: dst, rows, columns, json } => {
            let columns = split_lists(&columns, "--columns", false)?;
            let columns = (!columns.is_empty()).then_some(columns.as_slice());
            let n = larder::Dataset::open(&dataset)?.rows();
            let r = match take_rows(&rows, n)? {
                TakeRows::File(a) => {
                    larder::ops::subset::take(&dataset, a.as_slice()?, &dst, columns)
                }
                TakeRows::List(v) => larder::ops::subset::take(&dataset, &v, &dst, columns),
            }
            .with_context(|| format!("taking rows of {}", dataset.display()))?;
            subset_report(out, &r, &dst, json)?;
        }
        _ => {}
    }
    Ok(())
}

/// What `filter` and `take` wrote.
fn subset_report(
    out: &mut impl Write,
    r: &larder::ops::subset::SubsetReport,
    dst: &std::path::Path,
    json: bool,
) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
    } else {
        writeln!(out, "{}: {} of {} rows", dst.display(), r.rows, r.source_rows)?;
    }
    Ok(())
}

/// The rows `take --rows` names.
enum TakeRows {
    File(larder::MmapArray<i64>),
    List(Vec<i64>),
}

/// `--rows FILE|LIST|RANGE` of a dataset of `n` rows.
fn take_rows(arg: &str, n: u64) -> Result<TakeRows> {
    let path = std::path::Path::new(arg);
    if path.is_file() {
        let a = larder::MmapArray::<i64>::open(path)?;
        if a.shape().len() != 1 {
            anyhow::bail!("--rows {arg}: holds shape {:?}; row numbers are 1-d", a.shape());
        }
        return Ok(TakeRows::File(a));
    }
    let int = |t: &str| -> Result<i64> {
        t.trim().parse().with_context(|| format!("--rows {arg:?}: {t:?} is not a row number"))
    };
    let Some((start, rest)) = arg.split_once(':') else {
        if !arg.contains(',') && !arg.trim_start_matches('-').chars().all(|c| c.is_ascii_digit()) {
            anyhow::bail!(
                "--rows {arg:?}: no such file, and not a list (3,1,-1) or a range (10:20)"
            );
        }
        return Ok(TakeRows::List(arg.split(',').map(int).collect::<Result<_>>()?));
    };
    let (end, stride) = match rest.split_once(':') {
        Some((a, b)) => (a, b),
        None => (rest, ""),
    };
    let opt = |t: &str| if t.trim().is_empty() { Ok(None) } else { int(t).map(Some) };
    let step = opt(stride)?.unwrap_or(1);
    if step == 0 {
        anyhow::bail!("--rows {arg:?}: the step cannot be zero");
    }
    let n = i64::try_from(n)?;
    // Python's slice.indices(n).
    let clamp = |v: i64, lo: i64, hi: i64| {
        let v = if v < 0 { v + n } else { v };
        v.clamp(lo, hi)
    };
    let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let start = opt(start)?.map_or(if step > 0 { lo } else { hi }, |v| clamp(v, lo, hi));
    let limit = opt(end)?.map_or(if step > 0 { hi } else { lo }, |v| clamp(v, lo, hi));
    let mut rows = Vec::new();
    let mut r = start;
    while (step > 0 && r < limit) || (step < 0 && r > limit) {
        rows.push(r);
        r += step;
    }
    Ok(TakeRows::List(rows))
}

/// `--range LO,HI`: two numbers.
fn parse_range(s: &str) -> std::result::Result<(f64, f64), String> {
    let bad = || format!("expected LO,HI (two numbers), got {s:?}");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    Ok((lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?))
}

/// Seconds a caught SIGINT or SIGTERM waits for the copy to stop and clean up before the
/// process ends by the signal anyway (a request that hangs, say).
const CLEANUP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// For the commands that write (`copy`, `convert`): SIGINT and SIGTERM become an error, so
/// the command removes what it wrote (or keeps what `--resume` continues) as on any failure; a watchdog ends the process by the signal if that takes longer than
/// [`CLEANUP_GRACE`] (a second signal ends it at once). What is left then is removed by the
/// next copy to the same place.
fn catch_interrupts() {
    if larder::catch_interrupts().is_err() {
        return;
    }
    std::thread::spawn(|| {
        loop {
            if let Some(signal) = larder::interrupted() {
                std::thread::sleep(CLEANUP_GRACE);
                larder::die_of(signal);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every command that writes: copy, and convert (an append too).
    if matches!(
        cli.command,
        Command::Copy { .. } | Command::Convert(_) | Command::Filter { .. } | Command::Take { .. }
    ) {
        catch_interrupts();
    }
    let result = run(cli);
    if let (Some(signal), Err(e)) = (larder::interrupted(), &result) {
        // Stopped and cleaned up: end as the signal would have, for the shell and the caller.
        // (A copy the signal reached only after it was complete reports its success.)
        eprintln!("larder: {}", one_line(e));
        larder::die_of(signal);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`larder cat big.npy | head`) is not an error worth a message.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<larder::Error>().is_some_and(|l| {
                        matches!(l, larder::Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
                    })
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("larder: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn lists_split_on_commas_outside_quotes() {
        let split = |s: &str, colon| split_list(s, colon).unwrap();
        assert_eq!(split("a,b", false), ["a", "b"]);
        assert_eq!(split("\"a,b\",c", false), ["a,b", "c"]);
        assert_eq!(split("\"say \"\"hi\"\"\"", false), ["say \"hi\""]);
        assert_eq!(split("x\"y,z", false), ["x\"y", "z"], "a quote inside is kept");
        assert_eq!(split("sum:\"a,b\",count", true), ["sum:a,b", "count"]);
        assert_eq!(split("sum:a:\"b\"", true), ["sum:a:\"b\""], "only after the first colon");
        assert_eq!(split("a:\"b,c\"", false), ["a:\"b", "c\""]);
        assert_eq!(split("sum:,count", true), ["sum:", "count"]);
        assert_eq!(split("", false), [""]);
        for bad in ["\"a", "\"a\"b", "sum:\"a"] {
            assert!(split_list(bad, true).is_err(), "{bad}");
        }
    }
}
