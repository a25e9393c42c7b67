//! `cat` of one column file of a dataset (`larder cat DATASET/x.npy`): rows whose value is
//! missing print as `<NA>` (`null` in JSON), as the dataset's table shows them and as `stats`
//! leaves them out, instead of the placeholder the file holds for them.

use std::io::{self, Write};

use ndarray::{ArrayView1, ArrayViewD, IxDyn};

use super::{EDGE_ITEMS, SUMMARY_THRESHOLD, Shown, TextFormat};
use crate::dataset::Column;
use crate::dtype::{Element, Scalar, Time, dispatch_element, format_datetime};
use crate::error::{Error, Result};
use crate::select::Selection;

/// Prints the rows `selection` picks of the dataset column `column`, which has a validity
/// file, as numpy prints a one-dimensional array, with `<NA>` for a missing value.
///
/// # Errors
/// As [`Column::values`], [`Column::validity`] and [`Selection::resolve`]; [`Error::Io`] if
/// `out` fails.
pub(super) fn cat_masked(
    column: &Column<'_>,
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let Some(valid) = column.validity()? else {
        return Err(Error::internal("a column without a validity file printed as masked"));
    };
    let valid = valid.as_slice()?;
    let time = column.dtype()?.time();
    dispatch_element!(column.element()?, T => {
        let values = column.values::<T>()?;
        masked(values.as_slice()?, valid, selection, format, time, out)
    })
}

fn masked<T: Element>(
    values: &[T],
    valid: &[bool],
    selection: &Selection,
    format: TextFormat,
    time: Option<Time>,
    out: &mut dyn Write,
) -> Result<()> {
    let elems = selection.resolve(&[values.len()])?;
    let values: ArrayViewD<'_, T> =
        ArrayView1::from(values).into_dyn().slice_move(elems.as_slice());
    let valid = ArrayView1::from(valid).into_dyn().slice_move(elems.as_slice());
    let show = |i: &IxDyn| -> Option<Shown> {
        if !valid[i] {
            return None;
        }
        let s = values[i].to_scalar();
        Some(match (time, &s) {
            (Some(Time::DateTime(u)), Scalar::I64(x)) => Shown::Time(format_datetime(*x, u)),
            _ => Shown::Scalar(s),
        })
    };
    let io = |e| Error::io("<stdout>", e);
    let mut w = io::BufWriter::new(out);
    if values.ndim() == 0 {
        let one = show(&IxDyn(&[]));
        match format {
            TextFormat::Json => write!(w, "{}", one.map_or(serde_json::Value::Null, |s| s.json())),
            _ => w.write_all(one.map_or_else(|| "<NA>".to_string(), |s| s.text()).as_bytes()),
        }
        .and_then(|()| writeln!(w))
        .and_then(|()| w.flush())
        .map_err(io)?;
        return Ok(());
    }
    let n = values.len();
    let text = |i: usize| show(&IxDyn(&[i])).map_or_else(|| "<NA>".to_string(), |s| s.text());
    if format == TextFormat::Json {
        w.write_all(b"[").map_err(io)?;
        for i in 0..n {
            let v = show(&IxDyn(&[i])).map_or(serde_json::Value::Null, |s| s.json());
            let sep = if i == 0 { "" } else { "," };
            write!(w, "{sep}{v}").map_err(io)?;
        }
        return w.write_all(b"]\n").and_then(|()| w.flush()).map_err(io);
    }
    let summarize = format == TextFormat::Text && n > SUMMARY_THRESHOLD;
    let each = || -> Box<dyn Iterator<Item = usize>> {
        if summarize { Box::new((0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n)) } else { Box::new(0..n) }
    };
    // numpy right-aligns every printed element to the widest one: a first pass finds it.
    let width = each().map(|i| text(i).chars().count()).max().unwrap_or(0);
    w.write_all(b"[").map_err(io)?;
    for (k, i) in each().enumerate() {
        if k > 0 {
            w.write_all(b" ").map_err(io)?;
            if summarize && k == EDGE_ITEMS {
                w.write_all(b"... ").map_err(io)?;
            }
        }
        write!(w, "{:>width$}", text(i)).map_err(io)?;
    }
    w.write_all(b"]\n").and_then(|()| w.flush()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(values: &[i64], valid: &[bool], sel: &str, format: TextFormat) -> String {
        let mut out = Vec::new();
        let selection =
            if sel.is_empty() { Selection::all() } else { Selection::parse(sel).unwrap() };
        masked(values, valid, &selection, format, None, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn missing_values_print_as_na_and_null() {
        let (v, ok) = ([5, 0, 70], [true, false, true]);
        assert_eq!(render(&v, &ok, "", TextFormat::Text), "[   5 <NA>   70]\n");
        assert_eq!(render(&v, &ok, "", TextFormat::Json), "[5,null,70]\n");
        assert_eq!(render(&v, &ok, "1", TextFormat::Text), "<NA>\n");
        assert_eq!(render(&v, &ok, "1", TextFormat::Json), "null\n");
        assert_eq!(render(&v, &ok, "::2", TextFormat::Text), "[ 5 70]\n");
        assert_eq!(render(&v, &ok, "::-1", TextFormat::Json), "[70,null,5]\n");
    }

    #[test]
    fn long_columns_are_summarized_unless_all() {
        let v: Vec<i64> = (0..2000).collect();
        let ok: Vec<bool> = (0..2000).map(|i| i != 1 && i != 1999).collect();
        assert_eq!(render(&v, &ok, "", TextFormat::Text), "[   0 <NA>    2 ... 1997 1998 <NA>]\n");
        let all = render(&v, &ok, "", TextFormat::TextAll);
        assert_eq!(all.matches("<NA>").count(), 2);
        assert_eq!(all.trim().trim_matches(['[', ']']).split_whitespace().count(), 2000);
    }
}
