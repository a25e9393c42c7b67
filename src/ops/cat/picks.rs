//! Printing a selection of a chunked store in bounded memory, whatever the selection: the
//! elements are read in pieces of at most [`PIECE_BYTES`] of output, each from source boxes of at
//! most [`BOX_BYTES`], and printed as they come. A strided or far-apart selection never reads its
//! bounding box: the selection is split until each part's box fits (a single element at worst).
//!
//! Parts that change together: the row-major order in which [`for_each_piece`] hands out pieces
//! is the order [`Printer`] expects, and the separators [`Printer`] writes are those of
//! `text`/`json` in the parent module (numpy's layout).

use std::io::{self, Write};

use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem};

use super::{EDGE_ITEMS, SUMMARY_THRESHOLD, Shown, TextFormat, write_layout};
use crate::dtype::{Element, Time};
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::select::Selection;
use crate::store::ArrayRead;

/// Bytes of output elements read and printed at a time.
const PIECE_BYTES: usize = 4 << 20;
/// Bytes of one source box read at a time (the box around a piece of a strided selection).
const BOX_BYTES: usize = 8 << 20;

/// One source axis of a selection: `count` indices `start + step * k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    start: usize,
    step: isize,
    count: usize,
}

impl Run {
    /// The smallest index and the extent of the box around the run (the run is not empty).
    fn span(self) -> (usize, usize) {
        let reach = (self.count - 1).saturating_mul(self.step.unsigned_abs());
        let lo = if self.step < 0 { self.start - reach } else { self.start };
        (lo, reach + 1)
    }

    /// The `n` indices from the `k`-th.
    fn part(self, k: usize, n: usize) -> Run {
        let offset = k.cast_signed() * self.step;
        Run { start: self.start.saturating_add_signed(offset), step: self.step, count: n }
    }
}

/// The selection as runs over the source's axes, and the shape it prints (with the axes that
/// indices drop left out and those `None` adds put in). Elements come in the same order in
/// both.
fn resolve(selection: &Selection, shape: &[usize]) -> Result<(Vec<Run>, Vec<usize>)> {
    let elems = selection.resolve(shape)?;
    let mut runs = Vec::with_capacity(shape.len());
    for e in elems {
        match e {
            SliceInfoElem::Index(i) => {
                runs.push(Run { start: i.unsigned_abs(), step: 1, count: 1 });
            }
            SliceInfoElem::Slice { start, end, step } => {
                let (lo, hi) = (start.unsigned_abs(), end.unwrap_or(0).unsigned_abs());
                let count = hi.saturating_sub(lo).div_ceil(step.unsigned_abs());
                // ndarray walks [lo, hi) backwards from hi - 1 for a negative step.
                let first = if step < 0 { hi.saturating_sub(1) } else { lo };
                runs.push(Run { start: first, step, count });
            }
            SliceInfoElem::NewAxis => {}
        }
    }
    Ok((runs, selection.result_shape(shape)?))
}

/// The elements the runs pick, in row-major order (shape: the runs' counts). Read from one box
/// when it holds at most [`BOX_BYTES`], else from the two halves of the run whose box is widest.
fn read_runs<T: Element>(a: &dyn ArrayRead<T>, runs: &[Run]) -> Result<ArrayD<T>> {
    let counts: Vec<usize> = runs.iter().map(|r| r.count).collect();
    if counts.contains(&0) {
        return Ok(ArrayD::from_elem(IxDyn(&counts), T::default()));
    }
    let spans: Vec<(usize, usize)> = runs.iter().map(|r| r.span()).collect();
    let bytes = spans
        .iter()
        .try_fold(std::mem::size_of::<T>(), |acc, s| acc.checked_mul(s.1))
        .unwrap_or(usize::MAX);
    if bytes <= BOX_BYTES {
        let start: Vec<usize> = spans.iter().map(|s| s.0).collect();
        let extent: Vec<usize> = spans.iter().map(|s| s.1).collect();
        let block = a.read_region(&Region::new(&start, &extent)?)?;
        let steps: Vec<SliceInfoElem> = runs
            .iter()
            .map(|r| SliceInfoElem::Slice { start: 0, end: None, step: r.step })
            .collect();
        return Ok(block.slice(steps.as_slice()).as_standard_layout().into_owned());
    }
    // Split the widest run (it holds two indices at least, or its box would fit).
    let axis = (0..runs.len()).filter(|&i| runs[i].count > 1).max_by_key(|&i| spans[i].1);
    let Some(axis) = axis else {
        return Err(Error::internal("a one-element box over the read budget"));
    };
    let half = runs[axis].count / 2;
    let mut first = runs.to_vec();
    first[axis] = runs[axis].part(0, half);
    let mut second = runs.to_vec();
    second[axis] = runs[axis].part(half, runs[axis].count - half);
    let (x, y) = (read_runs(a, &first)?, read_runs(a, &second)?);
    let joined = ndarray::concatenate(Axis(axis), &[x.view(), y.view()])
        .map_err(|e| Error::internal(format!("joining two halves of a selection: {e}")))?;
    Ok(joined.as_standard_layout().into_owned())
}

