//! Hostile input against the caps of `docs/limits.md`: each test names the limit it checks.
//! CLI tests assert the exit code (1, never 101 for a panic, never a signal) and a message
//! naming the file and the reason.

use std::path::Path;
use std::process::Output;

use larder::compute::{self, Bins};
use larder::{ArrayRead, Error, MmapArray, NpyWriter, Selection, ZarrArray, ZarrOptions};

use crate::support::larder;

/// Writes a minimal Zarr v3 float64 array's `zarr.json` (no chunk files: all fill value).
fn mkz(dir: &Path, shape: &str, chunks: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let meta = format!(
        r#"{{"zarr_format":3,"node_type":"array","shape":{shape},"data_type":"float64","chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":{chunks}}}}},"chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},"fill_value":0.0,"codecs":[{{"name":"bytes","configuration":{{"endian":"little"}}}}]}}"#
    );
    std::fs::write(dir.join("zarr.json"), meta).unwrap();
}

/// Writes a `.npy` whose header declares `shape` (a Python tuple) and holds no data.
fn npy_header(path: &Path, shape: &str) {
    let mut dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (dict.len() + 11) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&u32::try_from(dict.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    std::fs::write(path, bytes).unwrap();
}

fn run(args: &[&str]) -> Output {
    larder().args(args).output().unwrap()
}

/// Exit code 1 (an error, not a panic's 101, not a signal) and a stderr naming `file` and
/// `reason`.
fn refused(o: &Output, file: &Path, reason: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&*file.to_string_lossy()), "{err}");
    assert!(err.contains(reason), "{err}");
}

/// Limit: element counts checked in u128 (a Zarr shape whose count is 2^64 is refused).
#[test]
fn zarr_element_count_of_2_pow_64_is_refused_not_wrapped_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.zarr");
    mkz(&w, "[4294967296,4294967296]", "[1,1]");
    assert!(matches!(ZarrArray::<f64>::open(&w), Err(Error::Storage { .. })));
    refused(&run(&["stats", w.to_str().unwrap()]), &w, "more elements");
}

/// Limit: chunk buffers sized by the region needed (chunks larger than the array are clipped).
#[test]
fn zarr_chunk_larger_than_array_reads_without_allocating_the_chunk() {
    let dir = tempfile::tempdir().unwrap();
    for chunk in ["8589934592", "268435456"] {
        let c = dir.path().join(format!("c{chunk}.zarr"));
        mkz(&c, "[8]", &format!("[{chunk}]"));
        let z = ZarrArray::<f64>::open(&c).unwrap();
        assert_eq!(z.read(&Selection::all()).unwrap().as_slice().unwrap(), &[0.0; 8]);
        let o = run(&["stats", c.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains('8'));
        let o = run(&["cat", c.to_str().unwrap()]);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "[0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.0]\n");
    }
    // A declared chunk whose byte size does not fit u64 is refused, not a panic.
    let c = dir.path().join("c62.zarr");
    mkz(&c, "[8]", "[4611686018427387904]");
    assert!(matches!(ZarrArray::<f64>::open(&c), Err(Error::Storage { .. })));
    refused(&run(&["stats", c.to_str().unwrap()]), &c, "the most one chunk may hold");
    let c = dir.path().join("two.zarr");
    mkz(&c, "[3,8]", "[1,8589934592]");
    let z = ZarrArray::<f64>::open(&c).unwrap();
    assert_eq!(z.read(&Selection::all()).unwrap().shape(), &[3, 8]);
}

/// Limit: rank ≤ 64 (numpy's `NPY_MAXDIMS`), for .npy and Zarr alike.
#[test]
fn rank_over_64_is_refused_by_npy_and_zarr() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.npy");
    npy_header(&p, &format!("({})", vec!["1"; 20_000].join(", ")));
    assert!(matches!(MmapArray::<f64>::open(&p), Err(Error::Format { .. })));
    refused(&run(&["cat", p.to_str().unwrap()]), &p, "more than the 64");
    let z = dir.path().join("deep.zarr");
    let ones = format!("[{}]", vec!["1"; 65].join(","));
    mkz(&z, &ones, &ones);
    assert!(matches!(ZarrArray::<f64>::open(&z), Err(Error::Storage { .. })));
    refused(&run(&["cat", z.to_str().unwrap()]), &z, "more than the 64");
}

