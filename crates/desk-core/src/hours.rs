//! A department's business hours: a weekly schedule of open intervals on the wall clock of
//! one IANA time zone, and the two questions the timers ask of it — "is it open at this
//! instant?" and "when does it next open?".
//!
//! The schedule is written in local wall-clock minutes (what an admin types: "Mon 09:00–18:00
//! in Asia/Tokyo"), but both questions are answered in instants: each interval of a given
//! local date is turned into a `[start, end)` pair of instants, so the two answers always
//! agree with each other, also across daylight-saving changes. A wall-clock time that a
//! daylight-saving gap skips is taken as the same time of day shifted forward by the gap; a
//! repeated one (a fold) as its first occurrence (jiff's "compatible" rule, as RFC 5545 and
//! Temporal do). An interval that this leaves empty (02:30–03:00 on a day that jumps from
//! 02:00 to 03:00) does not exist that day.
//!
//! The time-zone database is jiff's bundled copy, so this module never reads the file system.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::time::Millis;

/// Minutes in a day: the largest value an interval's end may take (midnight at the end of the day).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// Days of the week in the order the schedule stores them (ISO: Monday first).
pub const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// How many local dates after the one holding `after` [`BusinessHours::next_opening`] looks
/// at. A week covers every weekday; the spare days cover weeks where a daylight-saving gap
/// or a skipped calendar day (Samoa, 2011-12-30) removes the only interval.
const SEARCH_DAYS: i32 = 16;

/// One open period of a day, in minutes since local midnight: open from `start` (inclusive)
/// until `end` (exclusive). `end` may be 1440, the midnight that ends the day; a period that
/// runs past midnight is written as two intervals, one on each day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpenInterval {
    /// Opening time, minutes since local midnight (0..1440).
    pub start: u16,
    /// Closing time, minutes since local midnight (1..=1440), after `start`.
    pub end: u16,
}

impl OpenInterval {
    /// An interval from `start` to `end` minutes since midnight; checked when the schedule is built.
    pub fn new(start: u16, end: u16) -> Self {
        Self { start, end }
    }
}

/// `09:00` style display, so validation errors read like the admin's own input.
struct Clock(u16);

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl std::fmt::Display for OpenInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}–{}", Clock(self.start), Clock(self.end))
    }
}

/// Why business hours were refused. Each message names the day and interval at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// The time-zone name is not in the IANA database.
    #[error(
        "business hours: `{name}` is not a known time zone (use an IANA name such as Asia/Tokyo)"
    )]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
    /// An interval starts or ends outside the day.
    #[error("business hours: {day} {interval} is outside the day (times run from 00:00 to 24:00)")]
    OutOfDay {
        /// The weekday, e.g. "monday".
        day: &'static str,
        /// The interval as given.
        interval: OpenInterval,
    },
    /// An interval that ends at or before its start.
    #[error(
        "business hours: {day} {interval} ends before it starts (split a period past midnight into two days)"
    )]
    Empty {
        /// The weekday.
        day: &'static str,
        /// The interval as given.
        interval: OpenInterval,
    },
    /// Two intervals of the same day overlap.
    #[error("business hours: {day} {first} overlaps {second}")]
    Overlap {
        /// The weekday.
        day: &'static str,
        /// The earlier interval.
        first: OpenInterval,
        /// The interval that starts before `first` ends.
        second: OpenInterval,
    },
}

/// The open intervals of each weekday, as stored (JSON keys `monday` … `sunday`; a missing
/// day is closed all day). Validated by [`BusinessHours::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeeklySchedule {
    /// Monday's open intervals.
    pub monday: Vec<OpenInterval>,
    /// Tuesday's open intervals.
    pub tuesday: Vec<OpenInterval>,
    /// Wednesday's open intervals.
    pub wednesday: Vec<OpenInterval>,
    /// Thursday's open intervals.
    pub thursday: Vec<OpenInterval>,
    /// Friday's open intervals.
    pub friday: Vec<OpenInterval>,
    /// Saturday's open intervals.
    pub saturday: Vec<OpenInterval>,
    /// Sunday's open intervals.
    pub sunday: Vec<OpenInterval>,
}

