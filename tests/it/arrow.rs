//! Arrow export (feature `arrow`): values and nulls equal the typed columns, buffers lie inside
//! the mappings (zero-copy), the C stream and C data interfaces round-trip, and a damaged dataset
//! is an error, never a wrong value or a crash in a consumer.

use std::fmt::Write as _;
use std::sync::Arc;

use larder::Error;
use larder::arrow::arrow_array::cast::AsArray;
use larder::arrow::arrow_array::ffi_stream::ArrowArrayStreamReader;
use larder::arrow::arrow_array::types::{
    Date32Type, Float64Type, Int64Type, TimestampMillisecondType, UInt8Type, UInt16Type, UInt32Type,
};
use larder::arrow::arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use larder::arrow::arrow_schema::{DataType, TimeUnit as ArrowUnit};
use larder::arrow::{self, ArrowOptions, DEFAULT_BATCH_ROWS, DatasetReader};
use larder::convert::ColumnType;
use larder::dataset::{ColumnData, Dataset, Numbers};

use crate::columns::{convert, data_offset, mixed, poke};

/// Every row of an exported array as text (`None` for null), for the types larder exports.
fn texts(a: &dyn Array) -> Vec<Option<String>> {
    let s = |i: usize, f: &dyn Fn(usize) -> String| a.is_valid(i).then(|| f(i));
    (0..a.len())
        .map(|i| match a.data_type() {
            DataType::Int64 => s(i, &|i| a.as_primitive::<Int64Type>().value(i).to_string()),
            DataType::Float64 => s(i, &|i| a.as_primitive::<Float64Type>().value(i).to_string()),
            DataType::Boolean => s(i, &|i| a.as_boolean().value(i).to_string()),
            DataType::LargeUtf8 => s(i, &|i| a.as_string::<i64>().value(i).to_string()),
            DataType::Date32 => s(i, &|i| a.as_primitive::<Date32Type>().value(i).to_string()),
            DataType::Timestamp(ArrowUnit::Millisecond, _) => {
                s(i, &|i| a.as_primitive::<TimestampMillisecondType>().value(i).to_string())
            }
            DataType::Dictionary(k, _) => s(i, &|i| {
                let (keys, values): (usize, &ArrayRef) = match **k {
                    DataType::UInt8 => {
                        let d = a.as_dictionary::<UInt8Type>();
                        (d.keys().value(i) as usize, d.values())
                    }
                    DataType::UInt16 => {
                        let d = a.as_dictionary::<UInt16Type>();
                        (d.keys().value(i) as usize, d.values())
                    }
                    _ => {
                        let d = a.as_dictionary::<UInt32Type>();
                        (d.keys().value(i) as usize, d.values())
                    }
                };
                values.as_string::<i64>().value(keys).to_string()
            }),
            t => panic!("no text for {t}"),
        })
        .collect()
}

/// Every row of a typed column as text, in the units Arrow gets them.
fn typed_texts(c: &ColumnData) -> Vec<Option<String>> {
    let str = |v: Option<&str>| v.map(str::to_string);
    match c {
        ColumnData::Number(Numbers::I64(n)) => {
            n.iter().unwrap().map(|v| v.map(|x| x.to_string())).collect()
        }
        // A float column's NaN is exported as null (convert's missing float).
        ColumnData::Number(n) => n
            .iter_f64()
            .unwrap()
            .map(|v| v.filter(|x| !x.is_nan()).map(|x| x.to_string()))
            .collect(),
        ColumnData::Bool(b) => b.iter().unwrap().map(|v| v.map(|x| x.to_string())).collect(),
        ColumnData::Categorical(k) => k.labels().unwrap().map(str).collect(),
        ColumnData::String(s) => s.iter().unwrap().map(|v| str(v.unwrap())).collect(),
        ColumnData::DateTime(d) => {
            d.counts().iter().unwrap().map(|v| v.map(|x| x.to_string())).collect()
        }
        _ => unreachable!(),
    }
}

