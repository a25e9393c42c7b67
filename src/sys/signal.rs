//! SIGINT and SIGTERM turned into an error instead of an abrupt end, so that a writer cleans
//! up its temporary files as on any other failure.
//!
//! [`catch_interrupts`] installs a handler that only records the signal (atomic stores, the
//! one kind of thing a handler may safely do). A second request ends the process at once; the
//! same signal again within [`REPEAT_WINDOW_NS`] of the first is the same request, not a
//! second one: GNU `timeout` sends its SIGTERM to the program and then to its process group,
//! and a shell's job control can deliver one Ctrl-C twice. Long loops call [`interrupted`] between blocks and return
//! [`Error::Signal`]; the program then cleans up as its error
//! path does and ends with [`die_of`], so that its parent sees death by that signal.
//!
//! A program that owns its signals (a Python interpreter, a server) stops one operation
//! instead with a [`Cancel`] token: [`Cancel::run`] makes the token the one that the long loops
//! started by its closure check (through the same [`check_interrupt`] as the signals), and
//! [`Cancel::cancel`] from any thread makes them stop at their next check with
//! [`Error::Cancelled`]. The closure runs in a rayon pool of its own whose threads all know the
//! token, so the parallel parts of an operation see it too; threads an operation spawns itself
//! take it along ([`Interrupt::here`]). A token stops only the operations run under it, and a
//! fresh token (or [`Cancel::reset`]) runs the next one: nothing stays set for the process.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// When it came (`CLOCK_MONOTONIC`, nanoseconds).
static RECEIVED_AT: AtomicU64 = AtomicU64::new(0);
/// A repeat of the first signal this soon after it is the same request.
const REPEAT_WINDOW_NS: u64 = 500_000_000;

/// `CLOCK_MONOTONIC` in nanoseconds (`clock_gettime` is async-signal-safe).
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut t) };
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

extern "C" fn record(signal: libc::c_int) {
    let now = monotonic_ns();
    match RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => RECEIVED_AT.store(now, Ordering::SeqCst),
        Err(first)
            if first == signal
                && now.saturating_sub(RECEIVED_AT.load(Ordering::SeqCst)) < REPEAT_WINDOW_NS => {}
        // A second request: the default action, now.
        // SAFETY: `signal` and `raise` are async-signal-safe.
        Err(_) => unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        },
    }
}

/// Catches SIGINT and SIGTERM from now on (see the module docs). A signal ignored when the
/// process started (`nohup`, a background job of a non-interactive shell) stays ignored.
///
/// # Errors
/// The `sigaction` error.
pub fn catch_interrupts() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
        // SAFETY: a null new action only reads the current one into `old`, valid memory of
        // the size of `sigaction`.
        if unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `sigaction` returned 0, so it filled `old`.
        let old = unsafe { old.assume_init() };
        if old.sa_sigaction == libc::SIG_IGN {
            continue;
        }
        // SAFETY: an all-zero `sigaction` is a valid value (empty mask, no flags).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // Interrupted calls are restarted (the handler itself ends the process on a second
        // request).
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is initialised and its handler only reads the clock, stores to
        // atomics and raises, all async-signal-safe; `sigemptyset` gets a pointer to the
        // action's own mask.
        let rc = unsafe {
            libc::sigemptyset(&raw mut action.sa_mask);
            libc::sigaction(signal, &raw const action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal caught since [`catch_interrupts`], if any.
pub fn interrupted() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// [`Error::Signal`] if a signal was caught, [`Error::Cancelled`] if the [`Cancel`] token this
/// thread runs under was cancelled: what long loops call between blocks.
///
/// # Errors
/// [`Error::Signal`] naming the signal; [`Error::Cancelled`].
pub(crate) fn check_interrupt() -> Result<()> {
    if let Some(number) = interrupted() {
        return Err(Error::Signal { signal: signal_name(number), number });
    }
    CURRENT.with(|c| match &*c.borrow() {
        Some(token) => token.check(),
        None => Ok(()),
    })
}

thread_local! {
    /// The token of the innermost [`Cancel::run`] on this thread.
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

/// A cancellation token: long operations run under it ([`Cancel::run`]) stop at their next
/// check between blocks or chunks, within about a block's work, with [`Error::Cancelled`],
/// cleaning up as on any other failure (a copy leaves no temporary file; an interrupted
/// conversion stays resumable). Clones share the flag, so one clone can be handed to another
/// thread (a watcher, a signal loop, a UI) that calls [`Cancel::cancel`].
///
/// ```
/// use larder::{Cancel, Error};
/// let cancel = Cancel::new();
/// cancel.cancel(); // as another thread would, while the copy runs
/// let dir = tempfile::tempdir()?;
/// let src = dir.path().join("a.npy");
/// larder::write_npy(&src, &ndarray::Array1::<f64>::zeros(1 << 20))?;
/// let r = cancel.run(|| larder::copy(&src, dir.path().join("b.zarr")));
/// assert!(matches!(r, Err(Error::Cancelled)));
/// assert!(!dir.path().join("b.zarr").exists());
/// cancel.reset();
/// cancel.run(|| larder::copy(&src, dir.path().join("b.zarr")))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token not cancelled.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the operations running under this token (and its clones) to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`Cancel::cancel`] was called (and not [`Cancel::reset`] since).
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clears the flag, so that the token runs operations again.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// [`Error::Cancelled`] once cancelled: for loops of a caller's own.
    ///
    /// # Errors
    /// [`Error::Cancelled`].
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }

    /// What larder's own loops check between blocks, for a caller's loop that runs inside
    /// [`Cancel::run`] without holding the token: [`Error::Signal`] once a caught signal came
    /// ([`catch_interrupts`]), [`Error::Cancelled`] once the token this thread runs under was
    /// cancelled; `Ok` otherwise (also outside any run).
    ///
    /// # Errors
    /// [`Error::Signal`]; [`Error::Cancelled`].
    pub fn check_current() -> Result<()> {
        check_interrupt()
    }

    /// Runs `f` with this token as the one larder's long loops check, in a rayon pool of its
    /// own (as many threads as the current pool) whose threads all run under the token, so
    /// the parallel parts of an operation stop too. Operations that `f` runs return
    /// [`Error::Cancelled`] once the token is cancelled. Should the pool not start, `f` runs
    /// on this thread (under the token; its parallel parts then are not).
    ///
    /// # Panics
    /// A panic of `f` is resumed here.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let token = self.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("larder-{i}"))
            .start_handler(move |_| CURRENT.with(|c| *c.borrow_mut() = Some(token.clone())))
            .build();
        match pool {
            Ok(pool) => pool.install(f),
            Err(_) => self.run_here(f),
        }
    }

    /// Runs `f` on this thread under the token; the previous token, if any, is restored
    /// after, also when `f` panics.
    fn run_here<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Cancel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }
}

