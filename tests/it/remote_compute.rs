//! Computing where the data lives: `stats`, `groupby` (with `--every` and `--where`), `cat` and
//! `info --where` on a dataset's Zarr group — local, at a node, and in object storage (moto) —
//! print what the same command prints on the dataset, byte for byte, errors included (naming
//! the group instead of the dataset directory). Every dataset the conversion fixtures make is
//! checked, and a generated one with every column kind, in chunks that do not divide its rows.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::larder;

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?}: {}", c.get_args().collect::<Vec<_>>(), text(&o));
    o
}

/// A dataset and its group: how to run `larder` on the group, and how the group is named.
struct Pair {
    ds: PathBuf,
    /// The group's location as commands take it (`g.zarr`, `n.zarr:/node`, `s3://b/g.zarr`).
    group: String,
    /// The group as errors name it.
    label: String,
    /// `larder` set up to reach the group (credentials and endpoint for object storage).
    larder: Box<dyn Fn() -> Command>,
}

impl Pair {
    /// `larder args` on the dataset, then on the group (each `@` in `args` replaced by the
    /// target, or for `@/NAME` by the column's file or array); asserts equal exit status,
    /// stdout, and stderr once the dataset's path is told as the group's.
    fn same(&self, args: &[&str], arrays: &[(String, String, String)]) {
        let on_ds: Vec<String> = args.iter().map(|a| self.target(a, arrays, true)).collect();
        let on_group: Vec<String> = args.iter().map(|a| self.target(a, arrays, false)).collect();
        let a = larder().args(&on_ds).output().unwrap();
        let b = (self.larder)().args(&on_group).output().unwrap();
        let what = format!("{on_ds:?} vs {on_group:?}");
        assert_eq!(a.status.success(), b.status.success(), "{what}: {} | {}", text(&a), text(&b));
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{what}: stdout"
        );
        let ds = self.ds.display().to_string();
        let told = String::from_utf8_lossy(&a.stderr).replace(&ds, &self.label);
        assert_eq!(told, String::from_utf8_lossy(&b.stderr), "{what}: stderr");
    }

    fn target(&self, arg: &str, arrays: &[(String, String, String)], ds: bool) -> String {
        if arg == "@" {
            return if ds { self.ds.display().to_string() } else { self.group.clone() };
        }
        let Some(name) = arg.strip_prefix("@/") else { return arg.to_string() };
        let (_, file, array) = arrays.iter().find(|(n, _, _)| n == name).unwrap();
        match (ds, self.group.contains(".zarr:/")) {
            (true, _) => self.ds.join(file).display().to_string(),
            (false, true) => format!("{}/{array}", self.group),
            (false, false) => format!("{}:/{array}", self.group),
        }
    }
}

/// (name, file, array) of each column, and the kind of each (`number`, `categorical`, ...).
fn columns(p: &Pair) -> (Vec<(String, String, String)>, Vec<String>) {
    let ds = larder::Dataset::open(&p.ds).unwrap();
    let info: Value =
        serde_json::from_slice(&ok((p.larder)().args(["info", &p.group, "--json"])).stdout)
            .unwrap();
    let arrays = info["columns"].as_array().unwrap();
    let mut out = Vec::new();
    let mut kinds = Vec::new();
    for (c, a) in ds.columns().zip(arrays) {
        assert_eq!(a["name"], c.name());
        out.push((
            c.name().to_string(),
            c.manifest().file.clone(),
            a["array"].as_str().unwrap().to_string(),
        ));
        kinds.push(c.kind().as_str().to_string());
    }
    (out, kinds)
}

/// Every command of the family on the pair gives the same output.
fn check_pair(p: &Pair) {
    check_commands(p, true);
}

/// [`check_pair`]; `stats` of a column too when `stats` (`stats GROUP:/ARRAY` reads a column
/// of a dataset group; of another group, the array as it is stored).
fn check_commands(p: &Pair, stats: bool) {
    let (arrays, kinds) = columns(p);
    p.same(&["cat", "@"], &arrays);
    p.same(&["cat", "@", "--json"], &arrays);
    p.same(&["cat", "@", "--slice", "1:3"], &arrays);
    for ((name, _, _), kind) in arrays.iter().zip(&kinds) {
        let col = format!("@/{name}");
        if stats {
            p.same(&["stats", &col], &arrays);
            p.same(&["stats", &col, "--json"], &arrays);
        }
        if stats && kind == "number" {
            p.same(&["stats", &col, "--quantile", "0.5", "--bins", "3"], &arrays);
        }
        // Every other column as a value of each aggregate (refusals must match too).
        let mut aggs = vec!["count".to_string()];
        for ((v, _, _), k) in arrays.iter().zip(&kinds) {
            let q = format!("\"{}\"", v.replace('"', "\"\""));
            aggs.push(format!("count:{q}"));
            if k == "number" || k == "bool" {
                aggs.extend(["sum", "mean", "min", "max"].map(|a| format!("{a}:{q}")));
            }
        }
        let agg = aggs.join(",");
        p.same(&["groupby", "@", "--by", name, "--agg", &agg], &arrays);
        p.same(&["groupby", "@", "--by", name, "--agg", &agg, "--json"], &arrays);
    }
}

