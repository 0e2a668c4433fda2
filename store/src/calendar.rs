//! UTC calendar dates of Unix times and back, in the proleptic Gregorian
//! calendar (Howard Hinnant's `civil_from_days` and `days_from_civil`), for
//! the timestamps the wire formats write and read: SigV4's
//! `yyyymmddThhmmssZ`, the ISO 8601 times of transfer manifests, stream
//! labels and DynamoDB's throughput messages.
//!
//! Owns the arithmetic only; each caller writes its own format.

/// A UTC date and time of day, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl DateTime {
    /// The date and time `ms` milliseconds after the Unix epoch.
    pub fn from_unix_ms(ms: u64) -> DateTime {
        DateTime {
            millis: (ms % 1000) as u32,
            ..DateTime::from_unix_seconds(ms / 1000)
        }
    }

    /// The date and time `secs` seconds after the Unix epoch.
    pub fn from_unix_seconds(secs: u64) -> DateTime {
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            millis: 0,
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS`, ISO 8601 without fraction or zone.
    pub fn iso_seconds(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01; the inverse of
/// [`civil_from_days`] for valid dates.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_convert_both_ways() {
        for days in [-719_468, -1, 0, 59, 365, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn a_unix_time_is_its_utc_date_and_time() {
        let t = DateTime::from_unix_ms(1_706_702_400_123);
        assert_eq!(t.iso_seconds(), "2024-01-31T12:00:00");
        assert_eq!(t.millis, 123);
    }
}