/// What [`check_interrupt`] checks, taken from this thread to check it on another (the
/// workers of a parallel loop do not run under the caller's [`Cancel::run`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Interrupt(Option<Cancel>);

impl Interrupt {
    /// The token this thread runs under, if any.
    pub(crate) fn here() -> Self {
        Interrupt(CURRENT.with(|c| c.borrow().clone()))
    }

    /// [`check_interrupt`] with this token, on any thread.
    ///
    /// # Errors
    /// [`Error::Signal`]; [`Error::Cancelled`].
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(number) = interrupted() {
            return Err(Error::Signal { signal: signal_name(number), number });
        }
        self.0.as_ref().map_or(Ok(()), Cancel::check)
    }
}

/// The name of a signal larder catches.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Ends the process by `signal` with its default action (its parent sees death by that
/// signal, as if it had not been caught); exits with 128 + `signal` should that return.
pub fn die_of(signal: i32) -> ! {
    // SAFETY: restoring the default action and raising a signal have no memory-safety
    // preconditions.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_stops_only_what_runs_under_it() {
        let a = Cancel::new();
        let b = Cancel::new();
        a.cancel();
        assert!(matches!(a.run(check_interrupt), Err(Error::Cancelled)));
        assert!(b.run(check_interrupt).is_ok());
        assert!(check_interrupt().is_ok(), "outside any run nothing is cancelled");
        // Nested runs restore the outer token.
        b.run_here(|| {
            assert!(matches!(a.run_here(check_interrupt), Err(Error::Cancelled)));
            assert!(check_interrupt().is_ok());
        });
        // The parallel parts of a run check the token too.
        let parallel = a.run(|| {
            use rayon::prelude::*;
            (0..64).into_par_iter().map(|_| check_interrupt().is_err()).collect::<Vec<_>>()
        });
        assert!(parallel.iter().all(|&stopped| stopped));
        let joined = a.run(|| rayon::join(check_interrupt, check_interrupt));
        assert!(matches!(joined, (Err(Error::Cancelled), Err(Error::Cancelled))));
        assert!(matches!(a.run(Cancel::check_current), Err(Error::Cancelled)));
        assert!(Cancel::check_current().is_ok());
        a.reset();
        assert!(a.run(check_interrupt).is_ok(), "a reset token runs again");
    }

    #[test]
    fn an_interrupt_carries_the_token_to_other_threads() {
        let a = Cancel::new();
        let here = a.run(Interrupt::here);
        let other = std::thread::spawn(move || {
            let before = here.check().is_ok();
            a.cancel();
            (before, matches!(here.check(), Err(Error::Cancelled)), check_interrupt().is_ok())
        });
        assert_eq!(other.join().ok(), Some((true, true, true)));
    }

    #[test]
    fn the_token_is_restored_after_a_panic() {
        let a = Cancel::new();
        a.cancel();
        let r = std::panic::catch_unwind(|| a.run_here(|| panic!("boom")));
        assert!(r.is_err());
        let r = std::panic::catch_unwind(|| a.run(|| panic!("boom")));
        assert!(r.is_err());
        assert!(check_interrupt().is_ok());
    }
}
