//! Time as unix milliseconds: what both stores keep, and what LINE's `timestamp` uses.

/// Unix time in milliseconds.
pub type Millis = i64;

/// One second, in [`Millis`].
pub const SECOND: Millis = 1_000;
/// One minute, in [`Millis`].
pub const MINUTE: Millis = 60 * SECOND;
/// One hour, in [`Millis`].
pub const HOUR: Millis = 60 * MINUTE;
/// One day of 24 hours, in [`Millis`] (a fixed length: calendar days are the business-hours
/// module's job).
pub const DAY: Millis = 24 * HOUR;
/// One week of seven 24-hour days, in [`Millis`].
pub const WEEK: Millis = 7 * DAY;

/// A duration in words for messages a support admin reads: the largest unit that divides it
/// exactly, so `120000` reads "2 minutes" and `90000` reads "90 seconds".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Millis);

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: &[(Millis, &str)] = &[
            (WEEK, "week"),
            (DAY, "day"),
            (HOUR, "hour"),
            (MINUTE, "minute"),
            (SECOND, "second"),
            (1, "millisecond"),
        ];
        let ms = self.0;
        let (size, name) = UNITS
            .iter()
            .copied()
            .find(|(size, _)| ms != 0 && ms % size == 0)
            .unwrap_or((1, "millisecond"));
        let n = ms / size;
        let plural = if n.abs() == 1 { "" } else { "s" };
        write!(f, "{n} {name}{plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_largest_exact_unit() {
        assert_eq!(Span(2 * MINUTE).to_string(), "2 minutes");
        assert_eq!(Span(90 * SECOND).to_string(), "90 seconds");
        assert_eq!(Span(DAY).to_string(), "1 day");
        assert_eq!(Span(30 * DAY).to_string(), "30 days");
        assert_eq!(Span(1500).to_string(), "1500 milliseconds");
        assert_eq!(Span(0).to_string(), "0 milliseconds");
        assert_eq!(Span(-HOUR).to_string(), "-1 hour");
    }
}
