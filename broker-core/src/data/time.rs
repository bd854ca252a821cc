//! Timestamps and timespans: signed 64-bit nanosecond counts.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A point in time: nanoseconds since the UNIX epoch (UTC), as an `i64`.
///
/// The range is about 1677-09-21 to 2262-04-11. The text form (used by the
/// JSON v1 format) is `YYYY-MM-DDThh:mm:ss.mmm`, in UTC with milliseconds and
/// no zone suffix; parsing accepts 0 to 9 fractional digits and an optional
/// `Z`, `±hh:mm`, `±hhmm` or `±hh` zone.
///
/// ```
/// use broker_core::data::Timestamp;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let t: Timestamp = "2022-04-10T08:00:00+01:00".parse().unwrap();
/// assert_eq!(t.to_string(), "2022-04-10T07:00:00.000");
/// let st = UNIX_EPOCH + Duration::from_millis(1500);
/// assert_eq!(Timestamp::try_from(st).unwrap().as_nanos(), 1_500_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A time interval: signed nanoseconds, as an `i64` (about ±292 years).
///
/// The text form is an integer and a unit, with the coarsest of `ns`, `us`,
/// `ms` and `s` that loses nothing (`1500ms`, `-5s`, `0s` for zero). Parsing
/// also accepts `min`, `h` and `d`, and a fraction (`1.5s`).
///
/// ```
/// use broker_core::data::Timespan;
/// use std::time::Duration;
///
/// let t = Timespan::try_from(Duration::from_millis(1500)).unwrap();
/// assert_eq!(t.to_string(), "1500ms");
/// assert_eq!("2min".parse::<Timespan>().unwrap(), Timespan::from_secs(120));
/// assert!(Duration::try_from(Timespan::from_secs(-1)).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timespan(i64);

/// Why a time value could not be built or converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The value does not fit in an `i64` count of nanoseconds.
    #[error("time value out of range for i64 nanoseconds")]
    OutOfRange,
    /// A negative timespan cannot become a `std::time::Duration`.
    #[error("negative timespan cannot become a Duration")]
    Negative,
    /// The text is not a valid timestamp or timespan.
    #[error("invalid {kind} text {text:?}")]
    Syntax {
        /// `timestamp` or `timespan`.
        kind: &'static str,
        /// The text given.
        text: String,
    },
}

impl Timestamp {
    /// The epoch, 1970-01-01T00:00:00 UTC.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The timestamp `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The current time of the system clock.
    pub fn now() -> Timestamp {
        // The clock is after 1970 and before 2262 on any machine we run on;
        // fall back to the epoch rather than panic if it is not.
        Timestamp::try_from(SystemTime::now()).unwrap_or(Timestamp::EPOCH)
    }

    /// This timestamp as seconds since the epoch (Zeek's `time` is a double).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The timestamp `secs` seconds after the epoch, truncated to nanoseconds.
    pub fn from_secs_f64(secs: f64) -> Result<Timestamp, TimeError> {
        nanos_from_secs_f64(secs).map(Timestamp)
    }

    /// The timestamp moved by `span`, if it stays in range.
    pub fn checked_add(self, span: Timespan) -> Option<Timestamp> {
        self.0.checked_add(span.0).map(Timestamp)
    }

    /// The timespan from `earlier` to `self`, if it fits.
    pub fn checked_duration_since(self, earlier: Timestamp) -> Option<Timespan> {
        self.0.checked_sub(earlier.0).map(Timespan)
    }
}

impl Timespan {
    /// The zero-length interval.
    pub const ZERO: Timespan = Timespan(0);