impl WeeklySchedule {
    /// The same intervals on each of the given days (a convenience for "Mon–Fri 09:00–18:00").
    pub fn on(mut self, days: &[Weekday], intervals: &[OpenInterval]) -> Self {
        for day in days {
            self.day_mut(*day).extend_from_slice(intervals);
        }
        self
    }

    fn days(&self) -> [&Vec<OpenInterval>; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }

    fn day_mut(&mut self, day: Weekday) -> &mut Vec<OpenInterval> {
        match day {
            Weekday::Monday => &mut self.monday,
            Weekday::Tuesday => &mut self.tuesday,
            Weekday::Wednesday => &mut self.wednesday,
            Weekday::Thursday => &mut self.thursday,
            Weekday::Friday => &mut self.friday,
            Weekday::Saturday => &mut self.saturday,
            Weekday::Sunday => &mut self.sunday,
        }
    }
}

/// Business hours as stored per department (JSON): a time-zone name and a weekly schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursSpec {
    /// IANA time-zone name, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// Open intervals per weekday, in that zone's wall-clock time.
    #[serde(default)]
    pub weekly: WeeklySchedule,
}

/// Validated business hours: a known time zone and, per weekday, sorted, non-overlapping
/// intervals inside the day. Deserializes from [`BusinessHoursSpec`] JSON, validating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BusinessHoursSpec", into = "BusinessHoursSpec")]
pub struct BusinessHours {
    spec: BusinessHoursSpec,
    zone: TimeZone,
    /// Index 0 is Monday; each day sorted by start.
    days: [Vec<OpenInterval>; 7],
}

/// jiff's bundled database, built once: the lookup must not depend on the host's zoneinfo.
pub(crate) fn tz_database() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

impl BusinessHours {
    /// Validates a schedule in the named IANA time zone.
    pub fn new(time_zone: &str, weekly: WeeklySchedule) -> Result<Self, HoursError> {
        Self::try_from(BusinessHoursSpec {
            time_zone: time_zone.to_owned(),
            weekly,
        })
    }

    /// The time-zone name as configured.
    pub fn time_zone(&self) -> &str {
        &self.spec.time_zone
    }

    /// The stored form (what serializes).
    pub fn spec(&self) -> &BusinessHoursSpec {
        &self.spec
    }

    /// Whether the department is open at `at`. An instant jiff cannot represent (beyond
    /// the years -9999..=9999) counts as closed.
    pub fn is_open(&self, at: Millis) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(at) else {
            return false;
        };
        let today = self.zone.to_datetime(ts).date();
        // An interval of yesterday can reach into today only through its 24:00 end, and one
        // of tomorrow only through a daylight-saving shift; looking at both is cheap and exact.
        (-1..=1).any(|offset| {
            self.instants_on(today, offset)
                .any(|(start, end)| start <= at && at < end)
        })
    }

    /// The first instant at or after `after` at which the department is open: `after` itself
    /// when it is open then, otherwise the next opening. `None` when the schedule has no open
    /// interval in the following two weeks (e.g. an empty schedule).
    pub fn next_opening(&self, after: Millis) -> Option<Millis> {
        let ts = Timestamp::from_millisecond(after).ok()?;
        let today = self.zone.to_datetime(ts).date();
        (-1..=SEARCH_DAYS)
            .flat_map(|offset| self.instants_on(today, offset))
            .filter(|&(_, end)| end > after)
            .map(|(start, _)| start.max(after))
            .min()
    }

    /// The intervals of the local date `base + offset` days, as `[start, end)` instants in
    /// unix milliseconds. Intervals that do not exist that day (swallowed by a gap) are skipped.
    fn instants_on(&self, base: Date, offset: i32) -> impl Iterator<Item = (Millis, Millis)> + '_ {
        let date = base.checked_add(jiff::Span::new().days(offset)).ok();
        let intervals = date
            .map(|d| self.days[weekday_index(d.weekday())].as_slice())
            .unwrap_or_default();
        intervals.iter().filter_map(move |interval| {
            let date = date?;
            let start = self.local_instant(date, interval.start)?;
            let end = self.local_instant(date, interval.end)?;
            (start < end).then_some((start, end))
        })
    }

    /// The instant of local `date` at `minutes` since midnight; 1440 is the next midnight.
    fn local_instant(&self, date: Date, minutes: u16) -> Option<Millis> {
        let (date, minutes) = if minutes >= MINUTES_PER_DAY {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minutes)
        };
        // Both fit an i8: minutes < 1440 gives hour < 24 and minute < 60.
        let hour = i8::try_from(minutes / 60).ok()?;
        let minute = i8::try_from(minutes % 60).ok()?;
        let civil: DateTime = date.at(hour, minute, 0, 0);
        let ts = self.zone.to_timestamp(civil).ok()?;
        Some(ts.as_millisecond())
    }
}

