//! Printing arrays as text (numpy's `print(a)` layout) or JSON, streamed straight from a view so
//! that printing a large selection needs no copy of it.

mod column;

use std::io::{self, Write};
use std::path::Path;

use ndarray::{ArrayViewD, Axis};

use crate::dtype::{Element, Scalar, Time, dispatch_element, format_datetime};
use crate::error::{Error, Result};
use crate::npy::{MmapArray, read_header};
use crate::open::{Location, Place, detect_format, open};
use crate::select::Selection;
use crate::store::Format;

mod picks;

/// Above this many elements, text output is summarized as numpy does (`threshold=1000`).
pub const SUMMARY_THRESHOLD: usize = 1000;
/// Elements shown at each end of a summarized axis (numpy's `edgeitems=3`).
const EDGE_ITEMS: usize = 3;

/// How `cat` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// numpy's `print(a)` layout; summarized with `...` above [`SUMMARY_THRESHOLD`] elements.
    Text,
    /// numpy's layout with every element, however many.
    TextAll,
    /// Nested JSON arrays with every element; NaN and infinities as strings.
    Json,
}

/// Prints the `selection` of the array at `path` (`.npy`, Zarr or HDF5) to `out`.
///
/// # Errors
/// As [`crate::open`] and [`Selection::resolve`]; [`Error::Io`] if `out` fails (a closed pipe
/// included). A selection that does not fit the array is [`Error::Invalid`] naming `path`.
pub fn cat(
    path: impl AsRef<Path>,
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let path = path.as_ref();
    cat_at(path, selection, format, out).map_err(|e| match e {
        // Resolving the selection knows the shape, not the file it came from.
        Error::Argument(reason) => Error::invalid(path, reason),
        e => e,
    })
}

/// Prints the `selection` of the `.npy` at `base` seen through the delta files `deltas`
/// (applied in order) to `out`.
///
/// # Errors
/// As [`cat`] and [`crate::open_with_deltas`].
pub fn cat_with_deltas<P: AsRef<Path>>(
    base: impl AsRef<Path>,
    deltas: &[P],
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let base = base.as_ref();
    let store = crate::open::open_with_deltas(base, deltas)?;
    crate::store_dispatch!(&store, a => picks::cat_store(&**a, selection, format, None, out))
        .map_err(|e| match e {
            Error::Argument(reason) => Error::invalid(base, reason),
            e => e,
        })
}

fn cat_at(
    path: &Path,
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    if Place::parse(path)?.is_object() || detect_format(&Location::parse(path).file)? != Format::Npy
    {
        let store = open(path)?;
        // Elements equal to a CF `_FillValue` are missing (as `stats` skips them and xarray
        // masks them): printed as a dataset column's missing rows are.
        let fill = store
            .attributes()?
            .get(crate::dtype::cf::FILL_VALUE)
            .filter(|v| v.is_number() || v.is_string())
            .cloned();
        return crate::store_dispatch!(
            &store,
            a => picks::cat_store(&**a, selection, format, fill.as_ref(), out)
        );
    }
    // A dataset's column with missing values: `<NA>` where its validity file says so.
    if let Some((ds, i)) = crate::dataset::Dataset::of_column_file(path)? {
        let column = ds.nth_column(i)?;
        if column.validity_file().is_some() && column.kind() != crate::dataset::ColumnKind::String {
            return column::cat_masked(&column, selection, format, out);
        }
    }
    // A mapped `.npy` is printed from its raw bytes, swapping each value on output when the
    // file is in the other byte order: the store's `read` would convert (copy) the whole
    // selection first, and a summary prints only its edges.
    let element = read_header(path)?.dtype.element();
    dispatch_element!(element, T => cat_typed(&MmapArray::<T>::open(path)?, selection, format, out))
}

fn cat_typed<T: Element>(
    a: &MmapArray<T>,
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let elems = selection.resolve(a.shape())?;
    let io = |e| Error::io("<stdout>", e);
    let time = a.dtype().time();
    // A file cut since it was mapped is an error here; one cut while printing can still fault.
    a.check_not_shrunk(0, a.len() * a.dtype().itemsize())?;
    match a.raw_view() {
        Ok((view, swapped)) => {
            write_as(out, &view.slice(elems.as_slice()), swapped, format, time).map_err(io)
        }
        Err(Error::NotViewable { .. }) => {
            // Misaligned data: fall back to a converted copy of the selection.
            let owned = a.read_slice(selection)?;
            write_as(out, &owned.view(), false, format, time).map_err(io)
        }
        Err(e) => Err(e),
    }
}

