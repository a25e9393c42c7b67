//! [`RemoteNpy`]: an `.npy` in object storage, read with ranged GETs (nothing is mapped).
//!
//! The header is fetched once; a region is then one request for the bytes from its first
//! element to its last, or, when those bytes would be much more than the region holds (a
//! column of a wide array), one request per slab along the outermost axis, recursively.

use std::marker::PhantomData;
use std::path::PathBuf;

use ndarray::{ArrayD, CowArray, IxDyn};

use super::header::{Header, MAGIC};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::remote::Bucket;
use crate::store::{ArrayRead, Format};

/// Bytes a region may fetch beyond what it holds before it is split into smaller requests.
const SLACK: u64 = 1 << 20;

/// Bytes of one ranged request when a long span is fetched in pieces.
const PIECE: u64 = 16 << 20;

/// The longest header read (numpy's are a few hundred bytes).
const MAX_HEADER: u64 = 1 << 24;

/// A read-only `.npy` array in object storage.
pub struct RemoteNpy<T: Element> {
    bucket: Bucket,
    key: String,
    /// `s3://bucket/key`, for errors.
    url: PathBuf,
    header: Header,
    /// Stored shape as C order sees it: reversed for a Fortran-order file.
    stored: Vec<usize>,
    blocks: Vec<usize>,
    /// Pieces of a long span fetched at once.
    concurrency: usize,
    _t: PhantomData<T>,
}

impl<T: Element> std::fmt::Debug for RemoteNpy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteNpy").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The header of the `.npy` object `key`, and the object's size.
///
/// # Errors
/// [`Error::Remote`] naming the object when it cannot be read; [`Error::Format`] for a bad
/// header; [`Error::Truncated`] when the object is shorter than its header promises.
pub fn read_remote_header(bucket: &Bucket, key: &str) -> Result<Header> {
    let url = PathBuf::from(bucket.url(key));
    // numpy's headers fit in the first 4 KiB: one request reads it and tells the size.
    let (head, size) = bucket
        .get_start(key, 4096)?
        .ok_or_else(|| Error::remote(bucket.url(key), "no such object"))?;
    if head.len() < 10 || &head[..MAGIC.len()] != MAGIC {
        return Err(Error::format(&url, 0, "not a .npy file (bad magic string)"));
    }
    let total = match head[6] {
        1 => 10 + u64::from(u16::from_le_bytes([head[8], head[9]])),
        _ if head.len() >= 12 => {
            12 + u64::from(u32::from_le_bytes([head[8], head[9], head[10], head[11]]))
        }
        _ => return Err(Error::format(&url, 8, "file ends inside the header length")),
    };
    if total > MAX_HEADER {
        return Err(Error::format(&url, 8, format!("header of {total} bytes is too long")));
    }
    let bytes = if total <= head.len() as u64 {
        head.slice(..usize::try_from(total).unwrap_or(usize::MAX))
    } else {
        bucket.get_range(key, 0..total.min(size))?
    };
    let header = Header::parse(&bytes).map_err(|e| e.at(&url))?;
    let needed = header
        .data_len()
        .ok_or_else(|| Error::format(&url, 0, "the shape's byte size does not fit in 64 bits"))?;
    let available = size.saturating_sub(header.data_offset as u64);
    if available < needed {
        return Err(Error::Truncated {
            path: url,
            shape: header.shape.clone(),
            dtype: header.dtype.typestr(),
            needed,
            available,
        });
    }
    Ok(header)
}

impl<T: Element> RemoteNpy<T> {
    /// Opens the `.npy` object `key` in `bucket`: reads its header and checks its size.
    ///
    /// # Errors
    /// As [`read_remote_header`]; [`Error::DTypeMismatch`] if it does not hold `T`.
    pub fn open(bucket: &Bucket, key: &str) -> Result<Self> {
        let header = read_remote_header(bucket, key)?;
        let url = PathBuf::from(bucket.url(key));
        if header.dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: url,
                expected: DType::of::<T>().typestr(),
                found: header.dtype.typestr(),
            });
        }
        let mut stored = header.shape.clone();
        if header.fortran_order {
            stored.reverse();
        }
        // Blocks of about 16 MiB: each is one request, large enough for the server's latency
        // not to dominate.
        let mut blocks = crate::grid::contiguous_chunks(
            &header.shape,
            header.dtype.itemsize(),
            header.fortran_order,
        );
        if !blocks.is_empty() {
            let axis = if header.fortran_order { blocks.len() - 1 } else { 0 };
            blocks[axis] = (blocks[axis].saturating_mul(4)).min(header.shape[axis]).max(1);
        }
        Ok(RemoteNpy {
            bucket: bucket.clone(),
            key: key.to_string(),
            url,
            header,
            stored,
            blocks,
            concurrency: 1,
            _t: PhantomData,
        })
    }

    /// A span of more than 16 MiB is fetched in 16 MiB pieces, up to `n` of them at once.
    pub fn concurrency(&mut self, n: usize) -> &mut Self {
        self.concurrency = n.max(1);
        self
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the C-order region (`start`, `shape`) of the stored layout into `out`, in order.
    fn fetch(&self, start: &[usize], shape: &[usize], out: &mut Vec<T>) -> Result<()> {
        let item = self.header.dtype.itemsize() as u64;
        let strides = c_strides(&self.stored);
        let offset = |idx: &[usize]| -> u64 {
            idx.iter().zip(&strides).map(|(&i, &s)| (i as u64) * (s as u64)).sum::<u64>() * item
        };
        let last: Vec<usize> = start.iter().zip(shape).map(|(&s, &n)| s + n - 1).collect();
        let (lo, hi) = (offset(start), offset(&last) + item);
        let want: u64 = shape.iter().map(|&n| n as u64).product::<u64>() * item;
        if hi - lo > want.saturating_mul(2) + SLACK && shape.len() > 1 && shape[0] > 1 {
            let mut s = start.to_vec();
            let mut one = shape.to_vec();
            one[0] = 1;
            for i in start[0]..start[0] + shape[0] {
                s[0] = i;
                self.fetch(&s, &one, out)?;
            }
            return Ok(());
        }
        let base = self.header.data_offset as u64;
        if hi - lo == want {
            // The region is the whole span: its values go straight to `out`.
            let at = out.len();
            out.resize(at + usize::try_from(want / item).unwrap_or(0), T::default());
            return self.fetch_into(base + lo, &mut out[at..]);
        }
        let bytes = self.bucket.get_range(&self.key, base + lo..base + hi)?;
        let mut span = bytes.to_vec();
        drop(bytes);
        if !self.header.dtype.is_native() {
            self.header.dtype.swap_bytes(&mut span)?;
        }
        let values = values_of::<T>(&self.url, &span)?;
        // The span holds more than the region: pick the region's elements out of it.
        let first = usize::try_from(lo / item)
            .map_err(|_| Error::internal("an offset past the address space"))?;
        let mut idx = start.to_vec();
        let total: usize = shape.iter().product();
        for _ in 0..total {
            let at: usize = idx.iter().zip(&strides).map(|(&i, &s)| i * s).sum::<usize>() - first;
            out.push(values[at]);
            for k in (0..idx.len()).rev() {
                idx[k] += 1;
                if idx[k] < start[k] + shape[k] {
                    break;
                }
                idx[k] = start[k];
            }
        }
        Ok(())
    }
}