/// Limit: element counts checked in u128 (non-empty axes of an empty .npy must be countable,
/// as numpy requires), so `stats --axis` never sizes a buffer from them.
#[test]
fn npy_empty_shape_with_huge_axes_is_refused_not_a_capacity_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.npy");
    npy_header(&p, "(18446744073709551615, 0, 18446744073709551615)");
    assert!(matches!(MmapArray::<f64>::open(&p), Err(Error::Format { .. })));
    refused(&run(&["stats", p.to_str().unwrap(), "--axis", "0"]), &p, "more elements");
    // An empty array with countable axes reduces to empty positions.
    let q = dir.path().join("f.npy");
    npy_header(&q, "(4294967296, 0, 5)");
    let a = MmapArray::<f64>::open(&q).unwrap();
    let s = compute::summary_axis(&a, 0).unwrap();
    assert_eq!((s.shape.as_slice(), s.positions.len()), (&[0, 5][..], 0));
}

/// Limit: one chunk's bytes ≤ `MAX_CHUNK_BYTES`, chunk and shard shapes clipped to the array.
#[test]
#[allow(clippy::many_single_char_names)]
fn copy_with_huge_chunks_or_shards_clips_them_to_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.npy");
    larder::write_npy(&m, &ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[3, 4]))).unwrap();
    let o = dir.path().join("o.zarr");
    let out = run(&[
        "copy",
        m.to_str().unwrap(),
        o.to_str().unwrap(),
        "--chunks",
        "4294967296,4294967296",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ZarrArray::<f64>::open(&o).unwrap().chunk_shape(), &[3, 4]);
    let s = dir.path().join("s.zarr");
    let out = run(&[
        "copy",
        m.to_str().unwrap(),
        s.to_str().unwrap(),
        "--chunks",
        "2,2",
        "--shard",
        "4294967296,4294967296",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let z = ZarrArray::<f64>::open(&s).unwrap();
    assert_eq!((z.chunk_shape(), z.inner_chunk_shape()), (&[4, 4][..], Some(&[2, 2][..])));
    // A chunk that fits the array but not the cap is refused.
    let big = dir.path().join("big.zarr");
    let mut opts = ZarrOptions::new();
    opts.chunks(&[1 << 20, 1 << 20]);
    let r = ZarrArray::<f64>::create(&big, None, &[1 << 20, 1 << 20], &opts);
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

/// Limit: histogram bins ≤ `MAX_BINS`.
#[test]
fn histogram_bins_over_the_cap_are_refused_before_allocating() {
    let data = [1.0f64, 2.0];
    let src = larder::SliceChunks::new(&data, 1);
    let bins = Bins::Uniform { lo: 0.0, hi: 1.0, count: 100_000_000 };
    assert!(matches!(compute::histogram(&src, &bins), Err(Error::Argument(_))));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.npy");
    larder::write_npy(&p, &ndarray::arr1(&data).into_dyn()).unwrap();
    let o = run(&["stats", p.to_str().unwrap(), "--bins", "1000000000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("4194304"));
}

/// Limit: exact quantiles whatever the number of repeats (no estimate inside a bin that holds
/// one distinct value).
#[test]
#[allow(clippy::many_single_char_names)]
fn quantiles_of_values_repeated_millions_of_times_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.npy");
    let mut w = NpyWriter::<u8>::create(&p, &[]).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 2) as u8).collect();
    w.append(&data).unwrap();
    w.finish().unwrap();
    let a = MmapArray::<u8>::open(&p).unwrap();
    let src = a.chunk_source().unwrap();
    let s = compute::summary(&*src).unwrap();
    let q = compute::quantiles(&*src, &s, &[0.0, 0.25, 0.5, 0.75, 1.0]).unwrap();
    let got: Vec<(f64, bool)> = q.iter().map(|q| (q.value, q.exact)).collect();
    assert_eq!(got, [(0.0, true), (0.0, true), (0.5, true), (1.0, true), (1.0, true)]);
    // Few distinct values far apart, each repeated more than the collect limit.
    let v: Vec<f64> = (0..3_000_000u32).map(|i| [0.0, 1e-300, 1e300][(i % 3) as usize]).collect();
    let src = larder::SliceChunks::new(&v, 1 << 16);
    let s = compute::summary(&src).unwrap();
    let q = compute::quantiles(&src, &s, &[0.5, 0.9]).unwrap();
    assert!(q.iter().all(|q| q.exact && q.error == 0.0));
    assert_eq!(q[0].value, 1e-300);
    assert_eq!(q[1].value, 1e300);
}

/// Limit: a summary prints from at most 2^ndim corner boxes of 3 per axis.
#[test]
fn cat_of_a_huge_zarr_reads_only_the_printed_corners() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("h.zarr");
    mkz(&z, "[4294967296,5]", "[1000,5]");
    let o = run(&["cat", z.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        text,
        "[[0.0 0.0 0.0 0.0 0.0]\n [0.0 0.0 0.0 0.0 0.0]\n [0.0 0.0 0.0 0.0 0.0]\n ...\n [0.0 0.0 0.0 0.0 0.0]\n [0.0 0.0 0.0 0.0 0.0]\n [0.0 0.0 0.0 0.0 0.0]]\n"
    );
}

/// Limit: `bench chunked` chunks hold at least one element.
#[test]
fn bench_chunked_with_zero_element_chunks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("b.zarr");
    let o = run(&["bench", "chunked", z.to_str().unwrap(), "--chunk", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("chunks of 0 elements"));
    assert!(!z.exists());
}

/// Limit: `bench cow` writes no more than the free disk space.
#[test]
fn bench_cow_larger_than_the_free_space_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("k");
    let o =
        run(&["bench", "cow", "--size", "18446744073709551615", "--keep", keep.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("free"), "{err}");
    assert!(!keep.join("base.npy").exists());
}

/// Writes `bytes` compressed as `codec` (`gzip` or `zstd`) as chunk `c/0` of a v3 float64
/// array of shape `[4]`, byte order `endian`.
fn bomb(dir: &Path, codec: &str, endian: &str, bytes: &[u8]) {
    use std::io::Write;
    std::fs::create_dir_all(dir.join("c")).unwrap();
    let meta = format!(
        r#"{{"zarr_format":3,"node_type":"array","shape":[4],"data_type":"float64","chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":[4]}}}},"chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},"fill_value":0.0,"codecs":[{{"name":"bytes","configuration":{{"endian":"{endian}"}}}},{{"name":"{codec}","configuration":{}}}]}}"#,
        if codec == "gzip" { r#"{"level":1}"# } else { r#"{"level":1,"checksum":false}"# }
    );
    std::fs::write(dir.join("zarr.json"), meta).unwrap();
    let packed = if codec == "gzip" {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    } else {
        zstd::bulk::compress(bytes, 1).unwrap()
    };
    std::fs::write(dir.join("c").join("0"), packed).unwrap();
}

/// Limit: decoded size = expected size or error, checked while decoding (no bomb is inflated).
#[test]
fn zarr_chunk_that_inflates_past_its_size_is_refused_while_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let huge = vec![0u8; 64 << 20];
    for (codec, endian) in [("gzip", "little"), ("zstd", "big"), ("gzip", "big")] {
        let z = dir.path().join(format!("{codec}-{endian}.zarr"));
        bomb(&z, codec, endian, &huge);
        let a = ZarrArray::<f64>::open(&z).unwrap();
        let r = a.read(&Selection::all());
        let Err(Error::Storage { path, reason }) = r else { panic!("{codec} {endian}: {r:?}") };
        assert!(path.ends_with("c/0") && reason.contains("more than 32"), "{reason}");
        let o = run(&["stats", z.to_str().unwrap()]);
        refused(&o, &z, "more than 32");
        // The same layout with a chunk of the right size reads back exactly.
        let good = dir.path().join(format!("{codec}-{endian}-ok.zarr"));
        let values = [1.5f64, -2.0, 3.25, 4.0];
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| if endian == "big" { v.to_be_bytes() } else { v.to_le_bytes() })
            .collect();
        bomb(&good, codec, endian, &bytes);
        let a = ZarrArray::<f64>::open(&good).unwrap();
        assert_eq!(a.read(&Selection::all()).unwrap().as_slice().unwrap(), &values);
    }
}

/// Writes a v3 float64 array of shape `[4]` in one shard of two inner chunks of 2, whose index
/// (plain `bytes`, at the end) holds `entries`; the shard's data is the values 1..=4.
fn sharded(dir: &Path, entries: [(u64, u64); 2]) {
    std::fs::create_dir_all(dir.join("c")).unwrap();
    let meta = r#"{"zarr_format":3,"node_type":"array","shape":[4],"data_type":"float64","chunk_grid":{"name":"regular","configuration":{"chunk_shape":[4]}},"chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},"fill_value":0.0,"codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[2],"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"index_location":"end"}}]}"#;
    std::fs::write(dir.join("zarr.json"), meta).unwrap();
    let mut shard: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    for (offset, len) in entries {
        shard.extend_from_slice(&offset.to_le_bytes());
        shard.extend_from_slice(&len.to_le_bytes());
    }
    std::fs::write(dir.join("c").join("0"), shard).unwrap();
}

/// Limit: shard index entries lie inside the shard (checked before zarrs reads them).
#[test]
fn zarr_shard_index_past_the_shard_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.zarr");
    sharded(&good, [(0, 16), (16, 16)]);
    let a = ZarrArray::<f64>::open(&good).unwrap();
    assert_eq!(a.read(&Selection::all()).unwrap().as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    for (name, entry) in [("overflow", (u64::MAX - 8, 16)), ("past", (40, 1 << 40))] {
        let z = dir.path().join(format!("{name}.zarr"));
        sharded(&z, [(0, 16), entry]);
        let a = ZarrArray::<f64>::open(&z).unwrap();
        let r = a.read(&Selection::all());
        let Err(Error::Storage { reason, .. }) = r else { panic!("{name}: {r:?}") };
        assert!(reason.contains("shard index"), "{reason}");
        let o = run(&["stats", z.to_str().unwrap()]);
        refused(&o, &z, "lies outside");
        let o = run(&["cat", z.to_str().unwrap()]);
        refused(&o, &z, "lies outside");
    }
    // A shard of more inner chunks than the cap is refused at open.
    let z = dir.path().join("many.zarr");
    mkz(&z, "[33554432]", "[33554432]");
    let meta = std::fs::read_to_string(z.join("zarr.json")).unwrap().replace(
        r#""codecs":[{"name":"bytes","configuration":{"endian":"little"}}]"#,
        r#""codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[1],"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],"index_codecs":[{"name":"bytes","configuration":{"endian":"little"}}]}}]"#,
    );
    std::fs::write(z.join("zarr.json"), meta).unwrap();
    let r = ZarrArray::<f64>::open(&z);
    assert!(
        matches!(&r, Err(Error::Storage { reason, .. }) if reason.contains("inner chunks")),
        "{r:?}"
    );
}

/// Limit: `cat --all` and `--json` of a chunked array stream blocks of rows of about 4 MiB;
/// the output is the same as printing the array from memory.
#[test]
fn cat_all_and_json_of_a_zarr_stream_in_blocks_and_match_the_npy_output() {
    use ndarray::Dimension;
    let dir = tempfile::tempdir().unwrap();
    for (case, shape) in [&[600usize, 1000][..], &[600_000], &[3, 250, 900]].into_iter().enumerate()
    {
        let n: usize = shape.iter().product();
        let a = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(shape), |i| {
            let k = i.slice().iter().fold(0usize, |acc, &x| acc * 1000 + x);
            (k % 9973) as f64 / 8.0 - (n % 7) as f64
        });
        let npy = dir.path().join(format!("a{case}.npy"));
        larder::write_npy(&npy, &a).unwrap();
        let z = dir.path().join(format!("a{case}.zarr"));
        let mut zarr = ZarrArray::<f64>::create(&z, None, shape, &ZarrOptions::new()).unwrap();
        larder::ArrayWrite::write_region(&mut zarr, &vec![0; shape.len()], &a.view()).unwrap();
        drop(zarr);
        for flag in ["--all", "--json"] {
            let want = run(&["cat", npy.to_str().unwrap(), flag]);
            let got = run(&["cat", z.to_str().unwrap(), flag]);
            assert_eq!(got.status.code(), Some(0), "{}", String::from_utf8_lossy(&got.stderr));
            assert!(got.stdout == want.stdout, "{shape:?} {flag}: streamed output differs");
        }
    }
}