fn batches(ds: &Dataset, rows: usize) -> Vec<RecordBatch> {
    ArrowOptions::new().batch_rows(rows).reader(ds).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn arrow_batches_equal_the_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let schema = arrow::schema(&ds).unwrap();
    let types: Vec<_> = schema.fields().iter().map(|f| f.data_type().to_string()).collect();
    assert_eq!(
        types,
        [
            "Int64",
            "Float64",
            "Boolean",
            "Dictionary(UInt8, LargeUtf8)",
            "LargeUtf8",
            "Timestamp(ms)",
            "Date32"
        ]
    );
    let f = schema.field_with_name("region").unwrap();
    assert_eq!(f.metadata()["larder.kind"], "categorical");
    assert_eq!(f.metadata()["larder.dtype"], "|u1");
    assert!(f.is_nullable() && schema.field_with_name("score").unwrap().is_nullable());
    for rows in [1, 3, 4, DEFAULT_BATCH_ROWS] {
        let got = batches(&ds, rows);
        assert_eq!(got.len(), 4usize.div_ceil(rows), "batches of {rows}");
        for (i, field) in schema.fields().iter().enumerate() {
            let mut arrow_rows = Vec::new();
            for b in &got {
                assert!(b.num_rows() <= rows);
                arrow_rows.extend(texts(b.column(i).as_ref()));
            }
            let column = ds.column_data_at(i).unwrap();
            let mut want = typed_texts(&column);
            if field.data_type() == &DataType::Date32 {
                want =
                    vec![Some("19723".into()), Some("19782".into()), None, Some("-25508".into())];
            }
            assert_eq!(arrow_rows, want, "{} in batches of {rows}", field.name());
        }
    }
    // A row range of one column.
    let id = ds.column_data("id").unwrap();
    let a = arrow::array(&id, 1..3).unwrap();
    assert_eq!(texts(a.as_ref()), [None, Some("3".into())]);
    let err = arrow::array(&id, 2..5).unwrap_err();
    assert!(
        matches!(&err, Error::Argument(m) if m.contains("rows 2..5 of column \"id\", which has 4 rows")),
        "{err}"
    );
}

/// True when `ptr..ptr+len` lies inside `within`.
fn inside(ptr: *const u8, len: usize, within: &[u8]) -> bool {
    let r = within.as_ptr_range();
    ptr >= r.start && ptr.wrapping_add(len) <= r.end
}

#[test]
fn arrow_buffers_lie_inside_the_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    // Row 3 alone: buffers start past the first row.
    let one = |c: &ColumnData| arrow::array(c, 3..4).unwrap().to_data();
    let id = ds.column_data("id").unwrap();
    let ColumnData::Number(Numbers::I64(ids)) = &id else { panic!() };
    let data = one(&id);
    let values = data.buffers()[0].as_slice();
    assert!(inside(values.as_ptr(), 8, ids.values_file().data_bytes().unwrap()));
    assert_eq!(values.as_ptr(), ids.values_file().data_bytes().unwrap()[24..].as_ptr());

    let msg = ds.column_data("msg").unwrap();
    let ColumnData::String(strings) = &msg else { panic!() };
    let data = one(&msg);
    let (offsets, bytes) = (data.buffers()[0].as_slice(), data.buffers()[1].as_slice());
    let files = strings.strings();
    assert!(inside(offsets.as_ptr(), 16, files.offsets_file().data_bytes().unwrap()));
    assert_eq!(offsets.as_ptr(), files.offsets_file().data_bytes().unwrap()[24..].as_ptr());
    assert_eq!(bytes.as_ptr(), files.bytes_file().data_bytes().unwrap().as_ptr());

    let region = ds.column_data("region").unwrap();
    let ColumnData::Categorical(cat) = &region else { panic!() };
    let larder::dataset::Codes::U8(codes) = cat.codes() else { panic!() };
    assert_eq!(one(&region).buffers()[0].as_ptr(), codes.data_bytes().unwrap()[3..].as_ptr());

    let ts = ds.column_data("ts").unwrap();
    let ColumnData::DateTime(t) = &ts else { panic!() };
    let counts = t.counts().values_file().data_bytes().unwrap();
    assert_eq!(one(&ts).buffers()[0].as_ptr(), counts[24..].as_ptr());

    // The batch keeps its mappings alive after the dataset and the typed columns are gone.
    let batch = batches(&ds, 4).remove(0);
    drop((ds, id, msg, region, ts));
    assert_eq!(texts(batch.column(4).as_ref())[2].as_deref(), Some("wörld"));
}