/// Calls `f` with consecutive pieces of the runs' elements, in row-major order, each holding
/// at most [`PIECE_BYTES`] (one element at least): whole trailing sub-arrays while they fit,
/// else a stretch of the last axis.
fn for_each_piece<T: Element>(
    a: &dyn ArrayRead<T>,
    runs: &[Run],
    each: &mut dyn FnMut(&ArrayD<T>) -> Result<()>,
) -> Result<()> {
    let rank = runs.len();
    if runs.iter().any(|r| r.count == 0) {
        return Ok(());
    }
    let budget = (PIECE_BYTES / std::mem::size_of::<T>().max(1)).max(1);
    // The first axis `k` whose trailing sub-array fits the budget (`rank`: one element).
    let mut k = rank;
    let mut inner = 1usize;
    while k > 0 {
        match inner.checked_mul(runs[k - 1].count) {
            Some(v) if v <= budget => {
                inner = v;
                k -= 1;
            }
            _ => break,
        }
    }
    if k == 0 {
        return each(&read_runs(a, runs)?);
    }
    // Pieces: fixed indices on the axes before k - 1, `per` indices of axis k - 1, all of the
    // axes from k.
    let per = (budget / inner).max(1);
    let mut index = vec![0usize; k - 1];
    loop {
        let mut piece: Vec<Run> = Vec::with_capacity(rank);
        piece.extend(index.iter().zip(runs).map(|(&i, r)| r.part(i, 1)));
        let along = runs[k - 1];
        let mut at = 0;
        while at < along.count {
            let m = per.min(along.count - at);
            piece.truncate(k - 1);
            piece.push(along.part(at, m));
            piece.extend_from_slice(&runs[k..]);
            each(&read_runs(a, &piece)?)?;
            at += m;
        }
        // Next index on the axes before k - 1, last fastest.
        let mut axis = k - 1;
        loop {
            if axis == 0 {
                return Ok(());
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < runs[axis].count {
                break;
            }
            index[axis] = 0;
        }
    }
}

/// Writes elements one at a time in numpy's layout (or JSON) for an array of `shape`, given in
/// row-major order: the brackets and separators come from the position alone, so the elements
/// can arrive in pieces of any size.
struct Printer<'w> {
    w: io::BufWriter<&'w mut dyn Write>,
    shape: Vec<usize>,
    index: Vec<usize>,
    started: bool,
    json: bool,
    width: usize,
}

impl Printer<'_> {
    fn push(&mut self, s: &Shown) -> io::Result<()> {
        let ndim = self.shape.len();
        if self.started {
            // Advance the index; `wrapped` trailing axes start over.
            let mut wrapped = 0;
            for axis in (0..ndim).rev() {
                self.index[axis] += 1;
                if self.index[axis] < self.shape[axis] {
                    break;
                }
                self.index[axis] = 0;
                wrapped += 1;
            }
            self.w.write_all("]".repeat(wrapped).as_bytes())?;
            if self.json {
                self.w.write_all(b",")?;
            } else if wrapped == 0 {
                self.w.write_all(b" ")?;
            } else {
                let gap = format!("{}{}", "\n".repeat(wrapped), " ".repeat(ndim - wrapped));
                self.w.write_all(gap.as_bytes())?;
            }
            self.w.write_all("[".repeat(wrapped).as_bytes())?;
        } else {
            self.started = true;
            self.w.write_all("[".repeat(ndim).as_bytes())?;
        }
        if self.json {
            write!(self.w, "{}", s.json())
        } else {
            write!(self.w, "{:>width$}", s.text(), width = self.width)
        }
    }

    fn finish(mut self) -> io::Result<()> {
        self.w.write_all("]".repeat(self.shape.len()).as_bytes())?;
        self.w.write_all(b"\n")?;
        self.w.flush()
    }
}

