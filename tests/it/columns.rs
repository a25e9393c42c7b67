//! Typed, null-aware columns of a dataset (`ColumnData`): every kind, each code width, missing
//! values as `None`, by name and by position, and damaged columns named by file and byte.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::convert::{ColumnType, ConvertOptions};
use larder::dataset::{Codes, ColumnData, ColumnKind, Dataset, Numbers};
use larder::dtype::TimeUnit;
use larder::{ElementType, Error};

/// Converts `csv` (written to `dir/NAME.csv`) into `dir/NAME` with `types` forced.
pub(crate) fn convert(dir: &Path, name: &str, csv: &str, types: &[(&str, ColumnType)]) -> PathBuf {
    let src = dir.join(format!("{name}.csv"));
    std::fs::write(&src, csv).unwrap();
    let out = dir.join(name);
    let mut o = ConvertOptions::new();
    for (c, t) in types {
        o.column_type(*c, *t);
    }
    o.max_categories(1 << 20, 1 << 30);
    o.convert(&src, &out, &mut |_| {}).unwrap();
    out
}

/// A CSV with every kind and a missing value in each column.
pub(crate) const MIXED: &str = "\
id,score,ok,region,msg,ts,day
1,0.5,true,eu,hello,2024-01-01T00:00:00,2024-01-01
,1.5,false,us,,2024-01-01T00:00:01.250,2024-02-29
3,,,,wörld,,
-4,NaN,true,eu,\"a,b\",1969-12-31T23:59:59,1900-03-01
";

pub(crate) fn mixed(dir: &Path) -> PathBuf {
    convert(dir, "mixed", MIXED, &[("region", ColumnType::Cat), ("msg", ColumnType::Str)])
}

#[test]
fn typed_columns_give_none_where_values_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();

    let ColumnData::Number(Numbers::I64(id)) = ds.column_data("id").unwrap() else { panic!() };
    assert_eq!(id.iter().unwrap().collect::<Vec<_>>(), [Some(1), None, Some(3), Some(-4)]);
    assert_eq!(id.values().unwrap(), &[1, 0, 3, -4], "0: the placeholder");
    assert_eq!(id.validity().unwrap(), Some(&[true, false, true, true][..]));
    assert_eq!((id.get(1).unwrap(), id.get(3).unwrap()), (None, Some(-4)));
    assert_eq!(id.null_count().unwrap(), 1);

    let ColumnData::Number(score) = ds.column_data("score").unwrap() else { panic!() };
    assert_eq!(score.element(), ElementType::F64);
    let s: Vec<_> = score.iter_f64().unwrap().collect();
    assert_eq!((s[0], s[1]), (Some(0.5), Some(1.5)));
    assert!(s[2].unwrap().is_nan() && s[3].unwrap().is_nan(), "NaN is a value: {s:?}");
    assert!(score.validity_file().is_none());

    let ColumnData::Bool(ok) = ds.column_data("ok").unwrap() else { panic!() };
    assert_eq!(ok.iter().unwrap().collect::<Vec<_>>(), [Some(true), Some(false), None, Some(true)]);

    let ColumnData::Categorical(region) = ds.column_data("region").unwrap() else { panic!() };
    assert_eq!(
        region.labels().unwrap().collect::<Vec<_>>(),
        [Some("eu"), Some("us"), None, Some("eu")]
    );
    assert_eq!(region.codes_u32().unwrap().collect::<Vec<_>>(), [Some(0), Some(1), None, Some(0)]);
    assert_eq!(region.codes().width(), 1);
    assert_eq!((region.label(2).unwrap(), region.label(1).unwrap()), (None, Some("us")));
    assert_eq!(region.categories(), ["eu", "us"]);

    let ColumnData::String(msg) = ds.column_data("msg").unwrap() else { panic!() };
    let m: Vec<_> = msg.iter().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(m, [Some("hello"), None, Some("wörld"), Some("a,b")]);
    assert_eq!((msg.get(1).unwrap(), msg.get(2).unwrap()), (None, Some("wörld")));

    let ColumnData::DateTime(ts) = ds.column_data("ts").unwrap() else { panic!() };
    assert_eq!(ts.unit(), TimeUnit::Ms);
    let t: Vec<_> = ts.iter().unwrap().collect::<Result<_, _>>().unwrap();
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
    assert_eq!(
        t,
        [
            at("2024-01-01T00:00:00Z"),
            at("2024-01-01T00:00:01.25Z"),
            None,
            at("1969-12-31T23:59:59Z")
        ]
    );
    assert_eq!(ts.counts().values().unwrap()[3], -1000);
    assert_eq!(ts.get(1).unwrap(), at("2024-01-01T00:00:01.25Z"));

    let ColumnData::DateTime(day) = ds.column_data("day").unwrap() else { panic!() };
    assert_eq!(day.unit(), TimeUnit::D);
    let d: Vec<_> = day.iter().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        d,
        [at("2024-01-01T00:00:00Z"), at("2024-02-29T00:00:00Z"), None, at("1900-03-01T00:00:00Z")]
    );
}