#[test]
fn large_dictionaries_are_exported_over_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("k,v\n");
    for i in 0..70_000 {
        writeln!(csv, "label{i},1").unwrap();
    }
    csv.push_str(",2\nlabel7,3\n");
    let out = convert(dir.path(), "big", &csv, &[("k", ColumnType::Cat)]);
    let ds = Dataset::open(&out).unwrap();
    let schema = arrow::schema(&ds).unwrap();
    assert_eq!(schema.field(0).data_type().to_string(), "Dictionary(UInt32, LargeUtf8)");
    let got = batches(&ds, 30_000);
    assert_eq!(got.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [30_000, 30_000, 10_002]);
    let last = texts(got[2].column(0).as_ref());
    assert_eq!(last[9_999].as_deref(), Some("label69999"));
    assert_eq!(last[10_000], None, "the empty field is missing");
    assert_eq!(last[10_001].as_deref(), Some("label7"));
    let data = ds.column_data("k").unwrap();
    let ColumnData::Categorical(k) = &data else { panic!() };
    let a = arrow::array(&data, 0..10).unwrap();
    let dict = a.as_dictionary::<UInt32Type>().values().to_data();
    let files = k.dictionary_files().unwrap();
    assert_eq!(dict.buffers()[1].as_ptr(), files.bytes_file().data_bytes().unwrap().as_ptr());
}

#[test]
fn ffi_stream_and_arrays_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let want = batches(&ds, 3);
    let mut o = ArrowOptions::new();
    o.batch_rows(3);
    // A fresh stream per call, each from the first row.
    for _ in 0..2 {
        let stream = o.stream(&ds).unwrap();
        let reader = ArrowArrayStreamReader::try_new(stream).unwrap();
        assert_eq!(reader.schema().as_ref(), &arrow::schema(&ds).unwrap());
        let got: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(got, want);
    }
    let schema = o.ffi_schema(&ds).unwrap();
    let back = larder::arrow::arrow_schema::Schema::try_from(&schema).unwrap();
    assert_eq!(back, arrow::schema(&ds).unwrap());
}

fn reader_error(ds: &Dataset, columns: &[&str]) -> Error {
    let mut o = ArrowOptions::new();
    o.columns(columns.iter().copied());
    let mut reader: DatasetReader = match o.reader(ds) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let err = reader.find_map(Result::err).expect("an error");
    match err {
        larder::arrow::arrow_schema::ArrowError::ExternalError(e) => {
            *e.downcast::<Error>().unwrap()
        }
        e => panic!("{e}"),
    }
}

