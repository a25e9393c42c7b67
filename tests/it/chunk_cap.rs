//! The 2 GiB chunk cap as docs/limits.md states it: a declared chunk over the cap opens when,
//! clipped to the array, it fits and its codecs decode in part (`bytes` alone); clipped and
//! still over, or with a codec that decodes whole chunks, it is refused naming the cap.

use crate::support::larder;

fn store(dir: &std::path::Path, name: &str, shape: u64, chunk: u64, zstd: bool) {
    let codecs = if zstd {
        r#"[{"name":"bytes","configuration":{"endian":"little"}},{"name":"zstd","configuration":{"level":1,"checksum":false}}]"#
    } else {
        r#"[{"name":"bytes","configuration":{"endian":"little"}}]"#
    };
    let meta = format!(
        r#"{{"zarr_format":3,"node_type":"array","shape":[{shape}],"data_type":"float64",
        "chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":[{chunk}]}}}},
        "chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},
        "fill_value":1.5,"codecs":{codecs}}}"#
    );
    std::fs::create_dir(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("zarr.json"), meta).unwrap();
}

#[test]
fn a_declared_chunk_over_the_cap_opens_only_when_clipped_under_it_and_decoded_in_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = 1u64 << 40;
    store(d, "small.zarr", 1000, big, false);
    store(d, "small-odd.zarr", 7, big + 3, false);
    store(d, "huge.zarr", big, big, false);
    store(d, "huge-clip.zarr", (1 << 28) + 1, big, false);
    store(d, "zstd.zarr", 1000, big, true);
    for name in ["small.zarr", "small-odd.zarr"] {
        let o = larder().current_dir(d).args(["stats", name, "--json"]).output().unwrap();
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("\"mean\":1.5"), "{name}");
    }
    for name in ["huge.zarr", "huge-clip.zarr", "zstd.zarr"] {
        let o = larder().current_dir(d).args(["info", name]).output().unwrap();
        let t = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name} opened");
        assert!(t.contains(name) && t.contains("more than 2147483648 bytes"), "{name}: {t}");
    }
}
