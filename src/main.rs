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
mod report;
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
    #[command(flatten)]
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
    },
    /// Print the values of an array, or of a numpy-style selection of it.
    Cat {
        /// The array file.
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
    },
    /// Statistics of an array in one streaming pass: count, sum, mean, std, min, max, NaN count.
    Stats {
        /// The array file.
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
    },
    /// Group the rows of a converted dataset by a categorical, small-range integer or datetime
    /// column (time buckets with --every).
    Groupby {
        /// The dataset directory (with manifest.json).
        dataset: PathBuf,
        /// The column to group by: categorical, a small-range integer, or datetime64 (exact
        /// values, or time buckets with --every).
        #[arg(long)]
        by: String,
        /// Fixed-width time buckets of a datetime64 --by column: 1s, 15min (15m), 1h, 1d, or
        /// combinations as 1h30min (units ns, us, ms, s, min, h, d; pandas' aliases too).
        #[arg(long, value_name = "WIDTH")]
        every: Option<String>,
        /// Aggregates, comma-separated: count, count:COL, sum:COL, mean:COL, min:COL, max:COL.
        #[arg(long, value_delimiter = ',', required = true)]
        agg: Vec<String>,
        /// Print JSON: {"by", "keys", "aggregates": {NAME: [one value per group]}}.
        #[arg(long)]
        json: bool,
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
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Convert CSV files (plain, gzip or zstd) into a dataset directory: one memory-mapped .npy per column and a
    /// manifest.json (see docs/cli.md).
    Convert(ConvertArgs),
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
fn parse_size(s: &str) -> Result<u64, String> {
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

#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)] // each flag is a separate user choice
struct ConvertArgs {
    /// The CSV files (plain, gzip or zstd), converted as one table, or `-` for standard input;
    /// then the dataset directory to create, which appears only once the conversion is
    /// complete. A quoted name with `*` or `?` in its last part stands for the files that match.
    #[arg(value_name = "PATH", num_args = 1.., required = true, action = clap::ArgAction::Append)]
    paths: Vec<PathBuf>,
    /// Field delimiter: one character, or `tab`.
    #[arg(long, short = 'd', default_value = ",")]
    delimiter: String,
    /// The first line is data, not column names; columns are named `column_1`, `column_2`, …
    #[arg(long)]
    no_header: bool,
    /// Rows read to infer the types of columns that no schema or --type names.
    #[arg(long, default_value_t = larder::convert::DEFAULT_INFER_ROWS)]
    infer_rows: usize,
    /// JSON file mapping column names to types, e.g. {"duration": "f32", "region": "cat"}.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Type of one column, NAME=TYPE (bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64,
    /// cat, str, datetime64[UNIT], datetime64[UNIT]:FORMAT with a strftime FORMAT such as
    /// %d/%b/%Y:%H:%M:%S %z); repeatable; overrides --schema.
    #[arg(long = "type", value_name = "NAME=TYPE")]
    types: Vec<String>,
    /// Convert only these columns, in this order (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Value stored for missing values of an integer or bool column, NAME=VALUE; repeatable.
    /// Without it they are stored as 0 / false and marked in the column's validity file
    /// (NAME.valid.npy).
    #[arg(long, value_name = "NAME=VALUE")]
    fill: Vec<String>,
    /// Tokens that mean a missing value, comma-separated, replacing the default set (pandas'
    /// `na_values`: NA, N/A, n/a, NULL, null, NaN, nan, -NaN, -nan, None, <NA>, #N/A, #N/A N/A,
    /// #NA, 1.#IND, -1.#IND, 1.#QNAN, -1.#QNAN). The empty field is always missing.
    #[arg(long, value_name = "TOKENS", value_delimiter = ',', conflicts_with = "no_na")]
    na: Option<Vec<String>>,
    /// Only the empty field means a missing value (no tokens).
    #[arg(long)]
    no_na: bool,
    /// Store integer columns in the narrowest type that holds their values.
    #[arg(long)]
    shrink: bool,
    /// Abort when more than N records are rejected.
    #[arg(long, value_name = "N")]
    max_rejects: Option<u64>,
    /// A categorical column whose dictionary grows past N categories becomes a string column
    /// (every row kept, memory bounded).
    #[arg(long, value_name = "N", default_value_t = larder::convert::DEFAULT_MAX_CATEGORIES)]
    max_categories: u64,
    /// The same bound in bytes of category text (K, M, G suffixes).
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    max_category_bytes: u64,
    /// Abort on the first rejected record (same as --max-rejects 0).
    #[arg(long, conflicts_with = "max_rejects")]
    strict: bool,
    /// Continue an interrupted conversion into `OUT_DIR` (after a crash, kill or full disk).
    #[arg(long)]
    resume: bool,
    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Seconds between checkpoints (0: after every block); see --resume.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    checkpoint_interval: f64,
    /// Bytes per block (advanced; memory use grows with it).
    #[arg(long, hide = true, default_value_t = larder::convert::DEFAULT_BLOCK_SIZE)]
    block_size: usize,
}

fn split_pair<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    s.rsplit_once('=').with_context(|| format!("{what} {s:?}: expected NAME=VALUE"))
}

fn convert_options(args: &ConvertArgs) -> Result<larder::convert::ConvertOptions> {
    use larder::convert::{ColumnType, ConvertOptions};
    use std::time::Duration;

    let delimiter = match args.delimiter.as_str() {
        "tab" | "\\t" | "\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => anyhow::bail!("--delimiter {d:?}: expected one ASCII character or `tab`"),
    };
    let mut opts = ConvertOptions::new();
    opts.delimiter(delimiter)
        .header(!args.no_header)
        .infer_rows(args.infer_rows)
        .shrink(args.shrink)
        .max_rejects(if args.strict { Some(0) } else { args.max_rejects })
        .max_categories(args.max_categories, args.max_category_bytes)
        .resume(args.resume)
        .block_size(args.block_size)
        .checkpoint_interval(
            Duration::try_from_secs_f64(args.checkpoint_interval)
                .context("--checkpoint-interval: expected a number of seconds")?,
        );
    if let Some(s) = &args.schema {
        opts.schema_file(s);
    }
    for t in &args.types {
        let (name, spec) = split_pair(t, "--type")?;
        let (ty, format) = larder::convert::split_format(spec);
        opts.column_type(name, ty.parse::<ColumnType>().with_context(|| format!("--type {t}"))?);
        if let Some(format) = format {
            opts.datetime_format(name, format);
        }
    }
    for f in &args.fill {
        let (name, value) = split_pair(f, "--fill")?;
        opts.fill(name, value);
    }
    if let Some(c) = &args.columns {
        opts.columns(c.clone());
    }
    if args.no_na {
        opts.na_tokens(Vec::<String>::new());
    } else if let Some(tokens) = &args.na {
        opts.na_tokens(tokens.clone());
    }
    Ok(opts)
}

/// The progress bar's line after `secs` seconds: rows, rate, and for a file a bar and an ETA.
// Rates, fractions and sizes for display only: float rounding does not matter.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn progress_line(p: &larder::convert::Progress, secs: f64) -> String {
    let rate = p.bytes_this_run as f64 / secs;
    let mut line = format!("{} rows, {:.1} MB/s", p.rows_read, rate / 1e6);
    if let Some(c) = p.compressed_bytes_read {
        line = format!(
            "{line} ({:.0} MB compressed -> {:.0} MB)",
            c as f64 / 1e6,
            p.bytes_read as f64 / 1e6
        );
    }
    if let Some(total) = p.total_bytes.filter(|&t| t > 0) {
        let done = p.compressed_bytes_read.unwrap_or(p.bytes_read);
        let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
        let filled = (frac * 30.0) as usize;
        // Compressed input: the share of the compressed file is all that is known.
        let eta = match p.compressed_bytes_read {
            Some(_) => secs * (1.0 - frac) / frac.max(1e-9),
            None => total.saturating_sub(p.bytes_read) as f64 / rate.max(1.0),
        };
        line = format!(
            "[{}{}] {:5.1}%  {line}, ETA {:.0} s",
            "#".repeat(filled),
            "-".repeat(30 - filled),
            frac * 100.0,
            eta
        );
    }
    line
}

