//! Operations on whole arrays and files: copy, convert, stats, groupby; each runs as
//! [`crate::cancel::run`] says (Ctrl-C and progress callbacks).

use std::path::PathBuf;

use larder::convert::{ColumnType, ConvertOptions, Progress, split_format};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::cancel::{Callback, run, run_quiet};
use crate::errors::IntoPy;

/// A copy's progress as the callback gets it.
fn copy_progress<'py>(py: Python<'py>, p: &larder::CopyProgress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_done", p.bytes_done)?;
    d.set_item("bytes_total", p.bytes_total)?;
    d.set_item("chunks_done", p.chunks_done)?;
    d.set_item("chunks_total", p.chunks_total)?;
    d.set_item("chunks_skipped", p.chunks_skipped)?;
    Ok(d)
}

/// A conversion's progress as the callback gets it.
fn convert_progress<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_read", p.bytes_read)?;
    d.set_item("total_bytes", p.total_bytes)?;
    d.set_item("rows_read", p.rows_read)?;
    d.set_item("rejected", p.rejected)?;
    d.set_item("bytes_this_run", p.bytes_this_run)?;
    d.set_item("compressed_bytes_read", p.compressed_bytes_read)?;
    Ok(d)
}

/// `copy(src, dst, chunks, codec, shard, deltas, resume, progress)`: as `larder copy`.
#[pyfunction]
#[pyo3(signature = (src, dst, chunks = None, codec = None, shard = None, deltas = Vec::new(), resume = false, progress = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy<'py>(
    py: Python<'py>,
    src: PathBuf,
    dst: PathBuf,
    chunks: Option<Vec<usize>>,
    codec: Option<String>,
    shard: Option<Vec<usize>>,
    deltas: Vec<PathBuf>,
    resume: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut options = larder::CopyOptions::new();
    if let Some(c) = &chunks {
        options.chunks(c);
    }
    if let Some(c) = codec {
        options.codec(c.parse::<larder::Codec>().py_err()?);
    }
    if let Some(s) = &shard {
        options.shard(s);
    }
    options.deltas(&deltas).resume(resume);
    let callback = progress.as_ref().map(|call| Callback { call, to_dict: copy_progress });
    let r = run(py, callback, |report| {
        larder::copy_with_progress(&src, &dst, &options, &mut |p| report(*p))
    })?;
    let d = PyDict::new(py);
    d.set_item("elements", r.elements)?;
    d.set_item("bytes", r.bytes)?;
    Ok(d)
}

/// The options of a conversion, as `larder convert` takes them; unknown keys are refused.
fn convert_options(options: &Bound<'_, PyDict>) -> PyResult<(ConvertOptions, bool)> {
    let mut opts = ConvertOptions::new();
    let mut append = false;
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "delimiter" => {
                let d: String = value.extract()?;
                let byte = match d.as_str() {
                    "tab" | "\\t" | "\t" => b'\t',
                    d if d.len() == 1 => d.as_bytes()[0],
                    d => {
                        return Err(PyValueError::new_err(format!(
                            "delimiter {d:?}: expected one ASCII character or \"tab\""
                        )));
                    }
                };
                opts.delimiter(byte);
            }
            "header" => {
                opts.header(value.extract()?);
            }
            "infer_rows" => {
                opts.infer_rows(value.extract()?);
            }
            "schema" => {
                opts.schema_file(value.extract::<PathBuf>()?);
            }
            "types" => {
                for (name, spec) in value.extract::<Vec<(String, String)>>()? {
                    let (ty, format) = split_format(&spec);
                    let ty = ty.parse::<ColumnType>().map_err(|e| {
                        PyValueError::new_err(format!("types[{name:?}] = {spec:?}: {e}"))
                    })?;
                    opts.column_type(name.clone(), ty);
                    if let Some(format) = format {
                        opts.datetime_format(name, format);
                    }
                }
            }
            "fill" => {
                for (name, v) in value.extract::<Vec<(String, String)>>()? {
                    opts.fill(name, v);
                }
            }
            "columns" => {
                opts.columns(value.extract()?);
            }
            "na" => {
                opts.na_tokens(value.extract::<Vec<String>>()?);
            }
            "shrink" => {
                opts.shrink(value.extract()?);
            }
            "max_rejects" => {
                opts.max_rejects(value.extract()?);
            }
            "resume" => {
                opts.resume(value.extract()?);
            }
            "skip_loaded" => {
                opts.skip_loaded(value.extract()?);
            }
            "append" => append = value.extract()?,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "convert() got an unknown option {other:?}"
                )));
            }
        }
    }
    Ok((opts, append))
}

