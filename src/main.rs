//! The `larder` command: a thin layer over the library. It parses arguments, calls the library
//! and prints; all format logic lives in the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use larder::Selection;
use larder::text::TextFormat;

/// Numeric arrays kept on disk; only the slices you touch come into memory.
#[derive(Parser)]
#[command(name = "larder", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe an array file: format, dtype, shape, order, size, and how much is in RAM now.
    Info {
        /// The array file.
        path: PathBuf,
        /// Print JSON (keys `format`, `dtype`, `shape`, `order`, `bytes`, `resident_bytes`,
        /// `version`, `data_offset`).
        #[arg(long)]
        json: bool,
    },
    /// Print the values of an array, or of a numpy-style selection of it.
    Cat {
        /// The array file.
        path: PathBuf,
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
    /// Copy an array to a new file, streaming; writes native byte order, C order.
    Copy {
        /// Source array file.
        src: PathBuf,
        /// Destination; replaced only once the copy is complete.
        dst: PathBuf,
    },
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

fn run(cli: Cli) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Info { path, json } => {
            let info = larder::info(&path)?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&info)?)?;
            } else {
                writeln!(out, "path:      {}", path.display())?;
                writeln!(out, "format:    {} (version {})", info.format, info.version)?;
                writeln!(out, "dtype:     {}", info.dtype)?;
                writeln!(out, "shape:     {:?}", info.shape)?;
                writeln!(out, "order:     {}", info.order)?;
                writeln!(out, "bytes:     {}", info.bytes)?;
                writeln!(out, "resident:  {}", info.resident_bytes)?;
            }
        }
        Command::Cat { path, slice, json, all } => {
            let selection = match &slice {
                Some(s) => Selection::parse(s)?,
                None => Selection::all(),
            };
            let format = match (json, all) {
                (true, _) => TextFormat::Json,
                (false, true) => TextFormat::TextAll,
                (false, false) => TextFormat::Text,
            };
            larder::text::cat(&path, &selection, format, &mut out)?;
        }
        Command::Copy { src, dst } => {
            let report = larder::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            eprintln!("copied {} elements, {} bytes written", report.elements, report.bytes);
        }
        Command::Bench {
            bench:
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
                },
        } => {
            let opts = larder::cow::bench::CowBenchOptions {
                size,
                base,
                fractions,
                pattern: pattern.parse()?,
                seed,
                keep,
                full_copy: !no_full_copy,
                materialize: !no_materialize,
            };
            let report = larder::cow::bench::run(&opts)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                report.write_table(&mut out)?;
            }
        }
    }
    out.flush()?;
    Ok(())
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
            eprintln!("larder: {e:#}");
            ExitCode::FAILURE
        }
    }
}