#[test]
fn typed_columns_by_position_equal_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let kinds = [
        ColumnKind::Number,
        ColumnKind::Number,
        ColumnKind::Bool,
        ColumnKind::Categorical,
        ColumnKind::String,
        ColumnKind::DateTime,
        ColumnKind::DateTime,
    ];
    for (i, c) in ds.columns().enumerate() {
        let (by_pos, by_name) = (ds.column_data_at(i).unwrap(), ds.column_data(c.name()).unwrap());
        assert_eq!((by_pos.name(), by_pos.kind(), by_pos.len()), (c.name(), kinds[i], 4));
        assert_eq!((by_name.name(), by_name.kind()), (c.name(), kinds[i]));
        assert_eq!(by_pos.null_count().unwrap() as u64, c.null_count().unwrap(), "{}", c.name());
        assert_eq!(c.data().unwrap().name(), c.name());
    }
    let err = ds.column_data_at(7).unwrap_err();
    assert!(matches!(err, Error::Argument(_)), "{err}");
    assert!(err.to_string().contains("column 7: the dataset has 7 columns"), "{err}");
    let err = ds.column_data("nope").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

/// A CSV of one categorical column with `n` distinct labels, the last row missing.
fn many_labels(n: usize) -> String {
    let mut csv = String::from("k,v\n");
    for i in 0..n {
        writeln!(csv, "label{i},{i}").unwrap();
    }
    csv.push_str(",0\n");
    csv
}

#[test]
fn labels_hide_every_code_width() {
    let dir = tempfile::tempdir().unwrap();
    // 200 labels: u8 codes listed in the manifest; 300: u16; 70,000: u32 codes and a
    // dictionary in files of its own.
    for (n, width, stored) in [(200, 1, false), (300, 2, false), (70_000, 4, true)] {
        let out =
            convert(dir.path(), &format!("cat{n}"), &many_labels(n), &[("k", ColumnType::Cat)]);
        let ds = Dataset::open(&out).unwrap();
        let ColumnData::Categorical(k) = ds.column_data("k").unwrap() else { panic!() };
        assert_eq!(k.codes().width(), width, "{n} labels");
        assert_eq!(k.dictionary_files().is_some(), stored, "{n} labels");
        assert_eq!(k.categories().len(), n);
        let labels: Vec<_> = k.labels().unwrap().collect();
        assert_eq!(labels.len(), n + 1);
        assert_eq!(labels[n - 1], Some(format!("label{}", n - 1).as_str()));
        assert_eq!(labels[n], None);
        assert_eq!(k.label(n - 1).unwrap(), Some(format!("label{}", n - 1).as_str()));
        let widened: Vec<u32> = k.codes().widened().unwrap().collect();
        assert_eq!(widened[n - 1] as usize, n - 1);
        match (k.codes(), width) {
            (Codes::U8(_), 1) | (Codes::U16(_), 2) | (Codes::U32(_), 4) => {}
            (c, w) => panic!("{c:?} is not {w} bytes wide"),
        }
    }
}

/// Overwrites `len` bytes at `offset` of `path`.
pub(crate) fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

/// Byte offset of the data of the `.npy` at `path`.
pub(crate) fn data_offset(path: &Path) -> u64 {
    larder::read_header(path).unwrap().data_offset as u64
}

