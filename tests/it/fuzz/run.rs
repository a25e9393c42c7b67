//! Running one input through the library (in process, a panic caught) and through the `larder`
//! binary (a child with a timeout and a memory cap), and what counts as a finding.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use larder::Selection;
use larder::ops::cat::TextFormat;

use super::Kind;

/// Wall-clock limit for one child process or one in-process library pass: a hang detector. A
/// debug build takes about 5 s on the 1,000-column fixture alone on 2 cores, and several times
/// that when the tests around it keep every core busy.
pub(crate) const TIMEOUT: Duration = Duration::from_mins(1);
/// Address space a child may reserve (`ulimit -v`): an allocation past it aborts the child,
/// which the run reports as a signal death.
pub(crate) const ADDRESS_SPACE_KIB: u64 = 4 << 20;
/// Peak resident memory a child may reach on these inputs (all under 1 MiB).
pub(crate) const PEAK_RSS_KIB: u64 = 512 << 10;
/// Arrays with more elements than this are legitimately slow to read whole (a small Zarr store
/// may declare 2^60 elements of fill value); they get only the commands that read a summary.
pub(crate) const WHOLE_READ_ELEMENTS: u64 = 1 << 24;
/// The modification time every delta case gives its base, so a delta saved over it reopens
/// after the files are written again elsewhere.
pub(crate) fn base_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// One input: the files of a case, by path relative to the case directory.
#[derive(Clone)]
pub(crate) struct Case {
    pub(crate) kind: Kind,
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

impl Case {
    /// Writes the files under `dir`.
    pub(crate) fn write(&self, dir: &Path) {
        for (rel, bytes) in &self.files {
            let p = dir.join(rel);
            fs::create_dir_all(p.parent().expect("a file under dir")).unwrap();
            fs::write(&p, bytes).unwrap();
        }
        if self.kind == Kind::Delta {
            let f = fs::File::options().write(true).open(dir.join("base.npy")).unwrap();
            f.set_modified(base_mtime()).unwrap();
        }
    }

    /// A short stable name: the hash of the contents.
    pub(crate) fn name(&self) -> String {
        let mut all = Vec::new();
        for (k, v) in &self.files {
            all.extend_from_slice(k.as_bytes());
            all.extend_from_slice(v);
        }
        format!("{:016x}", twox_hash::XxHash3_64::oneshot(&all))
    }
}

/// Something that must not happen.
pub(crate) struct Finding {
    pub(crate) what: String,
}

/// What one case ran.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) library: u64,
    pub(crate) binary: u64,
    pub(crate) binary_ok: u64,
    pub(crate) binary_err: u64,
    pub(crate) large: u64,
}

/// The size of the array at `p` for reading it whole, if it opens: its element count, or for
/// an empty array the count of the axes before the empty one (`cat --json` of `(2^53, 0)`
/// prints 2^53 empty lists).
fn elements(p: &Path) -> Option<u64> {
    let s = larder::open(p).ok()?;
    let leading = s.shape().iter().take_while(|&&d| d > 0);
    Some(leading.fold(1u64, |n, &d| n.saturating_mul(d as u64)))
}

/// The library pass of a case: every error is fine, a panic or a hang is not.
pub(crate) fn library(kind: Kind, dir: &Path) {
    let sink = &mut std::io::sink();
    let all = Selection::all();
    match kind {
        Kind::Npy | Kind::Zarr | Kind::Hdf5 => {
            let p = dir.join(kind.target());
            if kind == Kind::Npy {
                let bytes = fs::read(&p).unwrap_or_default();
                let _ = larder::npy::Header::parse(&bytes);
            }
            let _ = larder::info(&p);
            let _ = larder::ops::cat::cat(&p, &all, TextFormat::Text, sink);
            if elements(&p).is_some_and(|n| n <= WHOLE_READ_ELEMENTS) {
                let _ = larder::ops::cat::cat(&p, &all, TextFormat::Json, sink);
                let _ = larder::compute::StatsOptions::new().quantiles(&[0.5]).compute(&p);
                let _ = larder::compute::summary_axis_any(&p, 0);
                let _ = larder::copy(&p, dir.join("lib.npy"));
                let _ = larder::copy(&p, dir.join("lib.zarr"));
            }
        }
        Kind::Csv => {
            let out = dir.join("lib-out");
            let r = larder::convert::ConvertOptions::new().convert(
                dir.join("in.csv"),
                &out,
                &mut |_| {},
            );
            if r.is_ok() {
                dataset(&out);
            }
        }
        Kind::Manifest => dataset(&dir.join("ds")),
        Kind::Group => super::group::library(dir),
        Kind::Location => super::location::library(dir),
        Kind::Delta => {
            let (base, d) = (dir.join("base.npy"), dir.join("d.delta"));
            let _ = larder::npy::cow::describe_delta(&d);
            let _ = larder::info_with_deltas(&base, &[&d]);
            let _ = larder::ops::cat::cat_with_deltas(&base, &[&d], &all, TextFormat::Json, sink);
            if let Ok(s) = larder::open_with_deltas(&base, &[&d]) {
                let _ = larder::compute::StatsOptions::new().compute_store(&s, &base);
            }
        }
    }
}

