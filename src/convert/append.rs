//! Appending to a dataset (`larder convert --append`): the plan a dataset's manifest fixes for
//! new rows, and the check that an input was not loaded before.
//!
//! New rows are converted as a conversion of their own (staged, checkpointed, resumable) into a
//! working directory inside the dataset, under the dataset's column types and file names, with
//! each categorical column's dictionary starting from the dataset's; `commit.rs` then adds the
//! staged rows to the dataset's files.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, Manifest, ManifestColumn, STR_DTYPE, Source};
use crate::error::{Error, Result};

use super::plan::{self, Plan, PlanColumn, Request};
use super::schema::ColumnType;

/// The working directory of an append, inside the dataset directory.
pub(crate) const STAGING: &str = ".append.larder-tmp";

/// The working directory of an append into `dataset`.
pub(crate) fn staging_dir(dataset: &Path) -> PathBuf {
    dataset.join(STAGING)
}

/// The plan for new rows of the dataset in `dir` (its manifest `m`) read from `input`, whose
/// fields are `names`, and the categories each categorical column starts with.
///
/// Every converted field must be a column of the dataset and every column must be found,
/// by name; types, datetime formats and fill values are the manifest's, and options that
/// ask for others are refused.
///
/// # Errors
/// [`Error::Invalid`] naming `input` for a column the dataset lacks, one the input lacks, or an
/// option that conflicts with the dataset; [`Error::Format`] for a manifest dtype convert never
/// writes; as [`Dataset::open`] and [`Categories::to_vec`](crate::dataset::Categories::to_vec)
/// when reading a dictionary.
pub(crate) fn fixed_plan(
    dir: &Path,
    m: &Manifest,
    req: &Request<'_>,
    input: &Path,
    names: &[String],
) -> Result<(Plan, Vec<Option<Vec<String>>>)> {
    let find = |name: &str, what: &str| plan::find(names, input, name, what);
    let fields = plan::selected_fields(req, &find, names.len())?;
    let (given, formats) = plan::given_types(req, &find, names.len())?;
    let extra: Vec<&str> = fields
        .iter()
        .map(|&f| names[f].as_str())
        .filter(|n| m.columns.iter().all(|c| c.name != *n))
        .collect();
    if !extra.is_empty() {
        return Err(Error::invalid(
            input,
            format!(
                "has columns the dataset {} does not: {extra:?}; an append cannot add columns \
                 (select the dataset's columns, or convert into a new dataset)",
                dir.display()
            ),
        ));
    }
    let dataset = Dataset::open(dir)?;
    let mut columns = Vec::new();
    let mut seeds = Vec::new();
    let mut missing = Vec::new();
    for c in &m.columns {
        let mut hits = fields.iter().copied().filter(|&f| names[f] == c.name);
        let (Some(f), None) = (hits.next(), hits.next()) else {
            if fields.iter().any(|&f| names[f] == c.name) {
                return Err(Error::invalid(
                    input,
                    format!("has column {:?} more than once; the append cannot tell which", c.name),
                ));
            }
            missing.push(c.name.as_str());
            continue;
        };
        let ty = column_type(dir, c)?;
        let conflict = |what: String| {
            Error::invalid(
                input,
                format!(
                    "column {:?} is {} in the dataset {}; {what}, and an append keeps the \
                     dataset's schema",
                    c.name,
                    describe(c, ty),
                    dir.display()
                ),
            )
        };
        if let Some(t) = given[f]
            && t != ty
        {
            return Err(conflict(format!("the options ask for {t}")));
        }
        let format = match (&c.format, &formats[f]) {
            (Some(a), Some(b)) if a != b => {
                return Err(conflict(format!("the options give the format {b:?}")));
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        if let Some((_, v)) = req.fills.iter().find(|(n, _)| *n == c.name)
            && c.fill.as_ref() != Some(v)
        {
            return Err(conflict(format!("the options give the fill value {v:?}")));
        }
        seeds.push(if ty == ColumnType::Cat {
            let col = dataset.column(&c.name)?;
            Some(col.categories()?.map(|cats| cats.to_vec()).transpose()?.unwrap_or_default())
        } else {
            None
        });
        columns.push(PlanColumn {
            name: c.name.clone(),
            field: f,
            ty,
            file: c.file.clone(),
            fill: c.fill.clone(),
            format,
            inferred: false,
        });
    }
    if !missing.is_empty() {
        return Err(Error::invalid(
            input,
            format!("lacks columns of the dataset {}: {missing:?}", dir.display()),
        ));
    }
    let plan = Plan {
        delimiter: req.delimiter,
        fields: names.len(),
        columns,
        shrink: false,
        na: req.na.to_vec(),
        notes: Vec::new(),
    };
    // The fill values and formats must still parse.
    plan.layout().map_err(|e| Error::invalid(input, e))?;
    Ok((plan, seeds))
}

/// How a column is described in errors: its type, and its fill value if it has one.
fn describe(c: &ManifestColumn, ty: ColumnType) -> String {
    match &c.fill {
        Some(v) => format!("{ty} with the fill value {v:?}"),
        None => ty.to_string(),
    }
}

/// The column type that writes column `c` of the dataset in `dir` as it is stored.
///
/// # Errors
/// [`Error::Format`] naming the manifest for a dtype convert does not write (another byte order,
/// complex numbers, …).
pub(crate) fn column_type(dir: &Path, c: &ManifestColumn) -> Result<ColumnType> {
    if c.dtype == STR_DTYPE {
        return Ok(ColumnType::Str);
    }
    if c.categories.is_some() || c.dictionary.is_some() {
        return Ok(ColumnType::Cat);
    }
    let units = crate::dtype::TimeUnit::ALL.map(ColumnType::DateTime);
    ColumnType::ALL
        .iter()
        .chain(&units)
        .copied()
        .filter(|t| !matches!(t, ColumnType::Cat | ColumnType::Str))
        .find(|t| t.dtype().typestr() == c.dtype)
        .ok_or_else(|| {
            Error::format(
                dir.join(crate::dataset::MANIFEST),
                0,
                format!(
                    "column {:?} has dtype {:?}, which an append cannot write (convert writes \
                     native-order bools, integers, floats and datetime64)",
                    c.name, c.dtype
                ),
            )
        })
}

/// What one input to an append is: its path as given, its size and its fingerprint.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) xxh3: String,
}

/// What identifies the input file at `path` for an append: a regular file (or a link to one),
/// its size and fingerprint.
///
/// # Errors
/// [`Error::Invalid`] for anything but a regular file (a pipe could not be read twice: once for
/// its fingerprint, once for its rows); [`Error::Io`] on read errors.
pub(crate) fn candidate(path: PathBuf) -> Result<Candidate> {
    let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            &path,
            "is not a regular file; an append reads files (it fingerprints each one before it \
             reads its rows, so that loading it again is refused)",
        ));
    }
    let xxh3 = super::workdir::fingerprint(&path)?;
    Ok(Candidate { bytes: meta.len(), xxh3, path })
}

/// The error for `c`, loaded into `dataset` before (`when`).
pub(crate) fn loaded_error(c: &Candidate, dataset: &Path, when: &str) -> Error {
    Error::invalid(
        &c.path,
        format!(
            "was loaded into {} before ({when}: the same size and content); an append loads a \
             file once (skip such files to make a retried step change nothing)",
            dataset.display()
        ),
    )
}

/// The file of `m` (or of this very append, `earlier`) with the same size and fingerprint as
/// `c`, if any: `c` was loaded before.
pub(crate) fn loaded_before<'a>(
    m: &'a Manifest,
    earlier: &'a [Candidate],
    c: &Candidate,
) -> Option<String> {
    let same = |s: &Source| s.bytes == c.bytes && s.xxh3.as_deref() == Some(c.xxh3.as_str());
    if let Some(s) = m.loaded().find(|s| same(s)) {
        return Some(format!("as {:?}", s.path));
    }
    earlier
        .iter()
        .find(|e| e.bytes == c.bytes && e.xxh3 == c.xxh3)
        .map(|e| format!("earlier in this append, as {}", e.path.display()))
}
