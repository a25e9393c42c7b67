//! `stats`, `groupby`, `cat` and `info --where` on a dataset's Zarr group (local or `s3://`):
//! the columns the command reads are decoded from the group ([`GroupSource`]), then the
//! command runs as it does on the dataset directory, and its errors name the group.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use larder::ops::group::GroupSource;
use larder::ops::table::LINE_WIDTH;
use larder::select::Selection;

use crate::report;

/// `e` told as an error of the group rather than of its scratch directory.
fn relabel(source: &GroupSource, e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<larder::Error>() {
        Ok(e) => source.relabel(e).into(),
        Err(e) => e,
    }
}

/// The columns the filter `filter` names; none when it does not parse (the dataset reader
/// then reports why, as it does for a dataset).
fn filter_columns(filter: Option<&str>) -> Vec<String> {
    filter
        .and_then(|f| larder::expr::parse(f).ok())
        .map(|e| e.columns().into_iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `larder groupby GROUP ...`; `Ok(false)` when `path` is not a group.
#[allow(clippy::too_many_arguments)]
pub(crate) fn groupby(
    out: &mut impl Write,
    path: &Path,
    by: &str,
    every: Option<&str>,
    agg: &[String],
    json: bool,
    filter: Option<&str>,
) -> Result<bool> {
    // An object-storage location is a group or an error saying why; a local path may be a
    // dataset directory.
    let remote = larder::remote::scheme_of(&path.to_string_lossy()).is_some();
    let source = if remote { GroupSource::open_group(path)? } else { GroupSource::open(path)? };
    let Some(source) = source else { return Ok(false) };
    let mut names = vec![by.to_string()];
    for a in agg {
        if let Ok(a) = a.parse::<larder::compute::Agg>() {
            names.extend(a.column);
        }
    }
    names.extend(filter_columns(filter));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = source.dataset(&names)?;
    let relabel = |e| source.relabel(e);
    report::groupby_in(out, dir, path, by, every, agg, json, filter, &relabel)?;
    Ok(true)
}

/// `larder stats GROUP:/ARRAY ...` of a column of a dataset group; `Ok(false)` when `path` is
/// not one.
pub(crate) fn stats(
    out: &mut impl Write,
    path: &Path,
    of: &report::StatsOf<'_>,
    json: bool,
    options: &larder::compute::StatsOptions,
) -> Result<bool> {
    if !of.deltas.is_empty() {
        return Ok(false);
    }
    let Some((source, column)) = GroupSource::open_column(path)? else { return Ok(false) };
    let mut names = vec![column.clone()];
    names.extend(filter_columns(of.filter));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = source.dataset(&names)?;
    let file = dir.join(&source.manifest().column(&column)?.file);
    report::stats(out, &file, of, json, options).map_err(|e| relabel(&source, e))?;
    Ok(true)
}

/// `larder cat GROUP`: the table `cat DATASET` prints.
pub(crate) fn cat(
    out: &mut impl Write,
    source: &GroupSource,
    filter: Option<&str>,
    selection: &Selection,
    format: larder::ops::cat::TextFormat,
) -> Result<()> {
    let dir = source.whole()?;
    // As pandas wraps a wide frame: to the terminal's `COLUMNS`, else 80.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .unwrap_or(LINE_WIDTH);
    larder::ops::table::cat_dataset_where(dir, filter, selection, format, width, out)
        .map_err(|e| source.relabel(e))?;
    Ok(())
}

/// `larder info GROUP --where EXPR`: the group's columns, and how many rows match.
pub(crate) fn info_where(
    out: &mut impl Write,
    path: &Path,
    source: &GroupSource,
    filter: &str,
    json: bool,
) -> Result<()> {
    let names = filter_columns(Some(filter));
    source.dataset(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
    let ds = source.open_dataset()?;
    let matching = larder::query::Filter::new(&ds, filter)
        .and_then(|f| f.count())
        .map_err(|e| source.relabel(e))?;
    let info = source.info()?;
    if json {
        let mut value = serde_json::to_value(&info)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("where".into(), filter.into());
            map.insert("matching_rows".into(), matching.into());
        }
        writeln!(out, "{value}")?;
        return Ok(());
    }
    report::group_info(out, path, &info, false)?;
    writeln!(out, "where: {filter}\nmatching rows: {matching} of {}", ds.rows())?;
    Ok(())
}
