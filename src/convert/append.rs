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
/// fields are `header`, and the categories each categorical column starts with.
///
/// Every converted field must be a column of the dataset and every column must be found,
/// by name: the unique name the input's header gives the field (`a`, `a.1`, … for a repeated
/// name, as a conversion names them) is the column's; failing that, the one field whose header
/// text is the column's. Types, datetime formats and fill values are the manifest's, and
/// options that ask for others are refused.
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
    header: &plan::Header,
) -> Result<(Plan, Vec<Option<Vec<String>>>)> {
    let find = |name: &str, what: &str| header.find(input, name, what);
    let fields = plan::selected_fields(req, &find, header.len())?;
    let (given, formats) = plan::given_types(req, &find, header.len())?;
    let matched = match_columns(m, header, &fields, input)?;
    let extra: Vec<&str> = fields
        .iter()
        .filter(|f| !matched.contains(&Some(**f)))
        .map(|&f| header.names[f].as_str())
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
    let fills = req
        .fills
        .iter()
        .map(|(n, v)| Ok((find(n, "the fill values")?, v)))
        .collect::<Result<Vec<_>>>()?;
    let dataset = Dataset::open(dir)?;
    let mut columns = Vec::new();
    let mut seeds = Vec::new();
    let mut missing = Vec::new();
    for (i, c) in m.columns.iter().enumerate() {
        let Some(f) = matched[i] else {
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
        if let Some((_, v)) = fills.iter().find(|(g, _)| *g == f)
            && c.fill.as_ref() != Some(*v)
        {
            return Err(conflict(format!("the options give the fill value {v:?}")));
        }
        seeds.push(if ty == ColumnType::Cat {
            let col = dataset.nth_column(i)?;
            Some(col.categories()?.map(|cats| cats.to_vec()).transpose()?.unwrap_or_default())
        } else {
            None
        });
        columns.push(PlanColumn {
            name: c.name.clone(),
            header: c.header.clone(),
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
        fields: header.len(),
        columns,
        shrink: false,
        na: req.na.to_vec(),
        notes: Vec::new(),
    };
    // The fill values and formats must still parse.
    plan.layout().map_err(|e| Error::invalid(input, e))?;
    Ok((plan, seeds))
}

/// For each column of the dataset, the selected field of the input it takes its values from:
/// the field with the column's unique name, or else the one field whose header text is the
/// column's.
///
/// # Errors
/// [`Error::Invalid`] naming `input` when a column's header text is that of several of the
/// input's fields and none of them has the column's name.
fn match_columns(
    m: &Manifest,
    header: &plan::Header,
    fields: &[usize],
    input: &Path,
) -> Result<Vec<Option<usize>>> {
    let mut matched: Vec<Option<usize>> = m
        .columns
        .iter()
        .map(|c| fields.iter().copied().find(|&f| header.names[f] == c.name))
        .collect();
    for (i, c) in m.columns.iter().enumerate() {
        if matched[i].is_some() {
            continue;
        }
        let text = c.header.as_deref().unwrap_or(&c.name);
        let free: Vec<usize> = fields
            .iter()
            .copied()
            .filter(|&f| header.texts[f] == text && !matched.contains(&Some(f)))
            .collect();
        match free[..] {
            [] => {}
            [f] => matched[i] = Some(f),
            _ => {
                return Err(Error::invalid(
                    input,
                    format!(
                        "has column {text:?} more than once, and none is named {:?}; the append \
                         cannot tell which is the dataset's column",
                        c.name
                    ),
                ));
            }
        }
    }
    Ok(matched)
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

/// What one input to an append is: its path as given, its size and its fingerprint (of its
/// bytes as stored), and whether it is compressed.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
    pub(crate) xxh3: String,
    pub(crate) compressed: bool,
}

impl Candidate {
    /// Whether the file recorded as `s` has this one's size and fingerprint.
    pub(crate) fn is(&self, s: &Source) -> bool {
        s.bytes == self.bytes && s.xxh3.as_deref() == Some(self.xxh3.as_str())
    }

    /// Whether the file recorded as `s` holds the CSV this plain file is (a compressed file's
    /// CSV is known only once it is read: see [`csv_loaded_before`]).
    fn holds_csv_of(&self, s: &Source) -> bool {
        !self.compressed && s.content() == Some((self.bytes, self.xxh3.as_str()))
    }
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
    let compressed = super::input::is_compressed(&path)?;
    Ok(Candidate { bytes: meta.len(), xxh3, compressed, path })
}

/// The error for the input at `path`, loaded into `dataset` before (`when`: as what, and how it
/// was recognised).
pub(crate) fn loaded_error(path: &Path, dataset: &Path, when: &str) -> Error {
    Error::invalid(
        path,
        format!(
            "was loaded into {} before ({when}); an append loads a file once (skip such files \
             to make a retried step change nothing)",
            dataset.display()
        ),
    )
}

/// The file of `m` (or of this very append, `earlier`) with the same size and fingerprint as
/// `c`, or (`c` being a plain file) whose CSV is `c`, if any: `c` was loaded before.
pub(crate) fn loaded_before<'a>(
    m: &'a Manifest,
    earlier: &'a [Candidate],
    c: &Candidate,
) -> Option<String> {
    if let Some(s) = m.loaded().find(|s| c.is(s)) {
        return Some(format!("as {:?}: the same size and content", s.path));
    }
    if let Some(s) = m.loaded().find(|s| c.holds_csv_of(s)) {
        return Some(format!("as {:?}: the same CSV, compressed there", s.path));
    }
    earlier.iter().find(|e| e.bytes == c.bytes && e.xxh3 == c.xxh3).map(|e| {
        format!("earlier in this append, as {}: the same size and content", e.path.display())
    })
}

/// The inputs of the staged append `delta` whose CSV (decompressed, whatever its compression
/// and name) was loaded into the dataset of manifest `before`, or read earlier in the same
/// append: their indexes among `delta`'s sources, and as what. Compressed inputs are known
/// only now, once their rows are staged; plain ones were already checked before staging.
pub(crate) fn csv_loaded_before(before: &Manifest, delta: &Manifest) -> Vec<(usize, String)> {
    let staged: Vec<&Source> = delta.loaded().collect();
    let mut out = Vec::new();
    for (i, s) in staged.iter().enumerate() {
        let Some(csv) = s.content() else { continue };
        if let Some(p) = before.loaded().find(|p| p.content() == Some(csv)) {
            out.push((i, format!("as {:?}: the same CSV once decompressed", p.path)));
        } else if let Some(e) = staged[..i].iter().find(|e| e.content() == Some(csv)) {
            out.push((
                i,
                format!("earlier in this append, as {}: the same CSV once decompressed", e.path),
            ));
        }
    }
    out
}
