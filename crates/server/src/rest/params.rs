//! Query parameters as the seed names them (camelCase; lists comma-separated), read into the gRPC
//! request. Only their form is checked here (a number is a number); what they mean is checked by
//! the one validation behind both surfaces.

use talkhouse_proto::v1;

use super::error::{RestError, Violation};

/// The query parameters of one request, each read at most once.
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
    read: Vec<&'static str>,
    violations: Vec<Violation>,
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
        self.read.push(name);
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// A comma-separated list; absent or empty is no item.
    pub(crate) fn list(&mut self, name: &'static str) -> Vec<String> {
        self.text(name)
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
        let text = self.text(name)?;
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
    pub(crate) fn choices(&mut self, name: &'static str, names: &[&str]) -> Vec<i32> {
        let mut chosen = Vec::new();
        for item in self.list(name) {
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
        match self.text(name).as_deref().map(str::trim) {
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
    pub(crate) fn choice(&mut self, name: &'static str, names: &[&str]) -> i32 {
        let Some(text) = self.text(name) else {
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
            .filter(|key| !self.read.contains(&key.as_str()))
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

/// The bot of a path `/org/{org}/env/{env}/bot/{bot}/…`.
pub(crate) fn bot((org_id, env_id, bot_id): (String, String, String)) -> Option<v1::BotRef> {
    Some(v1::BotRef {
        org_id,
        env_id,
        bot_id,
    })
}
