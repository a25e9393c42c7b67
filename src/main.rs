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
    /// Describe an array: format, dtype, shape, order, chunks, size, and how much is in RAM now.
    Info {
        /// The array: FILE.npy, DIR.zarr[:/group/name] or FILE.h5[:/group/name].
        path: PathBuf,
        /// Print one JSON object; docs/cli.md lists its keys.
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
    /// Copy an array between .npy, Zarr and HDF5, streaming chunk by chunk; writes native byte
    /// order, C order.
    Copy {
        /// Source array: FILE.npy, DIR.zarr[:/path] or FILE.h5[:/path].
        src: PathBuf,
        /// Destination; its extension (.npy, .zarr, .h5/.hdf5) picks the format. An .npy is
        /// replaced only once the copy is complete; a Zarr directory must not exist yet.
        dst: PathBuf,
        #[command(flatten)]
        layout: Layout,
    },
    /// Time larder on a chunked float64 array (write, full read, random reads); prints JSON.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
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

#[derive(Subcommand)]
enum BenchCommand {
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
                match &info.version {
                    Some(v) => writeln!(out, "format:    {} (version {v})", info.format)?,
                    None => writeln!(out, "format:    {}", info.format)?,
                }
                writeln!(out, "dtype:     {}", info.dtype)?;
                writeln!(out, "shape:     {:?}", info.shape)?;
                writeln!(out, "order:     {}", info.order)?;
                if let Some(c) = &info.chunks {
                    writeln!(out, "chunks:    {c:?}")?;
                }
                if let Some(c) = &info.shards {
                    writeln!(out, "shards:    {c:?}")?;
                }
                if let Some(a) = &info.attributes {
                    writeln!(out, "attrs:     {a}")?;
                }
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
        Command::Copy { src, dst, layout } => {
            let mut options = larder::CopyOptions::new();
            if let Some(c) = &layout.chunks {
                options.chunks(&c.0);
            }
            if let Some(c) = layout.codec {
                options.codec(c);
            }
            if let Some(s) = &layout.shard {
                options.shard(&s.0);
            }
            let report = larder::copy_with(&src, &dst, &options)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            eprintln!("copied {} elements, {} bytes written", report.elements, report.bytes);
        }
        Command::Bench {
            which:
                BenchCommand::Chunked { path, elements, chunk, codec, reads, read_len, shard_inner },
        } => {
            let mut spec = larder::bench::ChunkedBench::new(elements, chunk);
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
