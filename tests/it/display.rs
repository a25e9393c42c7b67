//! What `larder cat` and `larder info` print for people: one line per row whatever the text
//! holds, and aligned columns whatever the dtype's width.

use crate::support::larder;

fn converted(csv: &str, args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.path().join("out");
    let o = larder().args(["convert", "-q"]).arg(&path).arg(&out).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (dir, out)
}

fn stdout(args: &[&std::ffi::OsStr]) -> String {
    let o = larder().args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn cat_escapes_control_characters_as_pandas_prints_them() {
    let (_d, out) = converted(
        "id,text\n1,\"two\r\nlines\"\n2,\"tab\there\"\n3,plain\n4,\"bell\x07 and \x1b[31mred\"\n",
        &[],
    );
    let text = stdout(&["cat".as_ref(), out.as_os_str()]);
    // A header, four rows and the footer: no row is split, no raw control character is left.
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    for want in [r"two\r\nlines", r"tab\there", r"bell\x07 and \x1b[31mred"] {
        assert!(text.lines().any(|l| l.contains(want)), "{want}\n{text}");
    }
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with(char::is_numeric)).count(), 4);
    // JSON keeps the strings as they are.
    let json = stdout(&["cat".as_ref(), out.as_os_str(), "--json".as_ref()]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["text"], "two\r\nlines");
    // A long value is escaped first, then cut to 50 characters like any other.
    let long = format!("id,text\n1,\"{}\"\n", "a\tb".repeat(40));
    let (_d, out) = converted(&long, &["--type", "text=str"]);
    let text = stdout(&["cat".as_ref(), out.as_os_str()]);
    let row = text.lines().nth(1).unwrap();
    let cell = format!(r"{}a\t...", r"a\tb".repeat(11));
    assert!(row.ends_with(&format!("  {cell}")) && cell.chars().count() == 50, "{row}");
}

#[test]
fn info_aligns_seven_character_dtypes() {
    let (_d, out) = converted(
        "ms,ns,d,x\n2024-01-01T00:00:00.123,2024-01-01T00:00:00.123456789,2024-01-01,1\n\
         ,2024-01-01T00:00:00.1234,,2\n",
        &[],
    );
    let text = stdout(&["info".as_ref(), out.as_os_str()]);
    let lines: Vec<&str> = text.lines().skip(1).take(5).collect();
    assert!(lines[1].contains("<M8[ms]") && lines[2].contains("<M8[ns]"), "{text}");
    // Every row ends its "nulls" and "bytes" cells where the header ends them.
    let header = lines[0];
    let nulls_end = header.find("nulls").unwrap() + "nulls".len();
    for l in &lines[1..] {
        assert_eq!(l.trim_end().len(), header.trim_end().len(), "bytes column:\n{text}");
        let before: String = l.chars().take(nulls_end).collect();
        assert!(before.ends_with(char::is_numeric), "nulls column: {l:?}\n{text}");
        assert_eq!(l.chars().nth(nulls_end), Some(' '), "{l:?}\n{text}");
    }
}

#[test]
fn date_means_keep_the_hours_and_timeless_groups_print_nat() {
    // pandas: mean of 2024-01-01 and 2024-01-02 is 2024-01-01 12:00; before 1970 too; a group
    // whose times are all missing gets NaT for min, max and mean.
    let (_d, out) = converted(
        "g,d,ts\na,2024-01-01,2024-01-01T10:00:00\na,2024-01-02,\nb,1969-12-30,\n\
         b,1969-12-31,\n",
        &["--type", "g=cat"],
    );
    let stats = stdout(&["stats".as_ref(), out.join("d.npy").as_os_str(), "--json".as_ref()]);
    let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
    // (2024-01-01 + 2024-01-02 + 1969-12-30 + 1969-12-31) / 4 days from the epoch.
    assert_eq!(v["mean"], "1996-12-31T00:00:00", "{stats}");
    assert_eq!(v["min"], "1969-12-30");
    let g = stdout(&[
        "groupby".as_ref(),
        out.as_os_str(),
        "--by=g".as_ref(),
        "--agg=mean:d,min:ts,max:ts,mean:ts".as_ref(),
        "--json".as_ref(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&g).unwrap();
    let a = &v["aggregates"];
    assert_eq!(
        a["mean:d"],
        serde_json::json!(["2024-01-01T12:00:00", "1969-12-30T12:00:00"]),
        "{g}"
    );
    for k in ["min:ts", "max:ts", "mean:ts"] {
        assert_eq!(a[k][1], "NaT", "{k}: {g}");
        assert_eq!(a[k][0], "2024-01-01T10:00:00", "{k}: {g}");
    }
    let text = stdout(&[
        "groupby".as_ref(),
        out.as_os_str(),
        "--by=g".as_ref(),
        "--agg=mean:d,min:ts".as_ref(),
    ]);
    assert!(
        text.contains("1969-12-30T12:00:00") && text.contains("NaT") && !text.contains("NaN"),
        "{text}"
    );
}