/// Converts the fixture `name` as the conversion tests do; `None` for one that does not convert.
fn convert_fixture(name: &str, out: &Path) -> Option<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/csv");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    if spec.get("error").is_some() {
        return None;
    }
    let mut c = larder();
    c.arg("convert").arg(dir.join(format!("{name}.csv"))).arg(out).arg("-q");
    c.args(spec["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()));
    ok(&mut c);
    Some(())
}

/// A CSV of `rows` rows with every column kind and missing values in each.
fn every_kind_csv(path: &Path, rows: usize) {
    use std::fmt::Write as _;
    let mut s = String::from("id,x,ok,name,region,ts,day\n");
    for i in 0..rows {
        let id = if i % 7 == 3 { String::new() } else { (i as i64 * 37 % 101 - 50).to_string() };
        let x = match i % 11 {
            5 => "NaN".to_string(),
            9 => String::new(),
            _ => format!("{}", (i as f64) * 0.25 - 3.0),
        };
        let okv = ["true", "false", "", "true"][i % 4];
        let name = if i % 13 == 1 { String::new() } else { format!("n{}", i % 17) };
        let region = ["eu", "us", "", "ap", "eu"][i % 5];
        let ts = if i % 9 == 4 {
            String::new()
        } else {
            format!("2024-03-{:02}T{:02}:{:02}:00", 1 + i % 5, i % 24, (i * 7) % 60)
        };
        let day = if i % 10 == 6 { String::new() } else { format!("2023-12-{:02}", 1 + i % 28) };
        writeln!(s, "{id},{x},{okv},{name},{region},{ts},{day}").unwrap();
    }
    std::fs::write(path, s).unwrap();
}

/// The generated dataset, converted with a string column and a categorical one.
fn every_kind(dir: &Path, rows: usize) -> PathBuf {
    let csv = dir.join("every.csv");
    every_kind_csv(&csv, rows);
    let ds = dir.join("every");
    ok(larder().arg("convert").arg(&csv).arg(&ds).args([
        "-q",
        "--type",
        "name=str",
        "--type",
        "region=cat",
        "--type",
        "ok=bool",
        "--type",
        "id=i64",
    ]));
    ds
}

fn local_pair(ds: &Path, group: &Path) -> Pair {
    Pair {
        ds: ds.to_path_buf(),
        group: group.display().to_string(),
        label: group.display().to_string(),
        larder: Box::new(larder),
    }
}

/// The `--where`, `--every` and `info --where` forms on the generated dataset.
fn check_filters(p: &Pair) {
    let (arrays, _) = columns(p);
    for f in ["x > 0", "region = 'eu' AND id IS NOT NULL", "name LIKE 'n1%' OR ok", "x IS NULL"] {
        p.same(
            &["groupby", "@", "--by", "region", "--agg", "count,mean:x,max:ts", "--where", f],
            &arrays,
        );
        p.same(
            &["groupby", "@", "--by", "ts", "--every", "6h", "--agg", "count,sum:id", "--where", f],
            &arrays,
        );
        p.same(&["stats", "@/x", "--where", f], &arrays);
        p.same(&["stats", "@/ts", "--where", f, "--json"], &arrays);
        p.same(&["cat", "@", "--where", f], &arrays);
        p.same(&["cat", "@", "--where", f, "--json"], &arrays);
    }
    p.same(
        &["groupby", "@", "--by", "day", "--every", "1d", "--agg", "count,min:x,mean:ts"],
        &arrays,
    );
    p.same(
        &["groupby", "@", "--by", "ts", "--every", "1h30min", "--agg", "count,max:id", "--json"],
        &arrays,
    );
    // A filter naming no column of the dataset: the same refusal.
    p.same(&["groupby", "@", "--by", "region", "--agg", "count", "--where", "nope > 1"], &arrays);
}

/// `info GROUP --where` counts the rows the dataset's `info --where` counts.
fn matching_rows(cmd: &mut Command) -> String {
    let o = ok(cmd);
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    t.lines().find(|l| l.starts_with("matching rows:")).unwrap().to_string()
}

#[test]
fn every_fixture_dataset_computes_on_its_local_group_as_on_itself() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/csv");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "csv").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let mut checked = 0;
    for name in &names {
        let ds = dir.path().join(name);
        if convert_fixture(name, &ds).is_none() {
            continue;
        }
        // Three rows a chunk: most fixtures' row counts are not a multiple of it.
        let group = dir.path().join(format!("{name}.zarr"));
        ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "3", "-q"]));
        check_pair(&local_pair(&ds, &group));
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} fixtures converted");
}

