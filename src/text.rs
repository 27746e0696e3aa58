//! Small string helpers every layer uses: cutting at a byte budget without splitting a
//! character, the edit distance behind "did you mean" suggestions, and Go durations (the
//! `--timeout` flag and the tools' `since` argument read them the same way).

use std::time::Duration;

/// The largest char boundary of `s` at or below `index` (`str::floor_char_boundary`, which is
/// not stable at this crate's `rust-version`).
pub fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    let mut i = index;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// An age for people, two units at most: `45s`, `12m30s`, `3h12m`, `2d4h`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) if seconds == 0 => format!("{minutes}m"),
        (0, 0, _) => format!("{minutes}m{seconds}s"),
        (0, _, _) => format!("{hours}h{minutes}m"),
        _ => format!("{days}d{hours}h"),
    }
}

/// A Go duration (`time.ParseDuration`): a sequence of decimal numbers with units, such as
/// `300ms`, `1.5h` or `1m30s`; units ns, us (µs), ms, s, m, h; `0` alone is zero. Negative
/// durations are refused: nothing here can wait a negative time.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s.starts_with('-') {
        return Err("a duration cannot be negative".into());
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(format!(
                "expected a number at {rest:?} (examples: 30s, 1m, 1m30s)"
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("bad number {number:?}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("missing unit after {number} (ns, us, ms, s, m, h)")),
            other => return Err(format!("unknown unit {other:?} (ns, us, ms, s, m, h)")),
        };
        total += value * seconds;
        rest = tail;
    }
    // Go stores a duration as int64 nanoseconds and refuses anything longer; so do we, which
    // also keeps `Instant::now() + timeout` from overflowing.
    if total > MAX_GO_DURATION_SECS {
        return Err("out of range: at most 2562047h47m16s, as in Go".into());
    }
    Duration::try_from_secs_f64(total).map_err(|_| "out of range".to_string())
}

/// `math.MaxInt64` nanoseconds, Go's longest `time.Duration`.
const MAX_GO_DURATION_SECS: f64 = 9_223_372_036.854_775;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_char_boundary_never_splits_a_char() {
        let s = "aé🦀b"; // 1 + 2 + 4 + 1 bytes
        let got: Vec<usize> = (0..=9).map(|i| floor_char_boundary(s, i)).collect();
        assert_eq!(got, [0, 1, 1, 3, 3, 3, 3, 7, 8, 8]);
        assert_eq!(floor_char_boundary("", 5), 0);
    }

    #[test]
    fn edit_distance_counts_chars() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("héllo", "hello"), 1);
        assert_eq!(edit_distance("🦀", ""), 1);
    }

    #[test]
    fn go_durations() {
        let ok =
            |s: &str, ms: u64| assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        ok("30s", 30_000);
        ok("1m", 60_000);
        ok("1m30s", 90_000);
        ok("1.5h", 5_400_000);
        ok("300ms", 300);
        ok("2h45m", 9_900_000);
        ok("0", 0);
        assert_eq!(parse_duration("1500us"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("1µs"), Ok(Duration::from_micros(1)));
        for bad in ["", "10", "s", "1x", "-1s", "1m-3s", ".s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        // Go's limit (the largest int64 of nanoseconds): beyond it a deadline could overflow.
        ok("2562047h", 2_562_047 * 3_600_000);
        for huge in ["2562048h", "999999999999999h", "1e400s"] {
            assert!(parse_duration(huge).is_err(), "{huge:?}");
        }
        assert_eq!(
            parse_duration("2562048h"),
            Err("out of range: at most 2562047h47m16s, as in Go".to_string())
        );
    }

    #[test]
    fn short_durations_keep_two_units() {
        let d = |s| short_duration(Duration::from_secs(s));
        assert_eq!(d(0), "0s");
        assert_eq!(d(45), "45s");
        assert_eq!(d(600), "10m");
        assert_eq!(d(750), "12m30s");
        assert_eq!(d(3 * 3600 + 12 * 60 + 5), "3h12m");
        assert_eq!(d(2 * 86_400 + 4 * 3600 + 59), "2d4h");
    }
}
