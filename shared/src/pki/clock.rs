//! The time every run issues at, refused when the clock cannot be right: a tree
//! issued from a clock before 1970 is expired at once, and CAs issued before
//! their issuer became valid do not verify until it does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::pki::cert::format_time;
use crate::pki::error::{Error, Kind, Result};

/// 2020-01-01T00:00:00Z: no clock that issues today's certificates is earlier.
pub const EARLIEST_SANE: Duration = Duration::from_secs(1_577_836_800);

/// Now, if the clock is not obviously wrong (see [`check`]).
pub fn now() -> Result<SystemTime> {
    let now = SystemTime::now();
    check(now)?;
    Ok(now)
}

/// Refuses a time before [`EARLIEST_SANE`].
pub fn check(now: SystemTime) -> Result<()> {
    if now < UNIX_EPOCH + EARLIEST_SANE {
        return Err(Error::new(Kind::Clock(format!(
            "it says {}, before 2020: every certificate issued now would carry that date; \
             set the clock (timedatectl, NTP) and run again",
            if now < UNIX_EPOCH {
                "a time before 1970".to_string()
            } else {
                format_time(now)
            }
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 case 11: a clock before 1970 wrote an already expired tree.
    #[test]
    fn a_clock_before_2020_is_refused() {
        assert!(check(UNIX_EPOCH).is_err());
        assert!(check(UNIX_EPOCH - Duration::from_secs(1)).is_err());
        assert!(check(UNIX_EPOCH + EARLIEST_SANE).is_ok());
    }
}
