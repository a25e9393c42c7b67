//! Chunked storage: the Zarr and HDF5 fixtures written by zarr-python and h5py read with exact
//! values, copies between every pair of formats, the chunk overlay, and interop the other way.
#![allow(clippy::float_cmp, clippy::cast_possible_truncation)]

use crate::support::python;
use std::path::{Path, PathBuf};
use std::process::Command;

use larder::{
    AnyStore, ArrayRead, ArrayWrite, ByteOrder, Codec, CopyOptions, Element, Format, MemStore,
    Overlay, Region, Selection, ZarrArray, ZarrOptions,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

/// Held by tests that spawn processes and by tests that open `.npy` files they just wrote: a
/// child forked while this process holds a file's exclusive lock keeps a copy of the locked
/// descriptor until it execs, and a shared open of that file in that instant is refused.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/chunked_manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn address(entry: &Value) -> PathBuf {
    let file = root().join("fixtures").join(entry["path"].as_str().unwrap());
    match entry["inner"].as_str() {
        Some(inner) => PathBuf::from(format!("{}:{inner}", file.display())),
        None => file,
    }
}

fn hdf5_enabled() -> bool {
    cfg!(feature = "hdf5")
}

fn to_json<T: Element>(store: &dyn ArrayRead<T>) -> Vec<Value> {
    let all = store.read(&Selection::all()).unwrap();
    all.iter().map(|v| v.to_scalar().to_json()).collect()
}

fn values(any: &AnyStore) -> Vec<Value> {
    larder::store_dispatch!(any, s => to_json(s.as_ref()))
}

fn chunk_values(any: &AnyStore) -> Vec<Value> {
    // Reassemble the array from its chunks: every element exactly once, in place.
    larder::store_dispatch!(any, s => {
        let s = s.as_ref();
        let mut out = vec![Value::Null; s.shape().iter().product()];
        let shape = s.shape().to_vec();
        for chunk in larder::Chunks::new(s, s.chunk_shape()) {
            let chunk = chunk.unwrap();
            for (idx, v) in chunk.data.indexed_iter() {
                let mut flat = 0;
                for axis in 0..shape.len() {
                    flat = flat * shape[axis] + chunk.origin[axis] + idx[axis];
                }
                assert_eq!(out[flat], Value::Null, "element {flat} delivered twice");
                out[flat] = v.to_scalar().to_json();
            }
        }
        out
    })
}

#[test]
fn fixtures_read_with_exact_values_shapes_and_chunks() {
    let m = manifest();
    let mut checked = 0;
    for entry in m["arrays"].as_array().unwrap() {
        if entry["format"] == "hdf5" && !hdf5_enabled() {
            continue;
        }
        let at = address(entry);
        let any = larder::open(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()));
        let want_shape: Vec<usize> = serde_json::from_value(entry["shape"].clone()).unwrap();
        assert_eq!(any.shape(), want_shape.as_slice(), "{}", at.display());
        assert_eq!(
            any.dtype().to_native().typestr(),
            DtypeName(entry["dtype"].as_str().unwrap()).native(),
            "{}",
            at.display()
        );
        if let Some(chunks) = entry["chunks"].as_array() {
            let c: Vec<usize> = chunks.iter().map(|v| v.as_u64().unwrap() as usize).collect();
            if !c.is_empty() {
                assert_eq!(any.chunk_shape(), c.as_slice(), "{}", at.display());
            }
        }
        let got = values(&any);
        assert_eq!(&got, entry["values"].as_array().unwrap(), "{}", at.display());
        assert_eq!(chunk_values(&any), got, "{}: chunk walk", at.display());
        let attrs = any.attributes().unwrap();
        for (k, v) in entry["attributes"].as_object().unwrap() {
            assert_eq!(attrs.get(k), Some(v), "{}: attribute {k}", at.display());
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures checked");
}

struct DtypeName<'a>(&'a str);
impl DtypeName<'_> {
    fn native(&self) -> String {
        larder::DType::parse(self.0).unwrap().to_native().typestr()
    }
}

