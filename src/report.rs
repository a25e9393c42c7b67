//! What `larder info`, `larder stats` and `larder groupby` print: the library's results as
//! text or JSON.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::value::RawValue;

/// What `larder stats` reads of its file: through deltas, along an axis, or the rows of a
/// dataset's column where a filter holds.
pub(crate) struct StatsOf<'a> {
    pub(crate) deltas: &'a [PathBuf],
    pub(crate) axis: Option<usize>,
    pub(crate) filter: Option<&'a str>,
}

/// `larder stats`: whole-array or per-axis statistics, as text or JSON.
pub(crate) fn stats(
    out: &mut impl Write,
    path: &std::path::Path,
    of: &StatsOf<'_>,
    json: bool,
    options: &larder::compute::StatsOptions,
) -> Result<()> {
    let (deltas, axis) = (of.deltas, of.axis);
    let store =
        if deltas.is_empty() { None } else { Some(larder::open_with_deltas(path, deltas)?) };
    if let Some(axis) = axis {
        let r = match &store {
            None => larder::compute::summary_axis_any(path, axis)?,
            Some(s) => larder::store_dispatch!(s,
                a => larder::compute::summary_axis_store(a.as_ref(), path, axis),
                complex _c => Err(larder::Error::invalid(path, "holds complex numbers")))?,
        };
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            let text = serde_json::to_string(&r)?;
            let fields = json_fields(&text)?;
            for key in
                ["dtype", "axis", "shape", "count", "sum", "mean", "std", "min", "max", "nan_count"]
            {
                if let Some(v) = fields.get(key) {
                    writeln!(out, "{key:<10} {}", as_text(v.get()))?;
                }
            }
        }
    } else {
        let r = match (&store, of.filter) {
            (None, Some(f)) => options.describe_where(path, f)?,
            (None, None) => options.describe(path)?,
            (Some(s), _) => options.describe_store(s, path)?,
        };
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            let text = serde_json::to_string(&r)?;
            let fields = json_fields(&text)?;
            let datetimes = matches!(r, larder::compute::Description::DateTimes(_));
            // Durations print as numpy prints a timedelta64 scalar: `7 seconds`.
            let unit = match &r {
                larder::compute::Description::TimeDeltas(d) => Some(d.unit.numpy_plural()),
                _ => None,
            };
            for key in [
                "dtype",
                "count",
                "null_count",
                "nat_count",
                "nan_count",
                "sum",
                "mean",
                "std",
                "var",
                "min",
                "max",
                "histogram",
                "quantiles",
            ] {
                match fields.get(key) {
                    // Times (ISO 8601) and the dtype print as they are, without quotes.
                    Some(v) if datetimes && v.get().starts_with('"') => {
                        let s: String = serde_json::from_str(v.get())?;
                        writeln!(out, "{key:<10} {s}")?;
                    }
                    Some(v)
                        if let Some(word) = unit
                            && ["sum", "mean", "min", "max"].contains(&key)
                            && v.get() != "null" =>
                    {
                        writeln!(out, "{key:<10} {} {word}", v.get())?;
                    }
                    Some(v) if unit.is_some() && key == "dtype" => {
                        let s: String = serde_json::from_str(v.get())?;
                        writeln!(out, "{key:<10} {s}")?;
                    }
                    Some(v) => writeln!(out, "{key:<10} {}", as_text(v.get()))?,
                    None => {}
                }
            }
        }
    }
    Ok(())
}

/// A JSON value as the `stats` text prints it: bools as pandas prints them (`True`,
/// `False`), strings (the dtype) without quotes, anything else as it is.
fn as_text(json: &str) -> std::borrow::Cow<'_, str> {
    match json {
        s if s.starts_with('"') => serde_json::from_str::<String>(s).map_or(s.into(), Into::into),
        other => bool_text(other).into(),
    }
}

/// A JSON value with bools as pandas prints them (`True`, `False`).
fn bool_text(json: &str) -> &str {
    match json {
        "true" => "True",
        "false" => "False",
        other => other,
    }
}

/// The fields of a JSON object as the JSON text serde wrote them. Not through
/// `serde_json::Value`: it cannot hold the integers above 2^64 that exact sums of `uint64`
/// data reach ("number out of range").
fn json_fields(text: &str) -> Result<HashMap<&str, &RawValue>> {
    Ok(serde_json::from_str(text)?)
}

