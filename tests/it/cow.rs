//! Copy-on-write clones, delta files and materialization, through the public API and the CLI.

use crate::support::python;
use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use larder::{Error, MmapArray, page_size, read_npy};
use ndarray::ArrayD;
use proptest::prelude::*;

/// Bytes before the data in the files these tests create (`MmapArray::create`).
const DATA_OFFSET: usize = 128;

fn make_base(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("base.npy");
    let mut a = MmapArray::<u32>::create(&p, &[n]).unwrap();
    for (i, v) in a.view_mut().unwrap().iter_mut().enumerate() {
        *v = (i as u32).wrapping_mul(2_654_435_761);
    }
    a.close().unwrap();
    p
}

fn page_of(elem: usize, itemsize: usize) -> usize {
    (DATA_OFFSET + elem * itemsize) / page_size()
}

/// Applies `writes` (element index as a fraction of the length, value) to a clone and to an
/// owned copy; returns the pages written.
fn apply(
    clone: &mut MmapArray<u32>,
    owned: &mut ArrayD<u32>,
    writes: &[(f64, u32)],
) -> BTreeSet<usize> {
    let n = owned.len();
    let mut view = clone.view_mut().unwrap();
    let mut pages = BTreeSet::new();
    for &(at, v) in writes {
        let i = ((at * n as f64) as usize).min(n - 1);
        view[[i]] = v;
        owned[[i]] = v;
        pages.insert(page_of(i, 4));
    }
    pages
}

