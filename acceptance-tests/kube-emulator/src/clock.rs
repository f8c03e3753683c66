//! The emulator's wall clock: system time, optionally frozen so replays are deterministic.

use std::sync::Mutex;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Wall clock shared by everything that stamps objects or tokens.
#[derive(Debug, Default)]
pub struct Clock {
    frozen: Mutex<Option<OffsetDateTime>>,
}

impl Clock {
    /// Current time, truncated to whole seconds like `metav1.Time`.
    pub fn now(&self) -> OffsetDateTime {
        let now = self
            .frozen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or_else(OffsetDateTime::now_utc);
        now.replace_nanosecond(0).expect("zero nanoseconds")
    }

    /// Freezes the clock at `at` (`None` unfreezes it).
    pub fn freeze(&self, at: Option<OffsetDateTime>) {
        *self
            .frozen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// `now()` in the API's timestamp format.
    pub fn timestamp(&self) -> String {
        format_timestamp(self.now())
    }
}

/// RFC 3339 with second precision in UTC, the way `metav1.Time` marshals.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let utc = t.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .expect("timestamp format")
}

/// Parses an RFC 3339 timestamp.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = parse_timestamp("2024-03-01T10:11:12.5+01:00").expect("parse");
        assert_eq!(format_timestamp(t), "2024-03-01T09:11:12Z");
    }

    #[test]
    fn frozen_clock_stays_put() {
        let clock = Clock::default();
        let at = parse_timestamp("2024-03-01T10:11:12Z").expect("parse");
        clock.freeze(Some(at));
        assert_eq!(clock.timestamp(), "2024-03-01T10:11:12Z");
    }
}
