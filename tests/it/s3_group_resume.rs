//! `larder copy DATASET s3://BUCKET/G.zarr --resume`: a copy of a dataset to a group in object
//! storage, cut short when the server goes away, continues by sending only the chunks that are
//! missing, after checking that the source and the layout are the same; the group it completes
//! is the one an uninterrupted copy makes, object for object.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use crate::s3::server::{Faults, Moto, Proxy};
use crate::s3::{s3_larder, text};
use crate::support::{larder, python};

const BUCKET: &str = "larder-resume";
const QUICK: [&str; 8] =
    ["--retries", "1", "--backoff", "0.05", "--backoff-max", "0.2", "--request-timeout", "3"];

/// A dataset `name` converted from a CSV of `rows` rows: integers, floats with missing
/// values, strings and a categorical-like column; `seed` changes the values.
fn dataset(dir: &Path, name: &str, rows: usize, seed: u64) {
    let mut csv = String::from("id,x,label,kind\n");
    let mut v = seed | 1;
    for i in 0..rows {
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        let x = if v.is_multiple_of(11) {
            String::new()
        } else {
            format!("{:.3}", (v % 100_000) as f64 / 7.0)
        };
        let kind = ["a", "b", "c"][(v % 3) as usize];
        writeln!(csv, "{i},{x},item-{},{kind}", v % 997).unwrap();
    }
    let src = dir.join(format!("{name}.csv"));
    std::fs::write(&src, csv).unwrap();
    let _ = std::fs::remove_dir_all(dir.join(name));
    let o = larder().current_dir(dir).args(["convert"]).arg(&src).arg(name).arg("-q").output();
    let o = o.unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

fn copy(endpoint: &str, dir: &Path, src: &str, dst: &str, extra: &[&str]) -> Output {
    s3_larder(endpoint)
        .current_dir(dir)
        .args(["copy", src, dst, "--chunks", "400", "-q"])
        .args(QUICK)
        .args(extra)
        .output()
        .unwrap()
}

/// Every object under `prefix/` (key relative to it), the SHA-256 of its bytes and their
/// length, read with boto3. Metadata is compared as JSON: the order of a group's consolidated
/// entries differs from one copy to the next.
fn objects(py: &Path, moto: &Moto, prefix: &str) -> BTreeMap<String, String> {
    let script = format!(
        "import boto3, hashlib, json\n\
         c = boto3.client('s3', endpoint_url={ep:?}, aws_access_key_id='t', \
         aws_secret_access_key='t', region_name='us-east-1')\n\
         pages = c.get_paginator('list_objects_v2').paginate(Bucket={BUCKET:?}, Prefix={p:?})\n\
         keys = [o['Key'] for page in pages for o in page.get('Contents', [])]\n\
         bodies = {{k: c.get_object(Bucket={BUCKET:?}, Key=k)['Body'].read() for k in keys}}\n\
         canon = lambda k, b: json.dumps(json.loads(b), sort_keys=True).encode() \
         if k.endswith('zarr.json') else b\n\
         print(json.dumps({{k[{n}:]: hashlib.sha256(canon(k, b)).hexdigest() + ':' + str(len(b)) \
         for k, b in bodies.items()}}))",
        ep = moto.endpoint(),
        p = format!("{prefix}/"),
        n = prefix.len() + 1,
    );
    let o = std::process::Command::new(py).arg("-c").arg(script).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn size(objects: &BTreeMap<String, String>) -> u64 {
    objects.values().map(|v| v.rsplit(':').next().unwrap().parse::<u64>().unwrap()).sum()
}

fn is_chunk(key: &str) -> bool {
    key.contains("/c/")
}

/// Cuts a copy of `ds` to `prefix` short: the server goes away after about a third of the
/// bytes. Returns the chunks it left.
fn interrupted(moto: &Moto, dir: &Path, prefix: &str, bytes: u64) -> usize {
    let down = Proxy::start(moto.port, Faults { down_after: bytes / 3, ..Faults::default() });
    let o = copy(&down.endpoint(), dir, "ds", &format!("s3://{BUCKET}/{prefix}"), &[]);
    assert!(!o.status.success(), "the copy succeeded through a dead proxy");
    drop(down);
    let keys = moto.keys(BUCKET, prefix);
    assert!(!keys.iter().any(|k| k.ends_with("zarr.json")), "metadata before chunks: {keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(".larder-upload.json")), "{keys:?}");
    keys.iter().filter(|k| is_chunk(k)).count()
}

#[test]
fn an_interrupted_dataset_copy_to_s3_resumes_sending_only_the_missing_chunks() {
    let Some(py) = python() else { return };
    let moto = Moto::start(&py, BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dataset(d, "ds", 12_000, 3);
    let ep = moto.endpoint();
    // The uninterrupted copy, to compare with.
    let o = copy(&ep, d, "ds", &format!("s3://{BUCKET}/full.zarr"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let full = objects(&py, &moto, "full.zarr");
    let chunks = full.keys().filter(|k| is_chunk(k)).count();
    let bytes = size(&full);
    assert!(chunks >= 4 * 30, "{chunks} chunks");
    let left = interrupted(&moto, d, "cut.zarr", bytes);
    assert!((1..chunks).contains(&left), "{left} of {chunks} chunks stored before the cut");
    // A plain copy refuses to mix with it.
    let dst = format!("s3://{BUCKET}/cut.zarr");
    let o = copy(&ep, d, "ds", &dst, &[]);
    assert!(
        !o.status.success() && text(&o).contains("an interrupted copy is there"),
        "{}",
        text(&o)
    );
    // Resuming sends only the missing chunks, then the metadata.
    let counting = Proxy::start(moto.port, Faults::default());
    let o = copy(&counting.endpoint(), d, "ds", &dst, &["--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    let puts: Vec<String> = counting
        .take_requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && is_chunk(&r.path))
        .map(|r| r.path)
        .collect();
    assert_eq!(puts.len(), chunks - left, "{puts:?}");
    // The group is the uninterrupted copy's, object for object, and the marker is gone.
    let cut = objects(&py, &moto, "cut.zarr");
    assert_eq!(cut, full, "the resumed group is not the uninterrupted copy's");
    // Variant: resuming what is complete is refused as a group already there, changing nothing.
    let o = copy(&ep, d, "ds", &dst, &["--resume"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(objects(&py, &moto, "cut.zarr"), cut);
}

#[test]
fn a_resume_from_a_changed_source_or_layout_is_refused_and_sends_nothing() {
    let Some(py) = python() else { return };
    let moto = Moto::start(&py, BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dataset(d, "ds", 9_000, 5);
    let ep = moto.endpoint();
    let o = copy(&ep, d, "ds", &format!("s3://{BUCKET}/probe.zarr"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = size(&objects(&py, &moto, "probe.zarr"));
    interrupted(&moto, d, "chg.zarr", bytes);
    let before = objects(&py, &moto, "chg.zarr");
    let dst = format!("s3://{BUCKET}/chg.zarr");
    // Other options: another chunking.
    let o = s3_larder(&ep)
        .current_dir(d)
        .args(["copy", "ds", &dst, "--chunks", "500", "-q", "--resume"])
        .output()
        .unwrap();
    assert!(!o.status.success() && text(&o).contains("another chunking"), "{}", text(&o));
    // The same rows with other values: the source changed.
    dataset(d, "ds", 9_000, 6);
    let counting = Proxy::start(moto.port, Faults::default());
    let o = copy(&counting.endpoint(), d, "ds", &dst, &["--resume"]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("another source") && t.contains(&dst), "{t}");
    assert!(counting.take_requests().iter().all(|r| r.method != "PUT"), "something was sent");
    assert_eq!(objects(&py, &moto, "chg.zarr"), before, "the interrupted copy was changed");
}