fn assert_delta_size(bytes: u64, pages: usize) {
    let ps = page_size() as u64;
    let data = pages as u64 * ps;
    assert!(bytes >= data + ps && bytes <= data + 64 * 1024, "{bytes} bytes for {pages} pages");
    assert_eq!((bytes - data) % ps, 0, "the header is padded to a page");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn clone_save_reopen_stack_materialize_equal_an_owned_copy(
        n in 1usize..6000,
        first in prop::collection::vec((0.0f64..1.0, any::<u32>()), 0..40),
        second in prop::collection::vec((0.0f64..1.0, any::<u32>()), 0..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = make_base(dir.path(), n);
        let base_bytes = fs::read(&base).unwrap();
        let mut owned = read_npy::<u32>(&base).unwrap();

        let mut clone = MmapArray::<u32>::open_cow(&base).unwrap();
        let pages = apply(&mut clone, &mut owned, &first);
        prop_assert_eq!(clone.view().unwrap(), owned.view());
        if cfg!(target_os = "linux") {
            let dirty: BTreeSet<usize> = clone.dirty_pages().unwrap().into_iter().collect();
            prop_assert_eq!(&dirty, &pages);
            prop_assert_eq!(clone.private_bytes().unwrap(), (pages.len() * page_size()) as u64);
        }
        let d1 = dir.path().join("one.delta");
        let r = clone.save_delta(&d1).unwrap();
        prop_assert_eq!(r.depth, 1);
        assert_delta_size(r.bytes, r.pages as usize);
        drop(clone);

        let mut again = MmapArray::<u32>::open_with_delta(&base, &d1).unwrap();
        prop_assert_eq!(again.read_all().unwrap(), owned.clone()); // through the delta index
        prop_assert_eq!(again.view().unwrap(), owned.view()); // the delta applied
        prop_assert_eq!(again.private_bytes().unwrap(), 0, "delta pages are mapped, not copied");
        let pages2 = apply(&mut again, &mut owned, &second);
        let d2 = dir.path().join("two.delta");
        let r2 = again.save_delta(&d2).unwrap();
        prop_assert_eq!(r2.depth, 2);
        if cfg!(target_os = "linux") {
            prop_assert_eq!(r2.pages as usize, pages2.len());
        }
        let m = dir.path().join("m.npy");
        let mr = again.materialize(&m).unwrap();
        prop_assert_eq!(mr.bytes, base_bytes.len() as u64);
        prop_assert_eq!(read_npy::<u32>(&m).unwrap(), owned.clone());
        drop(again);

        let chained = MmapArray::<u32>::open_with_delta(&base, &d2).unwrap();
        prop_assert_eq!(chained.read_all().unwrap(), owned.clone());
        let explicit = MmapArray::<u32>::open_with_deltas(&base, &[&d1, &d2]).unwrap();
        prop_assert_eq!(explicit.read_all().unwrap(), owned.clone());
        let m2 = dir.path().join("m2.npy");
        explicit.materialize(&m2).unwrap();
        prop_assert_eq!(fs::read(&m2).unwrap(), fs::read(&m).unwrap());
        drop((chained, explicit));

        prop_assert!(fs::read(&base).unwrap() == base_bytes, "the base file changed");
    }
}

#[test]
fn dirty_pages_are_exactly_the_written_pages_at_known_offsets() {
    if !cfg!(target_os = "linux") {
        eprintln!("skipped: exact dirty pages need /proc/self/pagemap");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ps = page_size();
    let base = dir.path().join("f.npy");
    MmapArray::<f64>::create(&base, &[64 * ps / 8]).unwrap().close().unwrap();
    let mut c = MmapArray::<f64>::open_cow(&base).unwrap();
    let _ = c.view().unwrap().sum(); // read every page first: reads never count
    assert_eq!(c.dirty_pages().unwrap(), Vec::<usize>::new());
    let per_page = ps / 8;
    let header = DATA_OFFSET / 8;
    {
        let mut v = c.view_mut().unwrap();
        v[[0]] = 1.0; // page 0, right after the header
        v[[10 * per_page - header - 1]] = 1.0; // the last 8 bytes of page 9
        v[[10 * per_page - header]] = 1.0; // the first 8 bytes of page 10
        v[[33 * per_page]] = 1.0; // page 33, 128 bytes in
        v[[64 * per_page - header - 1]] = 1.0; // the last element, in page 63
    }
    assert_eq!(c.dirty_pages().unwrap(), vec![0, 9, 10, 33, 63]);
    assert_eq!(c.private_bytes().unwrap(), 5 * ps as u64);
    assert_eq!(c.changed_pages().unwrap(), vec![0, 9, 10, 33, 63]);
}

#[test]
fn a_clone_of_a_clone_is_independent() {
    let dir = tempfile::tempdir().unwrap();
    let base = make_base(dir.path(), 5000);
    let mut a = MmapArray::<u32>::open_cow(&base).unwrap();
    a.view_mut().unwrap()[[10]] = 1;
    let mut b = a.cow().unwrap();
    assert_ne!(b.view().unwrap()[[10]], 1, "unsaved writes are not part of a clone");
    assert_eq!(b.private_bytes().unwrap(), 0);
    b.view_mut().unwrap()[[20]] = 2;
    assert_ne!(a.view().unwrap()[[20]], 2);
    assert_eq!(a.view().unwrap()[[10]], 1);
    let r = MmapArray::<u32>::open(&base).unwrap();
    let clone_of_read_only = r.cow().unwrap();
    assert_eq!(clone_of_read_only.read_all().unwrap(), r.read_all().unwrap());
}

#[test]
fn cloning_or_saving_a_delta_of_a_writable_array_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = make_base(dir.path(), 100);
    let w = MmapArray::<u32>::open_mut(&base).unwrap();
    // Each refusal names the array's file.
    assert!(matches!(w.cow(), Err(Error::Invalid { ref path, .. }) if *path == base));
    assert!(matches!(
        w.save_delta(dir.path().join("d")),
        Err(Error::Invalid { ref path, .. }) if *path == base
    ));
    assert!(matches!(w.dirty_pages(), Err(Error::Invalid { ref path, .. }) if *path == base));
}

#[test]
fn save_delta_and_materialize_refuse_to_overwrite_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = make_base(dir.path(), 100);
    let c = MmapArray::<u32>::open_cow(&base).unwrap();
    let e = c.save_delta(&base).unwrap_err().to_string();
    assert!(e.contains("which this array is made of"), "{e}");
    assert!(c.materialize(&base).is_err());
    assert_eq!(read_npy::<u32>(&base).unwrap().len(), 100);
}

/// A base, a one-page delta over it, and the delta's path.
fn base_and_delta(dir: &Path) -> (PathBuf, PathBuf) {
    let base = make_base(dir, 3 * page_size());
    let mut c = MmapArray::<u32>::open_cow(&base).unwrap();
    c.view_mut().unwrap()[[100]] = 7;
    let d = dir.join("x.delta");
    c.save_delta(&d).unwrap();
    (base, d)
}

fn stale_reason(base: &Path, d: &Path) -> String {
    match MmapArray::<u32>::open_with_delta(base, d) {
        Err(Error::StaleBase { reason, .. }) => reason,
        other => panic!("expected a stale base error, got {other:?}"),
    }
}