impl<T: Element> RemoteNpy<T> {
    /// Fills `out` with the values stored from byte `at` on, in pieces of [`PIECE`] bytes,
    /// up to `concurrency` requests at once, each piece converted into its place.
    fn fetch_into(&self, at: u64, out: &mut [T]) -> Result<()> {
        let item = self.header.dtype.itemsize();
        let per = usize::try_from(PIECE).unwrap_or(usize::MAX) / item;
        let pieces: Vec<(u64, &mut [T])> = out
            .chunks_mut(per.max(1))
            .enumerate()
            .map(|(i, c)| (at + (i * per * item) as u64, c))
            .collect();
        let one = |(from, dst): (u64, &mut [T])| -> Result<()> {
            let bytes = self.bucket.get_range(&self.key, from..from + (dst.len() * item) as u64)?;
            if self.header.dtype.is_native() {
                dst.copy_from_slice(&values_of::<T>(&self.url, &bytes)?);
            } else {
                let mut raw = bytes.to_vec();
                self.header.dtype.swap_bytes(&mut raw)?;
                dst.copy_from_slice(&values_of::<T>(&self.url, &raw)?);
            }
            Ok(())
        };
        let workers = self.concurrency.min(pieces.len()).max(1);
        if workers == 1 {
            return pieces.into_iter().try_for_each(one);
        }
        let queue = std::sync::Mutex::new(pieces.into_iter());
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        loop {
                            let next = queue
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .next();
                            match next {
                                Some(p) => one(p)?,
                                None => return Ok(()),
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| Err(Error::internal("a read thread panicked")))
            })
        })
    }
}

fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    strides
}

/// Native-order element bytes as values (`bool` bytes checked to be 0 or 1).
fn values_of<T: Element>(url: &std::path::Path, bytes: &[u8]) -> Result<Vec<T>> {
    use bytemuck::checked::{CheckedCastError, try_cast_slice, try_pod_read_unaligned};
    let bad = || Error::format(url, 0, "a bool element is not 0 or 1");
    match try_cast_slice::<u8, T>(bytes) {
        Ok(v) => Ok(v.to_vec()),
        Err(CheckedCastError::InvalidBitPattern) => Err(bad()),
        Err(CheckedCastError::PodCastError(_)) => bytes
            .chunks_exact(std::mem::size_of::<T>())
            .map(|c| try_pod_read_unaligned::<T>(c).map_err(|_| bad()))
            .collect(),
    }
}

impl<T: Element> ArrayRead<T> for RemoteNpy<T> {
    fn format(&self) -> Format {
        Format::Npy
    }
    fn shape(&self) -> &[usize] {
        &self.header.shape
    }
    fn dtype(&self) -> DType {
        self.header.dtype
    }
    fn chunk_shape(&self) -> &[usize] {
        &self.blocks
    }
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(&self.header.shape)?;
        let shape = region.shape().to_vec();
        let mut out = Vec::with_capacity(shape.iter().product());
        if shape.contains(&0) {
            // Nothing to read.
        } else if self.header.shape.is_empty() {
            self.fetch(&[], &[], &mut out)?;
        } else if self.header.fortran_order {
            let start: Vec<usize> = region.start().iter().rev().copied().collect();
            let rshape: Vec<usize> = shape.iter().rev().copied().collect();
            self.fetch(&start, &rshape, &mut out)?;
            let a = ArrayD::from_shape_vec(IxDyn(&rshape), out)
                .map_err(|e| Error::internal(e.to_string()))?;
            return Ok(CowArray::from(a.reversed_axes().as_standard_layout().into_owned()));
        } else {
            self.fetch(region.start(), &shape, &mut out)?;
        }
        let a = ArrayD::from_shape_vec(IxDyn(&shape), out)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(CowArray::from(a))
    }
}
