//! The copy-on-write experiment behind `larder bench cow`.
//!
//! It writes a 1-d `<f8` base array of the requested size, then for each fraction of pages:
//! clones it, writes one element in each selected page, measures the clone's private memory,
//! saves a delta, reopens base + delta and reads one changed element, and materializes a
//! standalone `.npy`. Once per run it also measures the numpy `.copy()` way: an owned
//! in-memory copy of the whole array, and writing it out whole (`np.save`), the only way numpy
//! keeps changes to a `mmap_mode="c"` array.
//!
//! The pages are chosen by [`select_pages`], which `benches/peers/cow_numpy.py` mirrors
//! exactly so numpy edits the same pages.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;

use crate::array::MmapArray;
use crate::error::{Error, Result};
use crate::mmap::page_size;
use crate::writer::{NpyWriter, write_npy};

use super::CopyMethod;

/// Which pages a run modifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Evenly spaced over the array: page `i * pages / n` for `i` in `0..n`.
    Strided,
    /// `n` distinct pages drawn with a fixed seed (Floyd's algorithm over splitmix64).
    Random,
    /// One block of `n` consecutive pages in the middle of the array.
    Contiguous,
}

impl Pattern {
    /// `strided`, `random` or `contiguous`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pattern::Strided => "strided",
            Pattern::Random => "random",
            Pattern::Contiguous => "contiguous",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Pattern> {
        match s {
            "strided" => Ok(Pattern::Strided),
            "random" => Ok(Pattern::Random),
            "contiguous" => Ok(Pattern::Contiguous),
            _ => Err(Error::invalid(format!(
                "unknown pattern {s:?}: expected strided, random or contiguous"
            ))),
        }
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct CowBenchOptions {
    /// Bytes of array data (rounded down to whole `f64`s).
    pub size: u64,
    /// Fractions of the pages to modify, each in `[0, 1]`.
    pub fractions: Vec<f64>,
    /// Which pages.
    pub pattern: Pattern,
    /// Seed of the random pattern.
    pub seed: u64,
    /// Directory to leave the files in; a temporary one, removed afterwards, if `None`.
    pub keep: Option<PathBuf>,
}

impl Default for CowBenchOptions {
    fn default() -> Self {
        CowBenchOptions {
            size: 256 << 20,
            fractions: vec![0.001, 0.01, 0.1, 0.5, 1.0],
            pattern: Pattern::Strided,
            seed: 42,
            keep: None,
        }
    }
}

/// The numpy way: an owned copy of the whole array, saved whole.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FullCopy {
    /// Time to make an owned in-memory copy of the whole array (numpy's `.copy()`).
    pub copy_seconds: f64,
    /// Memory that copy owns.
    pub copy_bytes: u64,
    /// Time to write the whole array to a new `.npy` and sync it.
    pub save_seconds: f64,
    /// Size of that file.
    pub save_bytes: u64,
}

/// One fraction's measurements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CowRow {
    /// Fraction of the pages asked for.
    pub fraction: f64,
    /// Pages written (one element each).
    pub pages_written: u64,
    /// Time to open the base copy-on-write.
    pub clone_seconds: f64,
    /// Time for `cow()` on the open clone (a second clone).
    pub cow_seconds: f64,
    /// Time to write one element in each selected page.
    pub write_seconds: f64,
    /// Time for `dirty_pages()` (the pagemap scan).
    pub dirty_scan_seconds: f64,
    /// Pages `dirty_pages()` reported.
    pub dirty_pages: u64,
    /// `private_bytes()` after the writes.
    pub private_bytes: u64,
    /// Growth of the process's anonymous resident memory over the writes (`RssAnon` in
    /// `/proc/self/status`), an independent check of `private_bytes`; `None` off Linux.
    pub rss_anon_growth_bytes: Option<u64>,
    /// Time for `save_delta` (including `fsync`).
    pub save_seconds: f64,
    /// Size of the delta file.
    pub delta_bytes: u64,
    /// Time to open base + delta and read one changed element.
    pub reopen_seconds: f64,
    /// `private_bytes()` of the reopened array: 0 when the delta's pages were mapped, the
    /// delta's data when there were too many runs of pages and they were copied in.
    pub reopen_private_bytes: u64,
    /// Time to write a standalone `.npy` from base + delta.
    pub materialize_seconds: f64,
    /// How the base was copied for it.
    pub materialize_method: CopyMethod,
    /// True when every check of the run passed: the dirty pages are exactly the written
    /// ones, and the reopened and materialized arrays hold the written values.
    pub verified: bool,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CowBenchReport {
    /// Size of the base file.
    pub file_bytes: u64,
    /// Elements (`<f8`).
    pub elements: u64,
    /// The system's page size.
    pub page_size: u64,
    /// Pages of the base file.
    pub pages: u64,
    /// The pattern.
    pub pattern: Pattern,
    /// Seed of the random pattern.
    pub seed: u64,
    /// Where the files are, if kept.
    pub dir: Option<PathBuf>,
    /// Time to write the base file.
    pub create_seconds: f64,
    /// The numpy way, measured once.
    pub full_copy: FullCopy,
    /// One row per fraction.
    pub rows: Vec<CowRow>,
}

/// The pages a run with `pattern` modifies: `ceil(fraction * pages)` of `0..pages`, sorted.
/// `benches/peers/cow_numpy.py` computes the same list.
#[allow(clippy::cast_precision_loss)] // page counts are far below 2^52
pub fn select_pages(pages: usize, fraction: f64, pattern: Pattern, seed: u64) -> Vec<usize> {
    let want = (fraction.clamp(0.0, 1.0) * pages as f64).ceil();
    let n = if want >= pages as f64 {
        pages
    } else {
        // In range: 0 ≤ want < pages.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = want as usize;
        n
    };
    match pattern {
        Pattern::Strided => {
            (0..n).map(|i| (i as u128 * pages as u128 / n as u128) as usize).collect()
        }
        Pattern::Contiguous => {
            let start = (pages - n) / 2;
            (start..start + n).collect()
        }
        Pattern::Random => {
            let mut state = seed;
            let mut chosen = vec![false; pages];
            for j in pages - n..pages {
                let t = usize::try_from(splitmix64(&mut state) % (j as u64 + 1)).unwrap_or(0);
                if chosen[t] {
                    chosen[j] = true;
                } else {
                    chosen[t] = true;
                }
            }
            chosen.iter().enumerate().filter(|&(_, &c)| c).map(|(i, _)| i).collect()
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first element whose bytes start in `page`, for a `<f8` array whose data starts at
/// byte `offset` of the file (elements never straddle pages: `offset` is a multiple of 64).
pub fn element_in_page(page: usize, offset: usize, page_size: usize) -> usize {
    (page * page_size).saturating_sub(offset).div_ceil(8)
}

/// The value a run writes into `page`: never an integer, so it always differs from the base
/// (whose element `i` holds `i`).
#[allow(clippy::cast_precision_loss)] // page numbers are far below 2^52
pub fn value_for_page(page: usize) -> f64 {
    page as f64 + 0.5
}

/// Runs the experiment.
///
/// # Errors
/// [`Error::Invalid`] for a size under one page or a fraction outside `[0, 1]`;
/// [`Error::Io`] and the errors of the operations measured.
pub fn run(opts: &CowBenchOptions) -> Result<CowBenchReport> {
    let ps = page_size();
    if opts.size < ps as u64 {
        return Err(Error::invalid(format!("size {} is under one page ({ps} bytes)", opts.size)));
    }
    if let Some(f) = opts.fractions.iter().find(|f| !(0.0..=1.0).contains(*f)) {
        return Err(Error::invalid(format!("fraction {f} is not between 0 and 1")));
    }
    let elements = usize::try_from(opts.size / 8)
        .map_err(|_| Error::invalid(format!("size {} is too large", opts.size)))?;
    let temp;
    let dir = if let Some(d) = &opts.keep {
        fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        d.clone()
    } else {
        temp = TempDir::new()?;
        temp.0.clone()
    };
    let base = dir.join("base.npy");
    let t = Instant::now();
    write_base(&base, elements)?;
    let create_seconds = t.elapsed().as_secs_f64();
    let file_bytes = fs::metadata(&base).map_err(|e| Error::io(&base, e))?.len();
    let pages = usize::try_from(file_bytes.div_ceil(ps as u64)).unwrap_or(usize::MAX);
    let offset = MmapArray::<f64>::open(&base)?.header().data_offset;

    let full_copy = full_copy(&base, &dir.join("full.npy"), opts.keep.is_some())?;
    let mut rows = Vec::new();
    for &fraction in &opts.fractions {
        let chosen = select_pages(pages, fraction, opts.pattern, opts.seed);
        rows.push(one_fraction(&base, &dir, fraction, &chosen, offset, opts.keep.is_some())?);
    }
    Ok(CowBenchReport {
        file_bytes,
        elements: elements as u64,
        page_size: ps as u64,
        pages: pages as u64,
        pattern: opts.pattern,
        seed: opts.seed,
        dir: opts.keep.clone(),
        create_seconds,
        full_copy,
        rows,
    })
}

/// A temporary directory removed on drop (the library does not depend on `tempfile`).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let base = std::env::temp_dir();
        for i in 0..100u32 {
            let p = base.join(format!("larder-bench-cow-{}-{i}", std::process::id()));
            match fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
        Err(Error::invalid("could not create a temporary directory"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[allow(clippy::cast_precision_loss)] // element i holds i, exact below 2^53
fn write_base(path: &Path, elements: usize) -> Result<()> {
    let mut w = NpyWriter::<f64>::create(path, &[])?;
    let mut block = Vec::with_capacity(1 << 17);
    let mut i = 0;
    while i < elements {
        let end = (i + (1 << 17)).min(elements);
        block.clear();
        block.extend((i..end).map(|v| v as f64));
        w.append(&block)?;
        i = end;
    }
    w.finish()?;
    Ok(())
}

fn full_copy(base: &Path, out: &Path, keep: bool) -> Result<FullCopy> {
    let a = MmapArray::<f64>::open(base)?;
    let t = Instant::now();
    let owned = a.view()?.to_owned();
    let copy_seconds = t.elapsed().as_secs_f64();
    let copy_bytes = (owned.len() * 8) as u64;
    let t = Instant::now();
    write_npy(out, &owned)?;
    let save_seconds = t.elapsed().as_secs_f64();
    let save_bytes = fs::metadata(out).map_err(|e| Error::io(out, e))?.len();
    if !keep {
        let _ = fs::remove_file(out);
    }
    Ok(FullCopy { copy_seconds, copy_bytes, save_seconds, save_bytes })
}

fn one_fraction(
    base: &Path,
    dir: &Path,
    fraction: f64,
    chosen: &[usize],
    offset: usize,
    keep: bool,
) -> Result<CowRow> {
    let ps = page_size();
    let t = Instant::now();
    let mut clone = MmapArray::<f64>::open_cow(base)?;
    let clone_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let second = clone.cow()?;
    let cow_seconds = t.elapsed().as_secs_f64();
    drop(second);

    let rss_before = rss_anon();
    let t = Instant::now();
    {
        let mut view = clone.view_mut()?;
        let data =
            view.as_slice_mut().ok_or_else(|| Error::invalid("bench array is not contiguous"))?;
        for &p in chosen {
            data[element_in_page(p, offset, ps)] = value_for_page(p);
        }
    }
    let write_seconds = t.elapsed().as_secs_f64();
    let rss_anon_growth_bytes = rss_anon().zip(rss_before).map(|(a, b)| a.saturating_sub(b));

    let t = Instant::now();
    let dirty = clone.dirty_pages()?;
    let dirty_scan_seconds = t.elapsed().as_secs_f64();
    let private_bytes = clone.private_bytes()?;
    let mut verified = dirty == chosen;

    let tag = format!("{fraction}");
    let delta = dir.join(format!("clone-{tag}.delta"));
    let t = Instant::now();
    let report = clone.save_delta(&delta)?;
    let save_seconds = t.elapsed().as_secs_f64();
    drop(clone);

    let probe = chosen.get(chosen.len() / 2).copied();
    let t = Instant::now();
    let again = MmapArray::<f64>::open_with_delta(base, &delta)?;
    let read = match probe {
        Some(p) => Some(again.view()?[[element_in_page(p, offset, ps)]]),
        None => None,
    };
    let reopen_seconds = t.elapsed().as_secs_f64();
    let reopen_private_bytes = again.private_bytes()?;
    verified &= read.map(f64::to_bits) == probe.map(|p| value_for_page(p).to_bits());

    let out = dir.join(format!("materialized-{tag}.npy"));
    let t = Instant::now();
    let m = again.materialize(&out)?;
    let materialize_seconds = t.elapsed().as_secs_f64();
    drop(again);
    let check = MmapArray::<f64>::open(&out)?;
    let data = check.as_slice()?;
    verified &= chosen
        .iter()
        .all(|&p| data[element_in_page(p, offset, ps)].to_bits() == value_for_page(p).to_bits());
    drop(check);
    if !keep {
        let _ = fs::remove_file(&out);
        let _ = fs::remove_file(&delta);
    }
    Ok(CowRow {
        fraction,
        pages_written: chosen.len() as u64,
        clone_seconds,
        cow_seconds,
        write_seconds,
        dirty_scan_seconds,
        dirty_pages: dirty.len() as u64,
        private_bytes,
        rss_anon_growth_bytes,
        save_seconds,
        delta_bytes: report.bytes,
        reopen_seconds,
        reopen_private_bytes,
        materialize_seconds,
        materialize_method: m.method,
        verified,
    })
}

/// `RssAnon` of this process in bytes, from `/proc/self/status`.
fn rss_anon() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl CowBenchReport {
    /// Writes the report as a table for people.
    ///
    /// # Errors
    /// Errors of `w`.
    #[allow(clippy::cast_precision_loss)] // ratios for display
    pub fn write_table(&self, w: &mut impl Write) -> io::Result<()> {
        let fc = &self.full_copy;
        writeln!(
            w,
            "base: {} ({} elements <f8, {} pages of {} bytes), pattern {}",
            bytes(self.file_bytes),
            self.elements,
            self.pages,
            self.page_size,
            self.pattern
        )?;
        writeln!(
            w,
            "full copy (numpy .copy()): {} in {}; saved whole (np.save way): {} in {}",
            bytes(fc.copy_bytes),
            secs(fc.copy_seconds),
            bytes(fc.save_bytes),
            secs(fc.save_seconds)
        )?;
        writeln!(
            w,
            "{:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>3}",
            "fraction",
            "pages",
            "clone",
            "write",
            "private",
            "delta",
            "save",
            "reopen",
            "material",
            "save x",
            "disk x",
            "ok"
        )?;
        for r in &self.rows {
            let speedup = fc.save_seconds / r.save_seconds.max(1e-9);
            let smaller = fc.save_bytes as f64 / (r.delta_bytes.max(1)) as f64;
            writeln!(
                w,
                "{:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8.1} {:>8.1} {:>3}",
                r.fraction,
                r.pages_written,
                secs(r.clone_seconds),
                secs(r.write_seconds),
                bytes(r.private_bytes),
                bytes(r.delta_bytes),
                secs(r.save_seconds),
                secs(r.reopen_seconds),
                secs(r.materialize_seconds),
                speedup,
                smaller,
                if r.verified { "yes" } else { "NO" }
            )?;
        }
        writeln!(w, "save x / disk x: the whole-array save's time and size over the delta's")
    }
}

fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1}us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

#[allow(clippy::cast_precision_loss)]
fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b}B") } else { format!("{v:.1}{}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_have_the_asked_size_and_are_sorted_and_distinct() {
        for pattern in [Pattern::Strided, Pattern::Random, Pattern::Contiguous] {
            for (pages, f) in [(1000, 0.01), (1000, 1.0), (7, 0.5), (1000, 0.0), (3, 0.001)] {
                let s = select_pages(pages, f, pattern, 42);
                let want = (f * pages as f64).ceil() as usize;
                assert_eq!(s.len(), want.min(pages), "{pattern} {pages} {f}");
                assert!(s.windows(2).all(|w| w[0] < w[1]));
                assert!(s.iter().all(|&p| p < pages));
            }
        }
        assert_eq!(select_pages(10, 0.3, Pattern::Strided, 0), vec![0, 3, 6]);
        assert_eq!(select_pages(10, 0.3, Pattern::Contiguous, 0), vec![3, 4, 5]);
    }

    #[test]
    fn random_selection_is_pinned_for_the_python_mirror() {
        // benches/peers/cow_numpy.py must produce exactly this list.
        assert_eq!(select_pages(100, 0.05, Pattern::Random, 42), vec![6, 45, 50, 84, 85]);
    }

    #[test]
    fn elements_land_in_their_pages() {
        assert_eq!(element_in_page(0, 128, 4096), 0);
        assert_eq!(element_in_page(1, 128, 4096), (4096 - 128) / 8);
        assert_eq!((128 + element_in_page(5, 128, 4096) * 8) / 4096, 5);
    }
}
