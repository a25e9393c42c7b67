//! An array added to a dataset group in object storage (`copy x.npy s3://b/ds.zarr:/extra`)
//! is listed in the group's consolidated metadata, as it is locally.

#[cfg(feature = "s3")]
mod with_server {
    use super::super::server::Moto;
    use super::super::{s3_larder, text, write_f64};
    use crate::support::{larder, python};

    const BUCKET: &str = "larder-groups";

    #[test]
    fn an_array_added_to_a_dataset_group_in_s3_is_in_its_consolidated_metadata() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("in.csv"), "n,s\n1,a\n2,b\n3,c\n").unwrap();
        let o = larder().current_dir(d).args(["convert", "in.csv", "ds", "-q"]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        write_f64(&d.join("x.npy"), &[3], 9);
        let group = format!("s3://{BUCKET}/g/ds.zarr");
        for (src, dst) in [
            ("ds".to_string(), group.clone()),
            ("x.npy".to_string(), format!("{group}:/extra")),
            ("x.npy".to_string(), format!("{group}:/sub/deep")),
        ] {
            let o = s3_larder(&ep).current_dir(d).args(["copy", &src, &dst, "-q"]).output();
            let o = o.unwrap();
            assert!(o.status.success(), "{dst}: {}", text(&o));
        }
        let back = d.join("root.json");
        let o = s3_larder(&ep)
            .current_dir(d)
            .args(["cat", &format!("{group}:/extra"), "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        // The group's own zarr.json, straight from the server.
        let script = format!(
            "import boto3; c=boto3.client('s3',endpoint_url={ep:?},aws_access_key_id='t',\
             aws_secret_access_key='t',region_name='us-east-1')\n\
             open({:?},'wb').write(c.get_object(Bucket={BUCKET:?},Key='g/ds.zarr/zarr.json')['Body'].read())",
            back.display().to_string()
        );
        let o = std::process::Command::new(&py).arg("-c").arg(script).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let root: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&back).unwrap()).unwrap();
        let entries = root["consolidated_metadata"]["metadata"].as_object().unwrap();
        for name in ["extra", "sub", "sub/deep", "n", "s"] {
            assert!(entries.contains_key(name), "{name}: {:?}", entries.keys().collect::<Vec<_>>());
        }
        assert_eq!(entries["extra"]["shape"], serde_json::json!([3]));
        // And the copy back to a dataset names the added arrays rather than dropping them.
        let o = s3_larder(&ep).current_dir(d).args(["copy", &group, "back"]).output().unwrap();
        let t = text(&o);
        assert!(
            !o.status.success() && t.contains("\"extra\"") && t.contains("\"sub/deep\""),
            "{t}"
        );
    }
}