/// `larder groupby`: one row per group, as a table or JSON.
pub(crate) fn groupby(
    out: &mut impl Write,
    dataset: &std::path::Path,
    by: &str,
    every: Option<&str>,
    agg: &[String],
    json: bool,
    filter: Option<&str>,
) -> Result<()> {
    groupby_in(out, dataset, dataset, by, every, agg, json, filter, &|e| e)
}

/// [`groupby`] of the dataset directory `dir`, which errors name as `shown` (with `relabel`
/// telling its errors as the group's, for the scratch directory of a group).
#[allow(clippy::too_many_arguments)]
pub(crate) fn groupby_in(
    out: &mut impl Write,
    dir: &std::path::Path,
    shown: &std::path::Path,
    by: &str,
    every: Option<&str>,
    agg: &[String],
    json: bool,
    filter: Option<&str>,
    relabel: &dyn Fn(larder::Error) -> larder::Error,
) -> Result<()> {
    let aggs =
        agg.iter().map(|a| a.parse::<larder::compute::Agg>()).collect::<Result<Vec<_>, _>>()?;
    let every = every.map(str::parse).transpose()?;
    let r = match (every, filter) {
        (every, Some(f)) => larder::compute::groupby_where(dir, by, every, &aggs, f),
        (None, None) => larder::compute::groupby(dir, by, &aggs),
        (Some(e), None) => larder::compute::groupby_every(dir, by, e, &aggs),
    }
    .map_err(relabel)
    .with_context(|| format!("grouping {} by {by}", shown.display()))?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    } else {
        let mut header = vec![by.to_string()];
        header.extend(r.columns.iter().map(|c| c.0.clone()));
        writeln!(out, "{}", header.join("\t"))?;
        for (i, key) in r.keys.iter().enumerate() {
            // Labels keep their quotes: a tab or a newline in one cannot break the table.
            let mut row = vec![bool_text(&serde_json::to_string(key)?).to_string()];
            for (_, values) in &r.columns {
                row.push(bool_text(&serde_json::to_string(&values[i])?).to_string());
            }
            writeln!(out, "{}", row.join("\t"))?;
        }
    }
    Ok(())
}

/// `larder info`: one JSON object, or one `key: value` line per property.
pub(crate) fn info(
    out: &mut impl Write,
    path: &std::path::Path,
    deltas: &[PathBuf],
    json: bool,
) -> Result<()> {
    if deltas.is_empty() && larder::npy::cow::is_delta_file(path) {
        let d = larder::npy::cow::describe_delta(path)?;
        if json {
            writeln!(out, "{}", serde_json::json!({"format": "delta", "path": path, "delta": d}))?;
        } else {
            writeln!(out, "path:      {}\nformat:    larder delta", path.display())?;
            writeln!(out, "base:      {}\ndepth:     {}", d.base.display(), d.depth)?;
            writeln!(out, "pages:     {} of {} bytes", d.pages, d.page_size)?;
            writeln!(out, "bytes:     {}", d.bytes)?;
        }
        return Ok(());
    }
    if deltas.is_empty() && larder::dataset::Dataset::is_dataset(path) {
        return dataset_info(out, path, json);
    }
    let text = path.to_string_lossy();
    let whole = text.split_once("://").is_some_and(|(_, rest)| !rest.contains(":/"));
    if deltas.is_empty() && larder::remote::scheme_of(&text).is_some() && whole {
        // A dataset group in object storage; anything else is described as an array below.
        let group = larder::read_storage(path)
            .and_then(|storage| larder::ops::group::describe_group(storage, "/", path));
        if let Ok(info) = group {
            return group_info(out, path, &info, json);
        }
    }
    if deltas.is_empty() && text.contains(":/") && !text.contains("://") {
        // A group below the root of a local hierarchy (`DIR.zarr:/node`).
        if let Ok(Some(source)) = larder::ops::group::GroupSource::open(path) {
            return group_info(out, path, &source.info()?, json);
        }
    }
    if deltas.is_empty() && larder::ops::group::is_local_group(path) {
        let storage = larder::zarr::group::local_read_storage(path)?;
        let info = larder::ops::group::describe_group(storage, "/", path);
        // A group holding one array that is not a table is described as that array.
        if info.is_ok() || larder::zarr::list_arrays(path).map_or(0, |a| a.len()) != 1 {
            return group_info(out, path, &info?, json);
        }
    }
    let info = larder::info_with_deltas(path, deltas)?;
    let column = if deltas.is_empty() { larder::ops::info::column_info(path)? } else { None };
    if json {
        let mut value = serde_json::to_value(&info)?;
        if let (Some(c), Some(map)) = (&column, value.as_object_mut()) {
            map.insert("column".into(), serde_json::to_value(c)?);
        }
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "path:      {}", path.display())?;
        match &info.version {
            Some(v) => writeln!(out, "format:    {} (version {v})", info.format)?,
            None => writeln!(out, "format:    {}", info.format)?,
        }
        writeln!(out, "dtype:     {}", info.dtype)?;
        writeln!(out, "shape:     {:?}", info.shape)?;
        writeln!(out, "order:     {}", info.order)?;
        if let Some(c) = &info.chunks {
            writeln!(out, "chunks:    {c:?}")?;
        }
        if let Some(c) = &info.shards {
            writeln!(out, "shards:    {c:?}")?;
        }
        if let Some(a) = &info.attributes {
            writeln!(out, "attrs:     {a}")?;
        }
        writeln!(out, "bytes:     {}", info.bytes)?;
        writeln!(out, "resident:  {}", info.resident_bytes)?;
        for d in info.deltas.iter().flatten() {
            writeln!(out, "delta:     {}", d.display())?;
        }
        if let Some(c) = &column {
            match &c.header {
                Some(h) => writeln!(out, "column:    {:?} ({}; header {h:?})", c.name, c.kind)?,
                None => writeln!(out, "column:    {:?} ({})", c.name, c.kind)?,
            }
            match &c.valid {
                Some(v) => writeln!(
                    out,
                    "validity:  {v} ({} missing; the file holds placeholders there)",
                    c.nulls
                )?,
                None => writeln!(out, "validity:  none (no value is missing)")?,
            }
        }
    }
    Ok(())
}

