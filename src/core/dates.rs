//! Calendar dates in the proleptic Gregorian calendar, read and written in ISO 8601 form
//! (`YYYY-MM-DD`), as registry extracts give them.
//!
//! A [`Date`] is a day count from 1970-01-01 (day 0), so that differences of dates are whole days
//! and comparisons are integer comparisons. Every date lies in the years 1 to 9999
//! ([`Date::MIN`] 0001-01-01 to [`Date::MAX`] 9999-12-31, the four-digit years that ISO form
//! writes): construction and arithmetic that would leave that range give `None` (checked, never
//! an overflow or a panic), so differences of dates ([`Date::days_since`]) are always exact. The conversion from (year, month, day) is the
//! civil-from-days arithmetic on 400-year eras of 146,097 days, with the year starting on
//! 1 March so that the leap day is the last day of its year:
//!
//! ```text
//! y' = y - [m <= 2],  era = floor(y' / 400),  yoe = y' - 400 era          (0..=399)
//! doy = floor((153 (m + 9 mod 12) + 2) / 5) + d - 1                        (0..=365)
//! doe = 365 yoe + floor(yoe / 4) - floor(yoe / 100) + doy                  (0..=146096)
//! days = 146097 era + doe - 719468
//! ```
//!
//! ```
//! use stepwedge::core::dates::Date;
//! let surgery = Date::parse("2024-02-28").unwrap();
//! assert_eq!(surgery.add_days(1), Date::parse("2024-02-29"));
//! assert_eq!(surgery.add_months(3), Date::parse("2024-05-28"));
//! assert_eq!(Date::parse("2023-02-29"), None);
//! assert_eq!(Date::MAX.add_days(1), None);
//! ```

use std::fmt;

use serde::Serialize;

/// A calendar date from 0001-01-01 to 9999-12-31: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Date(i32);

/// Days from 0000-03-01 (the start of era 0) to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;
/// Days in one 400-year era.
const DAYS_PER_ERA: i64 = 146_097;

impl Date {
    /// The first date, 0001-01-01.
    pub const MIN: Date = Date(-719_162);
    /// The last date, 9999-12-31.
    pub const MAX: Date = Date(2_932_896);

    /// The date of `year`-`month`-`day`, or `None` if there is no such day (month outside
    /// 1..=12, day outside the month, year outside 1..=9999).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let y = i64::from(year) - i64::from(month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - 400 * era;
        let mp = i64::from((month + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
        let doe = 365 * yoe + yoe / 4 - yoe / 100 + doy;
        Date::from_day_count(DAYS_PER_ERA * era + doe - EPOCH_SHIFT)
    }

    /// The date `days` days after 1970-01-01 (before it if negative), or `None` outside
    /// [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_days(days: i32) -> Option<Date> {
        Date::from_day_count(i64::from(days))
    }

    /// The date of day number `days`, if it is in range.
    fn from_day_count(days: i64) -> Option<Date> {
        if (i64::from(Date::MIN.0)..=i64::from(Date::MAX.0)).contains(&days) {
            i32::try_from(days).ok().map(Date)
        } else {
            None
        }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0
    }

