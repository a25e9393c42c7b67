//! Copies into an existing Zarr store, HDF5 file or object-storage prefix stopped by SIGINT,
//! SIGTERM or SIGKILL at several moments: afterwards every node that was there is byte for
//! byte as it was, no new node is visible unless whole, SIGINT and SIGTERM leave no temporary
//! file, and a retry (or `--resume`, in object storage) finishes with the source's values.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?}: {}", c.get_args().collect::<Vec<_>>(), text(&o));
    o
}

fn write_f64(path: &Path, n: usize, seed: u64) {
    let mut x = seed | 1;
    let values: Vec<f64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 + seed as f64
        })
        .collect();
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), values).unwrap();
    larder::write_npy(path, &a).unwrap();
}

/// Every file under `dir` (temporaries of larder left out) with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().contains(".larder-tmp-") {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Paths under `dir` whose name holds `.larder-tmp-`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".larder-tmp-") {
            out.push(p.clone());
        }
        if p.is_dir() {
            out.extend(temporaries(&p));
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Sig {
    Int,
    Term,
    Kill,
}

impl Sig {
    fn flag(self) -> &'static str {
        match self {
            Sig::Int => "-INT",
            Sig::Term => "-TERM",
            Sig::Kill => "-KILL",
        }
    }
    fn number(self) -> i32 {
        match self {
            Sig::Int => 2,
            Sig::Term => 15,
            Sig::Kill => 9,
        }
    }
}

/// Waits until `moment` says the copy got far enough (or it ended), sends `sig`, and returns
/// how the process ended: `Err` when it died of `sig`, `Ok` when it had finished first.
fn stop(mut child: Child, sig: Sig, moment: impl Fn() -> bool) -> Result<ExitStatus, ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + Duration::from_mins(3);
    while !moment() && Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args([sig.flag(), &pid]).status();
    let status = child.wait().unwrap();
    if let Some(s) = status.signal() {
        assert_eq!(s, sig.number(), "died of another signal");
        Err(status)
    } else {
        assert!(status.success(), "the copy failed instead of ending by {sig:?}");
        Ok(status)
    }
}

/// Chunk files written so far into a staging directory under `store`.
fn staged_chunks(store: &Path) -> usize {
    fn count(d: &Path) -> usize {
        std::fs::read_dir(d).map_or(0, |rd| {
            rd.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum()
        })
    }
    temporaries(store).iter().map(|t| count(t)).sum()
}

fn copy_cmd(src: &Path, dst: &str, extra: &[&str]) -> Command {
    let mut c = larder();
    c.arg("copy").arg(src).arg(dst).args(extra).arg("-q");
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Reads the array at `location` back into a `.npy` and compares it with `src`.
fn assert_copy_of(location: &str, src: &Path, dir: &Path) {
    let back = dir.join("back.npy");
    let _ = std::fs::remove_file(&back);
    ok(larder().arg("copy").arg(location).arg(&back).arg("-q"));
    assert!(std::fs::read(&back).unwrap() == std::fs::read(src).unwrap(), "{location}");
    std::fs::remove_file(&back).unwrap();
}

#[test]
fn signals_and_kills_during_a_copy_into_an_existing_zarr_store_leave_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.npy");
    write_f64(&src, 1 << 20, 1); // 8 MB, 64 chunks of 16384
    let keep = dir.path().join("keep.npy");
    write_f64(&keep, 1000, 2);
    let store = dir.path().join("store.zarr");
    ok(larder().arg("copy").arg(&keep).arg(format!("{}:/g/keep", store.display())).arg("-q"));
    let extra = ["--chunks", "16384", "--codec", "zstd:12"];
    let mut runs = 0;
    for sig in [Sig::Int, Sig::Term, Sig::Kill] {
        // Before the first chunk, after a few, after most.
        for at_least in [0, 4, 40] {
            for node in ["/new", "/g/sub/new"] {
                let before = snapshot(&store);
                let dst = format!("{}:{node}", store.display());
                let child = copy_cmd(&src, &dst, &extra).spawn().unwrap();
                let moment = || {
                    !temporaries(&store).is_empty()
                        && (at_least == 0 || staged_chunks(&store) > at_least)
                };
                let ended = stop(child, sig, moment);
                runs += 1;
                let node_dir = store.join(node.trim_start_matches('/'));
                if ended.is_ok() {
                    // Finished before the signal: whole, then removed for the next round.
                    assert_copy_of(&dst, &src, dir.path());
                    std::fs::remove_dir_all(&node_dir).unwrap();
                    continue;
                }
                assert!(!node_dir.exists(), "{sig:?} at {at_least}: {node} is there");
                assert_eq!(snapshot(&store), before, "{sig:?} at {at_least}: the store changed");
                if !matches!(sig, Sig::Kill) {
                    assert_eq!(temporaries(dir.path()), Vec::<PathBuf>::new(), "{sig:?}");
                }
                // A retry works, and removes what a kill left.
                ok(&mut copy_cmd(&src, &dst, &extra));
                assert_eq!(temporaries(dir.path()), Vec::<PathBuf>::new(), "{sig:?} retry");
                assert_copy_of(&dst, &src, dir.path());
                assert_copy_of(&format!("{}:/g/keep", store.display()), &keep, dir.path());
                std::fs::remove_dir_all(&node_dir).unwrap();
            }
        }
    }
    assert_eq!(runs, 18);
    // zarr-python sees the old array only.
    if let Some(py) = python() {
        let code = "import zarr, sys; g = zarr.open_group(sys.argv[1], mode='r'); \
                    print(sorted(g['g'].keys())); assert sorted(g.keys()) == ['g'], list(g.keys())";
        ok(Command::new(py).args(["-c", code]).arg(&store));
    }
}

