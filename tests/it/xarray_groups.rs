//! Zarr groups written by xarray, and arrays larder adds to groups, as xarray users expect:
//! CF times against any epoch read as the instants xarray decodes (`hours since 2024-03-01`,
//! `days since 2000-01-01`, `NaT` kept), an integer `_FillValue` masks rows (a nullable column,
//! and `stats` skips them), and an array larder adds to a group carries `dimension_names`, so
//! `xr.open_zarr` opens the group with it.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?}: {}", c.get_args().collect::<Vec<_>>(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `code` with the venv's python in `dir`; its stdout.
fn py(python: &Path, dir: &Path, code: &str) -> String {
    let o =
        Command::new(python).args(["-W", "ignore", "-c", code]).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "python: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two groups as xarray writes them: times in hours since 2024-03-01 and days since
/// 2000-01-01 (one `NaT`), and an int16 with `_FillValue: -1`; the variant, seconds since a
/// date with a time of day, an int32 with `_FillValue: 99` and an epoch before 1970.
const WRITE: &str = r"
import xarray as xr, numpy as np, pandas as pd
a = xr.Dataset({
    't': ('row', pd.date_range('2024-03-01', periods=5, freq='h').values),
    'd': ('row', pd.to_datetime(['2001-01-01', '2001-01-02', None, '1999-12-31', '1970-01-01']).values),
    'n': ('row', np.array([1., 2., np.nan, 4., -7.])),
})
a['n'].encoding = {'dtype': 'int16', '_FillValue': -1}
a['d'].encoding = {'units': 'days since 2000-01-01'}
a.to_zarr('a.zarr', zarr_format=3, consolidated=True)
b = xr.Dataset({
    's': ('obs', pd.to_datetime(['2001-02-03T04:05:07', '1960-06-01T00:00:00', '2001-02-03T04:05:06']).values),
    'k': ('obs', np.array([np.nan, 5., 6.])),
    'old': ('obs', pd.to_datetime(['1900-01-02', '1899-12-31', '1950-05-05']).values),
})
b['s'].encoding = {'units': 'seconds since 2001-02-03 04:05:06', 'dtype': 'int64'}
b['k'].encoding = {'dtype': 'int32', '_FillValue': 99}
b['old'].encoding = {'units': 'days since 1900-01-01', 'dtype': 'int64'}
b.to_zarr('b.zarr', zarr_format=3, consolidated=True)
";

/// Compares every column of dataset `ds` with what xarray decodes from `group`: datetimes as
/// int64 nanoseconds, numbers with missing rows as None.
fn check_dataset(python: &Path, dir: &Path, group: &str, ds: &str) -> String {
    let code = format!(
        r"
import xarray as xr, numpy as np, json
x = xr.open_zarr('{group}').load()
m = json.load(open('{ds}/manifest.json'))
out = []
for c in m['columns']:
    v = np.load('{ds}/' + c['file'])
    valid = np.load('{ds}/' + c['valid']) if c.get('valid') else np.ones(len(v), bool)
    want = x[c['name']].values
    if want.dtype.kind == 'M':
        got = v.astype('datetime64[ns]')
        assert v.dtype.kind == 'M', (c['name'], v.dtype)
        assert (np.isnat(got) == np.isnat(want)).all(), (c['name'], got, want)
        assert (got[~np.isnat(want)] == want[~np.isnat(want)]).all(), (c['name'], got, want)
    else:
        missing = np.isnan(want)
        assert (~valid == missing).all(), (c['name'], valid, want)
        assert (v[valid] == want[~missing]).all(), (c['name'], v, want)
        assert v.dtype.kind == 'i', (c['name'], v.dtype)
    out.append(c['name'] + ':' + str(v.dtype))
print(' '.join(out))
"
    );
    py(python, dir, &code)
}

#[test]
fn xarray_times_of_any_epoch_and_masked_integers_read_as_xarray_decodes_them() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    // To a dataset: datetime columns at the right instants, a nullable integer column.
    ok(larder().current_dir(d).args(["copy", "a.zarr", "a", "-q"]));
    let cols = check_dataset(&python, d, "a.zarr", "a");
    assert_eq!(cols.trim(), "d:datetime64[D] n:int16 t:datetime64[h]");
    ok(larder().current_dir(d).args(["copy", "b.zarr", "b", "-q"]));
    let cols = check_dataset(&python, d, "b.zarr", "b");
    assert_eq!(cols.trim(), "k:int32 old:datetime64[D] s:datetime64[s]");

    // The arrays themselves: cat and stats decode the times and skip the masked rows.
    let cat = ok(larder().current_dir(d).args(["cat", "a.zarr:/t"]));
    assert!(cat.contains("'2024-03-01T00'") && cat.contains("'2024-03-01T04'"), "{cat}");
    let cat = ok(larder().current_dir(d).args(["cat", "a.zarr:/d"]));
    assert!(cat.contains("'2001-01-01'") && cat.contains("'NaT'"), "{cat}");
    let stats = |p: &str| -> serde_json::Value {
        serde_json::from_str(&ok(larder().current_dir(d).args(["stats", p, "--json"]))).unwrap()
    };
    let s = stats("a.zarr:/d");
    assert_eq!((s["min"].as_str(), s["max"].as_str()), (Some("1970-01-01"), Some("2001-01-02")));
    assert_eq!((s["count"].as_u64(), s["nat_count"].as_u64()), (Some(4), Some(1)));
    let s = stats("b.zarr:/s");
    assert_eq!(s["min"].as_str(), Some("1960-06-01T00:00:00"), "{s}");
    assert_eq!(s["max"].as_str(), Some("2001-02-03T04:05:07"), "{s}");
    let s = stats("a.zarr:/n");
    assert_eq!((s["count"].as_u64(), s["null_count"].as_u64()), (Some(4), Some(1)), "{s}");
    assert_eq!(s["min"].as_i64(), Some(-7), "{s}");
    let s = stats("b.zarr:/k");
    assert_eq!((s["count"].as_u64(), s["null_count"].as_u64()), (Some(2), Some(1)), "{s}");

    // Copied on its own, a time array keeps its instants (written against 1970).
    ok(larder().current_dir(d).args(["copy", "b.zarr:/old", "old.npy", "-q"]));
    let old = py(&python, d, "import numpy as np; print(np.load('old.npy'))");
    assert_eq!(old.trim(), "['1900-01-02' '1899-12-31' '1950-05-05']");
}

