//! SIGINT, SIGTERM and SIGHUP: until a run takes its target lock, nothing is
//! written and the signals keep their default action (the process ends at
//! once); from the lock on they only set a flag (see `store::lock`), which the
//! writer checks between steps and slow work polls through [`run`], so a run
//! ends promptly at any moment with everything as it was.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::pki::error::{Error, Kind, Result};

static SIGNAL: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// How often [`run`] looks at the flag.
const POLL: Duration = Duration::from_millis(20);

/// Turns SIGINT, SIGTERM and SIGHUP into a flag from now on.
pub fn catch_signals() -> Result<()> {
    let mut failed = None;
    INSTALL.call_once(|| {
        for signal in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            if let Err(e) = signal_hook::flag::register_usize(signal, &SIGNAL, signal as usize) {
                failed = Some(e);
            }
        }
    });
    match failed {
        Some(source) => Err(Error::new(Kind::Io {
            action: "installing signal handlers",
            source,
        })),
        None => Ok(()),
    }
}

/// Whether SIGINT, SIGTERM or SIGHUP arrived (for searches that poll).
pub fn interrupted() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// `Err(Interrupted)` once SIGINT, SIGTERM or SIGHUP arrived.
pub fn check_interrupted() -> Result<()> {
    let signal = match SIGNAL.load(Ordering::SeqCst) {
        0 => return Ok(()),
        s if s == signal_hook::consts::SIGINT as usize => "SIGINT",
        s if s == signal_hook::consts::SIGTERM as usize => "SIGTERM",
        _ => "SIGHUP",
    };
    Err(Error::new(Kind::Interrupted(signal)))
}

/// Runs `work` (a key derivation: seconds of CPU that cannot stop halfway) on
/// a thread of its own and waits for it, returning `Err(Interrupted)` as soon
/// as a signal is flagged. The abandoned thread only computes in memory and
/// ends with the process, so the caller unwinds (lock released, nothing
/// written) without waiting for it.
pub fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    check_interrupted()?;
    let (done, result) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("derive".into())
        .spawn(move || {
            let _ = done.send(work());
        })
        .map_err(|source| {
            Error::new(Kind::Io {
                action: "starting a thread",
                source,
            })
        })?;
    loop {
        match result.recv_timeout(POLL) {
            Ok(value) => return Ok(value),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => check_interrupted()?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::new(Kind::Bug("a key derivation thread panicked")));
            }
        }
    }
}