#[test]
fn big_endian_fixtures_report_their_stored_byte_order() {
    for p in ["zarr/v3_i4_be_gzip.zarr", "zarr/v2_i2_be_blosc.zarr", "zarr/v2_f8_be_raw.zarr"] {
        let any = larder::open(root().join("fixtures").join(p)).unwrap();
        assert_eq!(any.dtype().order(), ByteOrder::Big, "{p}");
    }
    let any = larder::open(root().join("fixtures/zarr/v3_f8_zstd.zarr")).unwrap();
    assert_eq!(any.dtype().order(), ByteOrder::Little);
}

#[test]
fn zarr_groups_expose_attributes_and_need_a_path_when_ambiguous() {
    let m = manifest();
    for g in m["groups"].as_array().unwrap() {
        let file = root().join("fixtures").join(g["path"].as_str().unwrap());
        let attrs = larder::zarr::group_attributes(&file, g["inner"].as_str()).unwrap();
        assert_eq!(Value::Object(attrs), g["attributes"]);
    }
    let store = root().join("fixtures/zarr/v3_group.zarr");
    let err = larder::open(&store).unwrap_err().to_string();
    assert!(err.contains("2 arrays") && err.contains("/grp/sub/arr"), "{err}");
    let arrays = larder::zarr::list_arrays(&store).unwrap();
    assert_eq!(arrays, vec!["/grp/sub/arr".to_string(), "/other".to_string()]);
}

#[test]
fn sharded_fixture_reads_partial_selections_across_missing_inner_chunks() {
    let z = ZarrArray::<f64>::open(root().join("fixtures/zarr/v3_f8_sharded.zarr")).unwrap();
    assert_eq!(z.inner_chunk_shape(), Some(&[3, 5][..]));
    let got = z.read(&Selection::parse("1:4,4:7").unwrap()).unwrap();
    assert!(got[[0, 0]].is_nan()); // (1,4): missing inner chunk, NaN fill
    assert_eq!(got[[0, 1]], 1.0 * 1.25 * 15.0 - 7.5); // (1,5): written, value 15*1.25-7.5
    assert!(got[[2, 2]].is_nan()); // (3,6): next row of inner chunks, missing
}

#[test]
fn unsupported_hdf5_filter_is_named() {
    if !hdf5_enabled() {
        eprintln!("skipped: built without the hdf5 feature");
        return;
    }
    let m = manifest();
    for u in m["unsupported"].as_array().unwrap() {
        let at = address(u);
        let err = larder::open(&at).unwrap_err().to_string();
        assert!(err.contains(u["what"].as_str().unwrap()), "{}: {err}", at.display());
    }
}

#[test]
fn hdf5_without_feature_is_a_clear_error() {
    if hdf5_enabled() {
        return;
    }
    let err = larder::open(root().join("fixtures/hdf5/scalar.h5")).unwrap_err().to_string();
    assert!(err.contains("hdf5"), "{err}");
}

fn copy_ok(src: &Path, dst: &Path, options: &CopyOptions) {
    larder::copy_with(src, dst, options)
        .unwrap_or_else(|e| panic!("{} -> {}: {e}", src.display(), dst.display()));
}

