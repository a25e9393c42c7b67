//! HDF5 datasets whose CF times count from an epoch other than 1970 (`hours since 2000-01-01`,
//! as h5py users, netCDF tools and xarray write them) read as the instants xarray decodes, `NaT`
//! kept; a value that leaves numpy's range once moved to 1970 is an error naming the file and
//! dataset; such a dataset is not written through (its values would move twice).

use std::path::Path;
use std::process::Command;

use crate::support::{larder, python};

/// Runs `code` with the venv's python in `dir`; its stdout.
fn py(python: &Path, dir: &Path, code: &str) -> String {
    let o =
        Command::new(python).args(["-W", "ignore", "-c", code]).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "python: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `t.h5` with int64 datasets under CF time attributes made by h5py: each name, its units and
/// its stored counts (`N` is `NaT`).
const WRITE: &str = r"
import h5py, numpy as np
N = np.iinfo(np.int64).min
sets = {
    'hours2000': ('hours since 2000-01-01', [0, 5, N, -24, 175320]),
    'days1900': ('days since 1900-01-01 00:00:00', [0, 1, -1, 36524, N]),
    'seconds2001': ('seconds since 2001-02-03T04:05:06Z', [0, 1, -1_000_000_000, 7]),
    'minutes1969': ('minutes since 1969-12-31 23:00', [0, 60, 61, N]),
}
with h5py.File('t.h5', 'w') as f:
    g = f.create_group('g')
    for name, (units, values) in sets.items():
        d = g.create_dataset(name, data=np.array(values, dtype='<i8'), chunks=(2,))
        d.attrs['units'] = units
        d.attrs['calendar'] = 'proleptic_gregorian'
    d = f.create_dataset('far', data=np.array([0, 2**63 - 6], dtype='<i8'))
    d.attrs['units'] = 'days since 2000-01-01'
    d.attrs['calendar'] = 'proleptic_gregorian'
";

/// Compares `NAME.npy` (larder's copy of `t.h5:/g/NAME`) with what xarray decodes from the same
/// counts and attributes, as int64 nanoseconds.
const CHECK: &str = r"
import h5py, numpy as np, xarray as xr, sys
with h5py.File('t.h5', 'r') as f:
    for name in sys.argv[1:]:
        d = f['g/' + name]
        v = xr.Variable(('x',), d[...], attrs=dict(d.attrs))
        want = xr.conventions.decode_cf_variable(name, v).values
        got = np.load(name + '.npy')
        assert got.dtype.kind == 'M', (name, got.dtype)
        g, w = got.astype('M8[ns]'), want.astype('M8[ns]')
        assert (np.isnat(g) == np.isnat(w)).all(), (name, g, w)
        assert (g[~np.isnat(w)] == w[~np.isnat(w)]).all(), (name, g, w)
        print(name, str(got.dtype), g[0])
";

#[test]
fn hdf5_cf_times_with_another_epoch_read_as_xarray_decodes_them() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    let names = ["hours2000", "days1900", "seconds2001", "minutes1969"];
    for name in names {
        let o = larder()
            .args(["copy", &format!("t.h5:/g/{name}"), &format!("{name}.npy"), "-q"])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let code = format!("import sys; sys.argv = ['x'] + {names:?}\n{CHECK}");
    let out = py(&python, d, &code);
    assert!(out.contains("hours2000 datetime64[h] 2000-01-01T00:00"), "{out}");
    assert!(out.contains("days1900 datetime64[D] 1900-01-01T00:00"), "{out}");
    assert!(out.contains("seconds2001 datetime64[s] 2001-02-03T04:05:06"), "{out}");
    assert!(out.contains("minutes1969 datetime64[m] 1969-12-31T23:00"), "{out}");
    // cat prints the instants, not the stored counts, and NaT as numpy does.
    let json = larder().args(["cat", "t.h5:/g/hours2000", "--json"]).current_dir(d).output();
    let json = json.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&json.stdout),
        "[\"2000-01-01T00\",\"2000-01-01T05\",\"NaT\",\"1999-12-31T00\",\"2020-01-01T00\"]\n",
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    // Through the library: the dtype is the time type, the values moved to 1970.
    let days = larder::open(d.join("t.h5:/g/days1900")).unwrap();
    assert_eq!(days.dtype().typestr(), "<M8[D]");
    drop(days);
    // Written through, values read moved to 1970 would be stored moved: refused, unchanged.
    let mut h = larder::Hdf5Array::<i64>::open_mut(d.join("t.h5"), Some("/g/hours2000")).unwrap();
    let err =
        larder::ArrayWrite::write_region(&mut h, &[0], &ndarray::arr1(&[1i64]).into_dyn().view())
            .unwrap_err();
    assert!(matches!(err, larder::Error::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("epoch other than 1970-01-01"), "{err}");
    drop(h);
    let first = larder().args(["cat", "t.h5:/g/hours2000", "--slice", "0"]).current_dir(d).output();
    assert_eq!(String::from_utf8_lossy(&first.unwrap().stdout), "'2000-01-01T00'\n");
}

#[test]
fn hdf5_cf_time_out_of_range_once_moved_is_an_error_naming_the_dataset() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(&python, d, WRITE);
    let o = larder().args(["cat", "t.h5:/far"]).current_dir(d).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("t.h5") && err.contains("/far"), "{err}");
    assert!(err.contains("out of numpy's datetime64 range once moved to 1970"), "{err}");
    assert!(err.contains("value 9223372036854775802 at 1"), "{err}");
}
