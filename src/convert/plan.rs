//! The column plan: which fields of each record become which output columns, of which types,
//! in which files. Built once from the header, the options and a sample of the first block
//! (type inference), then kept in the checkpoint so a resume converts exactly the same way.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::names;
use crate::error::{Error, Result};

use super::columns::{ColumnSpec, Fill, Layout};
use super::record::{fields_of, is_blank, record_end};
use super::schema::{self, ColumnType};
use super::split::Block;
use super::timefmt::TimeFormat;
use super::value::{NaTokens, parse_bool, parse_datetime, parse_int};

/// The resolved schema: what each output column reads and where it goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) delimiter: u8,
    /// Fields per record.
    pub(crate) fields: usize,
    pub(crate) columns: Vec<PlanColumn>,
    pub(crate) shrink: bool,
    /// The tokens that mean a missing value (besides the empty field, which always does).
    #[serde(default)]
    pub(crate) na: Vec<String>,
    /// What the user should know of how the types were chosen (kept for a resume).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) notes: Vec<String>,
}

/// One output column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlanColumn {
    /// The column's unique name (pandas' renaming of a repeated or empty header name).
    pub(crate) name: String,
    /// The header's text for the column, when it differs from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) header: Option<String>,
    /// Field index in each record.
    pub(crate) field: usize,
    pub(crate) ty: ColumnType,
    /// Final file name in the output directory.
    pub(crate) file: String,
    pub(crate) fill: Option<String>,
    /// The strftime format of a datetime column whose values are not ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
    /// True when the type was inferred (no schema gave it): a later value that does not fit
    /// it widens the column rather than rejecting its record (`widen.rs`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) inferred: bool,
}

/// What the options ask of the plan.
pub(crate) struct Request<'a> {
    pub(crate) delimiter: u8,
    pub(crate) infer_rows: usize,
    pub(crate) schema: Option<&'a Path>,
    pub(crate) types: &'a [(String, ColumnType)],
    /// Datetime formats by column name (those of `--type NAME=datetime64[UNIT]:FORMAT`).
    pub(crate) formats: &'a [(String, String)],
    pub(crate) columns: Option<&'a [String]>,
    pub(crate) fills: &'a [(String, String)],
    pub(crate) shrink: bool,
    pub(crate) na: &'a [String],
}

/// The input's column names: the header's text and the unique name each column gets from it
/// (see [`names::unique_names`]).
pub(crate) struct Header {
    /// The header's fields as text (`column_1`, … without a header).
    pub(crate) texts: Vec<String>,
    /// The unique names, one per field.
    pub(crate) names: Vec<String>,
}

impl Header {
    /// The names of the header fields `texts`.
    pub(crate) fn new(texts: Vec<String>) -> Header {
        let names = names::unique_names(&texts);
        Header { texts, names }
    }

    /// Fields per record.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The header's text for field `f`, when it differs from its unique name.
    pub(crate) fn text_if_renamed(&self, f: usize) -> Option<String> {
        (self.texts[f] != self.names[f]).then(|| self.texts[f].clone())
    }

