//! numpy-style selections (`10:20,::2`, `-1`, `...,0`), parsed from text and resolved against a
//! shape into in-bounds `ndarray` slices.
//!
//! Resolution follows Python's `slice.indices` exactly, including negative steps, so
//! `arr[5:1:-2]` in numpy and `--slice 5:1:-2` here select the same elements. Everything is
//! checked before `ndarray` sees it, so slicing with a resolved selection never panics.

use std::fmt;
use std::str::FromStr;

use ndarray::{Dimension, Slice, SliceInfo, SliceInfoElem};

use crate::error::{Error, Result};

/// One comma-separated item of a selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A single index (the axis is removed), negative from the end.
    Index(i64),
    /// `start:stop:step`, each optional.
    Slice {
        /// First index; default depends on the sign of `step`.
        start: Option<i64>,
        /// One past the last index; default depends on the sign of `step`.
        stop: Option<i64>,
        /// Stride; default 1, never 0.
        step: Option<i64>,
    },
    /// `...`: as many full slices as needed.
    Ellipsis,
    /// `None` or `newaxis`: insert an axis of length 1.
    NewAxis,
}

/// A parsed selection such as `10:20,::2`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    items: Vec<Item>,
}

impl Selection {
    /// The selection of everything (`...`).
    pub fn all() -> Selection {
        Selection { items: Vec::new() }
    }

    /// The selection from its items.
    pub fn new(items: Vec<Item>) -> Selection {
        Selection { items }
    }

    /// Parses numpy's bracket syntax without the brackets: `10:20,::2`, `-1`, `...,0`,
    /// `None,:`. Whitespace is ignored. One trailing comma is allowed, as in Python (`5,` is
    /// the tuple `(5,)`, the same as `5`).
    ///
    /// # Errors
    /// [`Error::Argument`] naming the item that does not parse.
    pub fn parse(text: &str) -> Result<Selection> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Selection::all());
        }
        // `5,` is a one-item tuple in Python; `,` alone and `5,,` are syntax errors there.
        let body = match text.strip_suffix(',') {
            Some(rest) if !rest.trim().is_empty() && !rest.trim_end().ends_with(',') => rest,
            _ => text,
        };
        let items = body.split(',').map(parse_item).collect::<Result<Vec<_>>>()?;
        if items.iter().filter(|i| **i == Item::Ellipsis).count() > 1 {
            return Err(Error::argument(format!("selection {text:?}: more than one '...'")));
        }
        Ok(Selection { items })
    }

    /// The items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Resolves against `shape` into slice elements that are all in bounds.
    ///
    /// # Errors
    /// [`Error::Argument`] for too many indices, an index out of bounds or a zero step.
    pub fn resolve(&self, shape: &[usize]) -> Result<Vec<SliceInfoElem>> {
        let addressing =
            self.items.iter().filter(|i| matches!(i, Item::Index(_) | Item::Slice { .. })).count();
        if addressing > shape.len() {
            return Err(Error::argument(format!(
                "selection {self}: too many indices, {addressing} given for an array of {} \
                 dimensions",
                shape.len()
            )));
        }
        let fill = shape.len() - addressing;
        let mut out = Vec::with_capacity(shape.len() + self.items.len());
        let mut axis = 0;
        let whole = Item::Slice { start: None, stop: None, step: None };
        let mut saw_ellipsis = false;
        for item in &self.items {
            match *item {
                Item::NewAxis => out.push(SliceInfoElem::NewAxis),
                Item::Ellipsis => {
                    saw_ellipsis = true;
                    for _ in 0..fill {
                        out.push(resolve_one(whole, shape[axis], axis)?);
                        axis += 1;
                    }
                }
                other => {
                    out.push(resolve_one(other, shape[axis], axis)?);
                    axis += 1;
                }
            }
        }
        if !saw_ellipsis {
            while axis < shape.len() {
                out.push(resolve_one(whole, shape[axis], axis)?);
                axis += 1;
            }
        }
        Ok(out)
    }

    /// The shape the selection produces from an array of `shape`.
    ///
    /// # Errors
    /// As [`resolve`](Selection::resolve).
    pub fn result_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        Ok(self
            .resolve(shape)?
            .into_iter()
            .filter_map(|e| match e {
                SliceInfoElem::Index(_) => None,
                SliceInfoElem::NewAxis => Some(1),
                SliceInfoElem::Slice { start, end, step } => {
                    let (start, end) = (start.unsigned_abs(), end.unwrap_or(0).unsigned_abs());
                    Some((end - start).div_ceil(step.unsigned_abs()))
                }
            })
            .collect())
    }
}

