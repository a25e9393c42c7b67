//! String columns and large categorical dictionaries of `larder convert`: the layout, the
//! spill from categorical to string, inference, and what `stats` and `groupby` refuse.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use larder::convert::{ColumnType, ConvertOptions};
use larder::dataset::{Categories, ColumnKind, Dataset, Manifest};

use crate::support::larder;

/// `rows` records of `id,city,text`: `city` repeats (40 values), `text` is free text that
/// is mostly distinct, with quotes, delimiters, line breaks, multi-byte UTF-8 and missing
/// values; `code` takes `codes` distinct values, first seen one after another.
fn text_csv(rows: usize, codes: usize) -> String {
    let mut s = String::from("id,city,text,code\n");
    for i in 0..rows {
        let text = match i % 7 {
            0 => String::new(),
            1 => format!("\"say \"\"hi\"\", {i}\nthen go\""),
            2 => format!("Zürich → 東京 {i} 🚀"),
            3 => "NA".to_string(),
            _ => format!("/api/v1/orders/{}", i * 7919 % 100_003),
        };
        writeln!(s, "{i},city{},{text},c{}", i % 40, i % codes).unwrap();
    }
    s
}

/// The values of string column `name` of the dataset at `dir`, `None` where missing.
fn strings(dir: &Path, name: &str) -> Vec<Option<String>> {
    let d = Dataset::open(dir).unwrap();
    let c = d.column(name).unwrap();
    assert_eq!(c.kind(), ColumnKind::String, "{name}");
    let s = c.strings().unwrap();
    let valid = c.validity().unwrap();
    let valid = valid.as_ref().map(|v| v.as_slice().unwrap().to_vec());
    (0..s.len())
        .map(|i| {
            let present = valid.as_ref().is_none_or(|v| v[i]);
            present.then(|| s.get(i).unwrap().to_string())
        })
        .collect()
}

#[test]
fn string_columns_keep_quotes_delimiters_line_breaks_and_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, text_csv(700, 3)).unwrap();
    let out = dir.path().join("out");
    ConvertOptions::new().convert(&csv, &out, &mut |_| {}).unwrap();
    let m = Manifest::read(&out).unwrap();
    let kinds: Vec<_> = m.columns.iter().map(|c| c.dtype.as_str()).collect();
    assert_eq!(kinds, ["<i8", "|u1", "str", "|u1"], "text is inferred as str, cities as cat");
    let got = strings(&out, "text");
    assert_eq!(got.len(), 700);
    assert_eq!(got[0], None, "the empty field is missing");
    assert_eq!(got[3], None, "NA is missing");
    assert_eq!(got[1].as_deref(), Some("say \"hi\", 1\nthen go"));
    assert_eq!(got[2].as_deref(), Some("Zürich → 東京 2 🚀"));
    assert_eq!(got[4].as_deref(), Some("/api/v1/orders/31676"));
    // The files are the Arrow large-string layout: bytes, then rows + 1 offsets from 0.
    let offsets = larder::read_npy::<i64>(out.join("text.offsets.npy")).unwrap();
    let bytes = larder::read_npy::<u8>(out.join("text.npy")).unwrap();
    assert_eq!(offsets.len(), 701);
    assert_eq!((offsets[0], offsets[700]), (0, bytes.len() as i64));
}

#[test]
fn a_value_that_is_not_utf8_rejects_its_record_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let mut bytes = b"id,text\n1,plain\n2,caf".to_vec();
    bytes.extend_from_slice(&[0xE9, b'\n']);
    bytes.extend_from_slice(b"3,more\n");
    fs::write(&csv, &bytes).unwrap();
    let out = dir.path().join("out");
    let report = ConvertOptions::new()
        .column_type("text", ColumnType::Str)
        .convert(&csv, &out, &mut |_| {})
        .unwrap();
    assert_eq!((report.manifest.rows, report.manifest.rejected), (2, 1));
    let rejects = String::from_utf8_lossy(&fs::read(out.join("rejects.csv")).unwrap()).into_owned();
    assert!(rejects.contains("\"text\""), "{rejects}");
    assert!(rejects.to_lowercase().contains("utf-8"), "{rejects}");
    assert_eq!(strings(&out, "text"), [Some("plain".into()), Some("more".into())]);
}