#[test]
fn copies_between_all_formats_keep_every_value() {
    let _serial = serial();
    let manifest = manifest();
    let dir = tempfile::tempdir().unwrap();
    for (i, entry) in manifest["arrays"].as_array().unwrap().iter().enumerate() {
        if entry["format"] == "hdf5" && !hdf5_enabled() {
            continue;
        }
        let src = address(entry);
        let want = entry["values"].as_array().unwrap().clone();
        let zarr = dir.path().join(format!("{i}.zarr"));
        let npy = dir.path().join(format!("{i}.npy"));
        copy_ok(&src, &zarr, &CopyOptions::new());
        assert_eq!(values(&larder::open(&zarr).unwrap()), want, "{} -> zarr", src.display());
        copy_ok(&zarr, &npy, &CopyOptions::new());
        assert_eq!(values(&larder::open(&npy).unwrap()), want, "{} -> npy", src.display());
        if hdf5_enabled() {
            let file = dir.path().join(format!("{i}.h5"));
            let hdf = PathBuf::from(format!("{}:/g/data", file.display()));
            let mut gzip = CopyOptions::new();
            gzip.codec(Codec::Gzip(1));
            copy_ok(&npy, &hdf, &gzip);
            assert_eq!(values(&larder::open(&hdf).unwrap()), want, "{} -> hdf5", src.display());
        }
    }
}

#[test]
fn copy_writes_requested_chunks_codec_and_shards() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("fixtures/zarr/v3_f8_zstd.zarr");
    let dst = dir.path().join("s.zarr");
    let mut o = CopyOptions::new();
    o.chunks(&[2, 3]).shard(&[4, 6]).codec(Codec::None);
    copy_ok(&src, &dst, &o);
    let info = larder::info(&dst).unwrap();
    assert_eq!(info.chunks, Some(vec![2, 3]));
    assert_eq!(info.shards, Some(vec![4, 6]));
    let meta = std::fs::read_to_string(dst.join("zarr.json")).unwrap();
    assert!(meta.contains("sharding_indexed") && !meta.contains("zstd"), "{meta}");
    assert!(meta.contains("\"zarr_format\": 3"));
    // An existing destination directory is never overwritten.
    assert!(larder::copy_with(&src, &dst, &o).is_err());
    // Shards that are not a multiple of the chunks are refused before anything is written.
    let bad = dir.path().join("bad.zarr");
    let mut o = CopyOptions::new();
    o.chunks(&[2, 3]).shard(&[3, 6]);
    assert!(larder::copy_with(&src, &bad, &o).is_err());
    assert!(!bad.exists());
}

#[test]
fn npy_store_reads_are_zero_copy_views() {
    let a = larder::MmapArray::<f64>::open(root().join("fixtures/npy/f8_le_2d_3x4_c.npy")).unwrap();
    let region = a.read_region(&Region::new(&[1, 1], &[2, 2]).unwrap()).unwrap();
    assert!(region.is_view());
    let sel = ArrayRead::read(&a, &Selection::parse("::2,1").unwrap()).unwrap();
    assert!(sel.is_view());
    for chunk in a.chunks() {
        assert!(chunk.unwrap().data.is_view());
    }
    let be =
        larder::MmapArray::<f64>::open(root().join("fixtures/npy/f8_be_3d_2x3x4_c.npy")).unwrap();
    assert!(!be.read_region(&Region::new(&[0, 0, 0], &[1, 1, 1]).unwrap()).unwrap().is_view());
}

#[test]
fn overlay_on_zarr_saves_only_touched_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("o.zarr");
    let mut opts = ZarrOptions::new();
    opts.chunks(&[10, 10]);
    let mut z = ZarrArray::<i32>::create(&p, None, &[40, 40], &opts).unwrap();
    z.write_region(&[0, 0], &ArrayD::from_elem(IxDyn(&[40, 40]), 1).view()).unwrap();
    let z = ZarrArray::<i32>::open_mut(&p, None).unwrap();
    let chunk_file = |i: usize, j: usize| p.join(format!("c/{i}/{j}"));
    let before: Vec<_> = (0..4)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .map(|(i, j)| std::fs::read(chunk_file(i, j)).unwrap())
        .collect();
    let mut o = Overlay::new(z);
    o.write(&Selection::parse("15,12:25").unwrap(), &ArrayD::from_elem(IxDyn(&[13]), 7).view())
        .unwrap();
    assert_eq!(o.modified_chunks(), vec![vec![1, 1], vec![1, 2]]);
    assert_eq!(o.overlay_bytes(), 2 * 100 * 4);
    // Reads see the overlay; the store does not, until saved.
    assert_eq!(o.read(&Selection::parse("15,12").unwrap()).unwrap().into_scalar_or(0), 7);
    assert_eq!(o.base().read(&Selection::parse("15,12").unwrap()).unwrap().sum(), 1);
    std::fs::remove_file(chunk_file(3, 3)).unwrap(); // untouched chunks must stay untouched
    assert_eq!(o.save().unwrap(), 2);
    let after = ZarrArray::<i32>::open(&p).unwrap();
    assert_eq!(
        after
            .read(&Selection::parse("15,11:26").unwrap())
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        {
            let mut v = vec![7; 15];
            v[0] = 1;
            v[14] = 1;
            v
        }
    );
    assert!(!chunk_file(3, 3).exists());
    assert_eq!(std::fs::read(chunk_file(0, 0)).unwrap(), before[0]);
    assert_ne!(std::fs::read(chunk_file(1, 1)).unwrap(), before[5]);
}

