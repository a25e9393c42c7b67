//! `larder cat DATASET` of a table wider than the line: printed in blocks of columns, as pandas
//! prints a wide `DataFrame` (`display.width`, 80, or the terminal's `COLUMNS`).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use larder::convert::ConvertOptions;

use crate::support::{larder, python};

/// Converts `text` into `dir/NAME`.
fn dataset(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let csv = dir.join(format!("{name}.csv"));
    fs::write(&csv, text).unwrap();
    let out = dir.join(name);
    ConvertOptions::new().convert(&csv, &out, &mut |_| {}).unwrap();
    out
}

/// `larder cat DATASET` (with `COLUMNS` set to `columns`, or unset), up to the blank line
/// before its `[N rows x M columns]` footer.
fn cat(ds: &Path, columns: Option<&str>, json: bool) -> String {
    let mut cmd = larder();
    cmd.arg("cat").arg(ds).env_remove("COLUMNS");
    if let Some(c) = columns {
        cmd.env("COLUMNS", c);
    }
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    match text.rfind("\n\n[") {
        Some(p) if !json => text[..=p].to_string(),
        _ => text,
    }
}

/// What `print(pd.read_csv(csv))` shows with every column and `display.width` = `width`. Only
/// for number columns: pandas prints a blank before each number (room for a sign), so number
/// columns are two blanks apart as larder prints every column; its string columns are one
/// blank apart.
fn pandas(csv: &Path, width: usize) -> Option<String> {
    let py = python()?;
    let script = format!(
        "import sys, pandas as pd\n\
         pd.set_option('display.max_columns', None)\n\
         pd.set_option('display.width', {width})\n\
         pd.set_option('display.max_colwidth', 50)\n\
         print(repr(pd.read_csv(sys.argv[1])))"
    );
    let out = Command::new(py).arg("-c").arg(script).arg(csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// `cols` columns `column_0`, … of three rows of integers.
fn wide_csv(cols: usize) -> String {
    let mut s = (0..cols).map(|c| format!("column_{c}")).collect::<Vec<_>>().join(",");
    s.push('\n');
    for r in 0..3 {
        let row: Vec<String> = (0..cols).map(|c| (r * 1000 + c).to_string()).collect();
        let _ = writeln!(s, "{}", row.join(","));
    }
    s
}

#[test]
fn cat_wraps_a_wide_table_in_blocks_of_columns_as_pandas_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path(), "wide", &wide_csv(12));
    let want = "   column_0  column_1  column_2  column_3  column_4  column_5  column_6  \\\n\
                0         0         1         2         3         4         5         6   \n\
                1      1000      1001      1002      1003      1004      1005      1006   \n\
                2      2000      2001      2002      2003      2004      2005      2006   \n\
                \n   column_7  column_8  column_9  column_10  column_11  \n\
                0         7         8         9         10         11  \n\
                1      1007      1008      1009       1010       1011  \n\
                2      2007      2008      2009       2010       2011  \n";
    assert_eq!(cat(&ds, None, false), want);
    if let Some(p) = pandas(&dir.path().join("wide.csv"), 80) {
        assert_eq!(cat(&ds, None, false), p);
    }
    // `COLUMNS` sets the width; other widths and counts cut elsewhere, as pandas does.
    for (cols, width) in [(12, 40), (12, 200), (30, 80), (5, 30), (3, 12)] {
        let name = format!("w{cols}_{width}");
        let ds = dataset(dir.path(), &name, &wide_csv(cols));
        let got = cat(&ds, Some(&width.to_string()), false);
        let blocks = got.split("\n\n").count();
        if width == 200 {
            assert_eq!(blocks, 1, "{name}: {got}");
        } else {
            assert!(blocks > 1, "{name}: {got}");
        }
        if let Some(p) = pandas(&dir.path().join(format!("{name}.csv")), width) {
            assert_eq!(got, p, "{name}");
        }
    }
    // JSON is not wrapped.
    let json = cat(&ds, Some("20"), true);
    assert_eq!(json.lines().count(), 1, "{json}");
    assert!(json.contains("\"column_11\":11"), "{json}");
}

#[test]
fn cat_leaves_narrow_and_one_column_tables_alone_and_gives_a_long_column_its_own_block() {
    let dir = tempfile::tempdir().unwrap();
    // Narrow: one block, no continuation marks.
    let ds = dataset(dir.path(), "narrow", "a,b\n1,x\n22,yy\n");
    assert_eq!(cat(&ds, None, false), "    a   b\n0   1   x\n1  22  yy\n");
    // One column, wider than the line: never wrapped.
    let long = "v".repeat(45);
    let ds = dataset(dir.path(), "one", &format!("name\n{long}\nshort\n"));
    assert_eq!(
        cat(&ds, Some("20"), false),
        format!("{:>48}\n0  {long}\n1  {:>45}\n", "name", "short")
    );
    // Very long values (cut to 50 characters) in the middle: that column has a block of its
    // own, and the blocks around it keep theirs.
    let v = "x".repeat(70);
    let text = format!("a,b,c,d\n1,{v},2,3\n4,y,5,6\n");
    let ds = dataset(dir.path(), "long", &text);
    let cut = format!("{}...", "x".repeat(47));
    assert_eq!(
        cat(&ds, Some("40"), false),
        format!(
            "   a  \\\n0  1   \n1  4   \n\n{:>53}  \\\n0  {cut}   \n1  {:>50}   \n\n   \
             c  d  \n0  2  3  \n1  5  6  \n",
            "b", "y"
        )
    );
}
