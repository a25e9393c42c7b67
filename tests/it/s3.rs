//! Object storage: `s3://` locations end to end against a local S3 server (moto), through a
//! proxy that injects faults, and with zarr-python reading and writing the same bucket.

mod groups;
mod keys;
#[cfg(feature = "s3")]
pub(crate) mod server;

use std::path::Path;
use std::process::{Command, Output};

use crate::support::larder;
#[cfg(feature = "s3")]
use crate::support::{python, run_interop};

/// `c` with the local server's test credentials and nothing from the caller's AWS
/// environment.
pub(crate) fn with_test_credentials(c: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
}

/// `larder` with test credentials and nothing from the caller's AWS environment.
pub(crate) fn s3_larder(endpoint: &str) -> Command {
    let mut c = larder();
    with_test_credentials(&mut c).args(["--endpoint", endpoint]);
    c
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub(crate) fn write_f64(path: &Path, shape: &[usize], seed: u64) {
    let n: usize = shape.iter().product();
    // A xorshift stream: incompressible, so chunk sizes on the wire are predictable.
    let mut x = seed | 1;
    let values: Vec<f64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), values).unwrap();
    larder::write_npy(path, &a).unwrap();
}

#[test]
fn s3_locations_are_never_local_paths() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    write_f64(&src, &[100], 1);
    // No server listens on port 1: the copy fails, naming the location, and writes nothing.
    let o = s3_larder("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["copy", "a.npy", "s3://b/a.zarr", "--retries", "0"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("s3://b"), "{}", text(&o));
    // An unknown scheme is refused by name, for every command.
    for args in [
        &["copy", "a.npy", "gs://b/a.zarr"][..],
        &["copy", "gs://b/a.npy", "x.npy"],
        &["info", "gs://b/a.zarr"],
        &["stats", "gs://b/a.zarr"],
        &["cat", "gs://b/a.zarr"],
        &["convert", "in.csv", "gs://b/out"],
    ] {
        let o =
            s3_larder("http://127.0.0.1:1").current_dir(dir.path()).args(args).output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o).contains("gs://b/") && text(&o).contains("unknown scheme"),
            "{}",
            text(&o)
        );
    }
    let o = s3_larder("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["convert", "a.npy", "s3://b/out"])
        .output()
        .unwrap();
    assert!(!o.status.success() && text(&o).contains("s3://b/out"), "{}", text(&o));
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.npy")], "something local was written");
}

#[cfg(feature = "s3")]
mod with_server {
    use super::server::{Faults, Moto, Proxy};
    use super::*;
    use std::time::Duration;

    const BUCKET: &str = "larder-test";

    fn ok(c: &mut Command) -> Output {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{:?}: {}", c.get_args().collect::<Vec<_>>(), text(&o));
        o
    }

    fn s3(key: &str) -> String {
        format!("s3://{BUCKET}/{key}")
    }

    /// The bytes of the `.npy` larder writes when it copies `src` (any location) to a local file.
    fn download(endpoint: &str, src: &str, dir: &Path, name: &str) -> Vec<u8> {
        let out = dir.join(name);
        ok(s3_larder(endpoint).args(["copy", src]).arg(&out).arg("-q"));
        std::fs::read(out).unwrap()
    }

    /// A converted dataset copied to a Zarr group on the S3 server: xarray (through zarr-python
    /// and obstore) reads every column with pandas' values and missing rows, a two-process dask
    /// cluster reading the group from the server computes the same counts and means per
    /// category as `larder groupby`, and copying the group back gives the dataset byte for byte
    /// (`tests/interop/check_zarr_group.py`).
    #[test]
    fn a_dask_cluster_computes_on_a_dataset_group_in_object_storage_as_larder_does() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let dir = tempfile::tempdir().unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_zarr_group.py");
        let mut c = Command::new(&py);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        let o = c
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_larder"))
            .arg(dir.path())
            .args(["--store", &s3("stations.zarr"), "--s3-endpoint", &moto.endpoint()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let info = ok(s3_larder(&moto.endpoint()).args(["info", &s3("stations.zarr")]));
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains("dataset group") && info.contains("5003 rows"), "{info}");
        let keys = moto.keys(BUCKET, "stations.zarr");
        assert!(keys.iter().any(|k| k.ends_with("stations.zarr/zarr.json")), "{keys:?}");
    }