/// Writes `view` in `format`; `swapped` says each stored value must be byte-swapped first.
///
/// # Errors
/// Whatever `out` returns.
pub fn write<T: Element>(
    out: &mut dyn Write,
    view: &ArrayViewD<'_, T>,
    swapped: bool,
    format: TextFormat,
) -> io::Result<()> {
    write_as(out, view, swapped, format, None)
}

/// [`write()`] for values of a time type: `datetime64` values print as ISO 8601 strings, as
/// numpy prints them (quoted in text, strings in JSON); `timedelta64` values as their counts,
/// `NaT` as `'NaT'` (the string `"NaT"` in JSON).
///
/// # Errors
/// Whatever `out` returns.
pub fn write_as<T: Element>(
    out: &mut dyn Write,
    view: &ArrayViewD<'_, T>,
    swapped: bool,
    format: TextFormat,
    time: Option<Time>,
) -> io::Result<()> {
    write_layout(out, view, swapped, format, None, time, None)
}

/// [`write()`]; with `packed`, `view` holds only the edges of a summarized array (see
/// `read_corners`) and `packed[axis]` says whether `...` goes between them on that axis; values
/// equal to `fill` (a CF `_FillValue`) print as missing.
fn write_layout<T: Element>(
    out: &mut dyn Write,
    view: &ArrayViewD<'_, T>,
    swapped: bool,
    format: TextFormat,
    packed: Option<&[bool]>,
    time: Option<Time>,
    fill: Option<&serde_json::Value>,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    let get = |v: T| if swapped { v.swap_bytes() } else { v };
    let show = |v: T| Shown::of(get(v).to_scalar(), time, fill);
    match format {
        TextFormat::Json => json(&mut w, view, &show)?,
        // numpy prints any empty array as `[]`, whatever its shape: walking its axes would
        // print one `[]` per index of the axes before the empty one, and `(2^53, 0)` has 2^53.
        TextFormat::Text | TextFormat::TextAll if view.ndim() > 0 && view.is_empty() => {
            w.write_all(b"[]")?;
        }
        TextFormat::Text | TextFormat::TextAll => {
            let summarize = format == TextFormat::Text && view.len() > SUMMARY_THRESHOLD;
            let mut layout = Layout { summarize, width: 0, packed };
            // numpy right-aligns every printed element to the widest one: a first pass finds it.
            let mut width = 0;
            visit(view, layout, 0, &mut |x| {
                width = width.max(show(x).text().chars().count());
            });
            layout.width = width;
            text(&mut w, view, &show, 0, layout)?;
        }
    }
    writeln!(w)?;
    w.flush()
}

/// One element as printed.
enum Shown {
    Scalar(Scalar),
    /// A date-time in ISO 8601.
    Time(String),
    /// A missing value: `<NA>` (`null` in JSON), as a dataset column's missing rows print.
    Missing,
}

impl Shown {
    /// How a value of an array whose elements mean `time` prints: datetimes in ISO 8601,
    /// durations as their count in the unit, `NaT` of either quoted, as numpy prints them; the
    /// CF `fill` value as missing.
    fn of(s: Scalar, time: Option<Time>, fill: Option<&serde_json::Value>) -> Shown {
        if fill.is_some_and(|f| crate::dtype::cf::is_fill(s, f)) {
            return Shown::Missing;
        }
        match (time, &s) {
            (Some(Time::DateTime(u)), Scalar::I64(x)) => Shown::Time(format_datetime(*x, u)),
            (Some(Time::TimeDelta(_)), Scalar::I64(i64::MIN)) => Shown::Time("NaT".to_string()),
            _ => Shown::Scalar(s),
        }
    }

    fn text(&self) -> String {
        match self {
            Shown::Scalar(s) => s.to_string(),
            Shown::Time(t) => format!("'{t}'"),
            Shown::Missing => "<NA>".to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Shown::Scalar(s) => s.to_json(),
            Shown::Time(t) => serde_json::Value::String(t.clone()),
            Shown::Missing => serde_json::Value::Null,
        }
    }
}

fn json<T: Element>(
    w: &mut dyn Write,
    v: &ArrayViewD<'_, T>,
    get: &dyn Fn(T) -> Shown,
) -> io::Result<()> {
    if v.ndim() == 0 {
        let x = v.iter().next().copied().unwrap_or_default();
        return write!(w, "{}", get(x).json());
    }
    w.write_all(b"[")?;
    for (i, sub) in v.axis_iter(Axis(0)).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        json(w, &sub, get)?;
    }
    w.write_all(b"]")
}

#[derive(Clone, Copy)]
struct Layout<'a> {
    summarize: bool,
    width: usize,
    /// The view holds only the edges; per axis, whether `...` goes between them.
    packed: Option<&'a [bool]>,
}