/// Prints the `selection` of `a` in `format`, in memory bounded by the piece and box budgets
/// (not by the selection or its bounding box). A summary (text of more than
/// [`SUMMARY_THRESHOLD`] elements) reads only the elements it prints.
pub(super) fn cat_store<T: Element>(
    a: &dyn ArrayRead<T>,
    selection: &Selection,
    format: TextFormat,
    fill: Option<&serde_json::Value>,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let (runs, shape) = resolve(selection, a.shape())?;
    let time = a.dtype().time();
    let total = crate::limits::element_count_usize(&shape).unwrap_or(usize::MAX);
    if format == TextFormat::Text && total > SUMMARY_THRESHOLD {
        let (packed, cut) = corners(a, &runs, &shape)?;
        return write_layout(out, &packed.view(), false, format, Some(&cut), time, fill)
            .map_err(io);
    }
    let small = total.saturating_mul(std::mem::size_of::<T>()) <= PIECE_BYTES;
    if small || shape.is_empty() || total == 0 {
        let values = read_runs(a, &runs)?
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| Error::internal(format!("reshaping a selection: {e}")))?;
        return write_layout(out, &values.view(), false, format, None, time, fill).map_err(io);
    }
    stream(a, &runs, shape, format, time, fill, out)
}

/// Prints every element (`--all`, JSON) from pieces, reading them twice for text (numpy pads
/// every element to the widest, which the first pass finds).
fn stream<T: Element>(
    a: &dyn ArrayRead<T>,
    runs: &[Run],
    shape: Vec<usize>,
    format: TextFormat,
    time: Option<Time>,
    fill: Option<&serde_json::Value>,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let mut width = 0;
    if format != TextFormat::Json {
        for_each_piece(a, runs, &mut |p| {
            for &x in p {
                width = width.max(Shown::of(x.to_scalar(), time, fill).text().chars().count());
            }
            Ok(())
        })?;
    }
    let index = vec![0; shape.len()];
    let json = format == TextFormat::Json;
    let mut printer =
        Printer { w: io::BufWriter::new(out), shape, index, started: false, json, width };
    for_each_piece(a, runs, &mut |p| {
        for &x in p {
            printer.push(&Shown::of(x.to_scalar(), time, fill)).map_err(io)?;
        }
        Ok(())
    })?;
    printer.finish().map_err(io)
}

/// The elements a summary of the selection prints, packed: along each printed axis longer
/// than `2 * EDGE_ITEMS` only its first and last `EDGE_ITEMS` indices. Returns them in the
/// printed shape's rank with, per axis, whether `...` goes between the edges.
fn corners<T: Element>(
    a: &dyn ArrayRead<T>,
    runs: &[Run],
    shape: &[usize],
) -> Result<(ArrayD<T>, Vec<bool>)> {
    // Per source axis, the parts read: (run, start in the packed array).
    let parts: Vec<Vec<(Run, usize)>> = runs
        .iter()
        .map(|r| {
            if r.count > 2 * EDGE_ITEMS {
                vec![
                    (r.part(0, EDGE_ITEMS), 0),
                    (r.part(r.count - EDGE_ITEMS, EDGE_ITEMS), EDGE_ITEMS),
                ]
            } else {
                vec![(*r, 0)]
            }
        })
        .collect();
    let packed: Vec<usize> = parts.iter().map(|p| p.iter().map(|x| x.0.count).sum()).collect();
    let mut out = ArrayD::<T>::from_elem(IxDyn(&packed), T::default());
    let mut pick = vec![0usize; runs.len()];
    loop {
        let chosen: Vec<(Run, usize)> = pick.iter().zip(&parts).map(|(&i, p)| p[i]).collect();
        let sub: Vec<Run> = chosen.iter().map(|c| c.0).collect();
        let block = read_runs(a, &sub)?;
        let at: Vec<usize> = chosen.iter().map(|c| c.1).collect();
        let len: Vec<usize> = chosen.iter().map(|c| c.0.count).collect();
        let place = Region::new(&at, &len)?.slices();
        out.slice_mut(place.as_slice()).assign(&block);
        let mut axis = runs.len();
        let done = loop {
            if axis == 0 {
                break true;
            }
            axis -= 1;
            pick[axis] += 1;
            if pick[axis] < parts[axis].len() {
                break false;
            }
            pick[axis] = 0;
        };
        if done {
            break;
        }
    }
    // Into the printed rank: the same elements in the same order. The two ranks differ only
    // in axes of length 1 (indices drop them, `None` adds them), so the longer axes pair up in
    // order.
    let mut longer = runs.iter().zip(&packed).filter(|(r, _)| r.count > 1);
    let mut printed = Vec::with_capacity(shape.len());
    let mut cut = Vec::with_capacity(shape.len());
    for &n in shape {
        if let Some((r, &p)) = if n > 1 { longer.next() } else { None } {
            printed.push(p);
            cut.push(r.count > 2 * EDGE_ITEMS);
        } else {
            printed.push(1);
            cut.push(false);
        }
    }
    let out = out
        .into_shape_with_order(IxDyn(&printed))
        .map_err(|e| Error::internal(format!("reshaping a summary: {e}")))?;
    Ok((out, cut))
}