#[test]
fn hostile_datasets_are_errors_naming_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = mixed(dir.path());
    let offsets = out.join("msg.offsets.npy");
    let bytes = out.join("msg.npy");
    let o = data_offset(&offsets);

    // An offset smaller than the one before.
    poke(&offsets, o + 16, &2i64.to_le_bytes());
    let err = reader_error(&Dataset::open(&out).unwrap(), &["msg"]);
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &offsets && *offset == o + 16),
        "{err}"
    );
    assert!(err.to_string().contains("offset 2 (2) is smaller than the one before"), "{err}");
    poke(&offsets, o + 16, &5i64.to_le_bytes());

    // An offset past the bytes, in the second batch: the first batch is fine.
    poke(&offsets, o + 24, &1000i64.to_le_bytes());
    let ds = Dataset::open(&out).unwrap();
    let mut o3 = ArrowOptions::new();
    o3.columns(["msg"]).batch_rows(2);
    let items: Vec<_> = o3.reader(&ds).unwrap().collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let err = items[1].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("msg.offsets.npy")
            && err.contains("offset 3 (1000) is past the end of the bytes"),
        "{err}"
    );
    poke(&offsets, o + 24, &10i64.to_le_bytes());

    // A negative offset.
    poke(&offsets, o + 16, &(-1i64).to_le_bytes());
    let err = reader_error(&Dataset::open(&out).unwrap(), &["msg"]);
    assert!(err.to_string().contains("offset 2 (-1) is negative"), "{err}");
    poke(&offsets, o + 16, &5i64.to_le_bytes());

    // Bytes that are not UTF-8 ("wörld" is bytes 5..11; its "ö" starts at 6).
    let d = data_offset(&bytes);
    poke(&bytes, d + 7, &[0x41]);
    let err = reader_error(&Dataset::open(&out).unwrap(), &["id", "msg"]);
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &bytes && *offset == d + 6),
        "{err}"
    );
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    poke(&bytes, d + 7, &[0xb6]);

    // An offset inside a character.
    poke(&offsets, o + 16, &7i64.to_le_bytes());
    let err = reader_error(&Dataset::open(&out).unwrap(), &["msg"]);
    assert!(err.to_string().contains("a string starts inside a character"), "{err}");
    poke(&offsets, o + 16, &5i64.to_le_bytes());
    assert!(batches(&Dataset::open(&out).unwrap(), 2).len() == 2, "restored");

    // A code past the dictionary, in the second batch of two rows.
    let codes = out.join("region.npy");
    let c3 = data_offset(&codes) + 3;
    poke(&codes, c3, &[2]);
    let ds = Dataset::open(&out).unwrap();
    let mut o2 = ArrowOptions::new();
    o2.columns(["region"]).batch_rows(2);
    let items: Vec<_> = o2.reader(&ds).unwrap().collect();
    assert!(items.len() == 2 && items[0].is_ok());
    let err = reader_error(&ds, &["region"]);
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &codes && *offset == c3),
        "{err}"
    );
    assert!(err.to_string().contains("row 3: code 2 is past the 2 categories"), "{err}");

    // A validity byte other than 0 or 1.
    let valid = out.join("id.valid.npy");
    let v2 = data_offset(&valid) + 2;
    poke(&valid, v2, &[5]);
    let err = reader_error(&Dataset::open(&out).unwrap(), &["id"]);
    assert!(
        matches!(&err, Error::Format { path, offset, .. } if path == &valid && *offset == v2),
        "{err}"
    );
    assert!(err.to_string().contains("bool of row 2 is 5, not 0 or 1"), "{err}");
}

#[test]
fn arrays_keep_their_owner_alive_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let col: ArrayRef = arrow::array(&ds.column_data("msg").unwrap(), 0..4).unwrap();
    drop(ds);
    let shared = Arc::new(col);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let a = Arc::clone(&shared);
            std::thread::spawn(move || texts(a.as_ref()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap()[3].as_deref(), Some("a,b"));
    }
}

/// pyarrow's spelling of an Arrow type larder exports.
fn pyarrow_type(t: &DataType) -> String {
    match t {
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "bool".into(),
        DataType::LargeUtf8 => "large_string".into(),
        DataType::Date32 => "date32[day]".into(),
        DataType::Timestamp(u, tz) => {
            let u = match u {
                ArrowUnit::Second => "s",
                ArrowUnit::Millisecond => "ms",
                ArrowUnit::Microsecond => "us",
                ArrowUnit::Nanosecond => "ns",
            };
            match tz {
                Some(tz) => format!("timestamp[{u}, tz={tz}]"),
                None => format!("timestamp[{u}]"),
            }
        }
        DataType::Dictionary(k, v) => format!(
            "dictionary<values={}, indices={}, ordered=0>",
            pyarrow_type(v),
            k.to_string().to_lowercase()
        ),
        t => panic!("no pyarrow name for {t}"),
    }
}