/// Limit: `convert` keeps a small write buffer per column file (found by the fuzz suite: a
/// CSV of 5 000 columns reserved 1 MiB per column and validity file, 10 GiB, and aborted under
/// a 4 GiB address-space limit). 1 000 columns with missing values convert under 1 GiB.
#[test]
fn convert_of_a_thousand_column_csv_fits_in_a_gib_of_address_space() {
    let dir = tempfile::tempdir().unwrap();
    let csv = crate::support::fixture("fuzz/csv/thousand_columns_with_missing_values/in.csv");
    let out = dir.path().join("out");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_larder"))
        .args(["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(larder::dataset::Dataset::open(&out).unwrap().columns().count(), 1000);
}

/// A Zarr chunk file shorter than the crc32c checksum its codecs end with is an error naming
/// the chunk (found by the fuzz suite: zarrs' partial decoder panicked subtracting the 4 bytes).
#[test]
fn zarr_chunk_shorter_than_its_crc32c_is_refused_naming_the_chunk() {
    let src = crate::support::fixture("fuzz/zarr/crc32c_chunk_shorter_than_its_checksum/a.zarr");
    for args in [&["stats"][..], &["cat", "--json"]] {
        let o = larder().args(args).arg(&src).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("c/1/2") && err.contains("shorter than its 4-byte crc32c"), "{err}");
    }
}

/// `info` and `cat` of a dataset whose column name is wider than `format!` pads (65 535)
/// print it (found by the fuzz suite: both panicked).
#[test]
fn dataset_with_a_column_name_of_70000_characters_prints() {
    let dir = tempfile::tempdir().unwrap();
    let csv = crate::support::fixture("fuzz/csv/column_name_wider_than_65535/in.csv");
    let out = dir.path().join("out");
    assert!(run(&["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"]).status.success());
    for cmd in ["info", "cat"] {
        let o = run(&[cmd, out.to_str().unwrap()]);
        assert!(o.status.success(), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&"7".repeat(70_000)), "{cmd}");
    }
}

