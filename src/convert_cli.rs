//! `larder convert`: its arguments, the progress bar, and the summary it prints.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::parse_size;

#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)] // each flag is a separate user choice
pub(crate) struct ConvertArgs {
    /// The CSV files (plain, gzip or zstd), converted as one table, or `-` for standard input;
    /// then the dataset directory to create, which appears only once the conversion is
    /// complete (with --append: the existing dataset). A quoted name with `*` or `?` in its
    /// last part stands for the files that match.
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
    #[arg(long = "type", value_name = "NAME=TYPE", allow_hyphen_values = true)]
    types: Vec<String>,
    /// Convert only these columns, in this order (comma-separated or repeated; a name
    /// holding a comma goes in double quotes, as in CSV: "a,b").
    #[arg(long, allow_hyphen_values = true)]
    columns: Option<Vec<String>>,
    /// Value stored for missing values of an integer or bool column, NAME=VALUE; repeatable.
    /// Without it they are stored as 0 / false and marked in the column's validity file
    /// (NAME.valid.npy).
    #[arg(long, value_name = "NAME=VALUE", allow_hyphen_values = true)]
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
    /// Continue an interrupted conversion into `OUT_DIR` (after a crash, kill or full disk), or
    /// an interrupted append.
    #[arg(long)]
    resume: bool,
    /// Add the rows to the existing dataset `OUT_DIR` under its schema, exactly once: a file
    /// loaded into it before (same size and content) is refused; atomic (readers see the
    /// dataset before or after, never half).
    #[arg(long)]
    append: bool,
    /// With --append: skip the files loaded into the dataset before instead of refusing them,
    /// so a retried pipeline step changes nothing.
    #[arg(long, requires = "append")]
    skip_loaded: bool,
    /// Also build the dataset's zone maps once it is complete, as `larder index` does (with
    /// --append: when the dataset has none; an append extends existing ones anyway). Opt-in:
    /// a pass over the written columns, which costs more than the 1 % of a conversion that
    /// writing them as the columns are written would (docs/format.md, "Zone maps").
    #[arg(long)]
    zones: bool,
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
        .skip_loaded(args.skip_loaded)
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
        opts.columns(crate::split_lists(c, "--columns", false)?);
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
pub(crate) fn convert(args: &ConvertArgs, out: &mut impl Write) -> Result<()> {
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
    let result = if args.append {
        opts.append_files(inputs, out_dir, &mut bar).map(Done::Append)
    } else {
        opts.convert_files(inputs, out_dir, &mut bar).map(Done::Convert)
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if drew {
                eprint!("\r\x1b[K");
            }
            return Err(with_hint(e, args, inputs));
        }
    };
    build_zones(args, out_dir)?;
    let report = match report {
        Done::Convert(r) => r,
        Done::Append(r) => {
            if drew {
                eprint!("\r\x1b[K");
            }
            return print_append(args, out_dir, &r, start.elapsed().as_secs_f64(), out);
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
            "complete_before": report.complete_before,
            "notes": report.notes,
        });
        writeln!(out, "{j}")?;
    }
    if !args.quiet && report.complete_before {
        eprintln!(
            "{}: already converted from these inputs; nothing to resume, nothing changed ({} \
             rows)",
            report.out_dir.display(),
            m.rows
        );
    } else if !args.quiet {
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

/// What `larder convert` did.
enum Done {
    Convert(larder::convert::ConvertReport),
    Append(larder::convert::AppendReport),
}

/// `--zones`: the zone maps of the complete dataset (after an append, only if it has none:
/// the append extended those it had).
fn build_zones(args: &ConvertArgs, out_dir: &std::path::Path) -> Result<()> {
    let has = out_dir.join(larder::zones::ZONES_DIR).join(larder::zones::ZONES_INDEX).exists();
    if args.zones && !(args.append && has) {
        larder::zones::build(out_dir)
            .with_context(|| format!("building the zone maps of {}", out_dir.display()))?;
    }
    Ok(())
}

/// Prints the summary of an append.
// Rates and sizes for display only: float rounding does not matter.
#[allow(clippy::cast_precision_loss)]
fn print_append(
    args: &ConvertArgs,
    dataset: &std::path::Path,
    r: &larder::convert::AppendReport,
    secs: f64,
    out: &mut impl Write,
) -> Result<()> {
    let peak = larder::peak_rss();
    let mbps = r.bytes_this_run as f64 / secs.max(1e-9) / 1e6;
    if args.json {
        let j = serde_json::json!({
            "dataset": dataset,
            "appended": r.load,
            "rows": r.manifest.rows,
            "skipped": r.skipped,
            "bytes": r.bytes_this_run,
            "seconds": secs,
            "mb_per_s": mbps,
            "peak_rss_bytes": peak,
            "resumed": r.resumed,
            "complete_before": r.complete_before,
        });
        writeln!(out, "{j}")?;
    }
    if args.quiet {
        return Ok(());
    }
    if r.complete_before {
        eprintln!(
            "{}: already appended: every input was loaded before and no append is pending; \
             nothing changed ({} rows)",
            dataset.display(),
            r.manifest.rows
        );
        return Ok(());
    }
    for p in &r.skipped {
        eprintln!("note: {} skipped: it was loaded into the dataset before", p.display());
    }
    let peak = peak.map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / 1_048_576.0));
    match &r.load {
        Some(l) => eprintln!(
            "{}: {} rows appended (rows {} to {}), {} rejected{}; {} rows now; {:.1} MB in {:.2} s \
             ({:.1} MB/s){}; peak memory {}",
            dataset.display(),
            l.rows,
            l.first_row,
            l.first_row + l.rows,
            l.rejected,
            l.rejects.as_ref().map_or(String::new(), |f| format!(" (see {f})")),
            r.manifest.rows,
            r.bytes_this_run as f64 / 1e6,
            secs,
            mbps,
            if r.resumed { ", resumed" } else { "" },
            peak
        ),
        None => eprintln!("{}: nothing to append; {} rows", dataset.display(), r.manifest.rows),
    }
    Ok(())
}

/// `e` in the context of the command, with the option that helps where there is one (the
/// library's errors name no flags).
fn with_hint(e: larder::Error, args: &ConvertArgs, inputs: &[PathBuf]) -> anyhow::Error {
    let hint = match &e {
        larder::Error::Io { source, .. } if source.kind() == io::ErrorKind::StorageFull => {
            Some("the disk is full: free some space, then run the same command with --resume")
        }
        larder::Error::Interrupted { .. } => {
            Some("run the same command with --resume to continue it")
        }
        larder::Error::Rejected { .. } => {
            Some("the limit of --max-rejects (or --strict) was reached")
        }
        larder::Error::AllRejected { .. } => {
            Some("no record fits: check the delimiter (-d) and the types given (--type, --schema)")
        }
        larder::Error::Invalid { reason, .. } if reason.contains("loaded into") => {
            Some("--skip-loaded skips the files loaded before")
        }
        _ => None,
    };
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let what = if args.append { "appending" } else { "converting" };
    let e = match hint {
        Some(hint) => anyhow::Error::new(Hinted { error: e, hint }),
        None => anyhow::Error::new(e),
    };
    e.context(format!("{what} {}", names.join(", ")))
}

/// A library error and the option that helps, told after it: `appending x.csv: x.csv: was
/// loaded into d before …; --skip-loaded skips the files loaded before`.
#[derive(Debug)]
struct Hinted {
    error: larder::Error,
    hint: &'static str,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.error, self.hint)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