/// Runs `tests/interop/check_arrow.py` on the dataset `out` converted from `csv`.
fn consumers_agree(out: &std::path::Path, csv: &std::path::Path, batch_rows: usize) {
    let Some(py) = crate::support::python() else { return };
    let ds = Dataset::open(out).unwrap();
    let types: serde_json::Map<String, serde_json::Value> = arrow::schema(&ds)
        .unwrap()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), pyarrow_type(f.data_type()).into()))
        .collect();
    let expected = out.with_extension("types.json");
    std::fs::write(&expected, serde_json::Value::Object(types).to_string()).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_arrow.py");
    let run = std::process::Command::new(py)
        .arg(script)
        .args([out, csv, &expected])
        .arg(batch_rows.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

#[test]
fn pyarrow_polars_and_duckdb_read_the_layout_through_the_c_stream() {
    let dir = tempfile::tempdir().unwrap();
    let out = mixed(dir.path());
    consumers_agree(&out, &dir.path().join("mixed.csv"), 3);
    // u16 and u32 codes (a dictionary in files of its own for the latter), in several batches.
    for n in [300, 70_000] {
        let mut csv = String::from("k,v\n");
        for i in 0..n {
            writeln!(csv, "label{},{i}", i % (n - 1)).unwrap();
        }
        csv.push_str(",1\n");
        let name = format!("cats{n}");
        let out = convert(dir.path(), &name, &csv, &[("k", ColumnType::Cat)]);
        consumers_agree(&out, &dir.path().join(format!("{name}.csv")), 1000);
    }
}

/// This process's resident set in bytes (`VmRSS`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn exporting_a_large_dataset_reads_none_of_its_values() {
    // 4 GiB of values in two sparse columns (nothing on disk): every batch of the export is made
    // and held, and the resident set grows by far less than one column, because no value page
    // is ever read. Other tests run beside this one, hence the wide margin.
    let dir = tempfile::tempdir().unwrap();
    // (Integers: a float column is read once, for its NaN; see the test after this one.)
    let rows: usize = 256 << 20;
    larder::MmapArray::<i64>::create(dir.path().join("x.npy"), &[rows]).unwrap().close().unwrap();
    larder::MmapArray::<i64>::create(dir.path().join("t.npy"), &[rows]).unwrap().close().unwrap();
    let manifest = serde_json::json!({
        "columns": [
            {"name": "x", "file": "x.npy", "dtype": "<i8"},
            {"name": "t", "file": "t.npy", "dtype": "<M8[ns]"},
        ],
        "rows": rows, "rejected": 0, "rows_read": rows,
        "source": {"path": "-", "bytes": 0}, "version": 1,
    });
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    let (before, clock) = (rss(), std::time::Instant::now());
    let batches: Vec<RecordBatch> =
        ArrowOptions::new().reader(&ds).unwrap().collect::<Result<_, _>>().unwrap();
    let grown = rss().saturating_sub(before);
    eprintln!(
        "{} batches of {} MiB of values in {:?}; RSS grew by {} KiB",
        batches.len(),
        (rows * 16) >> 20,
        clock.elapsed(),
        grown >> 10
    );
    assert_eq!(batches.len(), rows / DEFAULT_BATCH_ROWS);
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), rows);
    assert!(
        grown < 256 << 20,
        "RSS grew by {} MiB for {} MiB of values",
        grown >> 20,
        (rows * 16) >> 20
    );
    // The values are there when asked for (zeros: the file is a hole).
    assert_eq!(batches[4095].column(0).as_primitive::<Int64Type>().value(17), 0);
}

#[test]
fn a_float_column_is_read_once_for_its_nan_and_its_pages_released() {
    // 512 MiB of float values in a sparse file: each batch reads its values to find NaN (none:
    // no null buffer is made) and releases the pages it read, so the resident set grows by far
    // less than the column while every batch is held.
    let dir = tempfile::tempdir().unwrap();
    let rows: usize = 64 << 20;
    let mut x = larder::MmapArray::<f64>::create(dir.path().join("x.npy"), &[rows]).unwrap();
    x.view_mut().unwrap().as_slice_mut().unwrap()[rows - 3] = f64::NAN;
    x.close().unwrap();
    let manifest = serde_json::json!({
        "columns": [{"name": "x", "file": "x.npy", "dtype": "<f8"}],
        "rows": rows, "rejected": 0, "rows_read": rows,
        "source": {"path": "-", "bytes": 0}, "version": 1,
    });
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let ds = Dataset::open(dir.path()).unwrap();
    let before = rss();
    let batches: Vec<RecordBatch> =
        ArrowOptions::new().reader(&ds).unwrap().collect::<Result<_, _>>().unwrap();
    let grown = rss().saturating_sub(before);
    assert!(grown < 128 << 20, "RSS grew by {} MiB for 512 MiB of values", grown >> 20);
    let (last, rest) = batches.split_last().unwrap();
    assert!(rest.iter().all(|b| b.column(0).nulls().is_none()), "no NaN, no null buffer");
    assert_eq!(last.column(0).null_count(), 1);
    assert!(last.column(0).is_null(last.num_rows() - 3));
}