#[test]
fn foreign_encodings_larder_cannot_honour_are_refused_by_name() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Packed values, a float fill value, a fill value outside the type, and a time whose
    // values would leave int64 once moved to 1970.
    py(
        &python,
        d,
        r"
import zarr, numpy as np
def group(name, attrs, dtype='i2', values=(1, 2, 3)):
    g = zarr.open_group(name, mode='w', zarr_format=3)
    a = g.create_array('v', shape=(3,), dtype=dtype, dimension_names=['row'])
    a[:] = np.array(values, dtype=dtype)
    a.attrs.update(attrs)
group('packed.zarr', {'scale_factor': 0.1})
group('floatfill.zarr', {'_FillValue': -9999.0}, dtype='f8')
group('range.zarr', {'_FillValue': 70000})
group('both.zarr', {'_FillValue': -1, 'missing_value': -2})
group('far.zarr', {'units': 'days since 2000-01-01', 'calendar': 'proleptic_gregorian'},
      dtype='i8', values=(0, 2**63 - 100, 1))
",
    );
    for (group, words) in [
        ("packed.zarr", &["\"v\"", "packed values (scale_factor)"][..]),
        ("floatfill.zarr", &["\"v\"", "_FillValue -9999.0", "<f8"]),
        ("range.zarr", &["\"v\"", "_FillValue 70000", "<i2"]),
        ("both.zarr", &["\"v\"", "missing_value (-2)"]),
        ("far.zarr", &["v", "out of numpy's datetime64 range"]),
    ] {
        let o = larder().current_dir(d).args(["copy", group, "out", "-q"]).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{group}: {t}");
        assert!(t.contains(group), "{group}: {t}");
        for w in words {
            assert!(t.contains(w), "{group}: no {w:?} in {t}");
        }
        assert!(!d.join("out").exists(), "{group}");
    }
}

