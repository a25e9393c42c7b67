//! SIGINT and SIGTERM turned into an error instead of an abrupt end, so that a writer cleans
//! up its temporary files as on any other failure.
//!
//! [`catch_interrupts`] installs a handler that only records the signal (an atomic store, the
//! one thing a handler may safely do) and restores the default action, so a second signal
//! ends the process at once. Long loops call [`interrupted`] between blocks and return
//! [`Error::Signal`]; the program then cleans up as its error
//! path does and ends with [`die_of`], so that its parent sees death by that signal.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Result};

/// The signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
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
        // A second signal gets the default action; interrupted calls are restarted.
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        // SAFETY: `action` is initialised and its handler only stores to an atomic, which is
        // async-signal-safe; `sigemptyset` gets a pointer to the action's own mask.
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

/// [`Error::Signal`] if a signal was caught: what long loops call between blocks.
///
/// # Errors
/// [`Error::Signal`] naming the signal.
pub(crate) fn check_interrupt() -> Result<()> {
    match interrupted() {
        Some(number) => Err(Error::Signal { signal: signal_name(number), number }),
        None => Ok(()),
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
