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
    /// Statistics of an array in one streaming pass: count, sum, mean, std, min, max, NaN count.
    Stats {
        /// The array file.
        path: PathBuf,
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
        /// Also compute these quantiles (comma-separated, in [0, 1]), as `np.nanquantile`.
        #[arg(long, value_delimiter = ',', conflicts_with = "axis")]
        quantile: Vec<f64>,
    },
    /// Group the rows of a converted dataset by a categorical or small-range integer column.
    Groupby {
        /// The dataset directory (with manifest.json).
        dataset: PathBuf,
        /// The column to group by.
        #[arg(long)]
        by: String,
        /// Aggregates, comma-separated: count, count:COL, sum:COL, mean:COL, min:COL, max:COL.
        #[arg(long, value_delimiter = ',', required = true)]
        agg: Vec<String>,
        /// Print JSON: {"by", "keys", "aggregates": {NAME: [one value per group]}}.
        #[arg(long)]
        json: bool,
    },
    /// Copy an array to a new file, streaming; writes native byte order, C order.
    Copy {
        /// Source array file.
        src: PathBuf,
        /// Destination; replaced only once the copy is complete.
        dst: PathBuf,
    },
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
        Command::Stats { path, axis, json, bins, quantile } => {
            stats(&mut out, &path, axis, json, bins, &quantile)?;
        }
        Command::Groupby { dataset, by, agg, json } => {
            groupby(&mut out, &dataset, &by, &agg, json)?;
        }
        Command::Copy { src, dst } => {
            let report = larder::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            eprintln!("copied {} elements, {} bytes written", report.elements, report.bytes);
        }
    }
    out.flush()?;
    Ok(())
}

/// `larder stats`: whole-array or per-axis statistics, as text or JSON.
fn stats(
    out: &mut impl Write,
    path: &std::path::Path,
    axis: Option<usize>,
    json: bool,
    bins: Option<usize>,
    quantile: &[f64],
) -> Result<()> {
    if let Some(axis) = axis {
        let r = larder::compute::summary_axis_any(path, axis)?;
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            let v = serde_json::to_value(&r)?;
            for key in
                ["dtype", "axis", "shape", "count", "sum", "mean", "std", "min", "max", "nan_count"]
            {
                writeln!(out, "{key:<10} {}", v[key])?;
            }
        }
    } else {
        let r = larder::compute::stats(path, bins, quantile)?;
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            let v = serde_json::to_value(&r)?;
            for key in [
                "dtype",
                "count",
                "nan_count",
                "sum",
                "mean",
                "std",
                "var",
                "min",
                "max",
                "histogram",
                "quantiles",
            ] {
                if let Some(value) = v.get(key) {
                    writeln!(out, "{key:<10} {value}")?;
                }
            }
        }
    }
    Ok(())
}

/// `larder groupby`: one row per group, as a table or JSON.
fn groupby(
    out: &mut impl Write,
    dataset: &std::path::Path,
    by: &str,
    agg: &[String],
    json: bool,
) -> Result<()> {
    let aggs =
        agg.iter().map(|a| a.parse::<larder::compute::Agg>()).collect::<Result<Vec<_>, _>>()?;
    let r = larder::compute::groupby(dataset, by, &aggs)
        .with_context(|| format!("grouping {} by {by}", dataset.display()))?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    } else {
        let mut header = vec![by.to_string()];
        header.extend(r.columns.iter().map(|c| c.0.clone()));
        writeln!(out, "{}", header.join("\t"))?;
        for (i, key) in r.keys.iter().enumerate() {
            let mut row = vec![serde_json::to_string(key)?];
            for (_, values) in &r.columns {
                row.push(serde_json::to_string(&values[i])?);
            }
            writeln!(out, "{}", row.join("\t"))?;
        }
    }
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