/// The library's reads of a dataset directory.
fn dataset(dir: &Path) {
    let sink = &mut std::io::sink();
    let _ = larder::ops::info::dataset_info(dir);
    let _ = larder::ops::table::cat_dataset(dir, &Selection::all(), TextFormat::Text, sink);
    let _ = larder::ops::table::cat_dataset(dir, &Selection::all(), TextFormat::Json, sink);
    let names = column_names(dir);
    if let Some(by) = names.first() {
        let mut aggs = vec!["count".parse::<larder::compute::Agg>().expect("a valid aggregate")];
        for n in names.iter().skip(1).take(2) {
            if let Ok(a) = format!("sum:{n}").parse() {
                aggs.push(a);
            }
        }
        let _ = larder::compute::groupby(dir, by, &aggs);
    }
    if let Ok(ds) = larder::dataset::Dataset::open(dir) {
        for c in ds.columns() {
            let _ = c.null_count();
            let _ = c.categories().map(|c| c.map(|c| c.to_vec()));
            let _ = c.strings();
            let _ = larder::compute::StatsOptions::new().compute(c.file());
        }
    }
}

/// The column names a (possibly damaged) manifest lists, without validating it.
fn column_names(dir: &Path) -> Vec<String> {
    let Ok(text) = fs::read(dir.join("manifest.json")) else { return Vec::new() };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else { return Vec::new() };
    v["columns"]
        .as_array()
        .map(|cols| {
            cols.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                // Names an aggregate argument can carry.
                .filter(|n| !n.is_empty() && !n.contains(','))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the library pass on a thread: a panic or a pass longer than [`TIMEOUT`] is a finding.
/// HDF5 files are parsed by libhdf5, C code whose crash on a malformed file would end this
/// process; its pass runs in a child (this test binary, `fuzz_library_worker`), where a
/// signal is a finding like any other.
pub(crate) fn run_library(kind: Kind, dir: &Path) -> Option<Finding> {
    if kind == Kind::Hdf5 {
        return run_library_in_child(kind, dir);
    }
    let (tx, rx) = mpsc::channel();
    let d = dir.to_path_buf();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| library(kind, &d)));
        let _ = tx.send(r.err().map(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default()
        }));
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(None) => None,
        Ok(Some(msg)) => Some(Finding { what: format!("library: panic: {msg}") }),
        Err(_) => Some(Finding { what: format!("library: no answer in {TIMEOUT:?}") }),
    }
}

fn run_library_in_child(kind: Kind, dir: &Path) -> Option<Finding> {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["fuzz::fuzz_library_worker", "--exact", "--ignored", "--nocapture"])
        .env("LARDER_FUZZ_WORKER_DIR", dir)
        .env("LARDER_FUZZ_WORKER_KIND", kind.dir_name())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let err = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let tail: String = err.chars().take(400).collect();
    match status {
        None => Some(Finding { what: format!("library (child): no answer in {TIMEOUT:?}") }),
        Some(st) if st.success() => None,
        Some(st) => Some(Finding { what: format!("library (child): {st}: {tail}") }),
    }
}

/// The command lines of the binary for a case in `dir` (paths relative to `dir`).
pub(crate) fn commands(kind: Kind, dir: &Path, tally: &mut Tally) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    match kind {
        Kind::Npy | Kind::Zarr | Kind::Hdf5 => {
            let t = kind.target();
            let mut c = vec![v(&["info", t]), v(&["cat", t])];
            let n = elements(&dir.join(t));
            if n.is_some_and(|n| n > WHOLE_READ_ELEMENTS) {
                tally.large += 1;
            }
            if n.is_some_and(|n| n <= WHOLE_READ_ELEMENTS) {
                c.extend([
                    v(&["cat", t, "--json"]),
                    v(&["stats", t, "--quantile", "0.5"]),
                    v(&["stats", t, "--axis", "0"]),
                    v(&["copy", t, "out.npy"]),
                    v(&["copy", t, "out.zarr"]),
                ]);
            }
            c
        }
        Kind::Csv => vec![v(&["convert", "in.csv", "out", "-q"])],
        Kind::Manifest => dataset_commands(dir, "ds"),
        Kind::Group => super::group::commands(),
        Kind::Location => super::location::commands(dir),
        Kind::Delta => vec![
            v(&["info", "d.delta"]),
            v(&["info", "base.npy", "--delta", "d.delta"]),
            v(&["cat", "base.npy", "--delta", "d.delta", "--json"]),
            v(&["stats", "base.npy", "--delta", "d.delta"]),
            v(&["copy", "base.npy", "out.npy", "--delta", "d.delta"]),
        ],
    }
}

