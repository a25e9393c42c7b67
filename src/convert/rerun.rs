//! The one re-read a widening costs: when a value after the inference sample does not fit
//! its inferred column, the first attempt reads on to the end to find every widening, and the
//! input is then converted once more, from an emptied working directory, with the widened plan.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::{self, Checkpoint, ColumnState};
use super::plan::{self, Plan};
use super::split::BlockReader;
use super::staging::{Pumped, Staging};
use super::{ConvertOptions, Progress, workdir};
use crate::error::{Error, Result};

impl ConvertOptions {
    /// Converts the whole input again into `tmp`, emptied of the attempt that `old` recorded,
    /// with `plan`: its inferred columns widened to hold every value. This is the one re-read a
    /// widening costs (the first attempt read the input to its end to find every widening).
    pub(super) fn convert_again(
        &self,
        old: Checkpoint,
        plan: Plan,
        tmp: &Path,
        inputs: &[PathBuf],
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<(Staging, u64)> {
        let input = inputs.first().map_or(Path::new("-"), PathBuf::as_path);
        clear_attempt(tmp)?;
        let (reader_input, _, files) = self.open_inputs(inputs)?;
        let mut reader =
            BlockReader::new(reader_input.reader, input, self.delimiter, 0, self.block_size)
                .counting(reader_input.consumed)
                .naming(files.clone());
        let Some(mut first) = reader.next_block()? else {
            return Err(Error::format(input, 0, "the input is empty now: it changed while read"));
        };
        let (_, line) = plan::header_names(&mut first, self.delimiter, self.header, input)?;
        let ck = Checkpoint {
            version: 1,
            columns: vec![ColumnState::default(); plan.columns.len()],
            plan,
            offset: first.offset,
            line,
            rows_read: 0,
            rows_written: 0,
            rejected: 0,
            rejects_bytes: 0,
            done: false,
            ..old
        };
        let mut policy = self.policy();
        policy.widen = false;
        let mut run = Staging::create(tmp, input, ck, policy, &[])?;
        if let Some(files) = files {
            run.attribute_lines(files);
        }
        let first = if first.data.is_empty() { None } else { Some(first) };
        match run.pump(first, &mut reader, progress)? {
            Pumped::Done(bytes) => Ok((run, bytes)),
            Pumped::Again(_) => Err(Error::internal("a column widened with widening off")),
        }
    }
}

/// Empties the working directory `tmp` of a conversion attempt whose types must widen, but for
/// its marker and lock. The checkpoint goes first: a crash on the way leaves a directory that
/// the next run clears as one killed before its first checkpoint.
fn clear_attempt(tmp: &Path) -> Result<()> {
    let remove = |p: &Path| match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(p, e)),
        _ => Ok(()),
    };
    remove(&tmp.join(checkpoint::CHECKPOINT))?;
    for entry in fs::read_dir(tmp).map_err(|e| Error::io(tmp, e))? {
        let entry = entry.map_err(|e| Error::io(tmp, e))?;
        let name = entry.file_name();
        if name != workdir::MARKER && name != "lock" {
            remove(&entry.path())?;
        }
    }
    Ok(())
}
