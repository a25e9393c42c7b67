//! `larder bench chunked`: times larder on the operations the peer scripts in `benches/peers/`
//! time for zarr-python and h5py, and reports JSON. [`read`] times reads of an array that
//! already exists (`larder bench read`).

pub(crate) mod cow;
pub(crate) mod pattern;
pub(crate) mod read;

use std::path::Path;
use std::time::Instant;

use ndarray::{ArrayD, IxDyn};
use serde::Serialize;

use larder::MmapArray;
use larder::{ArrayWrite, Format, guess_format};
use larder::{Codec, ZarrArray, ZarrOptions};
use larder::{Error, Region, Result};

/// A benchmark of a 1-d float64 array of random values: write it, read it whole, and read many
/// short random slices.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedBench {
    elements: usize,
    chunk: usize,
    codec: Option<Codec>,
    reads: usize,
    read_len: usize,
    inner: Option<usize>,
    seed: u64,
}

/// Timings of one [`ChunkedBench`] run, in seconds.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ChunkedBenchResult {
    /// Always `larder`.
    pub(crate) tool: &'static str,
    /// `zarr`, `hdf5` or `npy`.
    pub(crate) format: &'static str,
    /// Elements in the array.
    pub(crate) elements: usize,
    /// Elements per chunk.
    pub(crate) chunk: usize,
    /// Compression used.
    pub(crate) codec: String,
    /// Zarr only: elements per inner chunk when each chunk is a shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) inner_chunk: Option<usize>,
    /// Bytes on disk after writing.
    pub(crate) bytes: u64,
    /// Seconds to write the whole array from memory, flushed.
    pub(crate) write_s: f64,
    /// Seconds to read the whole array into memory.
    pub(crate) read_s: f64,
    /// Seconds for all the random reads together.
    pub(crate) random_reads_s: f64,
    /// Number of random reads.
    pub(crate) reads: usize,
    /// Elements per random read.
    pub(crate) read_len: usize,
    /// Sum of everything read at random (printed so the reads cannot be optimised away).
    pub(crate) checksum: f64,
}

/// A small fixed-seed generator (xorshift64*), so every run and every tool sees the same values.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    #[allow(clippy::cast_precision_loss)]
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }
}

impl ChunkedBench {
    /// An array of `elements` values in chunks of `chunk` elements; 1000 reads of 1000 elements.
    pub(crate) fn new(elements: usize, chunk: usize) -> Self {
        ChunkedBench {
            elements,
            chunk,
            codec: None,
            reads: 1000,
            read_len: 1000,
            inner: None,
            seed: 42,
        }
    }

    /// The number and length of the random reads.
    pub(crate) fn reads(&mut self, reads: usize, read_len: usize) -> &mut Self {
        self.reads = reads;
        self.read_len = read_len;
        self
    }

    /// Zarr only: store each chunk as a shard of inner chunks of `inner` elements, so a short
    /// read decodes only the inner chunks it touches.
    pub(crate) fn shard_inner(&mut self, inner: usize) -> &mut Self {
        self.inner = Some(inner);
        self
    }

    /// The compression (default zstd for Zarr, none for HDF5).
    pub(crate) fn codec(&mut self, codec: Codec) -> &mut Self {
        self.codec = Some(codec);
        self
    }

    /// Runs the benchmark, writing the array at `path` (which must not exist; its extension
    /// picks the format) and leaving it there.
    ///
    /// # Errors
    /// [`Error::Argument`] if `path` exists or has no known extension; backend errors.
    pub(crate) fn run(&self, path: &Path) -> Result<ChunkedBenchResult> {
        if path.exists() {
            return Err(Error::argument(format!("{} exists; pick a new path", path.display())));
        }
        let format = guess_format(path).ok_or_else(|| {
            Error::argument(format!("{}: name it .zarr, .h5 or .npy", path.display()))
        })?;
        if self.chunk == 0 || self.inner == Some(0) {
            return Err(Error::argument("chunks of 0 elements: give at least 1"));
        }
        let mut rng = Rng(self.seed);
        let n = self.elements;
        let data = ArrayD::from_shape_fn(IxDyn(&[n]), |_| rng.next_f64());
        let chunk = self.chunk.clamp(1, n.max(1));
        let codec = match (format, self.codec) {
            (_, Some(c)) => c,
            (Format::Zarr, None) => Codec::default(),
            _ => Codec::None,
        };

        let t = Instant::now();
        let mut store: Box<dyn ArrayWrite<f64>> = match format {
            Format::Zarr => {
                let mut o = ZarrOptions::new();
                o.chunks(&[chunk]).codec(codec);
                if let Some(inner) = self.inner {
                    o.chunks(&[inner.clamp(1, chunk)]).shard(&[chunk]);
                }
                Box::new(ZarrArray::<f64>::create(path, None, &[n], &o)?)
            }
            Format::Npy => Box::new(MmapArray::<f64>::create(path, &[n])?),
            Format::Hdf5 => hdf5_create(path, n, chunk, codec)?,
            Format::Memory => return Err(Error::argument("cannot benchmark memory")),
        };
        store.write_region(&[0], &data.view())?;
        store.flush()?;
        drop(store);
        let write_s = t.elapsed().as_secs_f64();
        drop(data);

        let store = larder::open_as::<f64>(path)?;
        let t = Instant::now();
        let all = store.read_region(&Region::whole(&[n]))?.into_owned();
        let read_s = t.elapsed().as_secs_f64();
        drop(all);

        let len = self.read_len.min(n);
        let t = Instant::now();
        let mut checksum = 0.0;
        for _ in 0..self.reads {
            let start = rng.below(n - len + 1);
            checksum += store.read_region(&Region::new(&[start], &[len])?)?.sum();
        }
        let random_reads_s = t.elapsed().as_secs_f64();

        Ok(ChunkedBenchResult {
            tool: "larder",
            format: format.as_str(),
            elements: n,
            chunk,
            codec: codec.to_string(),
            inner_chunk: self.inner.filter(|_| format == Format::Zarr),
            bytes: larder::info(path)?.bytes,
            write_s,
            read_s,
            random_reads_s,
            reads: self.reads,
            read_len: len,
            checksum,
        })
    }
}

#[cfg(feature = "hdf5")]
fn hdf5_create(
    path: &Path,
    n: usize,
    chunk: usize,
    codec: Codec,
) -> Result<Box<dyn ArrayWrite<f64>>> {
    let gzip = match codec {
        Codec::None => None,
        Codec::Gzip(l) => Some(u8::try_from(l).unwrap_or(9)),
        Codec::Zstd(_) => {
            return Err(Error::argument("HDF5 is written with gzip or no compression"));
        }
    };
    Ok(Box::new(larder::Hdf5Array::<f64>::create(path, None, &[n], &[chunk], gzip)?))
}

#[cfg(not(feature = "hdf5"))]
fn hdf5_create(_: &Path, _: usize, _: usize, _: Codec) -> Result<Box<dyn ArrayWrite<f64>>> {
    Err(Error::Unsupported("HDF5 (larder was built without the `hdf5` feature)"))
}