fn parse_item(raw: &str) -> Result<Item> {
    let s = raw.trim();
    let bad = |why: &str| Error::argument(format!("selection item {s:?}: {why}"));
    let num = |p: &str| -> Result<Option<i64>> {
        let p = p.trim();
        if p.is_empty() {
            Ok(None)
        } else {
            p.parse::<i64>().map(Some).map_err(|_| bad("not an integer"))
        }
    };
    match s {
        "" => Err(bad("empty item")),
        "..." => Ok(Item::Ellipsis),
        "None" | "newaxis" | "np.newaxis" => Ok(Item::NewAxis),
        _ if s.contains(':') => {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() > 3 {
                return Err(bad("too many ':'"));
            }
            let step = match parts.get(2) {
                Some(p) => num(p)?,
                None => None,
            };
            if step == Some(0) {
                return Err(bad("slice step cannot be zero"));
            }
            Ok(Item::Slice { start: num(parts[0])?, stop: num(parts[1])?, step })
        }
        _ => Ok(Item::Index(num(s)?.ok_or_else(|| bad("empty item"))?)),
    }
}

fn resolve_one(item: Item, len: usize, axis: usize) -> Result<SliceInfoElem> {
    let n = i64::try_from(len).map_err(|_| Error::argument("axis too long"))?;
    match item {
        Item::Index(i) => {
            let j = if i < 0 { i + n } else { i };
            if j < 0 || j >= n {
                return Err(Error::argument(format!(
                    "index {i} is out of bounds for axis {axis} with size {len}"
                )));
            }
            Ok(SliceInfoElem::Index(to_isize(j)))
        }
        Item::Slice { start, stop, step } => {
            let step = step.unwrap_or(1);
            if step == 0 {
                return Err(Error::argument("slice step cannot be zero"));
            }
            // Python's slice.indices(len).
            let clamp = |v: Option<i64>, default: i64, lo: i64, hi: i64| match v {
                None => default,
                Some(v) if v < 0 => (v + n).max(lo),
                Some(v) => v.min(hi),
            };
            let empty = SliceInfoElem::Slice { start: 0, end: Some(0), step: 1 };
            if step > 0 {
                let s = clamp(start, 0, 0, n);
                let e = clamp(stop, n, 0, n);
                if s >= e {
                    return Ok(empty);
                }
                Ok(SliceInfoElem::Slice {
                    start: to_isize(s),
                    end: Some(to_isize(e)),
                    step: to_isize(step),
                })
            } else {
                let s = clamp(start, n - 1, -1, n - 1);
                let e = clamp(stop, -1, -1, n - 1);
                if s <= e {
                    return Ok(empty);
                }
                // ndarray walks [lo, hi) backwards from hi-1 for a negative step.
                Ok(SliceInfoElem::Slice {
                    start: to_isize(e + 1),
                    end: Some(to_isize(s + 1)),
                    step: to_isize(step),
                })
            }
        }
        Item::Ellipsis | Item::NewAxis => unreachable!("handled by the caller"),
    }
}

fn to_isize(v: i64) -> isize {
    // Every value here is within [-1, len] of an axis whose length fits a mapping, so it fits.
    isize::try_from(v).unwrap_or(isize::MAX)
}

