//! `%Q` time zones in datetime formats: local times become UTC by the zone's rules, as pandas'
//! `tz_localize(zone).tz_convert("UTC")`.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{larder, python};

fn convert(csv: &Path, out: &Path, format: &str) -> std::process::Output {
    larder()
        .args(["convert", "-q", csv.to_str().unwrap(), out.to_str().unwrap()])
        .args(["--type", &format!("ts=datetime64[s]:{format}")])
        .output()
        .unwrap()
}

fn seconds(path: &Path) -> Vec<i64> {
    larder::read_npy::<i64>(path).unwrap().iter().copied().collect()
}

#[test]
fn iana_zones_become_utc_and_dst_gaps_are_rejected_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tz.csv");
    std::fs::write(
        &csv,
        "ts,v\n2024-03-10 01:30 America/New_York,1\n2024-07-01 12:00 Europe/Paris,2\n\
         2024-03-10 02:30 America/New_York,3\n2024-11-03 01:30 America/New_York,4\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = convert(&csv, &out, "%Y-%m-%d %H:%M %Q");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // pandas: 2024-03-10 06:30:00+00:00 and 2024-07-01 10:00:00+00:00.
    assert_eq!(seconds(&out.join("ts.npy")), [1_710_052_200, 1_719_828_000]);
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    for want in [
        r#"4,"ts","2024-03-10T02:30:00 does not exist in America/New_York"#,
        r#"5,"ts","2024-11-03T01:30:00 is ambiguous in America/New_York"#,
    ] {
        assert!(rejects.contains(want), "{want}\n{rejects}");
    }

    // A zone that is not in the database names itself; %Z is refused before any value is read.
    std::fs::write(&csv, "ts\n2024-01-01 10:00 Europe/Atlantis\n2024-01-01 10:00 Asia/Tokyo\n")
        .unwrap();
    let out = dir.path().join("unknown");
    let o = convert(&csv, &out, "%Y-%m-%d %H:%M %Q");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(seconds(&out.join("ts.npy")), [1_704_070_800]);
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    assert!(rejects.contains(r#"2,"ts","unknown time zone ""Europe/Atlantis"""#), "{rejects}");
    let o = convert(&csv, &dir.path().join("z"), "%Y-%m-%d %H:%M %Z");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("%Z time zone abbreviations"), "{err}");
    assert!(!dir.path().join("z").exists());
}

#[test]
fn random_local_times_in_many_zones_equal_pandas() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let zones = [
        "America/New_York",
        "America/Sao_Paulo",
        "Europe/Paris",
        "Europe/London",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "Africa/Casablanca",
        "UTC",
    ];
    // Local times every few hours over 1960..2030, each in a zone in turn: many near DST edges.
    let mut s = String::from("ts\n");
    let mut x: u64 = 11;
    for i in 0..3000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let t = -315_619_200 + ((x >> 24) % 2_208_988_800) as i64;
        let local = larder::dtype::format_datetime(t, larder::dtype::TimeUnit::S).replace('T', " ");
        writeln!(s, "{local} {}", zones[i % zones.len()]).unwrap();
    }
    let csv = dir.path().join("zones.csv");
    std::fs::write(&csv, &s).unwrap();
    let out = dir.path().join("out");
    let o = convert(&csv, &out, "%Y-%m-%d %H:%M:%S %Q");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // pandas localizes each line, raising (as larder rejects) in gaps and folds.
    let script = r#"
import sys, json, pandas as pd
ok = []
for line in open(sys.argv[1]).read().splitlines()[1:]:
    d, t, z = line.split(" ")
    try:
        ok.append(pd.Timestamp(d + " " + t).tz_localize(z).tz_convert("UTC").value // 10**9)
    except ValueError:
        ok.append(None)
print(json.dumps(ok))
"#;
    let o = std::process::Command::new(py).args(["-c", script]).arg(&csv).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Option<i64>> = serde_json::from_slice(&o.stdout).unwrap();
    let kept: Vec<i64> = want.iter().flatten().copied().collect();
    assert!(kept.len() < want.len(), "no gap or fold was drawn");
    assert_eq!(seconds(&out.join("ts.npy")), kept);
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count() - 1, want.len() - kept.len(), "{rejects}");
}