    #[test]
    fn zarr_python_reads_what_larder_writes_to_s3_and_larder_reads_it_back() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut pairs = Vec::new();
        let big = dir.path().join("big.npy");
        write_f64(&big, &[3000, 700], 7); // 16.8 MB: a multipart .npy upload
        let sources = [
            ("f8.npy", root.join("fixtures/npy/f8_le_2d_3x4_c.npy"), &[][..]),
            (
                "i2-fortran-be.zarr",
                root.join("fixtures/npy/i2_be_2d_17x13_f.npy"),
                &["--chunks", "4,5", "--shard", "8,10"][..],
            ),
            ("c16.zarr", root.join("fixtures/npy/c16_le_3d_2x3x4_c.npy"), &[][..]),
            ("b1.npy", root.join("fixtures/npy/b1_2d_3x4_c.npy"), &[][..]),
            ("big.npy", big.clone(), &[][..]),
            ("big.zarr", big.clone(), &["--chunks", "500,700", "--codec", "gzip:1"][..]),
        ];
        for (key, src, extra) in &sources {
            ok(s3_larder(&ep).arg("copy").arg(src).arg(s3(key)).args(*extra).arg("-q"));
            pairs.push(key.to_string().into());
            pairs.push(src.clone().into_os_string());
            // Back from S3 to a local .npy: the same bytes as a local copy.
            let local = dir.path().join(format!("local-{key}.npy"));
            ok(larder().arg("copy").arg(src).arg(&local));
            let back = download(&ep, &s3(key), dir.path(), &format!("back-{key}.npy"));
            assert_eq!(back, std::fs::read(&local).unwrap(), "{key}");
        }
        let mut args: Vec<std::ffi::OsString> =
            vec![ep.clone().into(), BUCKET.into(), "read".into()];
        args.extend(pairs);
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsString::as_os_str).collect();
        run_interop(&py, "check_s3.py", &refs);

        // info, cat and stats read from the bucket as from a local file.
        let o = ok(s3_larder(&ep).args(["info", &s3("big.zarr"), "--json"]));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            (v["format"].as_str(), v["shape"].clone()),
            (Some("zarr"), serde_json::json!([3000, 700]))
        );
        assert_eq!(v["chunks"], serde_json::json!([500, 700]));
        // Sums merge in a tree over chunks: a local Zarr copy with the same chunks sums alike.
        let big_zarr = dir.path().join("big.zarr");
        ok(larder().arg("copy").arg(&big).arg(&big_zarr).args(["--chunks", "500,700"]));
        for (key, local) in [("big.npy", &big), ("big.zarr", &big_zarr)] {
            let slice = ["--slice", "2999,::100", "--json"];
            let remote = ok(s3_larder(&ep).args(["cat", &s3(key)]).args(slice));
            let here = ok(larder().arg("cat").arg(local).args(slice));
            assert_eq!(remote.stdout, here.stdout, "{key}");
            let remote = ok(s3_larder(&ep).args(["stats", &s3(key), "--json"]));
            let here = ok(larder().arg("stats").arg(local).arg("--json"));
            let (remote, here) = (String::from_utf8(remote.stdout), String::from_utf8(here.stdout));
            assert_eq!(remote.unwrap(), here.unwrap(), "{key}");
        }

        // And larder reads what zarr-python wrote there: plain, sharded and Zarr v2.
        run_interop(
            &py,
            "check_s3.py",
            &[ep.as_ref(), BUCKET.as_ref(), "write".as_ref(), dir.path().as_os_str()],
        );
        for name in ["py-plain", "py-sharded", "py-v2"] {
            let got = download(
                &ep,
                &s3(&format!("{name}.zarr")),
                dir.path(),
                &format!("{name}-back.npy"),
            );
            let want = dir.path().join(format!("{name}-want.npy"));
            ok(larder().arg("copy").arg(dir.path().join(format!("{name}.npy"))).arg(&want));
            assert_eq!(got, std::fs::read(&want).unwrap(), "{name}");
        }
    }

    /// Faster retries than the defaults, and a request timeout below the proxy's stalls.
    const QUICK_RETRIES: [&str; 6] =
        ["--backoff", "0.05", "--backoff-max", "0.5", "--request-timeout", "3"];

    #[test]
    fn copies_through_a_proxy_that_drops_stalls_and_cuts_connections_complete_identically() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.npy");
        write_f64(&src, &[2000, 1000], 3); // 16 MB; chunks of 1.6 MB
        let faults = Faults {
            drop_every: 3,
            stall_every: 7,
            stall: Duration::from_secs(6),
            cut_after: 12 << 20,
            down_after: 0,
        };
        let proxy = Proxy::start(moto.port, faults);
        let pe = proxy.endpoint();
        for key in ["faulty.zarr", "faulty.npy"] {
            let mut c = s3_larder(&pe);
            c.arg("copy").arg(&src).arg(s3(key)).arg("-q").args(QUICK_RETRIES);
            if key == "faulty.zarr" {
                c.args(["--chunks", "200,1000"]);
            }
            ok(&mut c);
            // Read back through the same faulty proxy, and directly: identical to the source.
            let back = download(&pe, &s3(key), dir.path(), &format!("{key}-proxy.npy"));
            let direct = download(&moto.endpoint(), &s3(key), dir.path(), &format!("{key}.npy"));
            assert_eq!(back, direct, "{key}");
            assert_eq!(direct, std::fs::read(&src).unwrap(), "{key}");
        }
        assert!(
            proxy.accepted() > 7,
            "the faults were never hit: {} connections",
            proxy.accepted()
        );
    }

    #[test]
    fn a_server_that_goes_down_leaves_no_visible_array_and_resume_sends_only_missing_chunks() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.npy");
        write_f64(&src, &[1600, 1000], 5); // 12.8 MB: 16 chunks of 800 kB
        let chunk_bytes: u64 = 100 * 1000 * 8;
        let dst = s3("cut.zarr");
        let copy = |endpoint: &str, resume: bool| {
            let mut c = s3_larder(endpoint);
            c.arg("copy").arg(&src).arg(&dst).args(["--chunks", "100,1000", "--codec", "none"]);
            c.args(["--retries", "2", "--concurrency", "2", "-q"]).args(QUICK_RETRIES);
            if resume {
                c.arg("--resume");
            }
            c.output().unwrap()
        };
        // The proxy goes down for good after about 6 chunks.
        let down =
            Proxy::start(moto.port, Faults { down_after: 6 * chunk_bytes, ..Faults::default() });
        let o = copy(&down.endpoint(), false);
        assert!(!o.status.success(), "the copy succeeded through a dead proxy");
        let err = text(&o);
        assert!(err.contains(&dst) || err.contains(&format!("s3://{BUCKET}")), "{err}");
        assert!(err.contains("--resume"), "{err}");
        drop(down);
        // Nothing half-visible: chunks and the marker, no metadata, so no reader sees an array.
        let keys = moto.keys(BUCKET, "cut.zarr");
        let stored = keys.iter().filter(|k| k.starts_with("cut.zarr/c/")).count() as u64;
        assert!(!keys.iter().any(|k| k.ends_with("zarr.json")), "metadata before chunks: {keys:?}");
        assert!(keys.iter().any(|k| k.ends_with(".larder-upload.json")), "{keys:?}");
        assert!((1..16).contains(&stored), "{stored} chunks stored before the proxy went down");
        let direct = moto.endpoint();
        let info = s3_larder(&direct).args(["info", &dst]).output().unwrap();
        assert!(!info.status.success(), "an array is visible: {}", text(&info));
        // A plain re-run refuses to mix with the interrupted copy.
        let o = copy(&direct, false);
        assert!(!o.status.success() && text(&o).contains("interrupted"), "{}", text(&o));
        // Resuming sends only the missing chunks (plus requests' headers and the metadata),
        // through a proxy that counts the bytes.
        let counting = Proxy::start(moto.port, Faults::default());
        let o = copy(&counting.endpoint(), true);
        assert!(o.status.success(), "{}", text(&o));
        let (sent, missing) = (counting.bytes_up(), (16 - stored) * chunk_bytes);
        assert!(sent >= missing && sent < missing + (256 << 10), "sent {sent}, missing {missing}");
        let keys = moto.keys(BUCKET, "cut.zarr");
        assert!(keys.contains(&"cut.zarr/zarr.json".to_string()), "{keys:?}");
        assert!(!keys.iter().any(|k| k.ends_with(".larder-upload.json")), "{keys:?}");
        let back = download(&direct, &dst, dir.path(), "back.npy");
        assert_eq!(back, std::fs::read(&src).unwrap());
    }

    #[test]
    fn permanent_failures_are_clear_errors_naming_the_object() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.npy");
        write_f64(&src, &[10], 1);
        for (args, needle) in [
            (
                vec!["info".to_string(), "s3://no-such-bucket/a.zarr".to_string()],
                "s3://no-such-bucket: no such bucket",
            ),
            (
                vec!["info".to_string(), s3("missing.zarr")],
                "s3://larder-test/missing.zarr: nothing there",
            ),
            (
                vec!["cat".to_string(), s3("missing.npy")],
                "s3://larder-test/missing.npy: nothing there",
            ),
            (
                vec![
                    "copy".to_string(),
                    src.display().to_string(),
                    "s3://no-such-bucket/a.zarr".to_string(),
                ],
                "no such bucket",
            ),
        ] {
            let o = s3_larder(&ep).args(&args).output().unwrap();
            assert!(!o.status.success(), "{args:?}");
            assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
        }
        ok(s3_larder(&ep).arg("copy").arg(&src).arg(s3("a.zarr")).arg("-q"));
        let o = s3_larder(&ep).arg("copy").arg(&src).arg(s3("a.zarr")).output().unwrap();
        assert!(text(&o).contains("s3://larder-test/a.zarr: already exists"), "{}", text(&o));
    }
}