/// Runs the binary with `args` in `dir` under the memory cap and the timeout.
pub(crate) fn run_binary(
    kind: Kind,
    dir: &Path,
    args: &[String],
    tally: &mut Tally,
) -> Option<Finding> {
    if args.iter().any(|a| a.contains('\0') || a.len() > 64 << 10) {
        return None; // not a command line the kernel passes (a NUL, or past 128 KiB)
    }
    tally.binary += 1;
    let mut sh = Command::new("sh");
    if kind == Kind::Location {
        // Object locations fail at a port where nothing listens, never at the metadata
        // service of a cloud machine (which a missing key would ask).
        sh.env("AWS_ACCESS_KEY_ID", "fuzz")
            .env("AWS_SECRET_ACCESS_KEY", "fuzz")
            .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:1")
            .env_remove("AWS_ENDPOINT_URL");
    }
    let mut child = sh
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_larder"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let start = Instant::now();
    let mut peak = 0u64;
    let status = loop {
        // Only larder's own figure: before `exec` the pid is `sh`, and a pid read after the
        // child was gone can name another process (a thread of this one showed its 500 MB).
        let now = fs::read_to_string(&status_file).unwrap_or_default();
        if now.lines().any(|l| l == "Name:\tlarder")
            && let Some(hwm) = vm_hwm(&now)
        {
            peak = peak.max(hwm);
        }
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let err = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let cmd = args.join(" ");
    let tail: String = err.chars().take(400).collect();
    let Some(status) = status else {
        return Some(Finding { what: format!("larder {cmd}: no exit in {TIMEOUT:?}") });
    };
    if peak > PEAK_RSS_KIB {
        return Some(Finding { what: format!("larder {cmd}: peak RSS {peak} KiB: {tail}") });
    }
    if err.contains("panicked at") {
        // Caught or not, a panic is a bug (larder catches some inside zarrs as a last resort).
        return Some(Finding { what: format!("larder {cmd}: panic (exit {status}): {tail}") });
    }
    match status.code() {
        Some(0) => {
            tally.binary_ok += 1;
            None
        }
        Some(1) => {
            tally.binary_err += 1;
            let names = kind.names();
            let line = err.lines().next().unwrap_or("");
            let clear = line.starts_with("larder: ")
                && err.lines().count() <= 2
                && names.iter().any(|n| line.contains(n));
            (!clear).then(|| Finding { what: format!("larder {cmd}: unclear error: {tail}") })
        }
        Some(c) => Some(Finding { what: format!("larder {cmd}: exit {c}: {tail}") }),
        None => {
            use std::os::unix::process::ExitStatusExt as _;
            Some(Finding { what: format!("larder {cmd}: signal {:?}: {tail}", status.signal()) })
        }
    }
}

/// The commands that read the dataset `ds` in `dir`.
fn dataset_commands(dir: &Path, ds: &str) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let mut c = vec![v(&["info", ds]), v(&["cat", ds]), v(&["cat", ds, "--json"])];
    let names = column_names(&dir.join(ds));
    if let Some(by) = names.first() {
        let mut agg = "count".to_string();
        if let Some(n) = names.get(1) {
            let _ = write!(agg, ",mean:{n}");
        }
        c.push(v(&["groupby", ds, &format!("--by={by}"), &format!("--agg={agg}")]));
    }
    c
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs a case: the library pass, then `pick` of the binary's commands (all when `None`).
/// Returns the findings.
pub(crate) fn run_case(
    case: &Case,
    pick: Option<&mut super::rng::Rng>,
    tally: &mut Tally,
) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    case.write(dir.path());
    let mut found = Vec::new();
    tally.library += 1;
    found.extend(run_library(case.kind, dir.path()));
    let mut cmds = commands(case.kind, dir.path(), tally);
    if let Some(rng) = pick {
        // Two commands per mutated input: more inputs for the same time.
        while cmds.len() > 2 {
            cmds.remove(rng.below(cmds.len()));
        }
    }
    let fresh = tempfile::tempdir().unwrap();
    case.write(fresh.path());
    for args in &cmds {
        found.extend(run_binary(case.kind, fresh.path(), args, tally));
    }
    if case.kind == Kind::Csv && fresh.path().join("out").is_dir() {
        // What convert wrote must read back.
        for args in dataset_commands(fresh.path(), "out") {
            found.extend(run_binary(Kind::Csv, fresh.path(), &args, tally));
        }
    }
    if case.kind == Kind::Group && fresh.path().join("back").is_dir() {
        // A group copied back to a dataset must read as one.
        for args in dataset_commands(fresh.path(), "back") {
            found.extend(run_binary(Kind::Group, fresh.path(), &args, tally));
        }
    }
    if case.kind == Kind::Location {
        let what = super::location::check_nothing_local(fresh.path());
        found.extend(what.map(|w| Finding { what: w }));
    }
    found
}
