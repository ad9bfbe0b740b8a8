//! Instants as every surface accepts them: RFC 3339 text with at most nine fraction digits, from
//! 1970-01-01 up to (not including) 2200-01-01 UTC. Ingest, request filters and report parameters
//! all check them here, so an answer never holds an instant a client could not send.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// The first accepted instant, in microseconds since the epoch.
const MIN_INSTANT_MICROS: i64 = 0;
/// The first instant past the accepted span, in microseconds since the epoch (2200-01-01).
const MAX_INSTANT_MICROS: i64 = 7_258_118_400_000_000;

/// What a violation of the span says.
pub const SPAN: &str = "must be from 1970-01-01 to 2199-12-31 (UTC)";

/// An RFC 3339 date-time with an offset and 0–9 fraction digits; `None` otherwise.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<FixedOffset>> {
    let fraction = text.get(19..).filter(|rest| rest.starts_with('.'));
    if let Some(fraction) = fraction {
        let digits = fraction[1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// Whether `instant` lies in the accepted span.
pub fn in_span(instant: DateTime<Utc>) -> bool {
    (MIN_INSTANT_MICROS..MAX_INSTANT_MICROS).contains(&instant.timestamp_micros())
}

/// Whether a calendar date lies in the accepted span (its days are those of UTC's span; a local
/// date at the edge may hold instants just outside it, which hold no data).
pub fn date_in_span(date: NaiveDate) -> bool {
    (1970..=2199).contains(&chrono::Datelike::year(&date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_fraction_digits_at_most() {
        assert!(parse_rfc3339("2024-03-10T00:00:00Z").is_some());
        assert!(parse_rfc3339("2024-03-10T00:00:00.123456789Z").is_some());
        assert!(parse_rfc3339("2024-03-10T00:00:00.1234567891Z").is_none());
        assert!(parse_rfc3339("2024-03-10T00:00:00.+03:00").is_none());
        assert!(parse_rfc3339("2024-03-10T00:00:00.5-03:00").is_some());
    }

    #[test]
    fn the_span_runs_from_1970_to_2199() {
        let at = |text| parse_rfc3339(text).unwrap().to_utc();
        assert!(in_span(at("1970-01-01T00:00:00Z")));
        assert!(!in_span(at("1969-12-31T23:59:59Z")));
        assert!(in_span(at("2199-12-31T23:59:59.999999Z")));
        assert!(!in_span(at("2200-01-01T00:00:00Z")));
        assert!(!date_in_span(NaiveDate::from_ymd_opt(1, 1, 1).unwrap()));
        assert!(date_in_span(NaiveDate::from_ymd_opt(2199, 12, 31).unwrap()));
    }
}
