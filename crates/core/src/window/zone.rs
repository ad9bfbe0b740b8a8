//! The time zone of a request: an IANA zone or a fixed offset.

use chrono::{FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// Most a fixed offset may differ from UTC, as in `java.time.ZoneOffset`.
const MAX_OFFSET_SECONDS: i32 = 18 * 3600;

/// Where local dates and hours are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Zone {
    /// A zone of the tz database, with its daylight-saving rules and history.
    Named(Tz),
    /// A constant offset from UTC.
    Fixed(FixedOffset),
}

impl Zone {
    pub const UTC: Zone = Zone::Named(Tz::UTC);

    /// Reads an IANA name exactly as in the tz database (`America/Sao_Paulo`, `UTC`), `Z`, or an
    /// offset `±HH:MM` between -18:00 and +18:00.
    pub fn parse(text: &str) -> Option<Zone> {
        if text == "Z" {
            return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
        }
        if let Some(sign) = text.strip_prefix(['+', '-']).map(|_| &text[..1]) {
            return parse_offset(sign, &text[1..]).map(Zone::Fixed);
        }
        text.parse::<Tz>().ok().map(Zone::Named)
    }

    /// The offset from UTC in seconds at the instant `utc_seconds` (Unix time).
    pub fn offset_seconds(&self, utc_seconds: i64) -> i32 {
        match self {
            Zone::Fixed(offset) => offset.local_minus_utc(),
            Zone::Named(tz) => {
                let utc = chrono::DateTime::from_timestamp(utc_seconds, 0)
                    .map(|t| t.naive_utc())
                    .unwrap_or_default();
                tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
            }
        }
    }

    /// The local date-time of an instant given in Unix microseconds.
    pub fn local(&self, utc_micros: i64) -> NaiveDateTime {
        let seconds = utc_micros.div_euclid(1_000_000);
        let offset = i64::from(self.offset_seconds(seconds));
        chrono::DateTime::from_timestamp_micros(utc_micros + offset * 1_000_000)
            .unwrap_or_default()
            .naive_utc()
    }

    /// The instant with its local offset, for labels such as `2024-03-10T01:00:00-05:00`.
    pub fn rfc3339(&self, utc_micros: i64) -> String {
        let seconds = utc_micros.div_euclid(1_000_000);
        let offset = FixedOffset::east_opt(self.offset_seconds(seconds)).expect("tz offsets fit");
        chrono::DateTime::from_timestamp_micros(utc_micros)
            .unwrap_or_default()
            .with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
    }
}

impl From<Zone> for String {
    fn from(zone: Zone) -> String {
        zone.to_string()
    }
}

impl TryFrom<String> for Zone {
    type Error = String;

    fn try_from(text: String) -> Result<Zone, String> {
        Zone::parse(&text).ok_or_else(|| format!("not a time zone: {text:?}"))
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Fixed(offset) => write!(f, "{offset}"),
        }
    }
}

fn parse_offset(sign: &str, rest: &str) -> Option<FixedOffset> {
    let bytes = rest.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = &rest[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (hours, minutes) = (digits(0..2)?, digits(3..5)?);
    if minutes >= 60 {
        return None;
    }
    let seconds = hours * 3600 + minutes * 60;
    if seconds > MAX_OFFSET_SECONDS {
        return None;
    }
    FixedOffset::east_opt(if sign == "-" { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_offsets() {
        assert_eq!(Zone::parse("UTC"), Some(Zone::UTC));
        assert!(matches!(
            Zone::parse("America/Sao_Paulo"),
            Some(Zone::Named(_))
        ));
        assert_eq!(
            Zone::parse("+05:45"),
            Some(Zone::Fixed(
                FixedOffset::east_opt(5 * 3600 + 45 * 60).unwrap()
            ))
        );
        assert_eq!(
            Zone::parse("-03:00"),
            Some(Zone::Fixed(FixedOffset::west_opt(3 * 3600).unwrap()))
        );
        assert_eq!(
            Zone::parse("Z"),
            Some(Zone::Fixed(FixedOffset::east_opt(0).unwrap()))
        );
        assert_eq!(
            Zone::parse("+18:00"),
            Some(Zone::Fixed(FixedOffset::east_opt(18 * 3600).unwrap()))
        );
        for bad in [
            "",
            "utc",
            "america/sao_paulo",
            "+5:30",
            "+05:60",
            "+18:01",
            "-19:00",
            "05:30",
            "+05:30:00",
            "+0530",
            "Mars/Olympus",
            "+ 5:30",
            "+05:3x",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn labels_carry_the_local_offset() {
        let zone = Zone::parse("America/New_York").unwrap();
        // 2024-03-10T06:30:00Z is 01:30 EST, before the spring-forward at 07:00Z.
        let micros = 1_710_052_200_000_000;
        assert_eq!(zone.rfc3339(micros), "2024-03-10T01:30:00-05:00");
        assert_eq!(
            zone.rfc3339(micros + 3_600_000_000),
            "2024-03-10T03:30:00-04:00"
        );
    }
}
