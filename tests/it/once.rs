//! Exactly once by content: a CSV appended before is recognised whatever its compression or
//! name (the decompressed bytes are fingerprinted while they are read), and the dataset is left
//! unchanged when it is refused or skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use larder::convert::{ConvertOptions, Step};
use larder::dataset::Manifest;

use crate::support::FailAt;

fn rows(from: usize, to: usize) -> String {
    let mut s = String::from("k,v\n");
    for i in from..to {
        writeln!(s, "key{},{i}", i % 13).unwrap();
    }
    s
}

/// gzip with a given modification time in its header, as `gzip` run at another moment writes.
fn gzip(data: &[u8], mtime: u32) -> Vec<u8> {
    let mut e =
        flate2::GzBuilder::new().mtime(mtime).write(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// The same CSV stored five ways, under five names.
fn forms(dir: &Path, csv: &str) -> Vec<PathBuf> {
    let half = csv.len() / 2;
    let files: [(&str, Vec<u8>); 5] = [
        ("plain.csv", csv.as_bytes().to_vec()),
        ("day.csv.gz", gzip(csv.as_bytes(), 1_700_000_000)),
        ("again.csv.gz", gzip(csv.as_bytes(), 1_700_000_777)),
        ("day.csv.zst", zstd(csv.as_bytes())),
        // Two gzip members, as `cat a.gz b.gz` makes.
        ("two.gz", [gzip(&csv.as_bytes()[..half], 1), gzip(&csv.as_bytes()[half..], 2)].concat()),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        // Files only: the zone maps in zones/ are checked by tests/it/zones.rs.
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())
        })
        .collect()
}

fn opts() -> ConvertOptions {
    let mut o = ConvertOptions::new();
    o.block_size(512).checkpoint_interval(Duration::ZERO);
    o
}

fn skipping() -> ConvertOptions {
    let mut o = opts();
    o.skip_loaded(true);
    o
}

#[test]
fn a_csv_loaded_before_is_refused_or_skipped_whatever_its_compression_or_name() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    fs::write(&seed, rows(0, 5)).unwrap();
    let all = forms(dir.path(), &rows(100, 400));
    let mut cases = 0;
    for (i, first) in all.iter().enumerate() {
        let ds = dir.path().join(format!("ds{i}"));
        opts().convert(&seed, &ds, &mut |_| {}).unwrap();
        opts().append_files(std::slice::from_ref(first), &ds, &mut |_| {}).unwrap();
        let after = tree(&ds);
        for other in all.iter().filter(|p| *p != first) {
            let what = format!("{} then {}", first.display(), other.display());
            let e = opts().append_files(std::slice::from_ref(other), &ds, &mut |_| {});
            match e {
                Err(larder::Error::Invalid { path, reason }) => {
                    assert_eq!(&path, other, "{what}");
                    assert!(reason.contains("was loaded into"), "{what}: {reason}");
                    let first_name = first.display().to_string();
                    assert!(reason.contains(&first_name), "{what}: names the first: {reason}");
                }
                other => panic!("{what}: {other:?}"),
            }
            assert!(tree(&ds) == after, "{what}: a refusal changes nothing");
            assert!(!ds.join(".append.larder-tmp").exists(), "{what}: nothing left to resume");
            let r = skipping().append_files(std::slice::from_ref(other), &ds, &mut |_| {});
            let r = r.unwrap();
            assert!(r.load.is_none() && r.skipped == [other.clone()], "{what}: {r:?}");
            assert!(tree(&ds) == after, "{what}: a skip changes nothing");
            cases += 1;
        }
        assert_eq!(Manifest::read(&ds).unwrap().rows, 305);
    }
    assert_eq!(cases, 20);
}

#[test]
fn the_manifest_records_the_csv_of_compressed_inputs_and_a_conversion_counts_as_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let all = forms(dir.path(), &rows(0, 200));
    // A dataset converted from the gzip file (not appended): its plain copy is loaded already.
    let ds = dir.path().join("ds");
    opts().convert(&all[1], &ds, &mut |_| {}).unwrap();
    let m = Manifest::read(&ds).unwrap();
    let csv_len = rows(0, 200).len() as u64;
    assert_eq!(m.source.csv_bytes, Some(csv_len));
    assert_eq!(m.source.csv_xxh3.as_ref().map(String::len), Some(16));
    assert_ne!(m.source.csv_xxh3, m.source.xxh3);
    let e = opts().append_files(&all[..1], &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("the same CSV, compressed there"), "{e}");
    // Several inputs converted as one: each compressed one gets its own record.
    let (zst, plain) = (dir.path().join("a.csv.zst"), dir.path().join("b.csv"));
    fs::write(&zst, zstd(rows(200, 300).as_bytes())).unwrap();
    fs::write(&plain, rows(300, 350)).unwrap();
    let ds2 = dir.path().join("ds2");
    opts().convert_files(&[zst, plain], &ds2, &mut |_| {}).unwrap();
    let m = Manifest::read(&ds2).unwrap();
    assert_eq!(m.sources[0].csv_bytes, Some(rows(200, 300).len() as u64));
    assert_eq!((m.sources[1].csv_bytes, m.sources[1].csv_xxh3.as_deref()), (None, None));
    // The plain CSV inside a.csv.zst, under another name, is recognised.
    let inner = dir.path().join("inner.csv");
    fs::write(&inner, rows(200, 300)).unwrap();
    let r = skipping().append_files(std::slice::from_ref(&inner), &ds2, &mut |_| {}).unwrap();
    assert_eq!(r.skipped, [inner]);
}