fn weekday_index(day: Weekday) -> usize {
    // Monday is 0 … Sunday is 6; the cast cannot lose anything.
    day.to_monday_zero_offset().unsigned_abs() as usize
}

impl TryFrom<BusinessHoursSpec> for BusinessHours {
    type Error = HoursError;

    fn try_from(spec: BusinessHoursSpec) -> Result<Self, Self::Error> {
        let zone = tz_database()
            .get(&spec.time_zone)
            .map_err(|_| HoursError::UnknownTimeZone {
                name: spec.time_zone.clone(),
            })?;
        let mut days: [Vec<OpenInterval>; 7] = Default::default();
        for ((slot, given), day) in days.iter_mut().zip(spec.weekly.days()).zip(DAY_NAMES) {
            let mut sorted = given.clone();
            for &interval in &sorted {
                if interval.start >= MINUTES_PER_DAY || interval.end > MINUTES_PER_DAY {
                    return Err(HoursError::OutOfDay { day, interval });
                }
                if interval.end <= interval.start {
                    return Err(HoursError::Empty { day, interval });
                }
            }
            sorted.sort();
            // Touching intervals (09:00–12:00, 12:00–18:00) are allowed: they read as one.
            if let Some(pair) = sorted.windows(2).find(|w| w[1].start < w[0].end) {
                return Err(HoursError::Overlap {
                    day,
                    first: pair[0],
                    second: pair[1],
                });
            }
            *slot = sorted;
        }
        Ok(Self { spec, zone, days })
    }
}

impl From<BusinessHours> for BusinessHoursSpec {
    fn from(hours: BusinessHours) -> Self {
        hours.spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY, HOUR, MINUTE};
    use proptest::prelude::*;

    const WEEKDAYS: &[Weekday] = &[
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];

    fn nine_to_six(zone: &str) -> BusinessHours {
        let week = WeeklySchedule::default().on(WEEKDAYS, &[OpenInterval::new(9 * 60, 18 * 60)]);
        BusinessHours::new(zone, week).expect("valid hours")
    }

