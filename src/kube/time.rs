//! RFC 3339 timestamps as the API server (`metav1.Time`, `MicroTime`) and exec credential
//! plugins (`expirationTimestamp`) write them: parsed to seconds and nanoseconds since the
//! epoch, so times with and without fractions or offsets compare correctly (their text does
//! not: `…00Z` sorts after `…00.2Z`). The HTTP `Date` header (RFC 9110's IMF-fixdate), which
//! gives the API server's clock; ages as kubectl prints them (`41m`, `3d4h`). And the call
//! log's timestamps, written in UTC with the same calendar arithmetic run backwards.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2024-05-06T07:08:09Z`, with an optional fraction and a `Z` or `±hh:mm` offset → (seconds,
/// nanoseconds) since 1970-01-01 UTC; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    // Bytes 0..19 are ASCII (checked above), so 19 is a character boundary.
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        rest = &fraction[digits..];
    }
    let offset = match rest.as_bytes() {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let seconds = two(*h1, *h2)? * 3600 + two(*m1, *m2)? * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// [`parse_rfc3339`] as a `SystemTime`; `None` also for times before 1970.
pub fn parse_system_time(text: &str) -> Option<SystemTime> {
    let (secs, nanos) = parse_rfc3339(text)?;
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, nanos))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (the HTTP `Date` header, RFC 9110 IMF-fixdate; Go's
/// net/http writes it on every response) → the time; `None` for anything else.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.trim().split(' ');
    let (_weekday, day, month, year, clock, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || zone != "GMT" {
        return None;
    }
    let number = |t: &str| -> Option<i64> {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year) = (number(day)?, number(year)?);
    let mut hms = clock.split(':');
    let (h, m, s) = (
        number(hms.next()?)?,
        number(hms.next()?)?,
        number(hms.next()?)?,
    );
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(secs).ok()?))
}

/// How long ago `then` was at `now`, as kubectl prints an AGE (apimachinery's
/// `HumanDuration`): `45s`, `3m12s`, `41m`, `5h12m`, `24h`, `3d4h`, `40d`, `2y100d`, `9y`; a
/// time in the future (clocks differ) reads `0s`.
pub fn age(then: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    let (minutes, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let (years, two) = (
        days / 365,
        |big: u64, unit: &str, small: u64, small_unit: &str| {
            if small == 0 {
                format!("{big}{unit}")
            } else {
                format!("{big}{unit}{small}{small_unit}")
            }
        },
    );
    if secs < 120 {
        format!("{secs}s")
    } else if minutes < 10 {
        two(minutes, "m", secs % 60, "s")
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        two(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        two(days, "d", hours % 24, "h")
    } else if years < 2 {
        format!("{days}d")
    } else if years < 8 {
        two(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-21T05:46:00.123Z`: RFC 3339 in UTC with milliseconds (the call log's timestamps).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// `2026-11-21T05:46:00.123456789Z`: RFC 3339 in UTC with nanoseconds, as Go's `RFC3339Nano`
/// writes a reconcile request (trailing zeros of the fraction dropped, as Go drops them), so
/// two requests made within a millisecond are still two different values.
pub fn rfc3339_nanos_utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = since.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), the inverse of
/// [`days_from_civil`] (Howard Hinnant's civil_from_days), using 400-year eras of
/// 146,097 days that start on March 1st so that the leap day falls at the end of a year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56Z"),
            Some((1_709_210_096, 0))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56.25+02:00"),
            Some((1_709_210_096, 250_000_000))
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56-00:30"),
            Some((1_709_211_896, 0))
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T05:29:00.210374Z").map(|t| t.1),
            Some(210_374_000)
        );
        assert!(parse_rfc3339("2026-11-21T05:29:00.5Z") > parse_rfc3339("2026-11-21T05:29:00Z"));
        assert_eq!(
            parse_system_time("1970-01-01T00:00:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1))
        );
        assert_eq!(parse_system_time("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn nanosecond_timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::new(1_709_210_096, 123_450_000);
        assert_eq!(rfc3339_nanos_utc(t), "2024-02-29T12:34:56.12345Z");
        assert_eq!(parse_system_time(&rfc3339_nanos_utc(t)), Some(t));
        let whole = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339_nanos_utc(whole), "2024-02-29T12:34:56Z");
        let one = UNIX_EPOCH + Duration::new(0, 1);
        assert_eq!(rfc3339_nanos_utc(one), "1970-01-01T00:00:00.000000001Z");
    }

    #[test]
    fn anything_else_is_none() {
        for bad in [
            "",
            "yesterday",
            "2024-02-29",
            "2024-13-01T00:00:00Z",
            "2024-02-29T12:34:56",
            "x024-02-29T12:34:56Z",
            "2024-02-29T12:34:56.Z",
            "2024-02-29T12:34:56+0200",
            "2024-02-29T12:34:56+é:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |secs: u64, ms: u64| {
            rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_700_000_000, 123), "2023-11-14T22:13:20.123Z");
        assert_eq!(at(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn formatted_times_parse_back() {
        for secs in [0u64, 951_782_400, 1_709_210_096, 4_107_542_399] {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(250);
            assert_eq!(
                parse_rfc3339(&rfc3339_utc(t)),
                Some((secs as i64, 250_000_000))
            );
        }
    }

    #[test]
    fn http_dates_and_ages() {
        let at = |t: &str| parse_system_time(t).expect(t);
        assert_eq!(
            parse_http_date("Sat, 21 Nov 2026 05:30:00 GMT"),
            Some(at("2026-11-21T05:30:00Z"))
        );
        for bad in [
            "",
            "Sat, 21 Nov 2026 05:30:00 UTC",
            "Sat, 21 Foo 2026 05:30:00 GMT",
            "Sat, 21 Nov 2026 25:30:00 GMT",
            "Sat, 21 Nov 2026 05:30 GMT",
            "Sat, +1 Nov 2026 05:30:00 GMT",
            "2026-11-21T05:30:00Z",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
        let now = at("2026-11-21T05:30:00Z");
        for (then, want) in [
            ("2026-11-21T05:29:15Z", "45s"),
            ("2026-11-21T05:26:48Z", "3m12s"),
            ("2026-11-21T04:49:00Z", "41m"),
            ("2026-11-21T03:00:00Z", "150m"),
            ("2026-11-21T00:18:00Z", "5h12m"),
            ("2026-11-20T05:30:00Z", "24h"),
            ("2026-11-18T01:30:00Z", "3d4h"),
            ("2026-10-12T05:30:00Z", "40d"),
            ("2024-08-13T05:30:00Z", "2y100d"),
            ("2026-11-21T06:00:00Z", "0s"),
        ] {
            assert_eq!(age(at(then), now), want, "{then}");
        }
    }
}
