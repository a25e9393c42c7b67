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
//!
//! The peer benchmark harness (`benches/peers/`) runs numpy in a process of its own on the very
//! same file: it passes that file as [`CowBenchOptions::base`] and turns off the in-process
//! numpy-way measurement ([`CowBenchOptions::full_copy`]) and the materialization
//! ([`CowBenchOptions::materialize`]), so that larder's process does what numpy's does: clone,
//! edit and keep the changes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use larder::{CopyMethod, Error, MmapArray, NpyWriter, Result, page_size, write_npy};

pub(crate) use super::pattern::{Pattern, element_in_page, select_pages, value_for_page};

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CowBenchOptions {
    /// Bytes of array data (rounded down to whole `f64`s); ignored when `base` is given.
    pub(crate) size: u64,
    /// An existing 1-d `<f8` `.npy` to use as the base instead of writing one. It is only
    /// read: clones are private, deltas and copies go to the run's directory.
    pub(crate) base: Option<PathBuf>,
    /// Fractions of the pages to modify, each in `[0, 1]`.
    pub(crate) fractions: Vec<f64>,
    /// Which pages.
    pub(crate) pattern: Pattern,
    /// Seed of the random pattern.
    pub(crate) seed: u64,
    /// Directory to leave the files in; a temporary one, removed afterwards, if `None`.
    pub(crate) keep: Option<PathBuf>,
    /// Also measure the numpy `.copy()` way in this process (an owned copy of the whole array,
    /// written out whole). It holds the whole array in memory.
    pub(crate) full_copy: bool,
    /// Also materialize a standalone `.npy` for each fraction (a copy of the whole file).
    pub(crate) materialize: bool,
}

impl Default for CowBenchOptions {
    fn default() -> Self {
        CowBenchOptions {
            size: 256 << 20,
            base: None,
            fractions: vec![0.001, 0.01, 0.1, 0.5, 1.0],
            pattern: Pattern::Strided,
            seed: 42,
            keep: None,
            full_copy: true,
            materialize: true,
        }
    }
}

/// The numpy way: an owned copy of the whole array, saved whole.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FullCopy {
    /// Time to make an owned in-memory copy of the whole array (numpy's `.copy()`).
    pub(crate) copy_seconds: f64,
    /// Memory that copy owns.
    pub(crate) copy_bytes: u64,
    /// Time to write the whole array to a new `.npy` and sync it.
    pub(crate) save_seconds: f64,
    /// Size of that file.
    pub(crate) save_bytes: u64,
}

/// One fraction's measurements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CowRow {
    /// Fraction of the pages asked for.
    pub(crate) fraction: f64,
    /// Pages written (one element each).
    pub(crate) pages_written: u64,
    /// Time to open the base copy-on-write.
    pub(crate) clone_seconds: f64,
    /// Time for `cow()` on the open clone (a second clone).
    pub(crate) cow_seconds: f64,
    /// Time to write one element in each selected page.
    pub(crate) write_seconds: f64,
    /// Time for `dirty_pages()` (the pagemap scan).
    pub(crate) dirty_scan_seconds: f64,
    /// Pages `dirty_pages()` reported.
    pub(crate) dirty_pages: u64,
    /// `private_bytes()` after the writes.
    pub(crate) private_bytes: u64,
    /// Growth of the process's anonymous resident memory over the writes (`RssAnon` in
    /// `/proc/self/status`), an independent check of `private_bytes`; `None` off Linux.
    pub(crate) rss_anon_growth_bytes: Option<u64>,
    /// Time for `save_delta` (including `fsync`).
    pub(crate) save_seconds: f64,
    /// Size of the delta file.
    pub(crate) delta_bytes: u64,
    /// Time to open base + delta and read one changed element (`get`, which looks the element's
    /// page up in the delta's index without applying the delta).
    pub(crate) reopen_seconds: f64,
    /// Time for the first whole view of the reopened array afterwards: checking every delta
    /// page and mapping (or copying) them over the clone.
    pub(crate) reopen_view_seconds: f64,
    /// `private_bytes()` of the reopened array after that view: 0 when the delta's pages were
    /// mapped, the delta's data when there were too many runs of pages and they were copied in.
    pub(crate) reopen_private_bytes: u64,
    /// Time to write a standalone `.npy` from base + delta; `None` when not asked for.
    pub(crate) materialize_seconds: Option<f64>,
    /// How the base was copied for it; `None` when not asked for.
    pub(crate) materialize_method: Option<CopyMethod>,
    /// True when every check of the run passed: the dirty pages are exactly the written
    /// ones, and the reopened (and materialized, if asked for) arrays hold the written values.
    pub(crate) verified: bool,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CowBenchReport {
    /// Size of the base file.
    pub(crate) file_bytes: u64,
    /// Elements (`<f8`).
    pub(crate) elements: u64,
    /// The system's page size.
    pub(crate) page_size: u64,
    /// Pages that hold the base's data (the fractions are of these; header pages and bytes after
    /// the data are not counted).
    pub(crate) pages: u64,
    /// The pattern.
    pub(crate) pattern: Pattern,
    /// Seed of the random pattern.
    pub(crate) seed: u64,
    /// The base file given in the options; `None` when the run wrote its own.
    pub(crate) base: Option<PathBuf>,
    /// Where the files are, if kept.
    pub(crate) dir: Option<PathBuf>,
    /// Time to write the base file; `None` for a given base.
    pub(crate) create_seconds: Option<f64>,
    /// The numpy way, measured once; `None` when not asked for.
    pub(crate) full_copy: Option<FullCopy>,
    /// One row per fraction.
    pub(crate) rows: Vec<CowRow>,
}