trait ScalarOr<T> {
    fn into_scalar_or(self, default: T) -> T;
}
impl<T: Copy> ScalarOr<T> for ndarray::CowArray<'_, T, IxDyn> {
    fn into_scalar_or(self, default: T) -> T {
        self.iter().next().copied().unwrap_or(default)
    }
}

#[test]
fn memory_backend_plugs_into_copy_machinery() {
    let data = ArrayD::from_shape_fn(IxDyn(&[7, 5]), |i| (i[0] * 5 + i[1]) as u16);
    let m = MemStore::new(data.clone(), &[3, 2]).unwrap();
    assert_eq!(m.format(), Format::Memory);
    let blocks: Vec<_> = m.chunks().map(Result::unwrap).collect();
    assert_eq!(blocks.len(), 9);
    assert_eq!(blocks.last().unwrap().origin, vec![6, 4]);
    let dir = tempfile::tempdir().unwrap();
    let mut z =
        ZarrArray::<u16>::create(dir.path().join("m.zarr"), None, &[7, 5], &ZarrOptions::new())
            .unwrap();
    for b in m.chunks() {
        let b = b.unwrap();
        z.write_region(&b.origin, &b.data.view()).unwrap();
    }
    assert_eq!(z.read(&Selection::all()).unwrap().into_owned(), data);
}