impl FromStr for Selection {
    type Err = Error;
    fn from_str(s: &str) -> Result<Selection> {
        Selection::parse(s)
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (k, item) in self.items.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            match *item {
                Item::Index(i) => write!(f, "{i}")?,
                Item::Ellipsis => f.write_str("...")?,
                Item::NewAxis => f.write_str("None")?,
                Item::Slice { start, stop, step } => {
                    write!(f, "{}:{}", opt(start), opt(stop))?;
                    if let Some(s) = step {
                        write!(f, ":{s}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Converts an `ndarray` slice back, for callers that build selections in code. A negative step
/// keeps `ndarray`'s meaning (the range `start..end`, walked from its last element), which in
/// numpy's terms is `end-1:start-1:step`.
impl From<Slice> for Item {
    fn from(s: Slice) -> Item {
        let (start, end, step) = (wide(s.start), s.end.map(wide), wide(s.step));
        if step >= 0 {
            return Item::Slice { start: Some(start), stop: end, step: Some(step) };
        }
        if end == Some(0) {
            // The range is empty; numpy's `-1` would mean the last element instead.
            return Item::Slice { start: Some(0), stop: Some(0), step: Some(1) };
        }
        Item::Slice {
            start: end.map(|e| e.saturating_sub(1)),
            // Down to index 0 inclusive: numpy has no stop for that but "none".
            stop: if start == 0 { None } else { Some(start.saturating_sub(1)) },
            step: Some(step),
        }
    }
}

/// Converts one element of `ndarray`'s `s![…]`.
impl From<SliceInfoElem> for Item {
    fn from(e: SliceInfoElem) -> Item {
        match e {
            SliceInfoElem::Index(i) => Item::Index(wide(i)),
            SliceInfoElem::NewAxis => Item::NewAxis,
            SliceInfoElem::Slice { start, end, step } => Item::from(Slice { start, end, step }),
        }
    }
}

/// A selection from `ndarray`'s `s![…]` macro, so a region is checked by the compiler rather than
/// parsed from text: `store.read(&s![10..13, 5..8].into())` reads what `"10:13,5:8"` reads.
/// Negative indices count from the end and out-of-range slice bounds are clipped, as in numpy
/// (where `ndarray` itself would panic).
impl<T, Din, Dout> From<SliceInfo<T, Din, Dout>> for Selection
where
    T: AsRef<[SliceInfoElem]>,
    Din: Dimension,
    Dout: Dimension,
{
    fn from(info: SliceInfo<T, Din, Dout>) -> Selection {
        Selection::from(&info)
    }
}

/// As the owned form, for a `s![…]` kept in a variable.
impl<T, Din, Dout> From<&SliceInfo<T, Din, Dout>> for Selection
where
    T: AsRef<[SliceInfoElem]>,
    Din: Dimension,
    Dout: Dimension,
{
    fn from(info: &SliceInfo<T, Din, Dout>) -> Selection {
        let elems: &[SliceInfoElem] = info.as_ref();
        Selection::new(elems.iter().map(|&e| Item::from(e)).collect())
    }
}

/// `isize` into `i64`, which holds every `isize` on the platforms larder maps files on.
fn wide(v: isize) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};
    use proptest::prelude::*;

    /// Python's semantics, element by element, as the reference.
    fn python_indices(len: i64, start: Option<i64>, stop: Option<i64>, stride: i64) -> Vec<i64> {
        let adj = |v: i64| if v < 0 { v + len } else { v };
        let (lo, hi) = if stride > 0 { (0, len) } else { (-1, len - 1) };
        let s = start.map_or(if stride > 0 { 0 } else { len - 1 }, |v| adj(v).clamp(lo, hi));
        let e = stop.map_or(if stride > 0 { len } else { -1 }, |v| adj(v).clamp(lo, hi));
        let mut out = Vec::new();
        let mut i = s;
        while (stride > 0 && i < e) || (stride < 0 && i > e) {
            out.push(i);
            i += stride;
        }
        out
    }

    #[test]
    fn parses_and_prints() {
        for s in ["10:20,::2", "-1", "...,0", "None,:", "5:1:-2", ":"] {
            let sel = Selection::parse(s).unwrap();
            assert_eq!(Selection::parse(&sel.to_string()).unwrap(), sel);
        }
        assert!(Selection::parse("1:2:3:4").is_err());
        assert!(Selection::parse("a").is_err());
        assert!(Selection::parse("::0").is_err());
        assert!(Selection::parse("...,...").is_err());
        assert!(Selection::parse("1,,2").is_err());
    }

    #[test]
    fn out_of_bounds_and_too_many_indices_are_errors() {
        let e = Selection::parse("5").unwrap().resolve(&[5]).unwrap_err().to_string();
        assert!(e.contains("index 5 is out of bounds for axis 0 with size 5"), "{e}");
        assert!(Selection::parse("-6").unwrap().resolve(&[5]).is_err());
        assert!(Selection::parse("0,0").unwrap().resolve(&[5]).is_err());
        assert!(Selection::parse("0").unwrap().resolve(&[]).is_err());
        assert_eq!(
            Selection::parse("-5").unwrap().resolve(&[5]).unwrap(),
            vec![SliceInfoElem::Index(0)]
        );
    }

    #[test]
    fn parse_accepts_one_trailing_comma_as_python_does() {
        assert_eq!(Selection::parse("5,").unwrap(), Selection::parse("5").unwrap());
        assert_eq!(Selection::parse("1:3, 0 ,").unwrap(), Selection::parse("1:3,0").unwrap());
        for bad in [",", "5,,", " , "] {
            assert!(matches!(Selection::parse(bad), Err(Error::Argument(_))), "{bad:?}");
        }
    }

    #[test]
    fn ellipsis_and_newaxis() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| i[0] * 100 + i[1] * 10 + i[2]);
        let sel = Selection::parse("...,1").unwrap().resolve(a.shape()).unwrap();
        let v = a.slice(sel.as_slice());
        assert_eq!(v.shape(), &[2, 3]);
        assert_eq!(v[[1, 2]], 121);
        let sel = Selection::parse("None,1").unwrap();
        assert_eq!(sel.result_shape(a.shape()).unwrap(), vec![1, 3, 4]);
        assert_eq!(a.slice(sel.resolve(a.shape()).unwrap().as_slice()).shape(), &[1, 3, 4]);
    }

    proptest! {
        #[test]
        fn slices_match_python(len in 0i64..20, start in proptest::option::of(-25i64..25),
                               stop in proptest::option::of(-25i64..25),
                               step in prop_oneof![-7i64..0, 1i64..8]) {
            let a = ArrayD::from_shape_fn(IxDyn(&[len as usize]), |i| i[0] as i64);
            let sel = Selection::new(vec![Item::Slice { start, stop, step: Some(step) }]);
            let r = sel.resolve(a.shape()).unwrap();
            let got: Vec<i64> = a.slice(r.as_slice()).iter().copied().collect();
            prop_assert_eq!(&got, &python_indices(len, start, stop, step));
            prop_assert_eq!(sel.result_shape(a.shape()).unwrap(), vec![got.len()]);
        }
    }

    proptest! {
        /// A `s![…]` converted to a selection picks what `ndarray` itself picks, for every
        /// in-bounds range and either sign of step.
        #[test]
        fn ndarray_slices_select_what_ndarray_selects(len in 0isize..12, a in 0isize..13,
                                                      b in proptest::option::of(0isize..13),
                                                      neg_a: bool, neg_b: bool,
                                                      step in prop_oneof![-5isize..0, 1isize..6]) {
            let arr = ArrayD::from_shape_fn(IxDyn(&[len as usize]), |i| i[0] as i64);
            // In-bounds bounds only (ndarray panics otherwise), from either end.
            let start = a.min(len);
            let start = if neg_a && start > 0 { start - len } else { start };
            let end = b.map(|b| { let e = b.min(len); if neg_b && e > 0 { e - len } else { e } });
            let info = SliceInfoElem::Slice { start, end, step };
            let want: Vec<i64> = arr.slice(&[info][..]).iter().copied().collect();
            let sel = Selection::new(vec![Item::from(info)]);
            let got: Vec<i64> =
                arr.slice(sel.resolve(arr.shape()).unwrap().as_slice()).iter().copied().collect();
            prop_assert_eq!(got, want, "{:?} as {}", info, sel);
        }
    }

    #[test]
    fn s_macro_selects_what_the_text_form_selects() {
        use ndarray::{NewAxis, s};
        let shape = [20, 20, 20];
        let cases: [(Selection, &str); 6] = [
            (s![10..13, 5..8, ..].into(), "10:13,5:8"),
            (s![-1, ..;2, 0].into(), "-1,::2,0"),
            (s![.., NewAxis, 3, 1..].into(), ":,None,3,1:"),
            (s![2..;-1, 0, 0].into(), ":1:-1,0,0"),
            (s![..4;-1, -3..-1, ..0;-1].into(), "3::-1,-3:-1,0:0"),
            (s![0..100, .., ..].into(), ":"),
        ];
        for (sel, text) in cases {
            let want = Selection::parse(text).unwrap().resolve(&shape).unwrap();
            assert_eq!(sel.resolve(&shape).unwrap(), want, "{sel} against {text}");
        }
        let kept = s![1..3, 4];
        assert_eq!(Selection::from(&kept).to_string(), "1:3:1,4");
        let e = Selection::from(s![20, ..]).resolve(&shape).unwrap_err().to_string();
        assert!(e.contains("index 20 is out of bounds for axis 0 with size 20"), "{e}");
    }
}