    /// Unix ms of a local wall-clock time in `zone`.
    fn local(zone: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Millis {
        let tz = tz_database().get(zone).expect("zone");
        tz.to_timestamp(jiff::civil::date(y, mo, d).at(h, mi, 0, 0))
            .expect("in range")
            .as_millisecond()
    }

    #[test]
    fn tokyo_weekday_hours() {
        let h = nine_to_six("Asia/Tokyo");
        // 2026-03-02 is a Monday.
        assert!(!h.is_open(local("Asia/Tokyo", 2026, 3, 2, 8, 59)));
        assert!(h.is_open(local("Asia/Tokyo", 2026, 3, 2, 9, 0)));
        assert!(h.is_open(local("Asia/Tokyo", 2026, 3, 2, 17, 59)));
        assert!(!h.is_open(local("Asia/Tokyo", 2026, 3, 2, 18, 0)));
        // Friday evening → Monday 09:00.
        assert_eq!(
            h.next_opening(local("Asia/Tokyo", 2026, 3, 6, 18, 0)),
            Some(local("Asia/Tokyo", 2026, 3, 9, 9, 0))
        );
        // Open now: the answer is now.
        let at = local("Asia/Tokyo", 2026, 3, 4, 12, 34);
        assert_eq!(h.next_opening(at), Some(at));
        // Tuesday 07:00 → Tuesday 09:00, nine hours after UTC midnight-ish; check in ms too.
        let tue_7 = local("Asia/Tokyo", 2026, 3, 3, 7, 0);
        assert_eq!(h.next_opening(tue_7), Some(tue_7 + 2 * HOUR));
    }

    #[test]
    fn touching_intervals_and_midnight_run_together() {
        // Friday 22:00–24:00 and Saturday 00:00–02:00: one night shift.
        let week = WeeklySchedule {
            friday: vec![OpenInterval::new(22 * 60, MINUTES_PER_DAY)],
            saturday: vec![OpenInterval::new(0, 120)],
            ..Default::default()
        };
        let h = BusinessHours::new("Asia/Bangkok", week).expect("valid");
        let midnight = local("Asia/Bangkok", 2026, 3, 7, 0, 0);
        assert!(h.is_open(midnight - 1));
        assert!(h.is_open(midnight));
        assert!(h.is_open(midnight + 2 * HOUR - 1));
        assert!(!h.is_open(midnight + 2 * HOUR));
        assert_eq!(
            h.next_opening(midnight + 2 * HOUR),
            Some(local("Asia/Bangkok", 2026, 3, 13, 22, 0))
        );
    }

    #[test]
    fn daylight_saving_gap_and_fold() {
        // New York springs forward on 2026-03-08 (a Sunday): 02:00 → 03:00.
        let sunday = |intervals: Vec<OpenInterval>| {
            let week = WeeklySchedule {
                sunday: intervals,
                ..Default::default()
            };
            BusinessHours::new("America/New_York", week).expect("valid")
        };
        let sat_noon = local("America/New_York", 2026, 3, 7, 12, 0);

        // 02:30–05:00: 02:30 does not exist that day and is read as 03:30 EDT.
        let h = sunday(vec![OpenInterval::new(150, 300)]);
        let opening = h.next_opening(sat_noon).expect("opens");
        assert_eq!(opening, local("America/New_York", 2026, 3, 8, 3, 30));
        assert!(h.is_open(opening));
        assert!(!h.is_open(opening - 1));

        // 02:30–03:00 shrinks to nothing that day; the next one is a week later.
        let h = sunday(vec![OpenInterval::new(150, 180)]);
        assert_eq!(
            h.next_opening(sat_noon),
            Some(local("America/New_York", 2026, 3, 15, 2, 30))
        );

        // Falls back on 2026-11-01: 01:00–02:00 happens twice; 00:30–01:30 ends at the first 01:30.
        let h = sunday(vec![OpenInterval::new(30, 90)]);
        let first_0130 = local("America/New_York", 2026, 11, 1, 1, 30);
        assert!(h.is_open(first_0130 - 1));
        assert!(!h.is_open(first_0130));
        assert!(!h.is_open(first_0130 + HOUR - MINUTE)); // the second 01:29
    }

    #[test]
    fn empty_schedule_never_opens() {
        let h = BusinessHours::new("UTC", WeeklySchedule::default()).expect("valid");
        assert!(!h.is_open(0));
        assert_eq!(h.next_opening(0), None);
    }

    #[test]
    fn validation_names_the_day_and_interval() {
        let bad = |week: WeeklySchedule| {
            BusinessHours::new("Asia/Tokyo", week)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            bad(WeeklySchedule {
                tuesday: vec![OpenInterval::new(600, 1441)],
                ..Default::default()
            }),
            "business hours: tuesday 10:00–24:01 is outside the day (times run from 00:00 to 24:00)"
        );
        assert_eq!(
            bad(WeeklySchedule {
                monday: vec![OpenInterval::new(18 * 60, 9 * 60)],
                ..Default::default()
            }),
            "business hours: monday 18:00–09:00 ends before it starts (split a period past midnight into two days)"
        );
        assert_eq!(
            bad(WeeklySchedule {
                friday: vec![
                    OpenInterval::new(13 * 60, 18 * 60),
                    OpenInterval::new(9 * 60, 13 * 60 + 30)
                ],
                ..Default::default()
            }),
            "business hours: friday 09:00–13:30 overlaps 13:00–18:00"
        );
        assert_eq!(
            BusinessHours::new("Mars/Olympus", WeeklySchedule::default())
                .expect_err("unknown zone")
                .to_string(),
            "business hours: `Mars/Olympus` is not a known time zone (use an IANA name such as Asia/Tokyo)"
        );
    }

    #[test]
    fn json_round_trip_validates() {
        let json = r#"{"time_zone":"Asia/Tokyo","weekly":{"monday":[{"start":540,"end":1080}]}}"#;
        let h: BusinessHours = serde_json::from_str(json).expect("parses");
        assert_eq!(h.time_zone(), "Asia/Tokyo");
        let back = serde_json::to_string(&h).expect("serializes");
        let again: BusinessHours = serde_json::from_str(&back).expect("parses again");
        assert_eq!(again, h);

        let overlapping = r#"{"time_zone":"Asia/Tokyo","weekly":{"monday":[{"start":540,"end":1080},{"start":600,"end":700}]}}"#;
        let err = serde_json::from_str::<BusinessHours>(overlapping).expect_err("overlap");
        assert!(
            err.to_string()
                .contains("monday 09:00–18:00 overlaps 10:00–11:40")
        );
    }

    fn arb_schedule() -> impl Strategy<Value = WeeklySchedule> {
        // Per day: sorted cut points paired into non-overlapping intervals.
        let day = proptest::collection::btree_set(0u16..=MINUTES_PER_DAY, 0..6).prop_map(|cuts| {
            let cuts: Vec<u16> = cuts.into_iter().collect();
            cuts.chunks_exact(2)
                .map(|pair| OpenInterval::new(pair[0], pair[1]))
                .collect::<Vec<_>>()
        });
        proptest::array::uniform7(day).prop_map(|d| {
            let [
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            ] = d;
            WeeklySchedule {
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            }
        })
    }

    proptest! {
        // Each case walks up to two days minute by minute; fewer cases keep the suite fast.
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn next_opening_is_open_and_nothing_earlier_is(
            week in arb_schedule(),
            zone in prop::sample::select(vec!["Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe"]),
            // 2024-01-01 .. 2028-01-01
            after in 1_704_067_200_000i64..1_830_297_600_000i64,
        ) {
            let h = BusinessHours::new(zone, week.clone()).expect("generated schedules are valid");
            let any_interval = week.days().iter().any(|d| !d.is_empty());
            match h.next_opening(after) {
                Some(open) => {
                    prop_assert!(open >= after);
                    prop_assert!(h.is_open(open));
                    // Closed on a one-minute grid up to the opening (intervals are whole minutes).
                    let mut t = after;
                    while t < open && t < after + 2 * DAY {
                        prop_assert!(!h.is_open(t), "open at {} before next_opening {}", t, open);
                        t += MINUTE;
                    }
                    prop_assert_eq!(h.is_open(after), open == after);
                }
                None => prop_assert!(!any_interval),
            }
        }
    }
}