#[test]
fn damaged_columns_are_errors_naming_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = mixed(dir.path());

    // A code past the two categories, in row 3 (a row with a value).
    let codes = out.join("region.npy");
    let at = data_offset(&codes) + 3;
    poke(&codes, at, &[7]);
    let ds = Dataset::open(&out).unwrap();
    let ColumnData::Categorical(region) = ds.column_data("region").unwrap() else { panic!() };
    assert_eq!(region.label(0).unwrap(), Some("eu"), "other rows still read");
    assert_eq!(
        region.label(3).unwrap_err().to_string(),
        region.labels().err().unwrap().to_string()
    );
    let err = region.labels().err().unwrap();
    match &err {
        Error::Format { path, offset, reason } => {
            assert_eq!((path, *offset), (&codes, at), "{err}");
            assert!(reason.contains("code 7 is past the 2 categories"), "{err}");
        }
        e => panic!("{e}"),
    }
    // The same code in the missing row 2 is a placeholder, not damage.
    poke(&codes, at, &[0]);
    poke(&codes, at - 1, &[9]);
    let ColumnData::Categorical(region) = ds.column_data("region").unwrap() else { panic!() };
    assert_eq!(
        region.labels().unwrap().collect::<Vec<_>>(),
        [Some("eu"), Some("us"), None, Some("eu")]
    );
    assert_eq!(region.label(2).unwrap(), None);

    // A validity byte that is not 0 or 1.
    let valid = out.join("id.valid.npy");
    poke(&valid, data_offset(&valid) + 2, &[5]);
    let ColumnData::Number(Numbers::I64(id)) = ds.column_data("id").unwrap() else { panic!() };
    let err = id.iter().err().unwrap();
    assert_eq!(err.to_string(), id.validity().unwrap_err().to_string());
    assert!(matches!(&err, Error::NotViewable { path, .. } if path == &valid), "{err}");
    assert!(err.to_string().contains("is 5, not 0 or 1"), "{err}");

    // Offsets out of order: string 0 ends past where string 1 ends.
    let offsets = out.join("msg.offsets.npy");
    let o1 = data_offset(&offsets) + 8;
    poke(&offsets, o1, &100i64.to_le_bytes());
    let ds = Dataset::open(&out).unwrap();
    let ColumnData::String(msg) = ds.column_data("msg").unwrap() else { panic!() };
    let err = msg.get(0).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &offsets && *offset == o1),
        "{err}"
    );
    assert!(err.to_string().contains("string 0: offsets 0..100 are not inside"), "{err}");
    poke(&offsets, o1, &5i64.to_le_bytes());

    // Bytes that are not UTF-8, at byte 1 of "wörld".
    let bytes = out.join("msg.npy");
    let bad = data_offset(&bytes) + 6;
    poke(&bytes, bad, &[0xff]);
    let ColumnData::String(msg) = ds.column_data("msg").unwrap() else { panic!() };
    let err = msg.iter().unwrap().find_map(Result::err).unwrap();
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &bytes && *offset == bad),
        "{err}"
    );
    assert!(err.to_string().contains("string 2 is not UTF-8"), "{err}");

    // A validity file one row short.
    let v = out.join("ok.valid.npy");
    let short = larder::read_npy::<bool>(&v).unwrap();
    larder::write_npy(&v, &short.slice(ndarray::s![..3]).to_owned().into_dyn()).unwrap();
    let err = ds.column_data("ok").unwrap_err();
    assert!(matches!(&err, Error::Invalid { path, .. } if path == &v), "{err}");
    assert!(err.to_string().contains("the manifest says 4 rows"), "{err}");
}

#[test]
fn datetimes_outside_jiff_are_errors_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = convert(dir.path(), "t", "t\n2024-01-01T00:00:00\n2024-01-02T00:00:00\n", &[]);
    let ds = Dataset::open(&out).unwrap();
    let file = ds.column("t").unwrap().file();
    let unit = ds.column("t").unwrap().dtype().unwrap();
    assert_eq!(unit.typestr(), "<M8[s]");
    let at = data_offset(&file) + 8;
    poke(&file, at, &(i64::MAX / 2).to_le_bytes());
    poke(&file, at - 8, &i64::MIN.to_le_bytes()); // NaT: missing, not an error
    let ColumnData::DateTime(t) = ds.column_data("t").unwrap() else { panic!() };
    assert_eq!(t.get(0).unwrap(), None);
    let err = t.get(1).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &file && *offset == at),
        "{err}"
    );
    assert!(err.to_string().contains("is not a date-time jiff holds"), "{err}");
}
