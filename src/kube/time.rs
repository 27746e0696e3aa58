//! RFC 3339 timestamps as the API server (`metav1.Time`, `MicroTime`) and exec credential
//! plugins (`expirationTimestamp`) write them: parsed to seconds and nanoseconds since the
//! epoch, so times with and without fractions or offsets compare correctly (their text does
//! not: `…00Z` sorts after `…00.2Z`).

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
}