/// The names of the files a run writes in its directory.
fn files_written(opts: &CowBenchOptions) -> Vec<String> {
    let mut names = Vec::new();
    if opts.base.is_none() {
        names.push("base.npy".to_string());
    }
    if opts.full_copy {
        names.push("full.npy".to_string());
    }
    for f in &opts.fractions {
        names.push(format!("clone-{f}.delta"));
        if opts.materialize {
            names.push(format!("materialized-{f}.npy"));
        }
    }
    names
}

/// Refuses a `--keep` directory that already holds a file the run would write: a kept run
/// writes only new files, never over the user's (a `--base` among them included).
fn refuse_existing(dir: &Path, opts: &CowBenchOptions) -> Result<()> {
    let taken: Vec<String> = files_written(opts)
        .into_iter()
        .filter(|n| fs::symlink_metadata(dir.join(n)).is_ok())
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        dir,
        format!(
            "already holds {}, which bench cow would write; give --keep an empty or new \
             directory",
            taken.join(", ")
        ),
    ))
}

/// Runs the experiment.
///
/// # Errors
/// [`Error::Argument`] for a size under one page, a fraction outside `[0, 1]` or a given base
/// that is not 1-d or holds less than a page; the errors of [`MmapArray::open`] for a given
/// base that is not a `<f8` `.npy`; [`Error::Io`] and the errors of the operations measured.
pub(crate) fn run(opts: &CowBenchOptions) -> Result<CowBenchReport> {
    let ps = page_size();
    if opts.base.is_none() && opts.size < ps as u64 {
        return Err(Error::argument(format!("size {} is under one page ({ps} bytes)", opts.size)));
    }
    if let Some(f) = opts.fractions.iter().find(|f| !(0.0..=1.0).contains(*f)) {
        return Err(Error::argument(format!("fraction {f} is not between 0 and 1")));
    }
    let temp;
    let dir = if let Some(d) = &opts.keep {
        fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        refuse_existing(d, opts)?;
        d.clone()
    } else {
        temp = TempDir::new()?;
        temp.0.clone()
    };
    let (base, create_seconds) = if let Some(b) = &opts.base {
        (b.clone(), None)
    } else {
        let elements = usize::try_from(opts.size / 8)
            .map_err(|_| Error::argument(format!("size {} is too large", opts.size)))?;
        let base = dir.join("base.npy");
        // The base and, with --full-copy, a copy of it: refuse rather than fill the disk.
        let needed = opts.size.saturating_mul(if opts.full_copy { 2 } else { 1 });
        let free = larder::free_space(&dir)?;
        if needed > free {
            return Err(Error::argument(format!(
                "size {} needs {needed} bytes on {}, which has {free} free",
                opts.size,
                dir.display()
            )));
        }
        let t = Instant::now();
        if let Err(e) = write_base(&base, elements) {
            let _ = fs::remove_file(&base);
            return Err(e);
        }
        (base, Some(t.elapsed().as_secs_f64()))
    };
    let (offset, elements) = {
        let a = MmapArray::<f64>::open(&base)?;
        if a.ndim() != 1 {
            return Err(Error::argument(format!(
                "{}: bench cow needs a 1-d array, found shape {:?}",
                base.display(),
                a.shape()
            )));
        }
        if a.header().data_len().unwrap_or(0) < ps as u64 {
            return Err(Error::argument(format!(
                "{}: bench cow needs at least one page ({ps} bytes) of data",
                base.display()
            )));
        }
        (a.header().data_offset, a.len())
    };
    let file_bytes = fs::metadata(&base).map_err(|e| Error::io(&base, e))?.len();
    // Only pages that hold data can be written through the array: not the header's (a header
    // may be a megabyte), nor those of bytes after the data.
    let (first, pages) = data_pages(offset, elements, ps);

    let full_copy = if opts.full_copy {
        Some(full_copy(&base, &dir.join("full.npy"), opts.keep.is_some())?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for &fraction in &opts.fractions {
        let chosen: Vec<usize> = select_pages(pages, fraction, opts.pattern, opts.seed)
            .iter()
            .map(|p| p + first)
            .collect();
        rows.push(one_fraction(&base, &dir, fraction, &chosen, offset, opts)?);
    }
    Ok(CowBenchReport {
        file_bytes,
        elements: elements as u64,
        page_size: ps as u64,
        pages: pages as u64,
        pattern: opts.pattern,
        seed: opts.seed,
        base: opts.base.clone(),
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
        Err(Error::argument("could not create a temporary directory"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The first page that holds data of an `<f8` array whose data starts at byte `offset`, and how
/// many pages hold its `elements`.
fn data_pages(offset: usize, elements: usize, ps: usize) -> (usize, usize) {
    let first = offset / ps;
    let end = offset + elements * 8;
    (first, end.div_ceil(ps).saturating_sub(first))
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
    opts: &CowBenchOptions,
) -> Result<CowRow> {
    let ps = page_size();
    let keep = opts.keep.is_some();
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
            view.as_slice_mut().ok_or_else(|| Error::argument("bench array is not contiguous"))?;
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
        Some(p) => Some(again.get(&[element_in_page(p, offset, ps)])?),
        None => None,
    };
    let reopen_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let viewed = match probe {
        Some(p) => Some(again.view()?[[element_in_page(p, offset, ps)]]),
        None => None,
    };
    let reopen_view_seconds = t.elapsed().as_secs_f64();
    let reopen_private_bytes = again.private_bytes()?;
    let want = probe.map(|p| value_for_page(p).to_bits());
    verified &= read.map(f64::to_bits) == want && viewed.map(f64::to_bits) == want;

    let (materialize_seconds, materialize_method) = if opts.materialize {
        let out = dir.join(format!("materialized-{tag}.npy"));
        let t = Instant::now();
        let m = again.materialize(&out)?;
        let seconds = t.elapsed().as_secs_f64();
        drop(again);
        let check = MmapArray::<f64>::open(&out)?;
        let data = check.as_slice()?;
        verified &= chosen.iter().all(|&p| {
            data[element_in_page(p, offset, ps)].to_bits() == value_for_page(p).to_bits()
        });
        drop(check);
        if !keep {
            let _ = fs::remove_file(&out);
        }
        (Some(seconds), Some(m.method))
    } else {
        (None, None)
    };
    if !keep {
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
        reopen_view_seconds,
        reopen_private_bytes,
        materialize_seconds,
        materialize_method,
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
    pub(crate) fn write_table(&self, w: &mut impl Write) -> io::Result<()> {
        let fc = self.full_copy.as_ref();
        writeln!(
            w,
            "base: {} ({} elements <f8, {} pages of {} bytes), pattern {}",
            bytes(self.file_bytes),
            self.elements,
            self.pages,
            self.page_size,
            self.pattern
        )?;
        if let Some(fc) = fc {
            writeln!(
                w,
                "full copy (numpy .copy()): {} in {}; saved whole (np.save way): {} in {}",
                bytes(fc.copy_bytes),
                secs(fc.copy_seconds),
                bytes(fc.save_bytes),
                secs(fc.save_seconds)
            )?;
        }
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
            let ratio = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.1}"));
            let speedup = ratio(fc.map(|fc| fc.save_seconds / r.save_seconds.max(1e-9)));
            let smaller = ratio(fc.map(|fc| fc.save_bytes as f64 / (r.delta_bytes.max(1)) as f64));
            writeln!(
                w,
                "{:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>3}",
                r.fraction,
                r.pages_written,
                secs(r.clone_seconds),
                secs(r.write_seconds),
                bytes(r.private_bytes),
                bytes(r.delta_bytes),
                secs(r.save_seconds),
                secs(r.reopen_seconds),
                r.materialize_seconds.map_or_else(|| "-".to_owned(), secs),
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

    /// A 1-d `<f8` `.npy` of `0..elements` whose header is padded to `header` bytes, followed
    /// by `trailing` stray bytes.
    fn npy_with_header(path: &Path, header: usize, elements: usize, trailing: usize) {
        let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({elements},), }}");
        let mut text = dict.into_bytes();
        text.resize(header - 12 - 1, b' ');
        text.push(b'\n');
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend_from_slice(&u32::try_from(text.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(&text);
        for i in 0..elements {
            bytes.extend_from_slice(&(i as f64).to_le_bytes());
        }
        bytes.extend(std::iter::repeat_n(0xAB, trailing));
        fs::write(path, bytes).unwrap();
    }

    fn run_on(base: &Path) -> CowBenchReport {
        let opts = CowBenchOptions {
            base: Some(base.to_path_buf()),
            fractions: vec![0.0, 0.3, 1.0],
            full_copy: false,
            ..CowBenchOptions::default()
        };
        run(&opts).unwrap()
    }

    #[test]
    fn a_one_mebibyte_header_is_not_counted_as_data_pages() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("big-header.npy");
        let ps = page_size();
        npy_with_header(&base, 1 << 20, 4 * ps / 8, 0);
        let report = run_on(&base);
        assert_eq!(report.pages, 4, "only the data's pages");
        assert!(report.rows.iter().all(|r| r.verified), "every fraction verifies");
        assert_eq!(report.rows[2].pages_written, 4);
    }

    #[test]
    fn trailing_bytes_after_the_data_are_not_pages_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("trailing.npy");
        let ps = page_size();
        npy_with_header(&base, 128, 3 * ps / 8, 3 * ps);
        let report = run_on(&base);
        assert!(report.rows.iter().all(|r| r.verified));
        assert_eq!(report.pages, 4, "the data spans 4 pages after a 128-byte header");
    }

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
