//! Object keys are what the user typed: larder stores and finds `s3://` keys byte for byte, so
//! boto3, obstore and zarr-python see larder's objects under their names and larder sees
//! theirs; and texts that only look like object locations (`s3:/b/k`, `S3://`, `file://`) are
//! refused, never written as local paths.

use super::{s3_larder, text, write_f64};

/// Near-misses of an object location: refused by every command, naming the text and the
/// spelling meant, and nothing is written in the working directory.
#[test]
fn near_miss_locations_are_refused_never_written_locally() {
    let dir = tempfile::tempdir().unwrap();
    write_f64(&dir.path().join("a.npy"), &[10], 1);
    for (dst, needle) in [
        ("s3:/bkt/typo.zarr", "write s3://bkt/typo.zarr"),
        ("s3:bkt/x.npy", "write s3://bkt/x.npy"),
        ("S3:/bkt/x.h5", "write s3://bkt/x.h5"),
        ("gs:/bkt/y.zarr", "write gs://bkt/y.zarr"),
        ("HTTPS:/host/z.npy", "write https://host/z.npy"),
        ("S3://bkt/x.npy", "write the scheme in lowercase: s3://bkt/x.npy"),
        ("file:///tmp/x.npy", "file:// URLs are not read"),
    ] {
        for args in [
            vec!["copy", "a.npy", dst],
            vec!["copy", dst, "out.npy"],
            vec!["info", dst],
            vec!["cat", dst],
            vec!["convert", "in.csv", dst],
        ] {
            let o = s3_larder("http://127.0.0.1:1")
                .current_dir(dir.path())
                .args(&args)
                .output()
                .unwrap();
            let t = text(&o);
            assert!(!o.status.success(), "{args:?}: {t}");
            assert!(t.contains(&format!("{dst}: ")) && t.contains(needle), "{args:?}: {t}");
        }
    }
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.npy")], "something local was written");
    // A local file of such a name is still reached by a path that says it is one.
    let o = s3_larder("http://127.0.0.1:1")
        .current_dir(dir.path())
        .args(["copy", "a.npy", "./s3:x.npy", "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("s3:x.npy").is_file());
}

/// Keys holding control characters are refused before any request.
#[test]
fn keys_with_control_characters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_f64(&dir.path().join("a.npy"), &[10], 1);
    for dst in ["s3://bkt/a\u{1}b.npy", "s3://bkt/g.zarr:/x\ny"] {
        let o = s3_larder("http://127.0.0.1:1")
            .current_dir(dir.path())
            .args(["copy", "a.npy", dst])
            .output()
            .unwrap();
        let t = text(&o);
        assert!(!o.status.success() && t.contains("control character U+00"), "{dst}: {t}");
    }
}

#[cfg(feature = "s3")]
mod with_server {
    use super::super::server::Moto;
    use super::*;
    use crate::support::python;
    use std::path::Path;
    use std::process::Command;

    const BUCKET: &str = "larder-keys";

    /// The keys in the bucket, straight from boto3 (decoded as S3 stores them).
    fn boto_keys(py: &Path, ep: &str, prefix: &str) -> Vec<String> {
        let o = boto(py, ep)
            .arg(format!(
                "import boto3,json; c=boto3.client('s3',endpoint_url={ep:?}); \
                 r=c.list_objects_v2(Bucket={BUCKET:?},Prefix={prefix:?}); \
                 print(json.dumps([o['Key'] for o in r.get('Contents',[])]))"
            ))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn boto(py: &Path, ep: &str) -> Command {
        let mut c = Command::new(py);
        crate::s3::with_test_credentials(&mut c).env("AWS_ENDPOINT_URL", ep);
        c.arg("-c");
        c
    }

    #[test]
    fn s3_keys_are_stored_and_found_byte_for_byte() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.npy");
        write_f64(&src, &[6, 4], 3);
        let want = std::fs::read(&src).unwrap();
        // larder writes: a .npy and a Zarr array under names with every character object_store
        // would percent-encode, and the objects are under exactly those names.
        let names = ["café~1.npy", "sp ace [x]#?%41*\\{^}|`.npy", "naïve 日本.npy"];
        for name in names {
            let url = format!("s3://{BUCKET}/enc/{name}");
            let o = s3_larder(&ep).arg("copy").arg(&src).arg(&url).arg("-q").output().unwrap();
            assert!(o.status.success(), "{name}: {}", text(&o));
            let back = dir.path().join("back.npy");
            let _ = std::fs::remove_file(&back);
            let o = s3_larder(&ep).args(["copy", &url]).arg(&back).output().unwrap();
            assert!(o.status.success(), "{name}: {}", text(&o));
            assert_eq!(std::fs::read(&back).unwrap(), want, "{name}");
        }
        let mut listed = boto_keys(&py, &ep, "enc/");
        listed.sort();
        let mut expected: Vec<String> = names.iter().map(|n| format!("enc/{n}")).collect();
        expected.sort();
        assert_eq!(listed, expected);
        for prefix in ["proj/é~x.zarr", "proj/[a]#b%25.zarr"] {
            let url = format!("s3://{BUCKET}/{prefix}");
            let o = s3_larder(&ep).arg("copy").arg(&src).arg(&url).arg("-q").output().unwrap();
            assert!(o.status.success(), "{prefix}: {}", text(&o));
            let keys = boto_keys(&py, &ep, &format!("{prefix}/"));
            assert!(keys.contains(&format!("{prefix}/zarr.json")), "{prefix}: {keys:?}");
            assert!(keys.iter().all(|k| k.starts_with(&format!("{prefix}/"))), "{keys:?}");
        }

        // And the other way: objects boto3 stored under such names are found by larder, a
        // .npy and a Zarr array (metadata and chunk keys written by hand, as any tool would).
        let zarr_json = r#"{"zarr_format":3,"node_type":"array","shape":[3],"data_type":"int16",
            "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[3]}},
            "chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},
            "fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}]}"#;
        let script = format!(
            "import boto3; c=boto3.client('s3',endpoint_url={ep:?}); b={BUCKET:?}\n\
             c.put_object(Bucket=b,Key='theirs/naïve~[1].npy',Body=open({src:?},'rb').read())\n\
             c.put_object(Bucket=b,Key='theirs/é %.zarr/zarr.json',Body={zarr_json:?})\n\
             c.put_object(Bucket=b,Key='theirs/é %.zarr/c/0',Body=bytes([7,0,8,0,9,0]))",
            src = src.display().to_string(),
        );
        let o = boto(&py, &ep).arg(script).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let back = dir.path().join("theirs.npy");
        let o = s3_larder(&ep)
            .args(["copy", &format!("s3://{BUCKET}/theirs/naïve~[1].npy")])
            .arg(&back)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(std::fs::read(&back).unwrap(), want);
        let o = s3_larder(&ep)
            .args(["cat", &format!("s3://{BUCKET}/theirs/é %.zarr"), "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[7,8,9]");
    }
}
