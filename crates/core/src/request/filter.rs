//! The common filter of every analytics, search, report and preview request.

use chrono::NaiveDate;
use uuid::Uuid;

use super::{Checker, Limits, MAX_FILTER_ITEMS};
use crate::Tenant;
use crate::ingest::parse_uuid;
use crate::window::{HourWindow, Window, Zone, local_date};

/// The bot a request is about, as sent.
#[derive(Debug, Clone, Default)]
pub struct TenantInput {
    pub org_id: String,
    pub env_id: String,
    pub bot_id: String,
}

impl TenantInput {
    /// The tenant, or violations on `{prefix}.org_id` etc.
    pub fn check(&self, prefix: &str, checker: &mut Checker) -> Option<Tenant> {
        let mut uuid = |name: &str, text: &str| checker.uuid(&format!("{prefix}.{name}"), text);
        let org_id = uuid("org_id", &self.org_id);
        let env_id = uuid("env_id", &self.env_id);
        let bot_id = uuid("bot_id", &self.bot_id);
        Some(Tenant {
            org_id: org_id?,
            env_id: env_id?,
            bot_id: bot_id?,
        })
    }
}

/// The filter as sent.
#[derive(Debug, Clone, Default)]
pub struct FilterInput {
    pub start_date: String,
    pub end_date: String,
    pub start_hour: Option<i32>,
    pub end_hour: Option<i32>,
    pub timezone: String,
    pub channel_uuids: Vec<String>,
    pub tags_name: Vec<String>,
    pub untagged: bool,
}

/// A validated filter: which instants, channels and tags a request is about.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub window: Window,
    /// Distinct, in the order asked; empty means every channel.
    pub channels: Vec<Uuid>,
    /// Distinct; an item matches when it carries at least one. Empty means no tag filter.
    pub tags: Vec<String>,
    /// Only items without any tag.
    pub untagged: bool,
}

impl FilterInput {
    pub fn check(&self, prefix: &str, limits: &Limits, checker: &mut Checker) -> Option<Filter> {
        let field = |name: &str| format!("{prefix}.{name}");
        let zone = check_zone(&field("timezone"), &self.timezone, checker);
        let start_date = check_date(&field("start_date"), &self.start_date, zone, checker);
        let end_date = check_date(&field("end_date"), &self.end_date, zone, checker);
        let start_hour = check_hour(&field("start_hour"), self.start_hour, 0, checker);
        let end_hour = check_hour(&field("end_hour"), self.end_hour, 23, checker);
        if let (Some(start), Some(end)) = (start_date, end_date) {
            if end < start {
                checker.violation(
                    field("end_date"),
                    format!("{end} is before start_date {start}"),
                );
            } else {
                let days = (end - start).num_days() as u64 + 1;
                if days > limits.max_range_days {
                    checker.violation(
                        field("end_date"),
                        format!(
                            "the range holds {days} days; at most {} are allowed",
                            limits.max_range_days
                        ),
                    );
                }
            }
        }
        let channels = check_channels(&field("channel_uuids"), &self.channel_uuids, checker);
        let tags = check_tags(&field("tags_name"), &self.tags_name, checker);
        if self.untagged && !self.tags_name.is_empty() {
            checker.violation(field("untagged"), "cannot be combined with tags_name");
        }
        Some(Filter {
            window: Window {
                zone: zone?,
                start_date: start_date?,
                end_date: end_date?,
                hours: HourWindow {
                    start: start_hour?,
                    end: end_hour?,
                },
            },
            channels: channels?,
            tags: tags?,
            untagged: self.untagged,
        })
    }
}

/// A request's zone; empty means UTC.
pub fn check_zone(field: &str, text: &str, checker: &mut Checker) -> Option<Zone> {
    let zone = if text.is_empty() {
        Some(Zone::UTC)
    } else {
        Zone::parse(text)
    };
    if zone.is_none() {
        checker.violation(
            field,
            format!(
                "must be an IANA zone such as America/Sao_Paulo, UTC, Z or an offset ±HH:MM \
                 up to 18:00, got {:?}",
                shorten(text)
            ),
        );
    }
    zone
}

/// A bare `yyyy-MM-dd` is a local date; an RFC 3339 date-time is an instant whose local date in
/// the request's zone is used.
fn check_date(
    field: &str,
    text: &str,
    zone: Option<Zone>,
    checker: &mut Checker,
) -> Option<NaiveDate> {
    let parsed = if is_bare_date(text) {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Ok)
    } else {
        crate::instant::parse_rfc3339(text)
            .filter(|_| text.len() >= 20 && text.as_bytes()[10] == b'T')
            .map(|instant| Err(instant.to_utc()))
    };
    let in_span = match parsed {
        Some(Ok(date)) => crate::instant::date_in_span(date),
        Some(Err(instant)) => crate::instant::in_span(instant),
        None => true,
    };
    if !in_span {
        checker.violation(field, crate::instant::SPAN.to_string());
        return None;
    }
    match parsed {
        None => {
            checker.violation(
                field,
                format!(
                    "must be a date yyyy-MM-dd or an RFC 3339 date-time such as \
                     2024-03-10T00:00:00.000Z, got {:?}",
                    shorten(text)
                ),
            );
            None
        }
        Some(Ok(date)) => Some(date),
        Some(Err(instant)) => zone.map(|zone| local_date(zone, instant)),
    }
}

