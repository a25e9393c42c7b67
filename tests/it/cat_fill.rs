//! `cat` of an array whose CF `_FillValue` marks missing elements (zarr-python and xarray
//! groups, h5py datasets): missing elements print as a dataset column's missing rows do, `<NA>`
//! in text and `null` in JSON, as `stats` leaves them out; never the raw fill value.

use std::path::Path;
use std::process::Command;

use crate::support::{larder, python};

/// Runs `code` with the venv's python in `dir`.
fn py(python: &Path, dir: &Path, code: &str) {
    let o =
        Command::new(python).args(["-W", "ignore", "-c", code]).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "python: {}", String::from_utf8_lossy(&o.stderr));
}

/// `larder cat args` in `dir`: its stdout, asserting success.
fn cat(dir: &Path, args: &[&str]) -> String {
    let o = larder().arg("cat").args(args).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const WRITE: &str = r"
import zarr, numpy as np, xarray as xr
g = zarr.open_group('g.zarr', mode='w', zarr_format=3)
n = g.create_array('n', shape=(5,), dtype='int16', chunks=(2,))
n[:] = [1, -1, 3, -1, 5]
n.attrs['_FillValue'] = -1
f = g.create_array('f', shape=(4,), dtype='float64', chunks=(3,))
f[:] = [1.5, -9999.0, 2.5, 8.0]
f.attrs['_FillValue'] = -9999.0
m = g.create_array('m', shape=(2, 3), dtype='uint8', chunks=(1, 2))
m[:] = [[255, 7, 8], [9, 255, 10]]
m.attrs['_FillValue'] = 255
b = zarr.create_array('big.zarr', shape=(3000,), dtype='int32', chunks=(700,))
v = np.arange(3000, dtype='int32'); v[0] = v[-1] = v[1500] = -5
b[:] = v
b.attrs['_FillValue'] = -5
x = xr.Dataset({'k': ('row', np.array([1., 2., np.nan, 4., -7.]))})
x['k'].encoding = {'dtype': 'int32', '_FillValue': 1234}
x.to_zarr('x.zarr', zarr_format=3, consolidated=True)
";

#[test]
fn cat_prints_cf_fill_values_as_missing_in_text_and_json() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    // Integers, as a dataset column with a validity file prints them.
    assert_eq!(cat(d, &["g.zarr:/n"]), "[   1 <NA>    3 <NA>    5]\n");
    assert_eq!(cat(d, &["g.zarr:/n", "--json"]), "[1,null,3,null,5]\n");
    assert_eq!(cat(d, &["g.zarr:/n", "--slice", "1"]), "<NA>\n");
    assert_eq!(cat(d, &["g.zarr:/n", "--slice", "::-2", "--json"]), "[5,3,1]\n");
    // Floats, and a fill value in two dimensions.
    assert_eq!(cat(d, &["g.zarr:/f", "--json"]), "[1.5,null,2.5,8.0]\n");
    assert!(!cat(d, &["g.zarr:/f"]).contains("9999"));
    assert_eq!(cat(d, &["g.zarr:/m", "--json"]), "[[null,7,8],[9,null,10]]\n");
    assert_eq!(cat(d, &["g.zarr:/m"]), "[[<NA>    7    8]\n [   9 <NA>   10]]\n");
    // A summary reads only its edges; every element with --all and --json.
    assert_eq!(cat(d, &["big.zarr"]), "[<NA>    1    2 ... 2997 2998 <NA>]\n");
    let all = cat(d, &["big.zarr", "--all"]);
    assert_eq!(all.matches("<NA>").count(), 3, "{all}");
    let json: serde_json::Value = serde_json::from_str(&cat(d, &["big.zarr", "--json"])).unwrap();
    assert_eq!(json[1500], serde_json::Value::Null);
    assert_eq!(json[1499], 1499);
    // A group xarray wrote: its masked integers.
    assert_eq!(cat(d, &["x.zarr:/k", "--json"]), "[1,2,null,4,-7]\n");
    assert_eq!(cat(d, &["x.zarr:/k"]), "[   1    2 <NA>    4   -7]\n");
}

#[cfg(feature = "hdf5")]
#[test]
fn cat_of_an_hdf5_dataset_with_a_fill_value_prints_it_as_missing() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(
        &python,
        d,
        r"
import h5py, numpy as np
with h5py.File('t.h5', 'w') as f:
    a = f.create_dataset('a', data=np.array([3, -32768, 4], dtype='<i2'))
    a.attrs['_FillValue'] = np.int16(-32768)
    b = f.create_dataset('b', data=np.array([0.25, 1e20], dtype='<f4'))
    b.attrs['_FillValue'] = np.float32(1e20)
",
    );
    assert_eq!(cat(d, &["t.h5:/a", "--json"]), "[3,null,4]\n");
    assert_eq!(cat(d, &["t.h5:/a"]), "[   3 <NA>    4]\n");
    assert_eq!(cat(d, &["t.h5:/b", "--json"]), "[0.25,null]\n");
}