#[test]
fn within_one_append_a_repeated_csv_is_caught_and_the_new_files_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    fs::write(&seed, rows(0, 5)).unwrap();
    let all = forms(dir.path(), &rows(100, 400));
    let new = dir.path().join("new.csv.gz");
    fs::write(&new, gzip(rows(400, 450).as_bytes(), 9)).unwrap();
    let ds = dir.path().join("ds");
    opts().convert(&seed, &ds, &mut |_| {}).unwrap();
    let before = tree(&ds);
    // The same CSV twice in one append, both compressed (known only once read).
    let given = vec![all[1].clone(), new.clone(), all[3].clone()];
    let e = opts().append_files(&given, &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("earlier in this append"), "{e}");
    assert!(e.to_string().starts_with(&all[3].display().to_string()), "{e}");
    assert!(tree(&ds) == before, "refused: nothing changed");
    let r = skipping().append_files(&given, &ds, &mut |_| {}).unwrap();
    assert_eq!(r.skipped, [all[3].clone()]);
    let load = r.load.unwrap();
    assert_eq!((load.rows, load.sources.len()), (350, 2));
    // The output equals an append of the two distinct files alone.
    let reference = dir.path().join("reference");
    opts().convert(&seed, &reference, &mut |_| {}).unwrap();
    opts().append_files(&[all[1].clone(), new.clone()], &reference, &mut |_| {}).unwrap();
    for f in ["k.npy", "v.npy"] {
        assert_eq!(fs::read(ds.join(f)).unwrap(), fs::read(reference.join(f)).unwrap(), "{f}");
    }
    // Now both are loaded: with a plain file loaded before and a new one, the new one loads.
    let newer = dir.path().join("newer.csv");
    fs::write(&newer, rows(450, 460)).unwrap();
    let r =
        skipping().append_files(&[all[4].clone(), newer.clone(), all[0].clone()], &ds, &mut |_| {});
    let r = r.unwrap();
    assert_eq!(r.skipped.len(), 2, "{r:?}");
    assert_eq!(r.manifest.rows, 365);
}

#[test]
fn manifests_without_the_csv_record_are_still_checked_by_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    fs::write(&seed, rows(0, 5)).unwrap();
    let all = forms(dir.path(), &rows(100, 200));
    let ds = dir.path().join("ds");
    opts().convert(&seed, &ds, &mut |_| {}).unwrap();
    opts().append_files(&[all[1].clone(), all[0].clone()], &ds, &mut |_| {}).unwrap_err();
    opts().append_files(&all[1..2], &ds, &mut |_| {}).unwrap();
    // As a larder that did not record the CSV wrote it.
    let path = ds.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let source = &mut m["appends"][0]["sources"][0];
    let obj = source.as_object_mut().unwrap();
    assert!(obj.remove("csv_bytes").is_some() && obj.remove("csv_xxh3").is_some());
    fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let e = opts().append_files(&all[1..2], &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("the same size and content"), "{e}");
    // The old record cannot tell the plain copy; it is loaded, and recorded as plain.
    let r = opts().append_files(&all[..1], &ds, &mut |_| {}).unwrap();
    assert_eq!(r.manifest.rows, 205);
}

#[test]
fn an_interrupted_append_of_a_csv_loaded_before_is_discarded_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    fs::write(&seed, rows(0, 5)).unwrap();
    let all = forms(dir.path(), &rows(100, 3000));
    // Stopped in the middle of the staging (a resume decompresses it again from the start),
    // and stopped with every row staged (a resume reads nothing).
    for (k, (step, n)) in [(Step::Checkpoint, 3), (Step::Cleanup, 1)].into_iter().enumerate() {
        for skip in [false, true] {
            let what = format!("{step:?} skip {skip}");
            let ds = dir.path().join(format!("ds{k}{skip}"));
            opts().convert(&seed, &ds, &mut |_| {}).unwrap();
            opts().append_files(&all[..1], &ds, &mut |_| {}).unwrap();
            let after = tree(&ds);
            let mut o = opts();
            o.faults(FailAt::new(step, n));
            o.append_files(&all[2..3], &ds, &mut |_| {}).expect_err(&what);
            assert!(ds.join(".append.larder-tmp").exists(), "{what}: left to resume");
            let mut o = opts();
            o.resume(true).skip_loaded(skip);
            let r = o.append_files(&all[2..3], &ds, &mut |_| {});
            if skip {
                let r = r.unwrap();
                assert!(r.load.is_none() && r.skipped == all[2..3], "{what}: {r:?}");
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains("the same CSV once decompressed"), "{what}: {e}");
            }
            assert!(!ds.join(".append.larder-tmp").exists(), "{what}");
            let mut now = tree(&ds);
            now.remove(".append.larder-tmp");
            assert!(now == after, "{what}: the dataset as it was");
        }
    }
}

#[test]
fn the_cli_skips_a_recompressed_copy_and_says_which_file_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    fs::write(&seed, rows(0, 5)).unwrap();
    let all = forms(dir.path(), &rows(100, 200));
    let ds = dir.path().join("ds");
    let bin = env!("CARGO_BIN_EXE_larder");
    let run = |args: &[&Path], extra: &[&str]| {
        Command::new(bin).args(["convert", "--append"]).args(extra).args(args).output().unwrap()
    };
    assert!(
        Command::new(bin).arg("convert").arg(&seed).arg(&ds).output().unwrap().status.success()
    );
    assert!(run(&[&all[1], &ds], &[]).status.success());
    let o = run(&[&all[2], &ds], &["--json", "--skip-loaded"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["appended"].is_null() && j["rows"] == 105, "{j}");
    let o = run(&[&all[3], &ds], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("day.csv.zst: was loaded into") && err.contains("day.csv.gz"), "{err}");
}