    /// An interval of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Timespan {
        Timespan(nanos)
    }

    /// An interval of `ms` milliseconds (saturating at the range limits).
    pub const fn from_millis(ms: i64) -> Timespan {
        Timespan(ms.saturating_mul(1_000_000))
    }

    /// An interval of `secs` seconds (saturating at the range limits).
    pub const fn from_secs(secs: i64) -> Timespan {
        Timespan(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// The interval in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The interval in seconds (Zeek's `interval` is a double).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The interval of `secs` seconds, truncated to nanoseconds.
    pub fn from_secs_f64(secs: f64) -> Result<Timespan, TimeError> {
        nanos_from_secs_f64(secs).map(Timespan)
    }
}

fn nanos_from_secs_f64(secs: f64) -> Result<i64, TimeError> {
    let nanos = (secs * NANOS_PER_SEC as f64).trunc();
    // i64::MAX as f64 rounds up to 2^63, so compare with `<`.
    if nanos.is_finite() && nanos >= i64::MIN as f64 && nanos < i64::MAX as f64 {
        Ok(nanos as i64)
    } else {
        Err(TimeError::OutOfRange)
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimeError;

    fn try_from(t: SystemTime) -> Result<Timestamp, TimeError> {
        let nanos = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos()),
            Err(before) => i64::try_from(before.duration().as_nanos()).map(|n| -n),
        };
        nanos.map(Timestamp).map_err(|_| TimeError::OutOfRange)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        let magnitude = Duration::from_nanos(t.0.unsigned_abs());
        if t.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

impl TryFrom<Duration> for Timespan {
    type Error = TimeError;

    fn try_from(d: Duration) -> Result<Timespan, TimeError> {
        i64::try_from(d.as_nanos())
            .map(Timespan)
            .map_err(|_| TimeError::OutOfRange)
    }
}

impl TryFrom<Timespan> for Duration {
    type Error = TimeError;

    fn try_from(t: Timespan) -> Result<Duration, TimeError> {
        u64::try_from(t.0)
            .map(Duration::from_nanos)
            .map_err(|_| TimeError::Negative)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Floor division, so that times before 1970 print correctly (Broker
        // truncates toward zero and prints -1.5 s as 23:59:59.000).
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let millis = self.0.rem_euclid(NANOS_PER_SEC) / 1_000_000;
        let days = secs.div_euclid(86_400);
        let day_secs = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}",
            day_secs / 3600,
            day_secs % 3600 / 60,
            day_secs % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Timestamp, TimeError> {
        parse_timestamp(s).ok_or_else(|| TimeError::Syntax {
            kind: "timestamp",
            text: s.to_owned(),
        })
    }
}

impl fmt::Display for Timespan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(NANOS_PER_SEC, "s"), (1_000_000, "ms"), (1_000, "us")] {
            if n % unit == 0 {
                return write!(f, "{}{name}", n / unit);
            }
        }
        write!(f, "{n}ns")
    }
}