    /// (year, month, day), the inverse of [`Date::from_ymd`] (the year in 1..=9999).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + EPOCH_SHIFT;
        let era = z.div_euclid(DAYS_PER_ERA);
        let doe = z - era * DAYS_PER_ERA;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        (year, month, day)
    }

    /// Reads a date written `YYYY-MM-DD` (exactly four, two and two digits). `None` if the text
    /// is not of that form or names no day (`2023-02-29`).
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            b[range].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = i32::try_from(digits(0..4)?).ok()?;
        Date::from_ymd(year, digits(5..7)?, digits(8..10)?)
    }

    /// The date `days` days later (earlier if negative), or `None` if that is outside
    /// [`Date::MIN`]..=[`Date::MAX`].
    pub fn add_days(self, days: i32) -> Option<Date> {
        Date::from_day_count(i64::from(self.0) + i64::from(days))
    }

    /// The same day `months` calendar months later, or the last day of that month if it is
    /// shorter (2024-01-31 plus one month is 2024-02-29), as lubridate's `%m+%` with
    /// roll-back; `None` if that month is after December 9999.
    pub fn add_months(self, months: u32) -> Option<Date> {
        let (year, month, day) = self.ymd();
        let index = i64::from(year) * 12 + i64::from(month - 1) + i64::from(months);
        let y = i32::try_from(index / 12).ok()?;
        let m = u32::try_from(index % 12).ok()? + 1;
        Date::from_ymd(y, m, day.min(days_in_month(y, m)))
    }

    /// Days in the month of this date (28 to 31).
    pub fn days_in_month(self) -> u32 {
        let (year, month, _) = self.ymd();
        days_in_month(year, month)
    }

    /// Whole days from `earlier` to `self` (negative if `self` comes first). Exact for any two
    /// dates: the range of dates spans 3,652,058 days, far inside `i32`.
    pub fn days_since(self, earlier: Date) -> i32 {
        self.0 - earlier.0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Whether `year` is a Gregorian leap year.
fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_day_numbers() {
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().days(), 0);
        assert_eq!(Date::from_ymd(2000, 3, 1).unwrap().days(), 11_017);
        assert_eq!(Date::from_ymd(2024, 1, 1).unwrap().days(), 19_723);
        assert_eq!(Date::from_ymd(1969, 12, 31).unwrap().days(), -1);
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        let start = Date::from_ymd(1900, 1, 1).unwrap().days();
        let end = Date::from_ymd(2300, 1, 1).unwrap().days();
        let mut expected = (1900, 1, 1);
        for days in start..end {
            let date = Date::from_days(days).unwrap();
            assert_eq!(date.ymd(), expected);
            assert_eq!(Date::parse(&date.to_string()), Some(date));
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for text in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-4-03",
            "24-04-03",
            "2024/04/03",
            "2024-04-03T00:00",
            "",
            "NA",
            "2024-0a-03",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
        assert!(Date::parse("2000-02-29").is_some());
    }

    #[test]
    fn adds_months_with_roll_back() {
        let d = |s| Date::parse(s);
        let add = |s, n| d(s).and_then(|date: Date| date.add_months(n));
        assert_eq!(add("2024-01-31", 1), d("2024-02-29"));
        assert_eq!(add("2023-11-30", 3), d("2024-02-29"));
        assert_eq!(add("2023-10-15", 3), d("2024-01-15"));
        assert_eq!(add("2023-05-31", 0), d("2023-05-31"));
        assert_eq!(
            d("2024-03-01")
                .unwrap()
                .days_since(d("2024-02-28").unwrap()),
            2
        );
        assert_eq!(d("2024-02-10").unwrap().days_in_month(), 29);
        assert_eq!(d("2023-02-10").unwrap().days_in_month(), 28);
    }

    #[test]
    fn the_range_is_years_1_to_9999() {
        assert_eq!(Date::from_ymd(1, 1, 1), Some(Date::MIN));
        assert_eq!(Date::from_ymd(9999, 12, 31), Some(Date::MAX));
        assert_eq!(Date::MIN.to_string(), "0001-01-01");
        assert_eq!(Date::MAX.to_string(), "9999-12-31");
        assert_eq!(Date::parse("0001-01-01"), Some(Date::MIN));
        assert_eq!(Date::parse("9999-12-31"), Some(Date::MAX));
        for text in [
            "0000-12-31",
            "99999-01-01",
            "-9999-01-01",
            "+9999-01-01",
            "10000-01-01",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
        for year in [0, 10_000, -9999, i32::MIN, i32::MAX] {
            assert_eq!(Date::from_ymd(year, 1, 1), None, "{year}");
        }
        assert_eq!(Date::from_ymd(2024, u32::MAX, 1), None);
        assert_eq!(Date::from_ymd(2024, 1, u32::MAX), None);
        for days in [
            i32::MIN,
            i32::MAX,
            Date::MIN.days() - 1,
            Date::MAX.days() + 1,
        ] {
            assert_eq!(Date::from_days(days), None, "{days}");
        }
        assert_eq!(Date::from_days(Date::MAX.days()), Some(Date::MAX));
        assert_eq!(
            Date::from_days(0).map(|d| d.to_string()).as_deref(),
            Some("1970-01-01")
        );
    }

    #[test]
    fn arithmetic_past_the_range_is_none_not_an_overflow() {
        let mid = Date::parse("2024-06-15").unwrap();
        for date in [Date::MIN, mid, Date::MAX] {
            assert_eq!(date.add_days(i32::MAX), None);
            assert_eq!(date.add_days(i32::MIN), None);
            assert_eq!(date.add_months(u32::MAX), None);
            assert_eq!(date.add_days(0), Some(date));
            assert_eq!(date.add_months(0), Some(date));
        }
        assert_eq!(Date::MAX.add_days(1), None);
        assert_eq!(Date::MIN.add_days(-1), None);
        assert_eq!(Date::MAX.add_days(-1), Date::parse("9999-12-30"));
        assert_eq!(Date::MIN.add_days(1), Date::parse("0001-01-02"));
        assert_eq!(Date::MAX.add_months(1), None);
        assert_eq!(
            Date::parse("9999-10-31").unwrap().add_months(2),
            Some(Date::MAX)
        );
        assert_eq!(Date::parse("9999-10-31").unwrap().add_months(3), None);
        assert_eq!(
            Date::MIN.add_months(9999 * 12 - 1),
            Date::parse("9999-12-01")
        );
        assert_eq!(Date::MIN.add_months(9999 * 12), None);
        assert_eq!(
            Date::MIN.add_days(Date::MAX.days_since(Date::MIN)),
            Some(Date::MAX)
        );
        assert_eq!(Date::MAX.days_since(Date::MIN), 3_652_058);
        assert_eq!(Date::MIN.days_since(Date::MAX), -3_652_058);
    }
}
