//! Query parameters as the seed names them (camelCase; lists comma-separated), read into the gRPC
//! request. Only their form is checked here (a number is a number); what they mean is checked by
//! the one validation behind both surfaces.

use talkhouse_proto::v1;

use super::error::{RestError, Violation};

/// The query parameters of one request, each read at most once.
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
    read: Vec<(&'static str, Kind)>,
    violations: Vec<Violation>,
}

/// What a parameter holds, as its reader takes it; the OpenAPI document describes each
/// parameter a route reads by it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Text,
    /// Comma-separated texts.
    List,
    Integer,
    Number,
    Flag,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// Several of these names, comma-separated.
    Choices(&'static [&'static str]),
}

impl Params {
    /// The parameters of a JSON object body: each key a parameter, a list joined by commas.
    pub(crate) fn from_json(body: &[u8]) -> Result<Self, RestError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::new(Vec::new()));
        }
        let invalid = |message: &str| {
            RestError::invalid(vec![Violation {
                field: "body".into(),
                message: message.into(),
            }])
        };
        let json: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| invalid("is not JSON"))?;
        let object = json
            .as_object()
            .ok_or_else(|| invalid("is not a JSON object"))?;
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let pairs = object
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::Array(items) => {
                        items.iter().map(text).collect::<Vec<_>>().join(",")
                    }
                    other => text(other),
                };
                (key.clone(), value)
            })
            .collect();
        Ok(Self::new(pairs))
    }

    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        Self {
            pairs,
            read: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// More parameters, read after those already there.
    pub(crate) fn extend(&mut self, pairs: Vec<(String, String)>) {
        self.pairs.extend(pairs);
    }

    /// The parameter's last value, when given.
    pub(crate) fn text(&mut self, name: &'static str) -> Option<String> {
        self.value(name, Kind::Text)
    }

    fn value(&mut self, name: &'static str, kind: Kind) -> Option<String> {
        self.read.push((name, kind));
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// A comma-separated list; absent or empty is no item.
    pub(crate) fn list(&mut self, name: &'static str) -> Vec<String> {
        self.items(name, Kind::List)
    }

    fn items(&mut self, name: &'static str, kind: Kind) -> Vec<String> {
        self.value(name, kind)
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A number (whole where `T` is), when given.
    pub(crate) fn number<T: std::str::FromStr>(&mut self, name: &'static str) -> Option<T> {
        let kind = match std::any::type_name::<T>() {
            "f32" | "f64" => Kind::Number,
            _ => Kind::Integer,
        };
        let text = self.value(name, kind)?;
        match text.trim().parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.violation(
                    name,
                    format!("{text:?} is not a number of the kind expected"),
                );
                None
            }
        }
    }

    /// Several of `names`, comma-separated, each as its index from 1.
    pub(crate) fn choices(
        &mut self,
        name: &'static str,
        names: &'static [&'static str],
    ) -> Vec<i32> {
        let mut chosen = Vec::new();
        for item in self.items(name, Kind::Choices(names)) {
            match names.iter().position(|n| n.eq_ignore_ascii_case(&item)) {
                Some(index) => chosen.push(index as i32 + 1),
                None => {
                    self.violation(name, format!("{item:?} is not one of {}", names.join(", ")))
                }
            }
        }
        chosen
    }

    pub(crate) fn flag(&mut self, name: &'static str) -> bool {
        match self.value(name, Kind::Flag).as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true" | "") => true,
            Some(other) => {
                self.violation(name, format!("{other:?} is neither true nor false"));
                false
            }
        }
    }

    /// One of `names` (upper case, as the seed spells enumerations), as its index from 1; 0 when
    /// absent.
    pub(crate) fn choice(&mut self, name: &'static str, names: &'static [&'static str]) -> i32 {
        let Some(text) = self.value(name, Kind::Choice(names)) else {
            return 0;
        };
        match names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text.trim()))
        {
            Some(index) => index as i32 + 1,
            None => {
                self.violation(name, format!("{text:?} is not one of {}", names.join(", ")));
                0
            }
        }
    }

    /// Every parameter read so far, once each, in the order first read.
    pub(crate) fn read(&self) -> Vec<(&'static str, Kind)> {
        let mut read: Vec<(&'static str, Kind)> = Vec::new();
        for &(name, kind) in &self.read {
            if !read.iter().any(|(known, _)| *known == name) {
                read.push((name, kind));
            }
        }
        read
    }

    pub(crate) fn violation(&mut self, field: &str, message: String) {
        self.violations.push(Violation {
            field: field.to_string(),
            message,
        });
    }

    /// Every parameter read and well-formed, or 400 naming each that is not (an unknown one
    /// included: a misspelt filter must not be dropped silently).
    pub(crate) fn finish(mut self) -> Result<(), RestError> {
        let unknown: Vec<String> = self
            .pairs
            .iter()
            .map(|(key, _)| key.clone())
            .filter(|key| !self.read.iter().any(|(name, _)| name == key))
            .collect();
        for key in unknown {
            self.violation(&key, "is not a parameter of this path".into());
        }
        match self.violations.is_empty() {
            true => Ok(()),
            false => Err(RestError::invalid(self.violations)),
        }
    }

    /// The dashboard filter: window, hours, timezone, channels and tags.
    pub(crate) fn filter(&mut self) -> v1::Filter {
        v1::Filter {
            start_date: self.text("startDate").unwrap_or_default(),
            end_date: self.text("endDate").unwrap_or_default(),
            start_hour: self.number("startHour"),
            end_hour: self.number("endHour"),
            timezone: self.text("timezone").unwrap_or_default(),
            channel_uuids: self.list("channelUuids"),
            tags_name: self.list("tagsName"),
            untagged: self.flag("untagged"),
        }
    }
}

pub(crate) const SEARCH_BY: [&str; 3] = ["SESSION_CODE", "BUSINESS_KEY", "FLOW"];
pub(crate) const ORDER: [&str; 2] = ["ASC", "DESC"];
pub(crate) const NLP_RESPONSES: [&str; 3] = ["FOUND", "NONE", "ALL"];
pub(crate) const EXPORT_TYPES: [&str; 4] = ["CSV", "XLSX", "JSONL", "PARQUET"];
pub(crate) const REPORT_SORTS: [&str; 3] = ["NEWEST_FIRST", "OLDEST_FIRST", "RANDOM_SAMPLE"];
pub(crate) const GRANULARITIES: [&str; 4] = ["HOUR", "DAY", "WEEK", "MONTH"];
pub(crate) const CONVERSATION_SORTS: [&str; 5] = [
    "CONVERSATION_STARTED_AT",
    "SATISFACTION",
    "USER_MESSAGES",
    "FLOWS_TRAVELLED",
    "DURATION",
];
pub(crate) const MESSAGE_SORTS: [&str; 3] =
    ["MESSAGE_SENT_AT", "CONFIDENCE", "CONVERSATION_STARTED_AT"];