// Rates, fractions and sizes for display only: float rounding does not matter.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn convert(args: &ConvertArgs, out: &mut impl Write) -> Result<()> {
    use larder::convert::Progress;
    use std::io::IsTerminal;
    use std::time::{Duration, Instant};

    let opts = convert_options(args)?;
    let show = !args.quiet && io::stderr().is_terminal();
    let start = Instant::now();
    let mut last = start;
    let mut drew = false;
    let mut bar = |p: &Progress| {
        if !show || last.elapsed() < Duration::from_millis(100) {
            return;
        }
        last = Instant::now();
        let line = progress_line(p, start.elapsed().as_secs_f64().max(1e-9));
        eprint!("\r{line}\x1b[K");
        drew = true;
    };
    let (out_dir, inputs) = match args.paths.split_last() {
        Some((out, inputs)) if !inputs.is_empty() => (out, inputs),
        // A usage error, with clap's exit code (2).
        _ => clap::Error::raw(
            clap::error::ErrorKind::TooFewValues,
            "convert needs at least one input and the output directory: INPUT... OUT_DIR\n",
        )
        .exit(),
    };
    let report = match opts.convert_files(inputs, out_dir, &mut bar) {
        Ok(r) => r,
        Err(e) => {
            if drew {
                eprint!("\r\x1b[K");
            }
            // The library's errors name no flags; say here which one helps.
            let hint = match &e {
                larder::Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull => {
                    Some(
                        "the disk is full: free some space, then run the same command with --resume",
                    )
                }
                larder::Error::Interrupted { .. } => {
                    Some("run the same command with --resume to continue it")
                }
                larder::Error::Rejected { .. } => {
                    Some("the limit of --max-rejects (or --strict) was reached")
                }
                _ => None,
            };
            let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
            let e = anyhow::Error::new(e).context(format!("converting {}", names.join(", ")));
            return Err(match hint {
                Some(h) => e.context(h),
                None => e,
            });
        }
    };
    if drew {
        eprint!("\r\x1b[K");
    }
    let secs = start.elapsed().as_secs_f64();
    let m = &report.manifest;
    let peak = larder::peak_rss();
    let mbps = report.bytes_this_run as f64 / secs.max(1e-9) / 1e6;
    if args.json {
        let j = serde_json::json!({
            "out_dir": report.out_dir,
            "rows": m.rows,
            "rejected": m.rejected,
            "rows_read": m.rows_read,
            "bytes": report.bytes_this_run,
            "seconds": secs,
            "mb_per_s": mbps,
            "peak_rss_bytes": peak,
            "resumed": report.resumed,
            "notes": report.notes,
        });
        writeln!(out, "{j}")?;
    }
    if !args.quiet {
        for note in &report.notes {
            eprintln!("note: {note}");
        }
        let peak =
            peak.map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / 1_048_576.0));
        eprintln!(
            "{}: {} rows written, {} rejected{}; {:.1} MB in {:.2} s ({:.1} MB/s){}; peak memory {}",
            report.out_dir.display(),
            m.rows,
            m.rejected,
            if m.rejected > 0 { " (see rejects.csv)" } else { "" },
            report.bytes_this_run as f64 / 1e6,
            secs,
            mbps,
            if report.resumed { ", resumed" } else { "" },
            peak
        );
    }
    Ok(())
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
    cli.s3.apply()?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Info { path, deltas, json } => {
            report::info(&mut out, &path, &deltas.paths, json)?;
        }
        Command::Cat { path, deltas, slice, json, all } => {
            let selection = match &slice {
                Some(s) => Selection::parse(s)?,
                None => Selection::all(),
            };
            let format = match (json, all) {
                (true, _) => TextFormat::Json,
                (false, true) => TextFormat::TextAll,
                (false, false) => TextFormat::Text,
            };
            if deltas.paths.is_empty() && larder::dataset::Dataset::is_dataset(&path) {
                larder::ops::table::cat_dataset(&path, &selection, format, &mut out)?;
            } else if deltas.paths.is_empty() {
                larder::ops::cat::cat(&path, &selection, format, &mut out)?;
            } else {
                larder::ops::cat::cat_with_deltas(
                    &path,
                    &deltas.paths,
                    &selection,
                    format,
                    &mut out,
                )?;
            }
        }
        Command::Stats { path, deltas, axis, json, bins, range, quantile, no_std } => {
            let mut options = larder::compute::StatsOptions::new();
            options.std(!no_std);
            if let Some(n) = bins {
                options.bins(n);
            }
            if let Some((lo, hi)) = range {
                options.range(lo, hi);
            }
            options.quantiles(&quantile);
            report::stats(&mut out, &path, &deltas.paths, axis, json, &options)?;
        }
        Command::Groupby { dataset, by, every, agg, json } => {
            report::groupby(&mut out, &dataset, &by, every.as_deref(), &agg, json)?;
        }
        Command::Copy { src, dst, layout, deltas, resume, quiet } => {
            let mut options = larder::CopyOptions::new();
            options.deltas(&deltas.paths).resume(resume);
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
        Command::Bench { bench } => run_bench(bench, &mut out)?,
        Command::Convert(args) => convert(&args, &mut out)?,
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

/// `--range LO,HI`: two numbers.
fn parse_range(s: &str) -> std::result::Result<(f64, f64), String> {
    let bad = || format!("expected LO,HI (two numbers), got {s:?}");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    Ok((lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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