#[test]
fn a_base_modified_after_the_delta_was_saved_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d) = base_and_delta(dir.path());
    let mut w = MmapArray::<u32>::open_mut(&base).unwrap();
    w.view_mut().unwrap()[[5000]] = 1;
    w.close().unwrap();
    let reason = stale_reason(&base, &d);
    assert!(reason.contains("modified at") || reason.contains("fingerprint"), "{reason}");
}

#[test]
fn a_base_touched_without_changes_is_refused_by_its_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d) = base_and_delta(dir.path());
    let f = OpenOptions::new().write(true).open(&base).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1)).unwrap();
    drop(f);
    let reason = stale_reason(&base, &d);
    assert!(reason.contains("modified at 1.000000000"), "{reason}");
}

#[test]
fn a_base_rewritten_with_its_old_mtime_is_refused_by_its_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d) = base_and_delta(dir.path());
    let mtime = fs::metadata(&base).unwrap().modified().unwrap();
    let len = fs::metadata(&base).unwrap().len();
    let f = OpenOptions::new().write(true).open(&base).unwrap();
    f.write_all_at(&[0xff; 4], len - 4).unwrap(); // the last page is always sampled
    f.set_modified(mtime).unwrap();
    drop(f);
    let reason = stale_reason(&base, &d);
    assert!(reason.contains("fingerprint"), "{reason}");
}

#[test]
fn a_delta_opened_over_another_array_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, d) = base_and_delta(dir.path());
    let other = dir.path().join("other.npy");
    MmapArray::<u32>::create(&other, &[100]).unwrap().close().unwrap();
    let reason = stale_reason(&other, &d);
    assert!(reason.contains("bytes"), "{reason}");
}

#[test]
fn deltas_given_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d1) = base_and_delta(dir.path());
    let mut c = MmapArray::<u32>::open_with_delta(&base, &d1).unwrap();
    c.view_mut().unwrap()[[0]] = 1;
    let d2 = dir.path().join("y.delta");
    c.save_delta(&d2).unwrap();
    drop(c);
    let e = MmapArray::<u32>::open_with_deltas(&base, &[&d2, &d1]).unwrap_err().to_string();
    assert!(e.contains("depth 2"), "{e}");
    // A delta over a delta is refused over the bare base too.
    assert!(MmapArray::<u32>::open_with_deltas(&base, &[&d2]).is_err());
}

#[test]
fn three_stacked_deltas_reopen_by_following_their_parents() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d1) = base_and_delta(dir.path());
    let mut expected = read_npy::<u32>(&base).unwrap();
    expected[[100]] = 7;
    let mut chain = vec![d1];
    for level in 2..=3u32 {
        let mut c = MmapArray::<u32>::open_with_delta(&base, chain.last().unwrap()).unwrap();
        let at = 1000 * level as usize;
        c.view_mut().unwrap()[[at]] = level;
        expected[[at]] = level;
        let d = dir.path().join(format!("d{level}.delta"));
        assert_eq!(c.save_delta(&d).unwrap().depth, level);
        chain.push(d);
    }
    let top = MmapArray::<u32>::open_with_delta(&base, &chain[2]).unwrap();
    assert_eq!(top.read_all().unwrap(), expected);
    assert_eq!(top.deltas().len(), 3);
    // Replacing a middle delta breaks the chain above it.
    let mut c = MmapArray::<u32>::open_with_delta(&base, &chain[0]).unwrap();
    c.view_mut().unwrap()[[5]] = 5;
    c.save_delta(&chain[1]).unwrap();
    drop(c);
    assert!(matches!(
        MmapArray::<u32>::open_with_delta(&base, &chain[2]),
        Err(Error::StaleBase { .. })
    ));
}

#[test]
fn a_truncated_delta_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d) = base_and_delta(dir.path());
    let full = fs::read(&d).unwrap();
    for keep in [full.len() - 1, full.len() - page_size(), 100, 10, 0] {
        fs::write(&d, &full[..keep]).unwrap();
        let e = MmapArray::<u32>::open_with_delta(&base, &d).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{keep}: {e}");
        assert!(e.to_string().contains("truncated"), "{keep}: {e}");
        assert!(e.to_string().contains("x.delta"), "{e}");
    }
}