#[test]
fn every_column_kind_computes_on_its_group_in_chunks_that_do_not_divide_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ds = every_kind(dir.path(), 1000);
    for chunks in ["64", "999", "1000", "4096"] {
        let group = dir.path().join(format!("g{chunks}.zarr"));
        ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", chunks, "-q"]));
        let p = local_pair(&ds, &group);
        check_pair(&p);
        check_filters(&p);
        let f = "x > 1 AND region <> 'us'";
        assert_eq!(
            matching_rows(larder().arg("info").arg(&ds).args(["--where", f])),
            matching_rows(larder().arg("info").arg(&group).args(["--where", f])),
        );
    }
    // Sharded: inner chunks of 50 rows in shards of 200.
    let group = dir.path().join("sharded.zarr");
    ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "50", "--shard", "200", "-q"]));
    check_filters(&local_pair(&ds, &group));
    // No scratch directory is left behind.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!(".larder-group-{}-", std::process::id())))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_group_at_a_node_computes_as_its_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let ds = every_kind(dir.path(), 300);
    let group = dir.path().join("g.zarr");
    ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "70", "-q"]));
    // The dataset group one level down a hierarchy: `n.zarr:/node`.
    let root = dir.path().join("n.zarr");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("zarr.json"), r#"{"zarr_format":3,"node_type":"group"}"#).unwrap();
    std::fs::rename(&group, root.join("node")).unwrap();
    let node = format!("{}:/node", root.display());
    let p = Pair { ds: ds.clone(), group: node.clone(), label: node, larder: Box::new(larder) };
    check_pair(&p);
    check_filters(&p);
    // The root itself holds the dataset's arrays in a subgroup: refused, naming them.
    let o = larder().arg("groupby").arg(&root).args(["--by", "region", "--agg", "count"]).output();
    let o = o.unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("in subgroups") && text(&o).contains("\"node/x\""), "{}", text(&o));
}

#[test]
fn a_group_larder_did_not_write_computes_as_the_dataset_it_restores_to() {
    let dir = tempfile::tempdir().unwrap();
    let ds = every_kind(dir.path(), 200);
    let group = dir.path().join("g.zarr");
    ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "30", "-q"]));
    // Without its `larder` attribute the group is read as xarray writes one: CF times, fill
    // values, strings; compare with the dataset a copy back makes of it.
    let meta = group.join("zarr.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    v["attributes"].as_object_mut().unwrap().remove("larder");
    let listed = v["consolidated_metadata"]["metadata"].as_object_mut().unwrap();
    listed.retain(|k, _| !k.starts_with("_larder"));
    std::fs::write(&meta, serde_json::to_vec(&v).unwrap()).unwrap();
    std::fs::remove_dir_all(group.join("_larder")).unwrap();
    let back = dir.path().join("back");
    ok(larder().arg("copy").arg(&group).arg(&back));
    check_commands(&local_pair(&back, &group), false);
}

#[test]
fn a_group_missing_an_array_or_not_a_table_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let ds = every_kind(dir.path(), 100);
    let group = dir.path().join("g.zarr");
    ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "30", "-q"]));
    std::fs::remove_dir_all(group.join("x")).unwrap();
    for args in [
        &["groupby", "@", "--by", "region", "--agg", "mean:x"][..],
        &["groupby", "@", "--by", "region", "--agg", "count"],
        &["cat", "@"],
        &["info", "@", "--where", "x > 1"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| if *a == "@" { group.display().to_string() } else { (*a).to_string() })
            .collect();
        let o = larder().args(&args).output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(&group.display().to_string()), "{args:?}: {e}");
        assert!(e.contains("x: array metadata is missing"), "{args:?}: {e}");
    }
    // A group of arrays of different lengths is no table: refused, saying which.
    let other = dir.path().join("k.zarr");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("zarr.json"), r#"{"zarr_format":3,"node_type":"group"}"#).unwrap();
    for (name, len) in [("a", 3i64), ("b", 4)] {
        let src = dir.path().join(format!("{name}.npy"));
        let a = ndarray::Array1::from_iter(0..len);
        larder::write_npy(&src, &a.into_dyn()).unwrap();
        ok(larder().arg("copy").arg(&src).arg(format!("{}:/{name}", other.display())).arg("-q"));
    }
    let o = larder().arg("groupby").arg(&other).args(["--by", "a", "--agg", "count"]).output();
    let o = o.unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("k.zarr"), "{e}");
    assert!(e.contains("dimension_names") || e.contains("runs along"), "{e}");
}