#[test]
fn every_number_type_and_time_unit_exports_as_its_arrow_type() {
    use larder::arrow::arrow_array::types::{TimestampSecondType, UInt64Type};
    use larder::dtype::TimeUnit as U;
    let dir = tempfile::tempdir().unwrap();
    let csv = "a,b,c,d,e,f,g,h,t\n\
               -8,-300,-70000,7,300,70000,18446744073709551615,0.25,2024-03-01T10:00:00\n\
               ,1,2,,4,5,,,\n";
    let numbers = [
        ("a", ColumnType::I8, "Int8"),
        ("b", ColumnType::I16, "Int16"),
        ("c", ColumnType::I32, "Int32"),
        ("d", ColumnType::U8, "UInt8"),
        ("e", ColumnType::U16, "UInt16"),
        ("f", ColumnType::U32, "UInt32"),
        ("g", ColumnType::U64, "UInt64"),
        ("h", ColumnType::F32, "Float32"),
    ];
    let types: Vec<(&str, ColumnType)> = numbers.iter().map(|&(n, t, _)| (n, t)).collect();
    let out = convert(dir.path(), "n", csv, &types);
    let ds = Dataset::open(&out).unwrap();
    for (name, _, arrow_type) in numbers {
        let data = ds.column_data(name).unwrap();
        let a = arrow::array(&data, 0..2).unwrap();
        assert_eq!(a.data_type().to_string(), arrow_type, "{name}");
        let ColumnData::Number(n) = &data else { panic!("{name}") };
        let options: Vec<_> = n.iter_f64().unwrap().map(|v| v.filter(|x| !x.is_nan())).collect();
        // Nulls where the typed column has None (or NaN, a missing float); values over the
        // column's own file.
        assert_eq!(
            (a.is_null(0), a.is_null(1)),
            (options[0].is_none(), options[1].is_none()),
            "{name}"
        );
        assert_eq!(a.to_data().buffers()[0].as_ptr(), values_ptr(n), "{name}");
    }
    let g = arrow::array(&ds.column_data("g").unwrap(), 0..1).unwrap();
    assert_eq!(g.as_primitive::<UInt64Type>().value(0), u64::MAX);

    // Date-times: seconds and finer over the file; hours and minutes as seconds. `convert`
    // reads no ISO text into hours or minutes, so those datasets are written by hand.
    let want = "2024-03-01T10:00:00Z".parse::<jiff::Timestamp>().unwrap();
    // (ISO 8601 text and counts written by hand: naive, as text without an offset reads.)
    for (unit, arrow_type, scale) in [
        (U::H, "Timestamp(s)", 3600),
        (U::M, "Timestamp(s)", 60),
        (U::S, "Timestamp(s)", 1),
        (U::Us, "Timestamp(µs)", 1),
        (U::Ns, "Timestamp(ns)", 1),
    ] {
        let name = format!("t{}", unit.as_str());
        let out = if scale > 1 {
            by_hand_datetimes(&dir.path().join(&name), unit, &[want.as_second() / scale, 0])
        } else {
            let times = "t,v\n2024-03-01T10:00:00,1\n,2\n";
            convert(dir.path(), &name, times, &[("t", ColumnType::DateTime(unit))])
        };
        let ds = Dataset::open(&out).unwrap();
        let data = ds.column_data("t").unwrap();
        let a = arrow::array(&data, 0..2).unwrap();
        assert_eq!(a.data_type().to_string(), arrow_type, "{unit:?}");
        assert!(a.is_null(1), "{unit:?}");
        let ColumnData::DateTime(t) = &data else { panic!() };
        assert_eq!(t.get(0).unwrap(), Some(want), "{unit:?}");
        assert_eq!(t.get(1).unwrap(), None, "{unit:?}");
        if scale > 1 {
            assert_eq!(a.as_primitive::<TimestampSecondType>().value(0), want.as_second());
        }
    }
}