/// A dataset whose manifest claims more rows than a column file holds is refused naming the
/// file, by `info`, `cat` and `groupby` (found by the fuzz suite: `cat` indexed past the
/// mapping's end and panicked).
#[test]
fn dataset_column_files_shorter_than_the_manifest_rows_are_refused_naming_the_file() {
    for (case, file) in [
        ("rows_more_than_the_column_files_hold", "name"),
        ("column_file_shorter_than_rows", ".npy"),
    ] {
        let ds = crate::support::fixture(&format!("fuzz/manifest/{case}/ds"));
        for args in [&["cat"][..], &["cat", "--json"]] {
            let o = larder().args(args).arg(&ds).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{case}: {err}");
            assert!(err.contains(file) && err.contains("the manifest says"), "{case}: {err}");
        }
    }
}

/// Exact integer sums: `stats` prints a `uint64` sum above 2^64 in full, as text as in JSON,
/// with and without `--axis` (found by the fuzz suite: the text output failed with "number out
/// of range").
#[test]
fn stats_prints_a_uint64_sum_above_2_pow_64_exactly() {
    let p = crate::support::fixture("fuzz/npy/uint64_sum_above_2_pow_64/a.npy");
    for args in [&["stats"][..], &["stats", "--json"], &["stats", "--axis", "0"]] {
        let o = larder().args(args).arg(&p).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("37524954799323604216"), "{args:?}: {text}");
    }
}

