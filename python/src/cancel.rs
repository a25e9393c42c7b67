//! Long calls: run on a worker thread under a [`larder::Cancel`] token while the calling thread
//! waits with the GIL released, waking every [`TICK`] to run Python's signal handlers (Ctrl-C
//! raises `KeyboardInterrupt` there) and, at most every [`PROGRESS_EVERY`], the caller's
//! progress callback with the latest counts. Either raising cancels the token: the operation
//! stops at its next check between blocks (cleaning up as on any failure), the worker is
//! joined, and the exception propagates. A fresh token per call: nothing stays cancelled.
//!
//! Only the main thread runs signal handlers, so a call from another thread is stopped by
//! nothing but its progress callback (as any Python code in such a thread).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPy;

/// How long the calling thread waits between looks at signals.
const TICK: Duration = Duration::from_millis(50);

/// The least time between two calls of a progress callback.
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A progress callback and how to turn the operation's report `P` into its dict.
pub(crate) struct Callback<'a, 'py, P> {
    pub(crate) call: &'a Bound<'py, PyAny>,
    pub(crate) to_dict: fn(Python<'py>, &P) -> PyResult<Bound<'py, PyDict>>,
}

/// Runs `f` as the module docs say; `f` gets the function to hand its progress reports to.
pub(crate) fn run<'py, T, P, F>(
    py: Python<'py>,
    progress: Option<Callback<'_, 'py, P>>,
    f: F,
) -> PyResult<T>
where
    T: Send,
    P: Send,
    F: FnOnce(&(dyn Fn(P) + Sync)) -> larder::Result<T> + Send,
{
    let cancel = larder::Cancel::new();
    let latest: Mutex<Option<P>> = Mutex::new(None);
    let report = |p: P| *latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(p);
    let (done, finished) = mpsc::channel::<()>();
    // The receiver is not `Sync`; the closures given to `detach` borrow it through a lock.
    let finished = Mutex::new(finished);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let r = cancel.run(|| f(&report));
            let _ = done.send(());
            r
        });
        let mut raised: Option<PyErr> = None;
        let mut last_call = Instant::now();
        loop {
            let over = py.detach(|| {
                let rx = finished.lock().unwrap_or_else(PoisonError::into_inner);
                !matches!(rx.recv_timeout(TICK), Err(RecvTimeoutError::Timeout))
            });
            if over {
                break;
            }
            if let Err(e) = py.check_signals() {
                raised = Some(e);
                break;
            }
            if let Some(cb) = &progress
                && last_call.elapsed() >= PROGRESS_EVERY
            {
                let p = latest.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(p) = p {
                    last_call = Instant::now();
                    if let Err(e) = (cb.to_dict)(py, &p).and_then(|d| cb.call.call1((d,))) {
                        raised = Some(e);
                        break;
                    }
                }
            }
        }
        if raised.is_some() {
            cancel.cancel();
        }
        let result = py.detach(|| worker.join());
        let result =
            result.map_err(|_| PyRuntimeError::new_err("larder: the operation panicked"))?;
        match raised {
            Some(e) => Err(e),
            None => result.py_err(),
        }
    })
}

/// [`run`] without progress reports.
pub(crate) fn run_quiet<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> larder::Result<T> + Send,
) -> PyResult<T> {
    run::<T, (), _>(py, None, |_| f())
}