#[test]
fn a_corrupted_delta_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d) = base_and_delta(dir.path());
    let full = fs::read(&d).unwrap();
    let cases = [
        (full.len() - 1, "data checksum"), // the page data
        (90, "header checksum"),           // the parent's path
        (8, "version"),
        (0, "bad magic"),
    ];
    for (at, want) in cases {
        let mut b = full.clone();
        b[at] ^= 0x40;
        fs::write(&d, &b).unwrap();
        // Header and index are checked at open; page data when a view first needs it.
        let e = MmapArray::<u32>::open_with_delta(&base, &d)
            .and_then(|a| a.view().map(drop))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "byte {at}: {e}");
        assert!(e.contains("x.delta"), "{e}");
    }
    fs::write(&d, b"not a delta, but long enough to hold a header of eighty-eight bytes......")
        .unwrap();
    assert!(MmapArray::<u32>::open_with_delta(&base, &d).is_err());
}

/// A base of `n` `u32` and a delta that writes `value` into element `e` of each of `elems`.
fn delta_writing(dir: &Path, n: usize, elems: &[usize], value: u32) -> (PathBuf, PathBuf) {
    let base = make_base(dir, n);
    let mut c = MmapArray::<u32>::open_cow(&base).unwrap();
    {
        let mut v = c.view_mut().unwrap();
        for &e in elems {
            v[[e]] = value;
        }
    }
    let d = dir.join("lazy.delta");
    c.save_delta(&d).unwrap();
    (base, d)
}

#[test]
fn single_elements_and_small_slices_read_through_the_delta_index_match_the_applied_view() {
    let dir = tempfile::tempdir().unwrap();
    let per_page = page_size() / 4;
    let n = 40 * per_page;
    let elems: Vec<usize> = (1..40).step_by(3).map(|p| p * per_page).collect();
    let (base, d) = delta_writing(dir.path(), n, &elems, 0xfeed);
    let lazy = MmapArray::<u32>::open_with_delta(&base, &d).unwrap();
    let applied = MmapArray::<u32>::open_with_delta(&base, &d).unwrap();
    let whole = applied.view().unwrap().to_owned();
    for &e in &elems {
        assert_eq!(lazy.get(&[e]).unwrap(), 0xfeed);
        assert_eq!(lazy.get(&[e + 1]).unwrap(), whole[[e + 1]]);
        assert_eq!(applied.get(&[e]).unwrap(), 0xfeed);
    }
    for text in ["5:9000:7", "::-97", "-3:", "None, 100:5000", "..., 7", "0:0"] {
        let sel: larder::Selection = text.parse().unwrap();
        let want = whole.slice(sel.resolve(whole.shape()).unwrap().as_slice()).to_owned();
        assert_eq!(lazy.read_slice(&sel).unwrap(), want, "{text}");
    }
    // Nothing above applied the delta: no page of the clone is private yet.
    assert!(lazy.dirty_pages().unwrap().is_empty());
    assert!(lazy.get(&[n]).is_err());
    assert!(lazy.get(&[0, 0]).is_err());
}

#[test]
fn lazy_reads_follow_c_and_fortran_order_and_stacked_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let per_page = page_size() / 4;
    for order in [larder::Order::C, larder::Order::F] {
        let base = dir.path().join(format!("{}.npy", order.as_str()));
        let (rows, cols) = (3 * per_page / 8, 8);
        let mut a = MmapArray::<u32>::create_with_order(&base, &[rows, cols], order).unwrap();
        for ((i, j), v) in
            a.view_mut().unwrap().into_dimensionality::<ndarray::Ix2>().unwrap().indexed_iter_mut()
        {
            *v = (i * 100 + j) as u32;
        }
        a.close().unwrap();
        let mut c = MmapArray::<u32>::open_cow(&base).unwrap();
        c.view_mut().unwrap()[[rows - 1, 2]] = 1;
        let d1 = dir.path().join(format!("{}-1.delta", order.as_str()));
        c.save_delta(&d1).unwrap();
        drop(c);
        let mut c = MmapArray::<u32>::open_with_delta(&base, &d1).unwrap();
        c.view_mut().unwrap()[[0, 5]] = 2;
        let d2 = dir.path().join(format!("{}-2.delta", order.as_str()));
        c.save_delta(&d2).unwrap();
        drop(c);
        let lazy = MmapArray::<u32>::open_with_delta(&base, &d2).unwrap();
        assert_eq!(lazy.get(&[rows - 1, 2]).unwrap(), 1, "{order:?}");
        assert_eq!(lazy.get(&[0, 5]).unwrap(), 2, "{order:?}");
        assert_eq!(lazy.get(&[1, 5]).unwrap(), 105, "{order:?}");
        let sel: larder::Selection = "::-5, 1::2".parse().unwrap();
        let got = lazy.read_slice(&sel).unwrap();
        let applied = MmapArray::<u32>::open_with_delta(&base, &d2).unwrap();
        let want = applied.read_slice(&sel).unwrap();
        assert_eq!(
            got,
            applied.view().unwrap().slice(ndarray::s![..;-5, 1..;2]).into_dyn(),
            "{order:?}"
        );
        assert_eq!(got, want, "{order:?}");
    }
}

