//! One request to stop, however many times its signal arrives: GNU `timeout` sends SIGTERM to
//! the program and again to its process group, and a copy stopped that way must still clean up
//! (it was killed by the second signal in the middle of removing its temporary).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::support::larder;

/// A `.npy` of `n` float64 values that compress slowly at zstd:19.
fn source(dir: &Path, n: usize) -> std::path::PathBuf {
    let p = dir.join("a.npy");
    let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 100_003) as f64 * 1.5).collect();
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), values).unwrap();
    larder::write_npy(&p, &a).unwrap();
    p
}

fn start_copy(dir: &Path, src: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let mut c = larder();
    c.args(["copy", src.to_str().unwrap(), "out.zarr", "--codec", "zstd:19", "-q"])
        .current_dir(dir)
        .stderr(Stdio::piped());
    // SAFETY: `signal` is async-signal-safe. Under a background job of a non-interactive
    // shell (a CI runner) SIGINT is ignored, and a program keeps a signal ignored at its start.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    c.spawn().unwrap()
}

/// Waits until the copy has its temporary store (it is under way), for at most a minute.
fn under_way(dir: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while leftovers(dir).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
}

fn send(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on a child we started and have not yet waited for.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "a.npy")
        .collect()
}

#[test]
fn a_signal_sent_twice_at_once_is_one_request_and_the_copy_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path(), 4 << 20);
    for (first, again) in [(libc::SIGTERM, libc::SIGTERM), (libc::SIGINT, libc::SIGINT)] {
        let child = start_copy(dir.path(), &src);
        under_way(dir.path());
        send(&child, first);
        std::thread::sleep(Duration::from_millis(20));
        send(&child, again);
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.signal(), Some(first), "{err}");
        assert!(err.contains("interrupted by SIG"), "{err}");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "{err}");
    }
}