/// `larder info DATASET`: one line per column, as pandas' `df.info()`.
fn dataset_info(out: &mut impl Write, path: &std::path::Path, json: bool) -> Result<()> {
    let info = larder::ops::info::dataset_info(path)?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&info)?)?;
        return Ok(());
    }
    writeln!(out, "dataset {}: {} rows, {} rejected", path.display(), info.rows, info.rejected)?;
    let width = info.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).max(6);
    // Names are padded by hand: `format!`'s width stops at 65 535, a column name may be longer.
    let pad = |name: &str| format!("{name}{}", " ".repeat(width - name.chars().count()));
    writeln!(
        out,
        " #  {}  {:<11}  {:<7}  {:>10}  {:>12}",
        pad("column"),
        "kind",
        "dtype",
        "nulls",
        "bytes"
    )?;
    for (i, c) in info.columns.iter().enumerate() {
        let kind = match c.categories {
            Some(n) => format!("cat({n})"),
            None => c.kind.to_string(),
        };
        writeln!(
            out,
            "{i:>2}  {}  {kind:<11}  {:<7}  {:>10}  {:>12}",
            pad(&c.name),
            c.dtype,
            c.nulls,
            c.bytes
        )?;
    }
    writeln!(out, "bytes: {}", info.bytes)?;
    Ok(())
}

/// `larder info DATASET --where EXPR`: the dataset's columns, and how many rows match.
pub(crate) fn dataset_info_where(
    out: &mut impl Write,
    path: &std::path::Path,
    filter: &str,
    json: bool,
) -> Result<()> {
    let ds = larder::Dataset::open(path)?;
    let matching = larder::query::Filter::new(&ds, filter)?.count()?;
    if json {
        let mut info = serde_json::to_value(larder::ops::info::dataset_info(path)?)?;
        if let Some(map) = info.as_object_mut() {
            map.insert("where".into(), filter.into());
            map.insert("matching_rows".into(), matching.into());
        }
        writeln!(out, "{info}")?;
        return Ok(());
    }
    dataset_info(out, path, false)?;
    writeln!(out, "where: {filter}\nmatching rows: {matching} of {}", ds.rows())?;
    Ok(())
}

/// `larder info GROUP.zarr`: the columns of a Zarr group, one line each.
pub(crate) fn group_info(
    out: &mut impl Write,
    path: &std::path::Path,
    info: &larder::ops::group::GroupInfo,
    json: bool,
) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(info)?)?;
        return Ok(());
    }
    let what = if info.dataset { "dataset group" } else { "Zarr group" };
    writeln!(out, "{what} {}: {} rows, {} columns", path.display(), info.rows, info.columns.len())?;
    writeln!(out, " #  column  array  dtype  chunk  missing")?;
    for (i, c) in info.columns.iter().enumerate() {
        writeln!(out, "{i:>2}  {}  {}  {}  {}  {}", c.name, c.array, c.dtype, c.chunk, c.missing)?;
    }
    Ok(())
}