/// Converts `csv` with `code` as a categorical bounded to `max` categories, or as `str`.
fn convert_code(csv: &Path, out: &Path, code: ColumnType, max: u64, block: usize) {
    ConvertOptions::new()
        .block_size(block)
        .column_type("code", code)
        .max_categories(max, 1 << 30)
        .convert(csv, out, &mut |_| {})
        .unwrap();
}

#[test]
fn a_categorical_that_outgrows_its_bound_is_written_as_if_it_were_text_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, text_csv(5000, 900)).unwrap();
    let text = dir.path().join("text");
    convert_code(&csv, &text, ColumnType::Str, 1 << 20, 4096);
    for (max, block) in [(100, 4096), (899, 1 << 20), (1, 512)] {
        let spilled = dir.path().join(format!("spilled-{max}-{block}"));
        convert_code(&csv, &spilled, ColumnType::Cat, max, block);
        let m = Manifest::read(&spilled).unwrap();
        assert_eq!(m.columns[3].dtype, "str", "bound {max}");
        for f in ["code.npy", "code.offsets.npy"] {
            assert_eq!(
                fs::read(spilled.join(f)).unwrap(),
                fs::read(text.join(f)).unwrap(),
                "{f}, bound {max}, blocks of {block}"
            );
        }
        assert!(!spilled.join("code.valid.npy").exists());
        let names: Vec<_> =
            fs::read_dir(&spilled).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(
            !names.iter().any(|n| n.to_string_lossy().contains("categories")),
            "no dictionary is left behind: {names:?}"
        );
    }
    // Within the bound it stays categorical.
    let cat = dir.path().join("cat");
    convert_code(&csv, &cat, ColumnType::Cat, 900, 4096);
    assert_eq!(Manifest::read(&cat).unwrap().columns[3].dtype, "<u2");
}

#[test]
fn a_large_dictionary_gets_files_of_its_own_and_reads_back_in_code_order() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, text_csv(6000, 3000)).unwrap();
    let out = dir.path().join("out");
    convert_code(&csv, &out, ColumnType::Cat, 1 << 20, 1 << 16);
    let m = Manifest::read(&out).unwrap();
    let col = &m.columns[3];
    assert_eq!((col.dtype.as_str(), col.categories.is_none()), ("<u2", true), "{col:?}");
    let files = col.dictionary.as_ref().expect("a dictionary of 3000 categories has files");
    assert!(out.join(&files.file).exists() && out.join(&files.offsets).exists());
    let d = Dataset::open(&out).unwrap();
    let c = d.column("code").unwrap();
    let cats = c.categories().unwrap().unwrap();
    assert!(matches!(cats, Categories::Stored(_)));
    assert_eq!(cats.len(), 3000);
    let codes = c.values::<u16>().unwrap();
    let codes = codes.as_slice().unwrap();
    for (i, &k) in codes.iter().enumerate().step_by(97) {
        assert_eq!(cats.get(usize::from(k)).unwrap(), format!("c{}", i % 3000), "row {i}");
    }
    // The small dictionary of `city` stays in the manifest.
    assert_eq!(m.columns[1].categories.as_ref().map(Vec::len), Some(40));
}

#[test]
fn stats_and_groupby_refuse_to_aggregate_strings_but_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, text_csv(700, 3)).unwrap();
    let out = dir.path().join("out");
    ConvertOptions::new().convert(&csv, &out, &mut |_| {}).unwrap();
    let o = larder()
        .args(["groupby"])
        .arg(&out)
        .args(["--by", "city", "--agg", "max:text"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("text") && err.contains("string"), "{err}");
    let o = larder()
        .args(["groupby"])
        .arg(&out)
        .args(["--by", "city", "--agg", "count:text", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Every 7th row (from 0) is empty and every 7th (from 3) is NA: those are not counted.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let present =
        |city: usize| (city..700).step_by(40).filter(|i| i % 7 != 0 && i % 7 != 3).count();
    let keys = v["keys"].as_array().unwrap();
    let counts = v["aggregates"]["count:text"].as_array().unwrap();
    assert_eq!(keys.len(), 40);
    for (k, n) in keys.iter().zip(counts) {
        let city: usize = k.as_str().unwrap().trim_start_matches("city").parse().unwrap();
        assert_eq!(n.as_u64(), Some(present(city) as u64), "{k}");
    }
    let o = larder()
        .args(["groupby"])
        .arg(&out)
        .args(["--by", "text", "--agg", "count"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("text"), "grouping by free text: {err}");
}