/// An HDF5 dataset whose stored data is smaller than its shape and type need is refused before
/// libhdf5 reads it (found by the fuzz suite: a compact dataset left with 0 bytes of data by a
/// damaged header crashed libhdf5 1.10 with SIGSEGV in `cat` and `stats`).
#[cfg(feature = "hdf5")]
#[test]
fn hdf5_dataset_with_less_data_than_its_shape_needs_is_refused_not_a_crash() {
    let p = crate::support::fixture("fuzz/hdf5/compact_dataset_with_no_data/a.h5");
    for args in [&["cat"][..], &["stats"], &["copy"]] {
        let mut cmd = larder();
        cmd.args(args).arg(&p);
        let dir = tempfile::tempdir().unwrap();
        if args == ["copy"] {
            cmd.arg(dir.path().join("out.npy"));
        }
        let o = cmd.output().unwrap();
        refused(&o, &p, "compact data of 0 bytes, its shape and type need 8");
    }
}

/// `cat` prints an empty array as numpy does, `[]`, whatever its shape: a header of shape
/// `(2^53, 0, 922)` printed 2^53 empty lists (found by the fuzz suite: no exit in 20 s).
#[test]
fn cat_of_an_empty_array_with_a_huge_axis_prints_brackets_at_once() {
    // The fuzz input itself, (2^53, 0, 922) of <f8, is one numpy refuses to load ("array is
    // too big": 2^53 * 922 * 8 bytes of non-empty axes); larder refuses it as numpy does, at
    // once. The same 2^53 axis with a shape numpy loads prints `[]` at once.
    let found = crate::support::fixture("fuzz/npy/empty_array_with_a_2_pow_53_axis/a.npy");
    refused(&run(&["cat", found.to_str().unwrap()]), &found, "numpy refuses");
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.npy");
    npy_header(&huge, "(9007199254740992, 0, 922)");
    refused(&run(&["cat", huge.to_str().unwrap()]), &huge, "numpy refuses");
    let loadable = dir.path().join("loadable.npy");
    npy_header(&loadable, "(9007199254740992, 0, 3)");
    for p in [loadable, crate::support::fixture("npy/i8_be_empty_2x0x3.npy")] {
        let o = run(&["cat", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n");
    }
}

/// `cat` of a dataset checks its columns before sizing the rows it prints by the manifest:
/// a damaged manifest claiming 2^53 rows is refused (found by the fuzz suite: the library
/// allocated 2^57 bytes for the row list and aborted).
#[test]
fn cat_of_a_dataset_claiming_2_pow_53_rows_is_refused_before_allocating() {
    let ds = crate::support::fixture("fuzz/manifest/rows_far_more_than_the_columns_hold/ds");
    let sink = &mut std::io::sink();
    for format in [larder::ops::cat::TextFormat::Text, larder::ops::cat::TextFormat::Json] {
        let e = larder::ops::table::cat_dataset(&ds, &Selection::all(), format, sink).unwrap_err();
        assert!(e.to_string().contains("manifest.json"), "{e}");
    }
    let o = run(&["cat", ds.to_str().unwrap(), "--json"]);
    refused(&o, &ds, "unknown kind");
}