#[test]
fn a_corrupted_delta_page_is_refused_when_first_needed_naming_file_page_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let per_page = page_size() / 4;
    let elems = [2 * per_page, 9 * per_page];
    let (base, d) = delta_writing(dir.path(), 12 * per_page, &elems, 9);
    // Corrupt the second page of the delta's data (array page 9).
    let len = fs::metadata(&d).unwrap().len();
    let at = len - page_size() as u64 + 17;
    let file = OpenOptions::new().read(true).write(true).open(&d).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 1], at).unwrap();
    drop(file);

    let a = MmapArray::<u32>::open_with_delta(&base, &d).unwrap();
    assert_eq!(a.get(&[elems[0]]).unwrap(), 9, "an intact page reads");
    assert_eq!(a.get(&[1]).unwrap(), read_npy::<u32>(&base).unwrap()[[1]]);
    let page_start = (len - page_size() as u64).to_string();
    for attempt in 0..2 {
        let e = a.get(&[elems[1]]).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        let e = e.to_string();
        for want in [
            "lazy.delta",
            "data checksum mismatch",
            "page 1 of the delta",
            "page 9 of the array",
            &page_start,
        ] {
            assert!(e.contains(want), "attempt {attempt}: {want:?} not in {e}");
        }
    }
    let sel: larder::Selection = format!("{}:{}", elems[1] - 2, elems[1] + 2).parse().unwrap();
    assert!(a.read_slice(&sel).unwrap_err().to_string().contains("checksum"));
    // Whole views check every page first: the corrupt delta is never partly applied.
    assert!(a.view().unwrap_err().to_string().contains("checksum"));
    assert!(a.read_all().unwrap_err().to_string().contains("checksum"));
    assert!(a.materialize(dir.path().join("m.npy")).is_err());
    assert!(!dir.path().join("m.npy").exists());
    let mut w = MmapArray::<u32>::open_with_delta(&base, &d).unwrap();
    assert!(w.view_mut().is_err());
}

#[test]
fn materialize_without_changes_copies_the_base_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let base = make_base(dir.path(), 3000);
    let c = MmapArray::<u32>::open_cow(&base).unwrap();
    let m = dir.path().join("m.npy");
    let r = c.materialize(&m).unwrap();
    assert_eq!(r.patched_pages, 0);
    assert_eq!(fs::read(&m).unwrap(), fs::read(&base).unwrap());
}