#[cfg(feature = "s3")]
mod in_object_storage {
    use super::*;
    use crate::s3::s3_larder;
    use crate::s3::server::Moto;
    use crate::support::python;

    const BUCKET: &str = "larder-compute";

    #[test]
    fn datasets_compute_on_their_groups_in_a_bucket_as_on_themselves() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let ds = every_kind(dir.path(), 500);
        let group = format!("s3://{BUCKET}/in/every.zarr");
        ok(s3_larder(&ep).arg("copy").arg(&ds).arg(&group).args(["--chunks", "77", "-q"]));
        let endpoint = ep.clone();
        let p = Pair {
            ds: ds.clone(),
            group: group.clone(),
            label: group.clone(),
            larder: Box::new(move || s3_larder(&endpoint)),
        };
        check_pair(&p);
        check_filters(&p);
        let f = "ok AND x < 10";
        assert_eq!(
            matching_rows(larder().arg("info").arg(&ds).args(["--where", f])),
            matching_rows(s3_larder(&ep).args(["info", &group, "--where", f])),
        );
        // A prefix holding no group: an error naming it, not a local path's.
        let nope = format!("s3://{BUCKET}/nope.zarr");
        let out = s3_larder(&ep)
            .args(["groupby", &nope, "--by", "region", "--agg", "count"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&nope), "{err}");
        assert!(!err.contains("manifest.json"), "{err}");
        // A fixture too, in one-row chunks.
        let fx = dir.path().join("missing_marked");
        convert_fixture("missing_marked", &fx).unwrap();
        let g = format!("s3://{BUCKET}/missing_marked.zarr");
        ok(s3_larder(&ep).arg("copy").arg(&fx).arg(&g).args(["--chunks", "1", "-q"]));
        let endpoint = ep.clone();
        check_pair(&Pair {
            ds: fx,
            group: g.clone(),
            label: g,
            larder: Box::new(move || s3_larder(&endpoint)),
        });
    }
}

/// The peak RSS (`VmHWM`, KiB) of `larder args`, read from /proc while it runs; `None` where
/// /proc has none (the test then skips, saying so).
fn peak_kib(args: &[&std::ffi::OsStr]) -> Option<u64> {
    let mut child = larder().args(args).stdout(std::process::Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = None;
    loop {
        if let Ok(t) = std::fs::read_to_string(&status_file)
            && let Some(kib) = t
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        {
            peak = Some(peak.unwrap_or(0).max(kib));
        }
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "{args:?}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    if peak.is_none() {
        eprintln!("skipped: no VmHWM in {status_file} (memory tests need Linux /proc)");
    }
    peak
}

/// A dataset of `rows` rows (a categorical key, a float and an integer column, neither
/// compressing much) copied to a group of 65,536-row chunks.
fn large_group(dir: &Path, rows: usize) -> PathBuf {
    use std::io::Write as _;
    let csv = dir.join(format!("large{rows}.csv"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(f, "region,v,n").unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let region = ["eu", "us", "ap", "sa"][i % 4];
        writeln!(f, "{region},{},{}", (x >> 11) as f64 / 1e9, x >> 40).unwrap();
    }
    drop(f);
    let ds = dir.join(format!("large{rows}"));
    ok(larder().arg("convert").arg(&csv).arg(&ds).args(["-q", "--type", "region=cat"]));
    std::fs::remove_file(&csv).unwrap();
    let group = dir.join(format!("large{rows}.zarr"));
    ok(larder().arg("copy").arg(&ds).arg(&group).args(["--chunks", "65536", "-q"]));
    std::fs::remove_dir_all(&ds).unwrap();
    group
}

/// A group-by of a group decodes a batch of chunks at a time: going from 1M to 4M rows (17 MB
/// to 68 MB of decoded columns, 16 to 62 chunks a column) moves its peak RSS by less than a
/// quarter of the data added.
#[test]
fn groupby_of_a_group_holds_its_peak_memory_as_the_group_grows() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for rows in [1usize << 20, 1 << 22] {
        let group = large_group(dir.path(), rows);
        let args = ["groupby".as_ref(), group.as_os_str(), "--by".as_ref(), "region".as_ref()];
        let agg = ["--agg".as_ref(), "count,mean:v,sum:n,max:v".as_ref()];
        let all: Vec<&std::ffi::OsStr> = args.iter().chain(&agg).copied().collect();
        let Some(p) = peak_kib(&all) else { return };
        peaks.push(p);
        std::fs::remove_dir_all(&group).unwrap();
    }
    let added_kib = ((3usize << 20) * 17 / 1024) as u64;
    let grew = peaks[1].saturating_sub(peaks[0]);
    eprintln!("peaks {peaks:?} KiB; grew {grew} KiB for {added_kib} KiB more data");
    assert!(grew < added_kib / 4, "peaks {peaks:?} KiB grew by {grew} KiB");
}
