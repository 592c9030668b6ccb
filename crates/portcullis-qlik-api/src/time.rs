//! RFC 3339 timestamps and ISO 8601 durations, the two time formats the Qlik API speaks.
//! Only what the API needs: UTC seconds out, `P7D`-style durations in.

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS.000Z` (clamped to years -9999..=9999).
pub fn rfc3339(unix_seconds: i64) -> String {
    let at = jiff::Timestamp::from_second(unix_seconds).unwrap_or(if unix_seconds < 0 { jiff::Timestamp::MIN } else { jiff::Timestamp::MAX });
    at.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// Unix seconds as a text that sorts as the number does (what list sorts compare); absent
/// values are empty, so they sort first going up and last going down.
pub fn sort_key(unix_seconds: Option<i64>) -> String {
    unix_seconds
        .map(|s| format!("{:020}", i128::from(s) - i128::from(i64::MIN)))
        .unwrap_or_default()
}

/// An ISO 8601 duration (`P7D`, `P1Y2M`, `PT12H`, `P2W`) in seconds; years count 365 days and
/// months 30. `None` when it does not parse.
pub fn parse_duration(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' if !in_time && number.is_empty() => in_time = true,
            '0'..='9' => number.push(c),
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let seconds = match (in_time, unit) {
                    (false, 'Y') => 365 * 86_400,
                    (false, 'M') => 30 * 86_400,
                    (false, 'W') => 7 * 86_400,
                    (false, 'D') => 86_400,
                    (true, 'H') => 3600,
                    (true, 'M') => 60,
                    (true, 'S') => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(seconds)?)?;
            }
        }
    }
    if number.is_empty() && total > 0 { Some(total) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn sort_keys_order_as_the_numbers() {
        let mut keys = [Some(10), None, Some(-5), Some(1_700_000_000), Some(9)].map(sort_key);
        keys.sort();
        assert_eq!(keys, [None, Some(-5), Some(9), Some(10), Some(1_700_000_000)].map(sort_key));
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("P7D"), Some(7 * 86_400));
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("P1Y"), Some(365 * 86_400));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("7D"), None);
        assert_eq!(parse_duration("P7"), None);
    }
}