/// The indices of axis `depth` that are printed, each with whether `...` comes before it: all,
/// or the edges around `...`.
fn shown(n: usize, depth: usize, layout: Layout<'_>) -> impl Iterator<Item = (usize, bool)> {
    let (cut, packed) = match layout.packed {
        Some(p) => (false, p.get(depth).copied().unwrap_or(false)),
        None => (layout.summarize && n > 2 * EDGE_ITEMS, false),
    };
    (0..n)
        .filter(move |&i| !cut || !(EDGE_ITEMS..n - EDGE_ITEMS).contains(&i))
        .map(move |i| (i, (cut && i == n - EDGE_ITEMS) || (packed && i == EDGE_ITEMS)))
}

/// Calls `f` on every element that is printed, in order.
fn visit<T: Element>(
    v: &ArrayViewD<'_, T>,
    layout: Layout<'_>,
    depth: usize,
    f: &mut dyn FnMut(T),
) {
    if v.ndim() == 0 {
        v.iter().for_each(|&x| f(x));
        return;
    }
    for (i, _) in shown(v.len_of(Axis(0)), depth, layout) {
        visit(&v.index_axis(Axis(0), i), layout, depth + 1, f);
    }
}

fn text<T: Element>(
    w: &mut dyn Write,
    v: &ArrayViewD<'_, T>,
    get: &dyn Fn(T) -> Shown,
    depth: usize,
    layout: Layout<'_>,
) -> io::Result<()> {
    if v.ndim() == 0 {
        let x = v.iter().next().copied().unwrap_or_default();
        return write!(w, "{:>width$}", get(x).text(), width = layout.width);
    }
    let n = v.len_of(Axis(0));
    let gap = if v.ndim() == 1 {
        " ".to_string()
    } else {
        format!("{}{}", "\n".repeat(v.ndim() - 1), " ".repeat(depth + 1))
    };
    w.write_all(b"[")?;
    for (k, (i, skipped)) in shown(n, depth, layout).enumerate() {
        if k > 0 {
            w.write_all(gap.as_bytes())?;
            if skipped {
                w.write_all(b"...")?;
                w.write_all(gap.as_bytes())?;
            }
        }
        text(w, &v.index_axis(Axis(0), i), get, depth + 1, layout)?;
    }
    w.write_all(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, arr2};

    fn render<T: Element>(a: &ArrayD<T>, format: TextFormat) -> String {
        let mut out = Vec::new();
        write(&mut out, &a.view(), false, format).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_layout_matches_numpy() {
        let a = arr2(&[[1i32, 2, 3], [4, 5, 6]]).into_dyn();
        assert_eq!(render(&a, TextFormat::Text), "[[1 2 3]\n [4 5 6]]\n");
        let d = arr2(&[[-12981i16, 285], [4255, 17521]]).into_dyn();
        assert_eq!(render(&d, TextFormat::Text), "[[-12981    285]\n [  4255  17521]]\n");
        let b = ArrayD::from_shape_fn(IxDyn(&[2, 1, 2]), |i| i[0] * 10 + i[2]);
        let b = b.mapv(|x| x as u8);
        assert_eq!(render(&b, TextFormat::Text), "[[[ 0  1]]\n\n [[10 11]]]\n");
        let c = ArrayD::from_elem(IxDyn(&[]), true);
        assert_eq!(render(&c, TextFormat::Text), "True\n");
    }

    #[test]
    fn large_arrays_are_summarized_unless_all() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2000]), |i| i[0] as u16);
        assert_eq!(render(&a, TextFormat::Text), "[   0    1    2 ... 1997 1998 1999]\n");
        assert_eq!(
            render(&a, TextFormat::TextAll)
                .split(|c: char| !c.is_ascii_digit())
                .filter(|t| !t.is_empty())
                .count(),
            2000
        );
        let m = ArrayD::from_shape_fn(IxDyn(&[40, 40]), |i| (i[0] * 40 + i[1]) as u16);
        let text = render(&m, TextFormat::Text);
        assert!(text.starts_with("[[   0    1    2 ...   37   38   39]\n"), "{text}");
        assert!(text.ends_with("\n ...\n [1480 1481 1482 ... 1517 1518 1519]\n [1520 1521 1522 ... 1557 1558 1559]\n [1560 1561 1562 ... 1597 1598 1599]]\n"), "{text}");
    }

    #[test]
    fn json_is_nested_and_spells_non_finite() {
        let a = arr2(&[[1.5f64, f64::NAN], [f64::INFINITY, -0.0]]).into_dyn();
        let s = render(&a, TextFormat::Json);
        assert_eq!(s, "[[1.5,\"NaN\"],[\"Infinity\",-0.0]]\n");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v[0][0], 1.5);
    }
}
