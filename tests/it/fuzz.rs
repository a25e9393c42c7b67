//! The fuzz suite: seeded structural mutation of every format larder reads (`.npy` headers and
//! data, Zarr metadata, chunks and shard indexes, HDF5 files, CSV input of `convert`, dataset
//! manifests and their column files, delta files), each input run through the library in
//! process (a panic is caught and reported) and through the `larder` binary (no panic, no
//! signal, no hang, peak memory under a bound, an error that names the file). See
//! `docs/reliability.md`.
//!
//! - `fuzz_bounded_run_finds_nothing` runs for a few seconds per kind in every `cargo test`.
//! - `scripts/fuzz --minutes N [--seed S]` runs the same loop longer (the ignored test
//!   `fuzz_long_run`, configured by `LARDER_FUZZ_SECONDS`, `LARDER_FUZZ_SEED`,
//!   `LARDER_FUZZ_SAVE`); inputs that fail are saved as fixture directories.
//! - Every input that ever failed lives in `fixtures/fuzz/<kind>/<name>/` and is replayed, with
//!   every command, by `fuzz_fixtures_replay_without_findings`.

// File names compared here are the suite's own, in lower case.
#![allow(clippy::case_sensitive_file_extension_comparisons)]

mod group;
mod location;
mod mutate;
mod rng;
mod run;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rng::Rng;
use run::{Case, Tally};

use crate::support::fixture;

/// What is mutated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Npy,
    Zarr,
    Hdf5,
    Csv,
    Manifest,
    Delta,
    Group,
    Location,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Npy,
        Kind::Zarr,
        Kind::Hdf5,
        Kind::Csv,
        Kind::Manifest,
        Kind::Delta,
        Kind::Group,
        Kind::Location,
    ];

    pub(crate) fn dir_name(self) -> &'static str {
        match self {
            Kind::Npy => "npy",
            Kind::Zarr => "zarr",
            Kind::Hdf5 => "hdf5",
            Kind::Csv => "csv",
            Kind::Manifest => "manifest",
            Kind::Delta => "delta",
            Kind::Group => "group",
            Kind::Location => "location",
        }
    }

    /// The path a case of this kind is read at, relative to its directory.
    pub(crate) fn target(self) -> &'static str {
        match self {
            Kind::Npy => "a.npy",
            Kind::Zarr => "a.zarr",
            Kind::Hdf5 => "a.h5",
            Kind::Csv => "in.csv",
            Kind::Manifest => "ds",
            Kind::Delta => "d.delta",
            Kind::Group => group::TARGET,
            Kind::Location => location::TARGET,
        }
    }

    /// Names one of which an error message about a case must contain.
    pub(crate) fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Npy => &["a.npy", "out."],
            Kind::Zarr => &["a.zarr", "out."],
            Kind::Hdf5 => &["a.h5", "out."],
            Kind::Csv => &["in.csv", "out"],
            Kind::Manifest => &["ds"],
            Kind::Delta => &["d.delta", "base.npy", "out.npy"],
            Kind::Group => &[group::TARGET, "back"],
            // The copy's context names the local side.
            Kind::Location => &["a.npy", "out.npy"],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// Every file under `dir`, by path relative to `prefix`.
fn files_under(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        let rel = format!("{prefix}/{}", p.file_name().unwrap().to_string_lossy());
        if p.is_dir() {
            files_under(&p, &rel, out);
        } else {
            out.insert(rel, fs::read(&p).unwrap());
        }
    }
}