impl FromStr for Timespan {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Timespan, TimeError> {
        parse_timespan(s).ok_or_else(|| TimeError::Syntax {
            kind: "timespan",
            text: s.to_owned(),
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// A small cursor over ASCII text for the time parsers.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, count: usize) -> Option<i64> {
        let part = self.s.get(self.pos..self.pos + count)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += count;
        Some(
            part.iter()
                .fold(0, |acc, &b| acc * 10 + i64::from(b - b'0')),
        )
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos == self.s.len()
    }
}

fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let mut c = Cursor {
        s: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    c.eat(b'-').then_some(())?;
    let month = c.digits(2)?;
    c.eat(b'-').then_some(())?;
    let day = c.digits(2)?;
    c.eat(b'T').then_some(())?;
    let hour = c.digits(2)?;
    c.eat(b':').then_some(())?;
    let minute = c.digits(2)?;
    c.eat(b':').then_some(())?;
    let second = c.digits(2)?;
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut nanos: i64 = 0;
    if c.eat(b'.') {
        let start = c.pos;
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            c.pos += 1;
        }
        let count = c.pos - start;
        if count == 0 || count > 9 {
            return None;
        }
        c.pos = start;
        nanos = c.digits(count)? * 10i64.pow(9 - count as u32);
    }
    let mut offset_secs: i64 = 0;
    match c.peek() {
        Some(b'Z') => {
            c.pos += 1;
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c.digits(2)?;
            c.eat(b':');
            let minutes = if c.done() { 0 } else { c.digits(2)? };
            if hours > 23 || minutes > 59 {
                return None;
            }
            offset_secs = (hours * 3600 + minutes * 60) * if sign == b'+' { 1 } else { -1 };
        }
        _ => {}
    }
    if !c.done() {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    let total = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(nanos);
    i64::try_from(total).ok().map(Timestamp)
}

fn parse_timespan(s: &str) -> Option<Timespan> {
    let bytes = s.as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 {
        return None;
    }
    let (int_part, rest) = rest.split_at(int_len);
    let (frac_part, unit) = match rest.strip_prefix(b".") {
        Some(after) => {
            let n = after.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            after.split_at(n)
        }
        None => (&[][..], rest),
    };
    let unit_nanos: i128 = match unit {
        b"ns" => 1,
        b"us" => 1_000,
        b"ms" => 1_000_000,
        b"s" => 1_000_000_000,
        b"min" => 60_000_000_000,
        b"h" => 3_600_000_000_000,
        b"d" => 86_400_000_000_000,
        _ => return None,
    };
    let mut whole: i128 = 0;
    for &b in int_part {
        whole = whole.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let mut total = whole.checked_mul(unit_nanos)?;
    // Fractional digits beyond what nanoseconds can hold are truncated.
    let mut scale = unit_nanos;
    for &b in frac_part {
        if scale < 10 {
            break;
        }
        scale /= 10;
        total = total.checked_add(i128::from(b - b'0') * scale)?;
    }
    if negative {
        total = -total;
    }
    i64::try_from(total).ok().map(Timespan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_nanos()
    }

    #[test]
    fn civil_conversion_round_trips_over_the_whole_range() {
        for days in (-106_752..106_752).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn timestamps_parse_with_zones_and_fractions() {
        let base = ts("2022-04-10T07:00:00");
        assert_eq!(base, 0x16e4_76d0_2cb8_6000);
        assert_eq!(ts("2022-04-10T07:00:00.000Z"), base);
        assert_eq!(ts("2022-04-10T08:00:00.000+01:00"), base);
        assert_eq!(ts("2022-04-10T05:30:00-0130"), base);
        assert_eq!(ts("2022-04-10T09:00:00+02"), base);
        assert_eq!(ts("2022-04-10T07:00:00.5"), base + 500_000_000);
        assert_eq!(ts("1969-12-31T23:59:58.500"), -1_500_000_000);
        assert_eq!(
            ts("2026-08-13T17:28:23.123456789"),
            0x18cb_6d86_d96e_3315_u64 as i64
        );
    }

    #[test]
    fn timestamps_reject_bad_text() {
        for text in [
            "2022-04-10 07:00:00",
            "2022-04-10",
            "2022-13-10T07:00:00",
            "2022-02-30T07:00:00",
            "2022-04-10T24:00:00",
            "2022-04-10T07:00:00.",
            "2022-04-10T07:00:00.1234567890",
            "2022-04-10T07:00:00+1",
            "2022-04-10T07:00:00x",
            "3000-01-01T00:00:00",
        ] {
            assert!(text.parse::<Timestamp>().is_err(), "{text}");
        }
    }

    #[test]
    fn timestamps_print_milliseconds_with_floor() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000");
        assert_eq!(
            Timestamp(-1_500_000_000).to_string(),
            "1969-12-31T23:59:58.500"
        );
        assert_eq!(
            Timestamp(0x18cb_6d86_d96e_3315).to_string(),
            "2026-08-13T17:28:23.123"
        );
        assert_eq!(Timestamp(i64::MIN).to_string(), "1677-09-21T00:12:43.145");
        assert_eq!(Timestamp(i64::MAX).to_string(), "2262-04-11T23:47:16.854");
    }

    #[test]
    fn timespans_print_in_coarsest_exact_unit() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_000, "1us"),
            (1_500_000_000, "1500ms"),
            (-5_000_000_000, "-5s"),
            (1_000_000_001, "1000000001ns"),
            (3_600_000_000_000, "3600s"),
        ];
        for (n, text) in cases {
            assert_eq!(Timespan(n).to_string(), text);
            assert_eq!(text.parse::<Timespan>().unwrap(), Timespan(n));
        }
    }

    #[test]
    fn timespans_parse_units_and_fractions() {
        assert_eq!("2min".parse(), Ok(Timespan::from_secs(120)));
        assert_eq!("3h".parse(), Ok(Timespan::from_secs(3 * 3600)));
        assert_eq!("1d".parse(), Ok(Timespan::from_secs(86_400)));
        assert_eq!("1.5s".parse(), Ok(Timespan::from_millis(1500)));
        assert_eq!("-0.25ms".parse(), Ok(Timespan(-250_000)));
        for bad in [
            "10",
            "10 us",
            "1.s",
            "s",
            "",
            "-",
            "1e3s",
            "99999999999999h",
        ] {
            assert!(bad.parse::<Timespan>().is_err(), "{bad}");
        }
    }

    #[test]
    fn system_time_conversions() {
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        let t = Timestamp::try_from(before).unwrap();
        assert_eq!(t.as_nanos(), -1_500_000_000);
        assert_eq!(SystemTime::from(t), before);
        let far = UNIX_EPOCH + Duration::from_secs(400 * 365 * 86_400);
        assert_eq!(Timestamp::try_from(far), Err(TimeError::OutOfRange));
        assert_eq!(
            Timespan::try_from(Duration::MAX),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            Duration::try_from(Timespan::from_millis(7)),
            Ok(Duration::from_millis(7))
        );
    }

    #[test]
    fn seconds_as_doubles() {
        assert_eq!(
            Timestamp::from_secs_f64(1.5).unwrap().as_nanos(),
            1_500_000_000
        );
        assert_eq!(
            Timespan::from_secs_f64(f64::NAN),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(Timespan::from_secs_f64(1e300), Err(TimeError::OutOfRange));
        assert_eq!(Timespan::from_millis(250).as_secs_f64(), 0.25);
    }
}
