//! The seam over a conversion's durable steps, so that a test can make any one of them fail and
//! check that a resume recovers from a crash at exactly that point.

use std::fmt;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// A durable step of a conversion: one after which what is on disk, and so what a resume finds,
/// has changed. A conversion takes them in this order: syncs then a checkpoint, after every
/// checkpoint interval; at the end, syncs, renames of the column files, the manifest, the
/// cleanup, and the rename of the finished directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Putting one staged file's data on disk (`fsync`): a column file, `rejects.csv` or a
    /// dictionary, before each checkpoint and when finishing; a narrowed copy of a column.
    Sync,
    /// Writing the checkpoint (replacing the previous one atomically), the first one included.
    Checkpoint,
    /// Renaming a finished column file into place, or the finished dataset directory to the
    /// output directory (the last step).
    Rename,
    /// Writing `manifest.json`.
    Manifest,
    /// Removing the working files (dictionaries, lock, and last the checkpoint) once the
    /// manifest is written.
    Cleanup,
}

/// Consulted just before each durable [`Step`] of a conversion
/// ([`ConvertOptions::faults`](super::ConvertOptions::faults)).
///
/// The default, [`NoFaults`], lets every step happen. A test plugs in a plan that fails the
/// N-th step (of a kind, or on a file): the conversion then stops with [`Error::Io`] on that
/// step's path, without taking the step and without cleaning up, so what is on disk is what a
/// crash just before the step would leave. In particular the temporary directory stays, and
/// [`ConvertOptions::resume`](super::ConvertOptions::resume) continues from its last
/// checkpoint. (Buffered rows a column file holds are still handed to the operating system as
/// the file is closed; a crash may or may not have written them. A resume cuts every file back
/// to its checkpointed length either way.)
///
/// # Example
/// ```
/// use std::io;
/// use std::path::Path;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use larder::convert::{ConvertOptions, FaultPlan, Step};
///
/// /// Fails the `n`-th checkpoint.
/// #[derive(Debug)]
/// struct FailCheckpoint { n: u64, seen: AtomicU64 }
///
/// impl FaultPlan for FailCheckpoint {
///     fn before(&self, step: Step, _path: &Path) -> io::Result<()> {
///         if step == Step::Checkpoint && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
///             return Err(io::Error::other("injected"));
///         }
///         Ok(())
///     }
/// }
///
/// # let dir = tempfile::tempdir()?;
/// # let csv = dir.path().join("in.csv");
/// std::fs::write(&csv, "a\n1\n2\n")?;
/// let out = dir.path().join("out");
/// let mut opts = ConvertOptions::new();
/// opts.faults(Arc::new(FailCheckpoint { n: 2, seen: AtomicU64::new(0) }));
/// assert!(opts.convert(&csv, &out, &mut |_| {}).is_err());
/// let report = ConvertOptions::new().resume(true).convert(&csv, &out, &mut |_| {})?;
/// assert!(report.resumed && report.manifest.rows == 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait FaultPlan: fmt::Debug + Send + Sync {
    /// Called just before `step` on `path` (the file synced, written or removed, or the
    /// destination of a rename); an error stops the conversion there, without taking the step.
    ///
    /// # Errors
    /// Whatever the plan injects.
    fn before(&self, step: Step, path: &Path) -> io::Result<()>;
}

/// The default [`FaultPlan`]: every step happens.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFaults;

impl FaultPlan for NoFaults {
    fn before(&self, _step: Step, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// Asks `plan` before `step` on `path`; an injected failure becomes an [`Error::Io`] on `path`.
pub(crate) fn before(plan: &dyn FaultPlan, step: Step, path: &Path) -> Result<()> {
    plan.before(step, path).map_err(|e| Error::io(path, e))
}