#[test]
fn arrays_larder_adds_to_a_group_have_dimension_names_and_xarray_opens_the_group() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    py(
        &python,
        d,
        "import numpy as np; np.save('m.npy', np.arange(12.).reshape(3, 4)); \
         np.save('e.npy', np.arange(5, dtype='i4'))",
    );
    std::fs::write(d.join("in.csv"), "a,b\n1,x\n2,y\n").unwrap();
    ok(larder().current_dir(d).args(["convert", "in.csv", "ds", "-q"]));
    ok(larder().current_dir(d).args(["copy", "ds", "ds.zarr", "-q"]));
    // Into a group xarray wrote (2-d, and in a new subgroup), and into a dataset group.
    ok(larder().current_dir(d).args(["copy", "m.npy", "a.zarr:/m2", "-q"]));
    ok(larder().current_dir(d).args(["copy", "e.npy", "a.zarr:/sub/e", "-q"]));
    ok(larder().current_dir(d).args(["copy", "e.npy", "ds.zarr:/extra", "-q"]));
    let seen = py(
        &python,
        d,
        r"
import xarray as xr, numpy as np
a = xr.open_zarr('a.zarr')
assert a['m2'].dims == ('m2_dim_0', 'm2_dim_1'), a['m2'].dims
assert (a['m2'].values == np.arange(12.).reshape(3, 4)).all()
assert a['t'].dims == ('row',) and len(a['t']) == 5
sub = xr.open_zarr('a.zarr', group='sub')
assert (sub['e'].values == np.arange(5)).all() and sub['e'].dims == ('e_dim_0',)
ds = xr.open_zarr('ds.zarr')
assert ds['extra'].dims == ('extra_dim_0',) and list(ds['a'].values) == [1, 2]
print(sorted(a.data_vars), sorted(ds.data_vars))
",
    );
    assert_eq!(seen.trim(), "['d', 'm2', 'n', 't'] ['a', 'b', 'extra']");
}

/// Every file under `dir` with its bytes, in order.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn adding_to_a_v2_consolidated_group_is_refused_and_leaves_it_as_it_was() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // xarray's Zarr v2 layout: .zgroup, .zattrs, per-array .zarray and the consolidated
    // .zmetadata, which larder (writing v3 only) would leave stale.
    py(
        &python,
        d,
        "import xarray as xr, numpy as np\n\
         xr.Dataset({'v': ('x', np.arange(4.))}).to_zarr('v2.zarr', zarr_format=2, consolidated=True)\n\
         np.save('e.npy', np.arange(4))",
    );
    assert!(d.join("v2.zarr/.zmetadata").exists());
    let before = files(&d.join("v2.zarr"));
    for node in ["v2.zarr:/extra", "v2.zarr:/new/deeper/e"] {
        let o = larder().current_dir(d).args(["copy", "e.npy", node, "-q"]).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{node}: {t}");
        assert!(t.contains("v2.zarr") && t.contains("Zarr v2 hierarchy"), "{node}: {t}");
        assert!(files(&d.join("v2.zarr")) == before, "{node}: the store changed");
    }
    let vars =
        py(&python, d, "import xarray as xr; print(list(xr.open_zarr('v2.zarr').data_vars))");
    assert_eq!(vars.trim(), "['v']");
}

/// The same group in object storage: its arrays read with the instants and the masked rows
/// xarray decodes, and the group copies to a dataset as from a local store.
#[cfg(feature = "s3")]
#[test]
fn an_xarray_group_in_object_storage_reads_as_the_local_one() {
    use crate::s3::s3_larder;
    use crate::s3::server::Moto;
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, "xarray-test");
    let ep = moto.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    // Uploaded file by file, as zarr-python's object store would lay it out.
    let upload = format!(
        r"
import boto3, os
s3 = boto3.client('s3', endpoint_url='{ep}', aws_access_key_id='test',
                  aws_secret_access_key='test', region_name='us-east-1')
for root, _, files in os.walk('a.zarr'):
    for f in files:
        p = os.path.join(root, f)
        s3.upload_file(p, 'xarray-test', p)
"
    );
    py(&python, d, &upload);
    let stats = |p: &str| -> serde_json::Value {
        let out = ok(s3_larder(&ep).current_dir(d).args(["stats", p, "--json"]));
        serde_json::from_str(&out).unwrap()
    };
    let s = stats("s3://xarray-test/a.zarr:/d");
    assert_eq!(s["dtype"].as_str(), Some("datetime64[D]"), "{s}");
    assert_eq!((s["min"].as_str(), s["max"].as_str()), (Some("1970-01-01"), Some("2001-01-02")));
    let s = stats("s3://xarray-test/a.zarr:/t");
    assert_eq!(s["max"].as_str(), Some("2024-03-01T04"), "{s}");
    ok(s3_larder(&ep).current_dir(d).args(["copy", "s3://xarray-test/a.zarr", "a", "-q"]));
    let cols = check_dataset(&python, d, "a.zarr", "a");
    assert_eq!(cols.trim(), "d:datetime64[D] n:int16 t:datetime64[h]");
}