fn listed(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(fixture(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn one(kind: Kind, name: &str, bytes: Vec<u8>) -> Case {
    Case { kind, files: BTreeMap::from([(name.to_string(), bytes)]) }
}

/// The unmutated inputs of a kind, from the committed fixtures (datasets and deltas are made
/// from them by the library first).
fn seeds(kind: Kind) -> Vec<Case> {
    match kind {
        Kind::Npy => {
            listed("npy", "npy").iter().map(|p| one(kind, "a.npy", fs::read(p).unwrap())).collect()
        }
        Kind::Zarr => listed("zarr", "zarr")
            .iter()
            .map(|p| {
                let mut files = BTreeMap::new();
                files_under(p, "a.zarr", &mut files);
                Case { kind, files }
            })
            .collect(),
        Kind::Hdf5 => {
            listed("hdf5", "h5").iter().map(|p| one(kind, "a.h5", fs::read(p).unwrap())).collect()
        }
        Kind::Csv => listed("csv", "csv")
            .iter()
            .chain([&fixture("sample/requests.csv")])
            .map(|p| {
                let mut b = fs::read(p).unwrap();
                b.truncate(16 << 10);
                one(kind, "in.csv", b)
            })
            .collect(),
        Kind::Manifest => {
            let tmp = tempfile::tempdir().unwrap();
            ["inference", "missing_marked", "datetimes", "na_tokens", "quoted", "hostile_names"]
                .iter()
                .chain(&["requests"])
                .filter_map(|name| {
                    let csv = if *name == "requests" {
                        fixture("sample/requests.csv")
                    } else {
                        fixture(&format!("csv/{name}.csv"))
                    };
                    let out = tmp.path().join(name);
                    larder::convert::ConvertOptions::new().convert(&csv, &out, &mut |_| {}).ok()?;
                    let mut files = BTreeMap::new();
                    files_under(&out, "ds", &mut files);
                    Some(Case { kind, files })
                })
                .collect()
        }
        Kind::Delta => {
            let tmp = tempfile::tempdir().unwrap();
            [(1usize, vec![100usize]), (3, vec![0, 5000, 9000]), (2, vec![])]
                .into_iter()
                .map(|(pages, elems)| {
                    let base = tmp.path().join("base.npy");
                    let len = pages * larder::page_size() / 4;
                    let mut a = larder::MmapArray::<u32>::create(&base, &[len]).unwrap();
                    for (i, v) in a.view_mut().unwrap().iter_mut().enumerate() {
                        *v = i as u32;
                    }
                    a.close().unwrap();
                    let f = fs::File::options().write(true).open(&base).unwrap();
                    f.set_modified(run::base_mtime()).unwrap();
                    drop(f);
                    let mut c = larder::MmapArray::<u32>::open_cow(&base).unwrap();
                    for &e in elems.iter().filter(|&&e| e < len) {
                        c.view_mut().unwrap()[[e]] = 7;
                    }
                    let d = tmp.path().join("d.delta");
                    c.save_delta(&d).unwrap();
                    drop(c);
                    let files = BTreeMap::from([
                        ("base.npy".to_string(), fs::read(&base).unwrap()),
                        ("d.delta".to_string(), fs::read(&d).unwrap()),
                    ]);
                    fs::remove_file(&d).unwrap();
                    Case { kind, files }
                })
                .collect()
        }
        Kind::Group => group::seeds(),
        Kind::Location => location::seeds(),
    }
}

// ---------------------------------------------------------------------------------------------
// Mutation of a case

/// Inner chunks per shard, from a Zarr v3 `zarr.json` with a sharding codec.
fn shard_entries(meta: &[u8]) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_slice(meta).ok()?;
    let outer = v["chunk_grid"]["configuration"]["chunk_shape"].as_array()?;
    let codec = v["codecs"].as_array()?.iter().find(|c| c["name"] == "sharding_indexed")?;
    let inner = codec["configuration"]["chunk_shape"].as_array()?;
    outer.iter().zip(inner).try_fold(1usize, |n, (o, i)| {
        n.checked_mul((o.as_u64()? as usize).div_ceil(i.as_u64()?.max(1) as usize))
    })
}

fn mutate(rng: &mut Rng, seed: &Case, other: &Case) -> Case {
    let mut case = seed.clone();
    let pick_other = |rng: &mut Rng| -> Vec<u8> {
        let v: Vec<&Vec<u8>> = other.files.values().collect();
        (*rng.pick(&v)).clone()
    };
    match seed.kind {
        Kind::Npy => {
            let b = &seed.files["a.npy"];
            let o = pick_other(rng);
            case.files.insert("a.npy".into(), mutate::npy(rng, b, &o));
        }
        Kind::Hdf5 => {
            let o = pick_other(rng);
            let b = case.files.get_mut("a.h5").expect("seed");
            mutate::bytes(rng, b, &o);
        }
        Kind::Csv => {
            let b = case.files["in.csv"].clone();
            case.files.insert("in.csv".into(), mutate::csv(rng, &b));
        }
        Kind::Zarr | Kind::Manifest => {
            for _ in 0..=rng.below(2) {
                // Listed again each round: a round may have removed a file.
                let keys: Vec<String> = case.files.keys().cloned().collect();
                let json: Vec<&String> = keys.iter().filter(|k| is_json(k)).collect();
                let data: Vec<&String> = keys.iter().filter(|k| !is_json(k)).collect();
                if keys.is_empty() {
                    break;
                }
                match rng.below(10) {
                    0..=4 if !json.is_empty() => {
                        let k = *rng.pick(&json);
                        let m = mutate::json(rng, &case.files[k]);
                        case.files.insert(k.clone(), m);
                    }
                    5 | 6 if !data.is_empty() => {
                        let k = *rng.pick(&data);
                        let entries = keys
                            .iter()
                            .find(|k| k.ends_with("zarr.json"))
                            .and_then(|m| shard_entries(&case.files[m]));
                        let b = case.files.get_mut(k).expect("key");
                        match entries {
                            Some(n) if rng.one_in(2) => mutate::shard_index(rng, b, n),
                            _ if k.ends_with(".npy") && rng.one_in(2) => {
                                *b = mutate::npy(rng, &b.clone(), &[]);
                            }
                            _ => mutate::bytes(rng, b, &[]),
                        }
                    }
                    7 if !data.is_empty() => {
                        case.files.remove(*rng.pick(&data));
                    }
                    8 if !data.is_empty() => {
                        // A file of one seed where another's was: same name, other contents.
                        let k = *rng.pick(&data);
                        let o = pick_other(rng);
                        case.files.insert(k.clone(), o);
                    }
                    _ => {
                        let k = rng.pick(&keys).clone();
                        let o = pick_other(rng);
                        let b = case.files.entry(k).or_default();
                        mutate::bytes(rng, b, &o);
                    }
                }
            }
        }
        Kind::Group => group::mutate(rng, &mut case, other),
        Kind::Location => location::mutate(rng, &mut case),
        Kind::Delta => {
            let d = case.files.get_mut("d.delta").expect("seed");
            mutate::delta(rng, d);
            if rng.one_in(10) {
                let b = case.files.get_mut("base.npy").expect("seed");
                mutate::bytes(rng, b, &[]);
            }
        }
    }
    case
}

fn is_json(k: &str) -> bool {
    k.ends_with(".json")
        || k.ends_with(".zarray")
        || k.ends_with(".zattrs")
        || k.ends_with(".zgroup")
}

// ---------------------------------------------------------------------------------------------
// The loop

/// Per kind: inputs tried, library passes, binary runs (of which exit 0 and exit 1), inputs
/// too large to read whole, findings.
#[derive(Default)]
struct KindReport {
    inputs: u64,
    tally: Tally,
    findings: Vec<String>,
}

/// Mutates the seeds of each kind for `per_kind`, runs every input, saves failing ones under
/// `save`, prints the figures, and returns every finding.
fn fuzz(seed: u64, per_kind: Duration, save: &Path) -> Vec<String> {
    let mut all = Vec::new();
    let mut report = String::new();
    let only = std::env::var("LARDER_FUZZ_KINDS").ok();
    for kind in Kind::ALL {
        if kind == Kind::Hdf5 && !cfg!(feature = "hdf5") {
            continue;
        }
        if only.as_deref().is_some_and(|o| !o.split(',').any(|k| k == kind.dir_name())) {
            continue;
        }
        // One stream per kind: a kind's inputs do not depend on how many the kinds before it
        // got through.
        let mut rng = Rng::new(seed ^ (kind as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let seeds = seeds(kind);
        // The input being run, kept until the next: if the whole process dies, it is there.
        let current = save.join("current").join(kind.dir_name());
        let mut r = KindReport::default();
        let start = Instant::now();
        while start.elapsed() < per_kind {
            let s = rng.pick(&seeds);
            let o = rng.pick(&seeds);
            let mut case = mutate(&mut rng, s, o);
            // Stacked mutations now and then: an input several edits from any seed.
            for _ in 0..rng.below(3) {
                case = mutate(&mut rng, &case, o);
            }
            r.inputs += 1;
            let _ = fs::remove_dir_all(&current);
            case.write(&current);
            let found = run::run_case(&case, Some(&mut rng), &mut r.tally);
            if !found.is_empty() {
                let dir = save.join(kind.dir_name()).join(case.name());
                case.write(&dir);
                for f in found {
                    let line = format!("{}: {}", dir.display(), f.what);
                    eprintln!("finding: {line}");
                    r.findings.push(line);
                }
            }
        }
        let _ = writeln!(
            report,
            "{:<9} inputs {:>6}  library passes {:>6}  binary runs {:>6} (exit 0: {}, exit 1: {})  \
             too large to read whole {:>4}  findings {}",
            kind.dir_name(),
            r.inputs,
            r.tally.library,
            r.tally.binary,
            r.tally.binary_ok,
            r.tally.binary_err,
            r.tally.large,
            r.findings.len()
        );
        all.extend(r.findings);
    }
    eprintln!("fuzz seed {seed:#x}, {per_kind:?} per kind\n{report}");
    if let Some(p) = std::env::var_os("LARDER_FUZZ_REPORT") {
        fs::write(p, format!("seed {seed:#x}, {per_kind:?} per kind\n{report}")).unwrap();
    }
    all
}

fn save_dir() -> PathBuf {
    std::env::var_os("LARDER_FUZZ_SAVE")
        .map_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings"), PathBuf::from)
}

/// A short run in every `cargo test`: a fixed seed, a few seconds per kind.
#[test]
fn fuzz_bounded_run_finds_nothing() {
    let found = fuzz(0x1a4d_e5f0, Duration::from_secs(5), &save_dir());
    assert!(found.is_empty(), "{} findings:\n{}", found.len(), found.join("\n"));
}

/// The long run `scripts/fuzz` starts.
#[test]
#[ignore = "long: run by scripts/fuzz"]
fn fuzz_long_run() {
    let env = |k: &str| std::env::var(k).ok();
    let seconds: u64 = env("LARDER_FUZZ_SECONDS").and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed = env("LARDER_FUZZ_SEED")
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x1a4d_e5f0);
    let only = env("LARDER_FUZZ_KINDS");
    let kinds = Kind::ALL
        .iter()
        .filter(|k| **k != Kind::Hdf5 || cfg!(feature = "hdf5"))
        .filter(|k| only.as_deref().is_none_or(|o| o.split(',').any(|n| n == k.dir_name())))
        .count()
        .max(1) as u64;
    let found = fuzz(seed, Duration::from_secs(seconds / kinds), &save_dir());
    assert!(found.is_empty(), "{} findings:\n{}", found.len(), found.join("\n"));
}

/// The library pass of one input in a child process (see `run::run_library`): does nothing
/// unless the suite started it.
#[test]
#[ignore = "started by the fuzz suite"]
fn fuzz_library_worker() {
    let (Some(dir), Ok(kind)) =
        (std::env::var_os("LARDER_FUZZ_WORKER_DIR"), std::env::var("LARDER_FUZZ_WORKER_KIND"))
    else {
        return;
    };
    let kind = Kind::ALL.into_iter().find(|k| k.dir_name() == kind).expect("a kind");
    run::library(kind, Path::new(&dir));
}

/// Every input the fuzzer ever failed on, with every command.
#[test]
fn fuzz_fixtures_replay_without_findings() {
    let mut found = Vec::new();
    let mut replayed = 0;
    for kind in Kind::ALL {
        if kind == Kind::Hdf5 && !cfg!(feature = "hdf5") {
            continue;
        }
        let root = fixture("fuzz").join(kind.dir_name());
        let Ok(entries) = fs::read_dir(&root) else { continue };
        let mut dirs: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            let mut files = BTreeMap::new();
            files_under(&d, "", &mut files);
            let files = files.into_iter().map(|(k, v)| (k[1..].to_string(), v)).collect();
            let case = Case { kind, files };
            for f in run::run_case(&case, None, &mut Tally::default()) {
                found.push(format!("{}: {}", d.display(), f.what));
            }
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} fuzz fixtures");
    assert!(found.is_empty(), "{}", found.join("\n"));
}