fn is_bare_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn check_hour(field: &str, hour: Option<i32>, default: u32, checker: &mut Checker) -> Option<u32> {
    match hour {
        None => Some(default),
        Some(hour @ 0..=23) => Some(hour as u32),
        Some(hour) => {
            checker.violation(field, format!("must be an hour 0..23, got {hour}"));
            None
        }
    }
}

fn check_channels(field: &str, texts: &[String], checker: &mut Checker) -> Option<Vec<Uuid>> {
    if texts.len() > MAX_FILTER_ITEMS {
        checker.violation(field, format!("at most {MAX_FILTER_ITEMS} channels"));
        return None;
    }
    let mut channels = Vec::with_capacity(texts.len());
    let mut valid = true;
    for (index, text) in texts.iter().enumerate() {
        match parse_uuid(text) {
            Some(uuid) if channels.contains(&uuid) => {}
            Some(uuid) => channels.push(uuid),
            None => {
                valid = false;
                checker.violation(
                    format!("{field}[{index}]"),
                    format!("must be a hyphenated UUID, got {:?}", shorten(text)),
                );
            }
        }
    }
    valid.then_some(channels)
}

fn check_tags(field: &str, texts: &[String], checker: &mut Checker) -> Option<Vec<String>> {
    if texts.len() > MAX_FILTER_ITEMS {
        checker.violation(field, format!("at most {MAX_FILTER_ITEMS} tags"));
        return None;
    }
    let mut tags: Vec<String> = Vec::with_capacity(texts.len());
    let mut valid = true;
    for (index, text) in texts.iter().enumerate() {
        let chars = text.chars().count();
        if chars == 0 || chars > crate::ingest::MAX_NAME_CHARS {
            valid = false;
            checker.violation(
                format!("{field}[{index}]"),
                format!("must be 1..{} characters", crate::ingest::MAX_NAME_CHARS),
            );
        } else if !tags.contains(text) {
            tags.push(text.clone());
        }
    }
    valid.then_some(tags)
}

/// Echoes at most 64 characters of a bad value.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> FilterInput {
        FilterInput {
            start_date: "2024-03-01".into(),
            end_date: "2024-03-31".into(),
            ..Default::default()
        }
    }

    fn fields(input: &FilterInput) -> Vec<String> {
        let mut checker = Checker::new();
        let _ = input.check("filter", &Limits::default(), &mut checker);
        checker
            .finish(Some(()))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn a_good_filter_has_defaults() {
        let mut checker = Checker::new();
        let filter = input()
            .check("filter", &Limits::default(), &mut checker)
            .unwrap();
        assert!(checker.is_empty());
        assert_eq!(filter.window.hours, HourWindow::ALL_DAY);
        assert_eq!(filter.window.zone, Zone::UTC);
    }

    #[test]
    fn an_instant_is_read_as_its_local_date() {
        let mut checker = Checker::new();
        let filter = FilterInput {
            start_date: "2024-03-01T02:00:00.000Z".into(),
            end_date: "2024-03-02T02:59:59Z".into(),
            timezone: "America/Sao_Paulo".into(),
            ..Default::default()
        }
        .check("filter", &Limits::default(), &mut checker)
        .unwrap();
        assert_eq!(filter.window.start_date.to_string(), "2024-02-29");
        assert_eq!(filter.window.end_date.to_string(), "2024-03-01");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = FilterInput {
            start_date: "2024-3-1".into(),
            end_date: "yesterday".into(),
            start_hour: Some(24),
            end_hour: Some(-1),
            timezone: "Mars/Base".into(),
            channel_uuids: vec!["x".into()],
            tags_name: vec!["".into()],
            untagged: true,
        };
        assert_eq!(
            fields(&bad),
            [
                "filter.timezone",
                "filter.start_date",
                "filter.end_date",
                "filter.start_hour",
                "filter.end_hour",
                "filter.channel_uuids[0]",
                "filter.tags_name[0]",
                "filter.untagged"
            ]
        );
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        let mut reversed = input();
        reversed.end_date = "2024-02-29".into();
        assert_eq!(fields(&reversed), ["filter.end_date"]);
        let mut long = input();
        long.start_date = "2023-01-01".into();
        long.end_date = "2024-01-01".into(); // 366 days: allowed
        assert!(fields(&long).is_empty());
        long.end_date = "2024-01-02".into();
        assert_eq!(fields(&long), ["filter.end_date"]);
    }

    #[test]
    fn repeated_channels_count_once() {
        let mut checker = Checker::new();
        let channel = "00000000-0000-4000-8000-0000000000a1".to_string();
        let filter = FilterInput {
            channel_uuids: vec![channel.clone(), channel.to_uppercase()],
            ..input()
        }
        .check("filter", &Limits::default(), &mut checker)
        .unwrap();
        assert_eq!(filter.channels.len(), 1);
    }
}