#[test]
fn cli_info_and_copy_understand_every_format() {
    let _serial = serial();
    let bin = env!("CARGO_BIN_EXE_larder");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(["info", "--json"])
        .arg(root().join("fixtures/zarr/v3_f8_sharded.zarr"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["format"], "zarr");
    assert_eq!(info["chunks"], serde_json::json!([3, 5]));
    assert_eq!(info["shards"], serde_json::json!([6, 10]));
    for key in ["dtype", "shape", "order", "bytes", "resident_bytes"] {
        assert!(info.get(key).is_some(), "{key}");
    }
    let dst = dir.path().join("c.zarr");
    let out = Command::new(bin)
        .args(["copy"])
        .arg(root().join("fixtures/npy/f8_le_1d_200.npy"))
        .arg(&dst)
        .args(["--chunks", "64", "--codec", "gzip:3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        Command::new(bin).args(["cat", "--json", "--slice", "3:5"]).arg(&dst).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expect = Command::new(bin)
        .args(["cat", "--json", "--slice", "3:5"])
        .arg(root().join("fixtures/npy/f8_le_1d_200.npy"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, expect.stdout);
    let out = Command::new(bin)
        .args(["copy"])
        .arg(root().join("fixtures/npy/f8_le_1d_200.npy"))
        .arg(dir.path().join("x.zarr"))
        .args(["--codec", "lz4"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lz4"));
}

#[test]
fn bench_chunked_prints_json_timings() {
    let _serial = serial();
    let bin = env!("CARGO_BIN_EXE_larder");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(["bench", "chunked", "--elements", "20000", "--chunk", "4096", "--reads", "5"])
        .arg(dir.path().join("b.zarr"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "zarr");
    assert_eq!(v["elements"], 20000);
    assert!(v["write_s"].is_number() && v["read_s"].is_number() && v["random_reads_s"].is_number());
}

#[test]
fn python_reads_what_larder_writes_in_zarr_and_hdf5() {
    let _serial = serial();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    let sources = [
        "fixtures/npy/f8_le_2d_3x4_c.npy",
        "fixtures/npy/i2_be_2d_17x13_f.npy",
        "fixtures/npy/c16_le_3d_2x3x4_c.npy",
        "fixtures/npy/b1_2d_3x4_c.npy",
        "fixtures/npy/f8_le_0d.npy",
        "fixtures/npy/f8_le_empty_0.npy",
    ];
    for (i, src) in sources.iter().enumerate() {
        let src = root().join(src);
        if !src.exists() {
            continue;
        }
        let z = dir.path().join(format!("{i}.zarr"));
        let mut o = CopyOptions::new();
        if i == 1 {
            o.chunks(&[4, 5]).shard(&[8, 10]);
        }
        copy_ok(&src, &z, &o);
        outputs.push((src.clone(), z));
        if hdf5_enabled() {
            let h = dir.path().join(format!("{i}.h5"));
            let mut o = CopyOptions::new();
            o.codec(Codec::Gzip(4));
            copy_ok(&src, &h, &o);
            outputs.push((src, PathBuf::from(format!("{}:/data", h.display()))));
        }
    }
    let mut cmd = Command::new(py);
    cmd.arg(root().join("tests/interop/check_chunked.py"));
    for (src, out) in &outputs {
        cmd.arg(src).arg(out);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn copy_into_an_existing_zarr_store_adds_an_array_but_never_replaces_one() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("h.zarr");
    let src = root().join("fixtures/npy/f8_le_2d_3x4_c.npy");
    let at = |p: &str| PathBuf::from(format!("{}:{p}", store.display()));
    copy_ok(&src, &at("/a/x"), &CopyOptions::new());
    copy_ok(&src, &at("/a/y"), &CopyOptions::new());
    let err = larder::copy_with(&src, at("/a/x"), &CopyOptions::new()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        larder::zarr::list_arrays(&store).unwrap(),
        vec!["/a/x".to_string(), "/a/y".to_string()]
    );
    let want = values(&larder::open(&src).unwrap());
    assert_eq!(values(&larder::open(at("/a/y")).unwrap()), want);
}

#[test]
fn corrupt_chunk_is_an_error_naming_the_store_not_a_panic_or_hang() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.zarr");
    let mut opts = ZarrOptions::new();
    opts.chunks(&[10]);
    let mut z = ZarrArray::<f64>::create(&p, None, &[50], &opts).unwrap();
    z.write_region(&[0], &ArrayD::from_elem(IxDyn(&[50]), 2.0).view()).unwrap();
    std::fs::write(p.join("c/3"), b"not zstd at all").unwrap();
    let z = ZarrArray::<f64>::open(&p).unwrap();
    let err = z.read(&Selection::all()).unwrap_err().to_string();
    assert!(err.contains("bad.zarr"), "{err}");
    let err = z.read_region(&Region::new(&[31], &[2]).unwrap()).unwrap_err().to_string();
    assert!(err.contains("bad.zarr"), "{err}");
    assert_eq!(z.read_region(&Region::new(&[0], &[30]).unwrap()).unwrap().sum(), 60.0);
}

/// Noisy values (few repeats, so zstd stores literal-only blocks) from a fixed seed.
fn noisy(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            #[allow(clippy::cast_precision_loss)]
            let v = (x >> 11) as f64 / (1u64 << 53) as f64;
            v
        })
        .collect()
}

#[test]
fn zarr_regions_match_the_source_for_every_codec_and_box() {
    let dir = tempfile::tempdir().unwrap();
    // 2-d, partial edge chunks on both axes; a zstd chunk holds several zstd blocks.
    let shape = [301usize, 257];
    let source = ArrayD::from_shape_vec(IxDyn(&shape), noisy(301 * 257, 11)).unwrap();
    let mut seed = 5u64;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    for (name, codec, chunks) in [
        ("zstd", Codec::Zstd(3), [128usize, 200]),
        ("zstd_rows", Codec::Zstd(3), [64, 257]),
        ("none", Codec::None, [100, 100]),
        ("gzip", Codec::Gzip(1), [128, 200]),
    ] {
        let p = dir.path().join(format!("{name}.zarr"));
        let mut opts = ZarrOptions::new();
        opts.chunks(&chunks).codec(codec);
        let mut z = ZarrArray::<f64>::create(&p, None, &shape, &opts).unwrap();
        z.write_region(&[0, 0], &source.view()).unwrap();
        let z = ZarrArray::<f64>::open(&p).unwrap();
        let all = z.read_region(&Region::new(&[0, 0], &shape).unwrap()).unwrap();
        assert_eq!(all, source, "{name}: whole array");
        for _ in 0..60 {
            let start = [next(shape[0]), next(shape[1])];
            let size = [1 + next(shape[0] - start[0]), 1 + next(shape[1] - start[1])];
            let got = z.read_region(&Region::new(&start, &size).unwrap()).unwrap();
            let want = source
                .slice(ndarray::s![start[0]..start[0] + size[0], start[1]..start[1] + size[1]]);
            assert_eq!(got, want.into_dyn(), "{name}: box at {start:?} of {size:?}");
        }
    }
}

#[test]
fn zarr_chunks_never_written_read_as_the_fill_value_in_whole_and_partial_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sparse.zarr");
    let mut opts = ZarrOptions::new();
    opts.chunks(&[1000]).codec(Codec::Zstd(3));
    let mut z = ZarrArray::<f64>::create(&p, None, &[5000], &opts).unwrap();
    let part = ArrayD::from_shape_vec(IxDyn(&[1000]), noisy(1000, 3)).unwrap();
    z.write_region(&[2000], &part.view()).unwrap();
    let z = ZarrArray::<f64>::open(&p).unwrap();
    let all = z.read_region(&Region::new(&[0], &[5000]).unwrap()).unwrap();
    assert!(all.iter().take(2000).chain(all.iter().skip(3000)).all(|&v| v == 0.0));
    assert_eq!(all.slice(ndarray::s![2000..3000]).into_dyn(), part);
    let inside = z.read_region(&Region::new(&[4100], &[50]).unwrap()).unwrap();
    assert!(inside.iter().all(|&v| v == 0.0));
    assert_eq!(
        z.read_region(&Region::new(&[2990], &[5]).unwrap()).unwrap(),
        part.slice(ndarray::s![990..995]).into_dyn()
    );
}

#[test]
fn a_truncated_zstd_chunk_fails_partial_and_whole_reads_with_the_chunk_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.zarr");
    let mut opts = ZarrOptions::new();
    opts.chunks(&[100_000]).codec(Codec::Zstd(3));
    let mut z = ZarrArray::<f64>::create(&p, None, &[200_000], &opts).unwrap();
    let data = ArrayD::from_shape_vec(IxDyn(&[200_000]), noisy(200_000, 9)).unwrap();
    z.write_region(&[0], &data.view()).unwrap();
    let chunk = p.join("c").join("1");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let z = ZarrArray::<f64>::open(&p).unwrap();
    assert_eq!(
        z.read_region(&Region::new(&[10], &[100]).unwrap()).unwrap(),
        data.slice(ndarray::s![10..110]).into_dyn()
    );
    for (start, len) in [(190_000, 100), (100_000, 100_000), (0, 200_000)] {
        let e = z.read_region(&Region::new(&[start], &[len]).unwrap()).unwrap_err().to_string();
        assert!(e.contains("cut.zarr"), "{e}");
    }
}