/// A dataset of one date-time column `t` in `unit` holding `counts`, the last missing.
fn by_hand_datetimes(
    dir: &std::path::Path,
    unit: larder::dtype::TimeUnit,
    counts: &[i64],
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dtype = format!("<M8[{}]", unit.as_str());
    let parsed = larder::DType::parse(&dtype).unwrap();
    let mut t =
        larder::MmapArray::<i64>::create_as(dir.join("t.npy"), &[counts.len()], parsed).unwrap();
    t.view_mut().unwrap().as_slice_mut().unwrap().copy_from_slice(counts);
    t.close().unwrap();
    let mut valid = vec![true; counts.len()];
    *valid.last_mut().unwrap() = false;
    larder::write_npy(dir.join("t.valid.npy"), &ndarray::Array1::from(valid)).unwrap();
    let manifest = serde_json::json!({
        "columns": [{"name": "t", "file": "t.npy", "dtype": dtype, "valid": "t.valid.npy"}],
        "rows": counts.len(), "rejected": 0, "rows_read": counts.len(),
        "source": {"path": "-", "bytes": 0}, "version": 1,
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    dir.to_path_buf()
}

/// Where a number column's values start in its mapping.
fn values_ptr(n: &Numbers) -> *const u8 {
    macro_rules! ptr {
        ($x:expr) => {
            $x.values_file().data_bytes().unwrap().as_ptr()
        };
    }
    match n {
        Numbers::I8(x) => ptr!(x),
        Numbers::I16(x) => ptr!(x),
        Numbers::I32(x) => ptr!(x),
        Numbers::I64(x) => ptr!(x),
        Numbers::U8(x) => ptr!(x),
        Numbers::U16(x) => ptr!(x),
        Numbers::U32(x) => ptr!(x),
        Numbers::U64(x) => ptr!(x),
        Numbers::F16(x) => ptr!(x),
        Numbers::F32(x) => ptr!(x),
        Numbers::F64(x) => ptr!(x),
    }
}

#[test]
fn a_missing_float_is_null_and_nan_a_value_where_a_validity_file_tells_them_apart() {
    use larder::arrow::arrow_array::types::Float32Type;
    // `convert` stores a missing float (empty field, or an NA token such as `NaN`) as NaN and
    // writes no validity file for it: Arrow gets null there, as pyarrow's CSV reader gives.
    let dir = tempfile::tempdir().unwrap();
    let csv = "x,y,n\n1.5,2,1\n,NaN,2\nnan,,3\n2.5,-inf,4\n";
    let out = convert(dir.path(), "f", csv, &[("x", ColumnType::F64), ("y", ColumnType::F32)]);
    let ds = Dataset::open(&out).unwrap();
    let schema = arrow::schema(&ds).unwrap();
    assert!(schema.field_with_name("x").unwrap().is_nullable());
    assert!(schema.field_with_name("y").unwrap().is_nullable());
    assert!(!schema.field_with_name("n").unwrap().is_nullable(), "no float, no missing value");
    let xs = ds.column_data("x").unwrap();
    let exported = arrow::array(&xs, 0..4).unwrap();
    assert_eq!(texts(exported.as_ref()), [Some("1.5".into()), None, None, Some("2.5".into())]);
    let ColumnData::Number(numbers) = &xs else { panic!() };
    assert_eq!(
        exported.to_data().buffers()[0].as_ptr(),
        values_ptr(numbers),
        "the values stay the mapping"
    );
    assert!(arrow::array(&xs, 0..1).unwrap().nulls().is_none(), "no NaN in the rows, no bitmap");
    let ys = arrow::array(&ds.column_data("y").unwrap(), 0..4).unwrap();
    let ys = ys.as_primitive::<Float32Type>();
    assert_eq!(
        (ys.is_null(0), ys.is_null(1), ys.is_null(2), ys.is_null(3)),
        (false, true, true, false)
    );
    assert_eq!((ys.value(0), ys.value(3)), (2.0, f32::NEG_INFINITY));
    // Batches of one row: the same nulls, row by row.
    let rows: Vec<bool> = batches(&ds, 1).iter().map(|b| b.column(0).is_null(0)).collect();
    assert_eq!(rows, [false, true, true, false]);

    // A float column with a validity file (written by hand; `convert` writes none): the
    // validity file says what is missing, and a NaN where a value is present stays NaN.
    let hand = dir.path().join("hand");
    std::fs::create_dir_all(&hand).unwrap();
    let values = ndarray::Array1::from(vec![f64::NAN, 1.0, f64::NAN, 0.0]);
    larder::write_npy(hand.join("v.npy"), &values).unwrap();
    let valid = ndarray::Array1::from(vec![true, true, false, false]);
    larder::write_npy(hand.join("v.valid.npy"), &valid).unwrap();
    let manifest = serde_json::json!({
        "columns": [{"name": "v", "file": "v.npy", "dtype": "<f8", "valid": "v.valid.npy"}],
        "rows": 4, "rejected": 0, "rows_read": 4,
        "source": {"path": "-", "bytes": 0}, "version": 1,
    });
    std::fs::write(hand.join("manifest.json"), manifest.to_string()).unwrap();
    let ds = Dataset::open(&hand).unwrap();
    let vs = arrow::array(&ds.column_data("v").unwrap(), 0..4).unwrap();
    let vs = vs.as_primitive::<Float64Type>();
    assert_eq!(
        (vs.is_null(0), vs.is_null(1), vs.is_null(2), vs.is_null(3)),
        (false, false, true, true)
    );
    assert!(vs.value(0).is_nan() && vs.value(1) == 1.0);
}

#[test]
fn date_times_read_with_a_zone_are_utc_and_others_naive() {
    use larder::arrow::arrow_array::types::TimestampSecondType;
    // As pd.read_csv: text with an offset read by a format with `%z` (or a zone, `%Q`) gives
    // tz-aware times, ISO text without an offset and formats without a zone naive ones.
    let dir = tempfile::tempdir().unwrap();
    let csv = "clf,local,iso,named\n\
               01/Jan/2024:10:00:00 +0100,01/01/2024 10:00,2024-01-01T10:00:00,2024-07-01 10:00 Europe/Paris\n\
               ,,,\n";
    let src = dir.path().join("z.csv");
    std::fs::write(&src, csv).unwrap();
    let out = dir.path().join("z");
    let mut o = larder::convert::ConvertOptions::new();
    for (name, format) in [
        ("clf", Some("%d/%b/%Y:%H:%M:%S %z")),
        ("local", Some("%d/%m/%Y %H:%M")),
        ("iso", None),
        ("named", Some("%Y-%m-%d %H:%M %Q")),
    ] {
        o.column_type(name, ColumnType::DateTime(larder::dtype::TimeUnit::S));
        if let Some(f) = format {
            o.datetime_format(name, f);
        }
    }
    o.convert(&src, &out, &mut |_| {}).unwrap();
    let ds = Dataset::open(&out).unwrap();
    let schema = arrow::schema(&ds).unwrap();
    let zone = |name: &str| match schema.field_with_name(name).unwrap().data_type() {
        DataType::Timestamp(ArrowUnit::Second, tz) => tz.as_deref().map(str::to_string),
        t => panic!("{name}: {t}"),
    };
    assert_eq!(zone("clf").as_deref(), Some("UTC"));
    assert_eq!(zone("named").as_deref(), Some("UTC"));
    assert_eq!((zone("local"), zone("iso")), (None, None));
    for (name, want) in [("clf", 1_704_099_600), ("local", 1_704_103_200), ("named", 1_719_820_800)]
    {
        let data = ds.column_data(name).unwrap();
        let ColumnData::DateTime(d) = &data else { panic!() };
        assert_eq!(d.zoned(), zone(name).is_some(), "{name}");
        let a = arrow::array(&data, 0..2).unwrap();
        assert_eq!(a.data_type(), schema.field_with_name(name).unwrap().data_type(), "{name}");
        assert_eq!(a.as_primitive::<TimestampSecondType>().value(0), want, "{name}");
        assert!(a.is_null(1), "{name}");
    }
}