/// `convert(src, dst, options, progress)`: converts the CSV files `src` into the dataset `dst`
/// (or appends them to it with `append=True`), as `larder convert`; returns its summary.
#[pyfunction]
#[pyo3(signature = (src, dst, options, progress = None))]
pub(crate) fn convert<'py>(
    py: Python<'py>,
    src: Vec<PathBuf>,
    dst: PathBuf,
    options: &Bound<'py, PyDict>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (opts, append) = convert_options(options)?;
    // Ctrl-C: Python's bare KeyboardInterrupt, with what to do next.
    let stopped = |e: PyErr| {
        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return PyKeyboardInterrupt::new_err(format!(
                "{}: conversion stopped; convert again with resume=True to finish it",
                dst.display()
            ));
        }
        e
    };
    let callback = || progress.as_ref().map(|call| Callback { call, to_dict: convert_progress });
    let d = PyDict::new(py);
    if append {
        let r = run(py, callback(), |report| {
            opts.append_files(&src, &dst, &mut |p: &Progress| report(*p))
        })
        .map_err(stopped)?;
        let load = r.load.unwrap_or_default();
        d.set_item("rows", r.manifest.rows)?;
        d.set_item("rows_added", load.rows)?;
        d.set_item("rejected", load.rejected)?;
        d.set_item("rows_read", load.rows_read)?;
        let skipped: Vec<String> =
            r.skipped.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        d.set_item("skipped", skipped)?;
        d.set_item("resumed", r.resumed)?;
        d.set_item("complete_before", r.complete_before)?;
        d.set_item("bytes_this_run", r.bytes_this_run)?;
    } else {
        let r = run(py, callback(), |report| {
            opts.convert_files(&src, &dst, &mut |p: &Progress| report(*p))
        })
        .map_err(stopped)?;
        d.set_item("rows", r.manifest.rows)?;
        d.set_item("rejected", r.manifest.rejected)?;
        d.set_item("rows_read", r.manifest.rows_read)?;
        d.set_item("columns", r.manifest.columns.len())?;
        d.set_item("out_dir", r.out_dir.to_string_lossy().into_owned())?;
        d.set_item("resumed", r.resumed)?;
        d.set_item("complete_before", r.complete_before)?;
        d.set_item("bytes_this_run", r.bytes_this_run)?;
        d.set_item("notes", r.notes)?;
    }
    Ok(d)
}

/// `stats(path, bins, range, quantiles, std)`: what `larder stats --json` prints, as JSON text.
#[pyfunction]
#[pyo3(signature = (path, bins = None, range = None, quantiles = Vec::new(), std = true))]
pub(crate) fn stats(
    py: Python<'_>,
    path: PathBuf,
    bins: Option<usize>,
    range: Option<(f64, f64)>,
    quantiles: Vec<f64>,
    std: bool,
) -> PyResult<String> {
    let mut options = larder::compute::StatsOptions::new();
    options.std(std).quantiles(&quantiles);
    if let Some(n) = bins {
        options.bins(n);
    }
    if let Some((lo, hi)) = range {
        options.range(lo, hi);
    }
    run_quiet(py, || {
        let d = options.describe(&path)?;
        serde_json::to_string(&d)
            .map_err(|e| larder::Error::Internal(format!("stats as JSON: {e}")))
    })
}

/// `groupby(dataset, by, aggs, every)`: what `larder groupby --json` prints, as JSON text.
#[pyfunction]
#[pyo3(signature = (dataset, by, aggs, every = None))]
pub(crate) fn groupby(
    py: Python<'_>,
    dataset: PathBuf,
    by: String,
    aggs: Vec<String>,
    every: Option<String>,
) -> PyResult<String> {
    let aggs = aggs
        .iter()
        .map(|a| a.parse::<larder::compute::Agg>())
        .collect::<larder::Result<Vec<_>>>()
        .py_err()?;
    let every = every.map(|e| e.parse::<larder::compute::Every>()).transpose().py_err()?;
    run_quiet(py, || {
        let r = match every {
            None => larder::compute::groupby(&dataset, &by, &aggs)?,
            Some(e) => larder::compute::groupby_every(&dataset, &by, e, &aggs)?,
        };
        serde_json::to_string(&r)
            .map_err(|e| larder::Error::Internal(format!("groupby as JSON: {e}")))
    })
}

/// `filter(src, expr, dst, columns)`: the rows of the dataset `src` where `expr` holds, as a
/// new dataset `dst` (as `larder filter`); the number of rows written.
#[pyfunction]
#[pyo3(signature = (src, expr, dst, columns = None))]
pub(crate) fn filter(
    py: Python<'_>,
    src: PathBuf,
    expr: String,
    dst: PathBuf,
    columns: Option<Vec<String>>,
) -> PyResult<u64> {
    use larder::ops::subset::{Output, filter};
    run_quiet(py, || Ok(filter(&src, &expr, &dst, Output::Dataset, columns.as_deref())?.rows))
}
