//! One kind of typed column out of `ColumnData` with `try_into()`: the column when it is of that
//! kind (numbers by their stored type, whatever `Numbers` variant holds them), and an error
//! naming the column, its file and both kinds or types when it is not.

use larder::Error;
use larder::dataset::{
    CategoricalColumn, ColumnData, Dataset, DateTimeColumn, Nullable, Numbers, StringColumn,
};

use crate::columns::mixed;

/// Takes one kind (or stored type) out of a column, keeping only the error.
type Take = fn(ColumnData) -> Result<(), Error>;

#[test]
fn each_kind_comes_out_of_column_data_by_try_into() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let region: CategoricalColumn = ds.column_data("region").unwrap().try_into().unwrap();
    assert_eq!(
        region.labels().unwrap().collect::<Vec<_>>(),
        [Some("eu"), Some("us"), None, Some("eu")]
    );
    let msg: StringColumn = ds.column_data("msg").unwrap().try_into().unwrap();
    assert_eq!(msg.get(2).unwrap(), Some("wörld"));
    let ts: DateTimeColumn = ds.column_data("ts").unwrap().try_into().unwrap();
    assert_eq!(ts.get(2).unwrap(), None);
    let score: Numbers = ds.column_data("score").unwrap().try_into().unwrap();
    assert_eq!(score.iter_f64().unwrap().next(), Some(Some(0.5)));

    // Numbers and bools by their stored type, with their validity.
    let id: Nullable<i64> = ds.column_data("id").unwrap().try_into().unwrap();
    assert_eq!(id.iter().unwrap().collect::<Vec<_>>(), [Some(1), None, Some(3), Some(-4)]);
    let score: Nullable<f64> = ds.column_data("score").unwrap().try_into().unwrap();
    assert_eq!(score.get(1).unwrap(), Some(1.5));
    let ok: Nullable<bool> = ds.column_data("ok").unwrap().try_into().unwrap();
    assert_eq!(ok.iter().unwrap().collect::<Vec<_>>(), [Some(true), Some(false), None, Some(true)]);
}

#[test]
fn a_column_of_another_kind_is_invalid_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let cases: [(&str, Take, &str); 4] = [
        ("region", |d| DateTimeColumn::try_from(d).map(drop), "categorical column, not a datetime"),
        ("ts", |d| CategoricalColumn::try_from(d).map(drop), "datetime column, not a categorical"),
        ("id", |d| StringColumn::try_from(d).map(drop), "number column, not a string column"),
        ("msg", |d| Nullable::<i64>::try_from(d).map(drop), "string column, not a number or bool"),
    ];
    for (name, convert, says) in cases {
        let file = ds.column(name).unwrap().file();
        match convert(ds.column_data(name).unwrap()) {
            Err(e @ Error::Invalid { .. }) => {
                let Error::Invalid { path, .. } = &e else { unreachable!() };
                assert_eq!(path, &file, "{name}: {e}");
                assert!(e.to_string().contains(&format!("column {name:?} is a {says}")), "{e}");
            }
            other => panic!("{name}: expected Error::Invalid, got {other:?}"),
        }
    }
}

#[test]
fn numbers_of_another_stored_type_are_a_dtype_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(mixed(dir.path())).unwrap();
    let cases: [(&str, Take, &str, &str); 4] = [
        ("id", |d| Nullable::<i32>::try_from(d).map(drop), "<i4", "<i8"),
        ("id", |d| Nullable::<f64>::try_from(d).map(drop), "<f8", "<i8"),
        ("score", |d| Nullable::<f32>::try_from(d).map(drop), "<f4", "<f8"),
        ("ok", |d| Nullable::<u8>::try_from(d).map(drop), "|u1", "|b1"),
    ];
    for (name, convert, want, stored) in cases {
        let file = ds.column(name).unwrap().file();
        match convert(ds.column_data(name).unwrap()) {
            Err(Error::DTypeMismatch { path, expected, found }) => {
                assert_eq!(
                    (path, expected.as_str(), found.as_str()),
                    (file, want, stored),
                    "{name}"
                );
            }
            other => panic!("{name} as {want}: expected Error::DTypeMismatch, got {other:?}"),
        }
    }
}