    /// The one field called `name` (its unique name, or else its header text if only one
    /// field has that text) of `input`; `what` says who named it.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `input` when no field is called `name`, or several fields
    /// have the header text `name` and none has it as its unique name.
    pub(crate) fn find(&self, input: &Path, name: &str, what: &str) -> Result<usize> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Ok(i);
        }
        let hits: Vec<usize> = (0..self.len()).filter(|&i| self.texts[i] == name).collect();
        match hits[..] {
            [i] => Ok(i),
            [] => Err(Error::invalid(
                input,
                format!(
                    "has no column {name:?}, named in {what} (columns: {})",
                    self.names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ),
            )),
            _ => Err(Error::invalid(
                input,
                format!(
                    "column name {name:?}, named in {what}, is in the header {} times; name \
                     the column by its unique name: {}",
                    hits.len(),
                    hits.iter()
                        .map(|&i| format!("{:?}", self.names[i]))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// Renamed columns listed in a note, at most.
const RENAMED_LISTED: usize = 8;

/// The note that names the columns a conversion renamed from a repeated or empty header name,
/// if it renamed any.
pub(crate) fn renamed_note(m: &crate::dataset::Manifest) -> Option<String> {
    let renamed: Vec<String> = m
        .columns
        .iter()
        .filter_map(|c| c.header.as_ref().map(|h| format!("{h:?} as {:?}", c.name)))
        .collect();
    if renamed.is_empty() {
        return None;
    }
    let more = renamed.len().saturating_sub(RENAMED_LISTED);
    let list = renamed.into_iter().take(RENAMED_LISTED).collect::<Vec<_>>().join(", ");
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Some(format!("repeated or empty header names are named as pandas names them: {list}{more}"))
}

/// Reads the first record of the input from its first block (after a UTF-8 byte order mark,
/// which is dropped): the column names, or `column_1`, `column_2`, … without a header. With a
/// header, the record is taken off the block. Returns the names and the line the block then
/// starts at.
///
/// # Errors
/// [`Error::Format`] if the first record cannot be split into fields.
pub(crate) fn header_names(
    first: &mut Block,
    delimiter: u8,
    header: bool,
    input: &Path,
) -> Result<(Vec<String>, u64)> {
    if first.data.starts_with(b"\xEF\xBB\xBF") {
        first.data.drain(..3);
        first.offset += 3;
    }
    // Blank lines before the first record are skipped, as blank lines are everywhere.
    let mut blank = 0;
    let mut skipped_lines = 0;
    loop {
        let rest = &first.data[blank..];
        let n = if rest.starts_with(b"\n") {
            1
        } else if rest.starts_with(b"\r\n") {
            2
        } else {
            break;
        };
        blank += n;
        skipped_lines += 1;
    }
    if blank > 0 {
        first.data.drain(..blank);
        first.offset += blank as u64;
        if first.data.is_empty() {
            return Err(Error::format(
                input,
                first.offset,
                "the input holds only blank lines: no header and no records",
            ));
        }
    }
    let header_end = record_end(&first.data, 0, delimiter);
    let first_record =
        first.data[..header_end].strip_suffix(b"\r").unwrap_or(&first.data[..header_end]);
    let header_fields = fields_of(first_record, delimiter).map_err(|r| {
        Error::format(input, first.offset, format!("cannot read the first record: {r}"))
    })?;
    let mut line = 1 + skipped_lines;
    let names = if header {
        let taken = (header_end + 1).min(first.data.len());
        line += memchr::memchr_iter(b'\n', &first.data[..taken]).count() as u64;
        first.data.drain(..taken);
        first.offset += taken as u64;
        header_fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
    } else {
        (1..=header_fields.len()).map(|i| format!("column_{i}")).collect()
    };
    Ok((names, line))
}

impl Plan {
    /// Resolves names, types and file names for the columns `header` of `input`, inferring the
    /// types no one gave from `sample` (whole records). Columns are named by their unique
    /// names, and their files follow those.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the request names columns `input` does not have (or a header
    /// text it has twice), or a fill value that does not fit its column; [`Error::Argument`]
    /// for a column selected twice; [`Error::Io`], [`Error::Format`] or [`Error::Invalid`] on
    /// the schema file.
    pub(crate) fn build(
        req: &Request<'_>,
        input: &Path,
        header: &Header,
        sample: &[u8],
    ) -> Result<Plan> {
        let (header, row_names) = with_row_names(header, sample, req);
        let names = &header.names;
        let find = |name: &str, what: &str| header.find(input, name, what);
        let fields = selected_fields(req, &find, header.len())?;
        let (mut types, formats) = given_types(req, &find, header.len())?;
        let given: Vec<bool> = types.iter().map(Option::is_some).collect();
        let mut notes = row_names.into_iter().collect::<Vec<_>>();
        notes.extend(infer_types(req, sample, &fields, &mut types, names));
        let files = names::file_names(fields.iter().map(|&f| names[f].as_str()));
        let mut columns: Vec<PlanColumn> = fields
            .iter()
            .zip(files)
            .map(|(&f, file)| PlanColumn {
                name: names[f].clone(),
                header: header.text_if_renamed(f),
                field: f,
                ty: types[f].unwrap_or(ColumnType::F64),
                file,
                fill: None,
                format: formats[f].clone(),
                inferred: !given[f],
            })
            .collect();
        for c in &columns {
            if let Some(format) = &c.format {
                if !matches!(c.ty, ColumnType::DateTime(_)) {
                    return Err(Error::invalid(
                        input,
                        format!(
                            "column {:?} has the datetime format {format:?} but type {}",
                            c.name, c.ty
                        ),
                    ));
                }
                TimeFormat::new(format)
                    .map_err(|e| Error::invalid(input, format!("column {:?}: {e}", c.name)))?;
            }
        }
        for (name, value) in req.fills {
            let f = find(name, "the fill values")?;
            let c = columns.iter_mut().find(|c| c.field == f).ok_or_else(|| {
                Error::invalid(
                    input,
                    format!("column {name:?} has a fill value but is not converted"),
                )
            })?;
            fill_value(c.ty, value).map_err(|e| {
                Error::invalid(input, format!("fill value {value:?} for column {name:?}: {e}"))
            })?;
            c.fill = Some(value.clone());
            // The fill value is for this type: the column keeps it.
            c.inferred = false;
        }
        Ok(Plan {
            delimiter: req.delimiter,
            fields: header.len(),
            columns,
            shrink: req.shrink,
            na: req.na.to_vec(),
            notes,
        })
    }

    /// What parsing needs to know.
    ///
    /// # Errors
    /// A description of a fill value that does not fit its column (possible only in a plan read
    /// back from a damaged checkpoint).
    pub(crate) fn layout(&self) -> std::result::Result<Layout, String> {
        let mut slots = vec![None; self.fields];
        let mut columns = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            slots[c.field] = Some(i);
            let fill = match &c.fill {
                Some(v) => {
                    Some(fill_value(c.ty, v).map_err(|e| format!("column {:?}: {e}", c.name))?)
                }
                None => None,
            };
            let format = match &c.format {
                Some(f) => {
                    Some(TimeFormat::new(f).map_err(|e| format!("column {:?}: {e}", c.name))?)
                }
                None => None,
            };
            columns.push(ColumnSpec { ty: c.ty, fill, format });
        }
        Ok(Layout {
            delimiter: self.delimiter,
            fields: self.fields,
            slots,
            columns,
            // Widening needs to know whether the values so far fit the wider type.
            ranges: self.shrink || self.columns.iter().any(|c| c.inferred),
            na: self.na_tokens(),
        })
    }

    /// The missing-value tokens as the parsers match them.
    pub(crate) fn na_tokens(&self) -> NaTokens {
        NaTokens::new(self.na.iter().map(String::as_str))
    }
}

/// The column names, with names for the leading fields of R's `write.table` row names, and a
/// note saying so. Records shorter than the header are short rows (missing values at their
/// end, as pandas pads them) whatever the pattern, so they take no part in finding it (two
/// records, a full one and a short one, have row names). Row names are the `W - N` leading
/// fields when, of the sampled records at least as long as the header's `N` fields, more than
/// half have the same `W > N` fields; records longer than `W` are rejected. pandas takes the
/// first record's width: it agrees wherever it reads the file (the first record is a full one),
/// and refuses the file where a later record is longer than the first. Unlike pandas, one long
/// record among as many or more records as long as the header is no pattern: it is rejected
/// rather than shifting every other record's values by one column. pandas reads such
/// fields as the index; they are named as pandas' `reset_index()` names them: `index`
/// (`level_0` when a column is called `index`) for one, `level_0`, `level_1`, … for more.
fn with_row_names(header: &Header, sample: &[u8], req: &Request<'_>) -> (Header, Option<String>) {
    let names = &header.names;
    let unchanged = || Header { texts: header.texts.clone(), names: names.clone() };
    // Sampled records at least as long as the header, by width.
    let mut widths: HashMap<usize, usize> = HashMap::new();
    let (mut pos, mut n, mut long) = (0, 0, 0);
    while pos < sample.len() && n < req.infer_rows {
        let end = record_end(sample, pos, req.delimiter);
        let rec = sample[pos..end].strip_suffix(b"\r").unwrap_or(&sample[pos..end]);
        pos = end + 1;
        if is_blank(rec, req.delimiter) {
            continue;
        }
        n += 1;
        let Ok(f) = fields_of(rec, req.delimiter) else { return (unchanged(), None) };
        if f.len() >= names.len() {
            long += 1;
            *widths.entry(f.len()).or_default() += 1;
        }
    }
    // The width most of them have (the wider of two as common).
    let (width, full) =
        widths.iter().map(|(&w, &k)| (w, k)).max_by_key(|&(w, k)| (k, w)).unwrap_or((0, 0));
    if width <= names.len() || names.is_empty() || 2 * full <= long {
        return (unchanged(), None);
    }
    let extra = width - names.len();
    let taken = |c: &str| names.iter().any(|n| n == c);
    let mut lead: Vec<String> = if extra == 1 && !taken("index") {
        vec!["index".to_string()]
    } else {
        (0..extra).map(|i| format!("level_{i}")).collect()
    };
    for l in &mut lead {
        while taken(l) {
            l.push('_');
        }
    }
    let note = format!(
        "the records have {extra} more field{s} than the header names (row names, as R's \
         write.table writes them): kept as the leading column{s} {lead:?}, as pandas' \
         reset_index() names them",
        s = if extra == 1 { "" } else { "s" },
    );
    // The header's own fields keep their unique names (`Unnamed: N` counts header fields).
    let texts = lead.iter().chain(&header.texts).cloned().collect();
    let names = lead.into_iter().chain(names.iter().cloned()).collect();
    (Header { texts, names }, Some(note))
}

/// The fields converted, in output order: the selection, or every field.
pub(crate) fn selected_fields(
    req: &Request<'_>,
    find: &dyn Fn(&str, &str) -> Result<usize>,
    fields: usize,
) -> Result<Vec<usize>> {
    let Some(list) = req.columns else { return Ok((0..fields).collect()) };
    let mut v = Vec::new();
    for n in list {
        let i = find(n, "the column selection")?;
        if v.contains(&i) {
            return Err(Error::argument(format!("the column selection lists {n:?} twice")));
        }
        v.push(i);
    }
    Ok(v)
}

/// Per field, the type and the datetime format given, if any.
type Given = (Vec<Option<ColumnType>>, Vec<Option<String>>);

/// The types (and datetime formats) the schema file and then the explicit column types give,
/// per field.
pub(crate) fn given_types(
    req: &Request<'_>,
    find: &dyn Fn(&str, &str) -> Result<usize>,
    fields: usize,
) -> Result<Given> {
    let mut types: Vec<Option<ColumnType>> = vec![None; fields];
    let mut formats: Vec<Option<String>> = vec![None; fields];
    if let Some(p) = req.schema {
        let text = fs::read(p).map_err(|e| Error::io(p, e))?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&text)
            .map_err(|e| Error::format(p, 0, format!("not a JSON object of column types: {e}")))?;
        for (name, t) in map {
            let t = t.as_str().ok_or_else(|| {
                Error::format(p, 0, format!("column {name:?}: the type must be a string"))
            })?;
            let what = format!("schema {}", p.display());
            let (t, format) = schema::split_format(t);
            let t = t.parse().map_err(|e| Error::invalid(p, format!("column {name:?}: {e}")))?;
            let f = find(&name, &what)?;
            types[f] = Some(t);
            formats[f] = format.map(str::to_string);
        }
    }
    for (name, t) in req.types {
        let f = find(name, "the column types")?;
        types[f] = Some(*t);
        formats[f] = None;
    }
    for (name, format) in req.formats {
        formats[find(name, "the datetime formats")?] = Some(format.clone());
    }
    Ok((types, formats))
}

/// Infers the types of the converted fields that have none from the first
/// [`infer_rows`](Request::infer_rows) records of `sample`; records that do not split into the
/// right number of fields are skipped. Returns notes on the choices a user should know of.
fn infer_types(
    req: &Request<'_>,
    sample: &[u8],
    fields: &[usize],
    types: &mut [Option<ColumnType>],
    names: &[String],
) -> Vec<String> {
    let need: Vec<usize> = fields.iter().copied().filter(|&f| types[f].is_none()).collect();
    if need.is_empty() {
        return Vec::new();
    }
    let mut samples: Vec<Vec<Vec<u8>>> = vec![Vec::new(); types.len()];
    // Which fields are converted, by index: a look-up per field of each sampled record (a
    // search of `fields` there made 100,000 columns cost 10^10 comparisons per record).
    let mut converted = vec![false; types.len()];
    for &f in fields {
        if let Some(c) = converted.get_mut(f) {
            *c = true;
        }
    }
    let mut pos = 0;
    let mut n = 0;
    while pos < sample.len() && n < req.infer_rows {
        let end = record_end(sample, pos, req.delimiter);
        let rec = sample[pos..end].strip_suffix(b"\r").unwrap_or(&sample[pos..end]);
        pos = end + 1;
        if is_blank(rec, req.delimiter) {
            continue;
        }
        n += 1;
        // A short record's missing fields are missing values: its other fields count.
        if let Ok(f) = fields_of(rec, req.delimiter)
            && f.len() <= types.len()
        {
            for (i, v) in f.into_iter().enumerate() {
                if types[i].is_none() && converted[i] {
                    samples[i].push(v);
                }
            }
        }
    }
    let na = NaTokens::new(req.na.iter().map(String::as_str));
    let mut notes = Vec::new();
    for &f in &need {
        let values = || samples[f].iter().map(Vec::as_slice);
        types[f] = Some(schema::infer(values(), &na));
        if schema::ints_past_every_type(values(), &na) {
            notes.push(format!(
                "column {:?} holds negative integers and integers above {}, which no integer \
                 type holds together, so it is f64 (exact up to 2^53); --type {}=str keeps \
                 every digit",
                names[f],
                i64::MAX,
                names[f]
            ));
        }
    }
    notes
}

/// Parses a fill value for a column of type `t`.
fn fill_value(t: ColumnType, v: &str) -> std::result::Result<Fill, String> {
    let v = v.as_bytes();
    match t {
        ColumnType::Bool => parse_bool(v).map(Fill::Bool),
        ColumnType::I8 => parse_int::<i8>(v).map(|x| Fill::Int(x.into())),
        ColumnType::I16 => parse_int::<i16>(v).map(|x| Fill::Int(x.into())),
        ColumnType::I32 => parse_int::<i32>(v).map(|x| Fill::Int(x.into())),
        ColumnType::I64 => parse_int::<i64>(v).map(|x| Fill::Int(x.into())),
        ColumnType::U8 => parse_int::<u8>(v).map(|x| Fill::Int(x.into())),
        ColumnType::U16 => parse_int::<u16>(v).map(|x| Fill::Int(x.into())),
        ColumnType::U32 => parse_int::<u32>(v).map(|x| Fill::Int(x.into())),
        ColumnType::U64 => parse_int::<u64>(v).map(|x| Fill::Int(x.into())),
        ColumnType::DateTime(u) => parse_datetime(v, u).map(|x| Fill::Int(x.into())),
        ColumnType::F32 | ColumnType::F64 | ColumnType::Cat | ColumnType::Str => {
            return Err(format!(
                "{t} columns take no fill value (integer, bool and date-time columns do)"
            ));
        }
    }
    .map_err(|r| format!("{r} for a {t} column"))
}