/// The names h5py lists in `file` (every group and dataset, depth first).
#[cfg(feature = "hdf5")]
fn h5_names(py: &Path, file: &Path) -> Vec<String> {
    let code = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); names = []; \
                f.visit(names.append); print(' '.join(names))";
    let o = ok(Command::new(py).args(["-c", code]).arg(file));
    String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect()
}

#[cfg(feature = "hdf5")]
#[test]
fn signals_and_kills_during_a_copy_into_an_existing_hdf5_file_leave_its_datasets_as_they_were() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.npy");
    write_f64(&src, 1 << 20, 3);
    let keep = dir.path().join("keep.npy");
    write_f64(&keep, 1000, 4);
    let file = dir.path().join("f.h5");
    let at = |node: &str| format!("{}:{node}", file.display());
    ok(larder().arg("copy").arg(&keep).arg(at("/keep")).arg("-q"));
    let extra = ["--chunks", "16384", "--codec", "gzip:9"];
    let mut runs = 0;
    for sig in [Sig::Int, Sig::Term, Sig::Kill] {
        for delay_ms in [50u64, 400, 1500] {
            let child = copy_cmd(&src, &at("/grp/new"), &extra).spawn().unwrap();
            let started = Instant::now();
            let ended = stop(child, sig, || started.elapsed() > Duration::from_millis(delay_ms));
            runs += 1;
            let names = h5_names(&py, &file);
            if ended.is_err() {
                assert!(!names.iter().any(|n| n.ends_with("new")), "{sig:?} {delay_ms}: {names:?}");
                if !matches!(sig, Sig::Kill) {
                    assert!(!names.iter().any(|n| n.contains("larder-tmp")), "{sig:?}: {names:?}");
                }
                ok(&mut copy_cmd(&src, &at("/grp/new"), &extra));
            }
            assert_copy_of(&at("/grp/new"), &src, dir.path());
            assert_copy_of(&at("/keep"), &keep, dir.path());
            let names = h5_names(&py, &file);
            assert!(!names.iter().any(|n| n.contains("larder-tmp")), "{sig:?}: {names:?}");
            let code = "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); del f['grp/new']";
            ok(Command::new(&py).args(["-c", code]).arg(&file));
        }
    }
    assert_eq!(runs, 9);
}

#[test]
fn a_stale_temporary_of_a_killed_copy_is_removed_by_the_next_copy_and_a_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    write_f64(&src, 100, 5);
    // A process id that is surely gone: one past the kernel's limit.
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .map_or(4_194_304, |s| s.trim().parse().unwrap_or(4_194_304));
    let dead = max + 1;
    let live = std::process::id();
    for name in ["out.npy", "out.zarr", "other.npy"] {
        std::fs::write(dir.path().join(format!(".{name}.larder-tmp-{dead}")), b"left").unwrap();
        std::fs::create_dir(dir.path().join(format!(".{name}.larder-tmp-{live}"))).unwrap();
    }
    for dst in ["out.npy", "out.zarr"] {
        ok(larder().current_dir(dir.path()).args(["copy", "a.npy", dst, "-q"]));
        assert!(!dir.path().join(format!(".{dst}.larder-tmp-{dead}")).exists(), "{dst}");
        assert!(dir.path().join(format!(".{dst}.larder-tmp-{live}")).exists(), "{dst}");
    }
    // Another destination's temporaries are not this copy's to remove.
    assert!(dir.path().join(format!(".other.npy.larder-tmp-{dead}")).exists());
}

#[cfg(feature = "s3")]
mod object_storage {
    use super::*;
    use crate::s3::s3_larder;
    use crate::s3::server::Moto;

    const BUCKET: &str = "larder-kill";

    fn s3(key: &str) -> String {
        format!("s3://{BUCKET}/{key}")
    }

    fn download(ep: &str, location: &str, dir: &Path) -> Vec<u8> {
        let out = dir.join("down.npy");
        let _ = std::fs::remove_file(&out);
        ok(s3_larder(ep).args(["copy", location]).arg(&out).arg("-q"));
        std::fs::read(&out).unwrap()
    }