#[test]
fn materialized_file_opens_in_numpy_with_the_written_values() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let len = 3 * page_size() / 8;
    let base = dir.path().join("base.npy");
    let mut writer = MmapArray::<f64>::create(&base, &[len]).unwrap();
    for (i, v) in writer.view_mut().unwrap().iter_mut().enumerate() {
        *v = i as f64 * 0.25;
    }
    writer.close().unwrap();
    let mut clone = MmapArray::<f64>::open_cow(&base).unwrap();
    clone.view_mut().unwrap()[[1]] = -1.5;
    clone.view_mut().unwrap()[[len - 1]] = f64::NAN;
    let delta = dir.path().join("c.delta");
    clone.save_delta(&delta).unwrap();
    let expected = clone.read_all().unwrap();
    drop(clone);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let reopened = MmapArray::<f64>::open_with_delta(&base, &delta).unwrap();
    reopened.materialize(out.join("m.npy")).unwrap();
    let bits: Vec<u64> = expected.iter().map(|v| v.to_bits()).collect();
    let manifest = serde_json::json!({"arrays": [{
        "file": "m.npy", "descr": "<f8", "shape": [len], "fortran_order": false, "bits": bits,
    }]});
    fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_npy.py");
    let o = Command::new(py).arg(script).arg(&out).output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bench_cow_cli_reports_verified_rows_and_keeps_files() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    let o = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["bench", "cow", "--size", "1M", "--fractions", "0,0.01,0.5", "--pattern"])
        .arg("random")
        .arg("--json")
        .arg("--keep")
        .arg(&keep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let ps = page_size() as u64;
    for r in rows {
        assert_eq!(r["verified"], true, "{r}");
        let pages = r["pages_written"].as_u64().unwrap();
        assert!(r["delta_bytes"].as_u64().unwrap() <= pages * ps + 64 * 1024, "{r}");
        assert!(r["private_bytes"].as_u64().unwrap() <= pages * ps, "{r}");
    }
    assert_eq!(rows[0]["pages_written"], 0);
    assert!(keep.join("base.npy").is_file());
    assert!(keep.join("clone-0.01.delta").is_file());
    assert!(keep.join("materialized-0.5.npy").is_file());

    let o = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["bench", "cow", "--size", "256K", "--fractions", "0.1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("fraction") && table.contains("yes"), "{table}");

    let o = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["bench", "cow", "--size", "1M", "--fractions", "2"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not between 0 and 1"));
}

#[test]
fn numpy_peer_script_edits_the_same_pages_as_larder() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    let fractions = "0.01,0.2";
    let o = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["bench", "cow", "--size", "2M", "--fractions", fractions, "--pattern", "random"])
        .arg("--keep")
        .arg(&keep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/cow_numpy.py");
    let np_dir = dir.path().join("numpy");
    let o = Command::new(py)
        .arg(script)
        .arg("--base")
        .arg(keep.join("base.npy"))
        .args(["--fractions", fractions, "--pattern", "random", "--dir"])
        .arg(&np_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (row, f) in v["rows"].as_array().unwrap().iter().zip(["0.01", "0.2"]) {
        assert_eq!(row["verified"], true, "{row}");
        let ours = read_npy::<f64>(keep.join(format!("materialized-{f}.npy"))).unwrap();
        let theirs = read_npy::<f64>(np_dir.join(format!("numpy-{f}.npy"))).unwrap();
        assert!(
            ours.iter().zip(theirs.iter()).all(|(a, b)| a.to_bits() == b.to_bits()),
            "numpy and larder edited different elements at fraction {f}"
        );
    }
}

#[test]
fn bench_cow_on_a_given_base_leaves_it_unchanged_and_skips_what_is_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("given.npy");
    let mut a = MmapArray::<f64>::create(&base, &[300_000]).unwrap();
    for (i, v) in a.view_mut().unwrap().iter_mut().enumerate() {
        *v = (i as f64) * 0.25;
    }
    a.close().unwrap();
    let before = fs::read(&base).unwrap();
    let keep = dir.path().join("keep");
    let o = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["bench", "cow", "--fractions", "0.01,0.1", "--pattern", "random", "--json"])
        .args(["--no-full-copy", "--no-materialize", "--base"])
        .arg(&base)
        .arg("--keep")
        .arg(&keep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["base"].as_str(), base.to_str());
    assert!(v["full_copy"].is_null() && v["create_seconds"].is_null(), "{v}");
    assert_eq!(v["elements"], 300_000);
    let pages = (fs::metadata(&base).unwrap().len()).div_ceil(page_size() as u64);
    assert_eq!(v["pages"].as_u64(), Some(pages));
    for r in v["rows"].as_array().unwrap() {
        assert_eq!(r["verified"], true, "{r}");
        assert!(r["materialize_seconds"].is_null() && r["materialize_method"].is_null(), "{r}");
    }
    assert_eq!(fs::read(&base).unwrap(), before, "the given base changed");
    assert!(keep.join("clone-0.01.delta").is_file());
    assert!(!keep.join("base.npy").exists() && !keep.join("full.npy").exists());
    assert!(!keep.join("materialized-0.01.npy").exists());
}

#[test]
fn bench_cow_refuses_a_base_that_is_not_1d_f8() {
    let dir = tempfile::tempdir().unwrap();
    let two_d = dir.path().join("two_d.npy");
    MmapArray::<f64>::create(&two_d, &[1024, 4]).unwrap().close().unwrap();
    let ints = make_base(dir.path(), 4096);
    for (path, expect) in [(&two_d, "needs a 1-d array"), (&ints, "expected <f8")] {
        let o = Command::new(env!("CARGO_BIN_EXE_larder"))
            .args(["bench", "cow", "--fractions", "0.1", "--base"])
            .arg(path)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expect) && err.contains(&*path.to_string_lossy()), "{err}");
    }
}
