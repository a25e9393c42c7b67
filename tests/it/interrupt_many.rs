//! SIGINT and SIGTERM at random moments of a copy of 2·10^5 one-element chunks (each one a
//! file): once the process has died of the signal nothing of its temporary is left, whether
//! it wrote a new store or staged a node inside an existing one; after SIGKILL the next copy
//! to the same place removes the temporary, however many chunk files it holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::larder;

const CHUNKS: usize = 200_000;

/// A Zarr array of `CHUNKS` one-element chunks, metadata only: every chunk reads as 1.5, which
/// is not the destination's fill value, so every chunk is written.
fn many_chunks(dir: &Path) -> PathBuf {
    let z = dir.join("many.zarr");
    std::fs::create_dir(&z).unwrap();
    std::fs::write(
        z.join("zarr.json"),
        format!(
            r#"{{"zarr_format":3,"node_type":"array","shape":[{CHUNKS}],"data_type":"float64",
 "chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":[1]}}}},
 "chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},
 "fill_value":1.5,"codecs":[{{"name":"bytes","configuration":{{"endian":"little"}}}}]}}"#
        ),
    )
    .unwrap();
    z
}

/// Paths under `dir` whose name holds `.larder-tmp-` (not looking inside them).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains(".larder-tmp-") {
            out.push(p);
        } else if p.is_dir() {
            out.extend(temporaries(&p));
        }
    }
    out
}

/// Files under `dir`, all depths.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten().map(|e| if e.path().is_dir() { files(&e.path()) } else { 1 }).sum()
    })
}

/// A few moments (milliseconds after the start) from a seed that changes every run and is
/// printed, so that a failure can be replayed.
fn moments(n: usize) -> Vec<u64> {
    let seed =
        std::env::var("LARDER_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        });
    eprintln!("moments from LARDER_TEST_SEED={seed}");
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            300 + x % 5000
        })
        .collect()
}

fn signal(pid: u32, flag: &str) {
    assert!(Command::new("kill").args([flag, &pid.to_string()]).status().unwrap().success());
}

#[test]
fn signals_at_random_moments_of_a_copy_of_many_chunks_leave_no_temporary() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = many_chunks(d);
    let store = d.join("store.zarr");
    let small = d.join("small.npy");
    larder::write_npy(&small, &ndarray::arr1(&[1.0f64, 2.0]).into_dyn()).unwrap();
    let o = larder().arg("copy").arg(&small).arg(format!("{}:/keep", store.display())).output();
    assert!(o.unwrap().status.success());
    let at = moments(4);
    let mut interrupted = 0;
    for (k, (flag, number)) in [("-TERM", 15), ("-INT", 2)].into_iter().enumerate() {
        for (j, dst) in [d.join("new.zarr"), PathBuf::from(format!("{}:/g/new", store.display()))]
            .into_iter()
            .enumerate()
        {
            let wait = Duration::from_millis(at[2 * k + j]);
            let mut child = larder()
                .arg("copy")
                .arg(&src)
                .arg(&dst)
                .arg("-q")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let start = Instant::now();
            std::thread::sleep(wait);
            let written = temporaries(d).iter().map(|t| files(t)).sum::<usize>();
            signal(child.id(), flag);
            let status = child.wait().unwrap();
            let took = start.elapsed().saturating_sub(wait);
            eprintln!("{flag} {j} after {wait:?} ({written} chunk files): gone in {took:?}");
            if status.signal() == Some(number) {
                interrupted += 1;
                assert_eq!(temporaries(d), Vec::<PathBuf>::new(), "{flag} after {wait:?}");
                assert!(!d.join("new.zarr").exists() && !store.join("g").exists());
            } else {
                // Finished before the signal (a fast machine): complete, removed for the next.
                assert!(status.success(), "{flag}: {status}");
                let _ = std::fs::remove_dir_all(d.join("new.zarr"));
                let _ = std::fs::remove_dir_all(store.join("g"));
            }
        }
    }
    assert!(interrupted > 0, "every copy of {CHUNKS} chunks finished before its signal");
    // SIGKILL leaves the temporary, with its chunk files; the next copy to the same place
    // removes it before writing, then finishes.
    let mut child =
        larder().arg("copy").arg(&src).arg(d.join("new.zarr")).arg("-q").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_mins(3);
    while temporaries(d).iter().map(|t| files(t)).sum::<usize>() < 1000 {
        assert!(Instant::now() < deadline, "no chunk written in 3 minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(child.id(), "-KILL");
    child.wait().unwrap();
    let left = temporaries(d);
    assert_eq!(left.len(), 1, "{left:?}");
    let o = larder().arg("copy").arg(&small).arg(d.join("new.zarr")).arg("-q").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(temporaries(d), Vec::<PathBuf>::new());
    let back = larder::ZarrArray::<f64>::open(d.join("new.zarr")).unwrap();
    assert_eq!(larder::ArrayRead::shape(&back), &[2]);
}