    /// SIGINT, SIGTERM and SIGKILL during uploads into an existing group: the group's array
    /// keeps its objects, no metadata appears for the new array, a plain retry is refused and
    /// `--resume` finishes with the source's bytes.
    #[test]
    fn signals_and_kills_during_an_upload_leave_no_visible_array_and_resume_finishes_it() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.npy");
        write_f64(&src, 1 << 20, 6);
        let keep = dir.path().join("keep.npy");
        write_f64(&keep, 1000, 7);
        ok(s3_larder(&ep).arg("copy").arg(&keep).arg(s3("store.zarr:/keep")).arg("-q"));
        let keep_keys = moto.keys(BUCKET, "store.zarr/keep");
        let extra = ["--chunks", "16384", "--codec", "zstd:12", "--concurrency", "2"];
        let mut runs = 0;
        for (i, sig) in [Sig::Int, Sig::Term, Sig::Kill].into_iter().enumerate() {
            for (j, at_least) in [0usize, 8, 40].into_iter().enumerate() {
                let name = format!("new{i}{j}");
                let dst = s3(&format!("store.zarr:/{name}"));
                let mut c = s3_larder(&ep);
                c.arg("copy").arg(&src).arg(&dst).args(extra).arg("-q");
                let child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
                let prefix = format!("store.zarr/{name}");
                let moment = || moto.keys(BUCKET, &prefix).len() > at_least;
                let ended = stop(child, sig, moment);
                runs += 1;
                let keys = moto.keys(BUCKET, &prefix);
                if ended.is_err() {
                    assert!(!keys.iter().any(|k| k.ends_with("zarr.json")), "{sig:?}: {keys:?}");
                    let info = s3_larder(&ep).args(["info", &dst]).output().unwrap();
                    assert!(!info.status.success(), "{sig:?}: {}", text(&info));
                    if !keys.is_empty() {
                        let o = s3_larder(&ep).arg("copy").arg(&src).arg(&dst).args(extra).output();
                        let o = o.unwrap();
                        assert!(
                            !o.status.success() && text(&o).contains("--resume"),
                            "{}",
                            text(&o)
                        );
                    }
                    ok(s3_larder(&ep).arg("copy").arg(&src).arg(&dst).args(extra).arg("--resume"));
                }
                assert_eq!(download(&ep, &dst, dir.path()), std::fs::read(&src).unwrap());
                assert_eq!(moto.keys(BUCKET, "store.zarr/keep"), keep_keys);
            }
        }
        assert_eq!(runs, 9);
        assert_eq!(
            download(&ep, &s3("store.zarr:/keep"), dir.path()),
            std::fs::read(&keep).unwrap()
        );
    }

    /// Finding 7: a resume from another file, or from the same file changed since, is refused
    /// before anything is sent; the same content under another path (copied with its time)
    /// resumes.
    #[test]
    fn resume_refuses_another_source_and_accepts_the_same_content_moved() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x.npy");
        let y = dir.path().join("y.npy");
        write_f64(&x, 1 << 19, 8);
        write_f64(&y, 1 << 19, 9); // same size and shape, other values
        let dst = s3("r.zarr");
        let extra = ["--chunks", "16384", "--codec", "zstd:12", "--concurrency", "2"];
        let mut c = s3_larder(&ep);
        c.arg("copy").arg(&x).arg(&dst).args(extra).arg("-q");
        let child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let ended = stop(child, Sig::Kill, || moto.keys(BUCKET, "r.zarr").len() > 4);
        assert!(ended.is_err(), "the copy finished before it was killed");
        let resume = |src: &Path| {
            s3_larder(&ep).arg("copy").arg(src).arg(&dst).args(extra).arg("--resume").output()
        };
        let before = moto.keys(BUCKET, "r.zarr");
        // Another file.
        let o = resume(&y).unwrap();
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("made from another source") && text(&o).contains("x.npy"),
            "{}",
            text(&o)
        );
        // The same file, rewritten with other values (same size).
        let x_saved = dir.path().join("x-saved.npy");
        assert!(Command::new("cp").arg("-p").arg(&x).arg(&x_saved).status().unwrap().success());
        std::fs::copy(&y, &x).unwrap();
        let o = resume(&x).unwrap();
        assert!(!o.status.success() && text(&o).contains("another source"), "{}", text(&o));
        // The same bytes with a new modification time.
        std::fs::copy(&x_saved, &x).unwrap();
        let o = resume(&x).unwrap();
        assert!(
            !o.status.success() && text(&o).contains("modified at another time"),
            "{}",
            text(&o)
        );
        assert_eq!(moto.keys(BUCKET, "r.zarr"), before, "a refused resume sent something");
        // The original, moved (with its time): resumes, and the result is x's.
        let o = resume(&x_saved).unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(download(&ep, &dst, dir.path()), std::fs::read(&x_saved).unwrap());
    }
}
