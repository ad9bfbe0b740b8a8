//! Reports (CONTRACT §4): what a report exports, in which file format and order, how a random
//! sample is drawn, what a deployment allows, and how text is kept from becoming a formula.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::request::{Checker, ConversationSelection, MessageSelection};
use crate::window::Zone;

/// What a report exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportKind {
    Conversations,
    Messages,
    Transcript,
}

/// File formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExportType {
    Csv,
    Xlsx,
    Jsonl,
    Parquet,
}

impl ExportType {
    pub const ALL: [ExportType; 4] = [Self::Csv, Self::Xlsx, Self::Jsonl, Self::Parquet];

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Jsonl => "jsonl",
            Self::Parquet => "parquet",
        }
    }

    /// Reads `csv`, `XLSX`, … (any case).
    pub fn parse(text: &str) -> Option<ExportType> {
        Self::ALL
            .into_iter()
            .find(|t| t.extension().eq_ignore_ascii_case(text.trim()))
    }
}

/// Where a report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportStatus {
    Pending,
    Running,
    Ready,
    Failed,
    Expired,
}

impl ReportStatus {
    pub const ALL: [ReportStatus; 5] = [
        Self::Pending,
        Self::Running,
        Self::Ready,
        Self::Failed,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
            Self::Expired => "EXPIRED",
        }
    }

    /// PENDING and RUNNING reports still have work to do.
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// Order of a report's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportSort {
    #[default]
    NewestFirst,
    OldestFirst,
    /// A uniform sample of `cap` items, in the order of their [`sample_rank`].
    RandomSample,
}

/// Everything a report needs to be produced again, as validated when it was requested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportSpec {
    Conversations {
        selection: ConversationSelection,
        cap: u64,
        sort: ReportSort,
    },
    Messages {
        selection: MessageSelection,
        cap: u64,
        sort: ReportSort,
    },
    Transcript {
        session_code: String,
        timezone: Zone,
    },
}

impl ReportSpec {
    pub fn kind(&self) -> ReportKind {
        match self {
            Self::Conversations { .. } => ReportKind::Conversations,
            Self::Messages { .. } => ReportKind::Messages,
            Self::Transcript { .. } => ReportKind::Transcript,
        }
    }

    /// The zone the report's instants are written in.
    pub fn zone(&self) -> Zone {
        match self {
            Self::Conversations { selection, .. } => selection.filter.window.zone,
            Self::Messages { selection, .. } => selection.filter.window.zone,
            Self::Transcript { timezone, .. } => *timezone,
        }
    }
}

/// The seed of a report's random sample: its id, so the same report always samples alike.
pub fn sample_seed(report_id: Uuid) -> u64 {
    let bytes = report_id.as_bytes();
    u64::from_be_bytes(bytes[..8].try_into().expect("16 bytes"))
        ^ u64::from_be_bytes(bytes[8..].try_into().expect("16 bytes"))
}

/// An item's place in a random sample: XXH3-64 of its key (a session code or message id)
/// seeded by [`sample_seed`]. A sample of `cap` items is the `cap` smallest ranks (ties by key):
/// every subset of that size is equally likely, and anyone with the report id can recompute it.
pub fn sample_rank(seed: u64, key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), seed)
}

/// What a report prompt may offer: the largest sample and the file formats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRules {
    pub max_sample: u64,
    pub export_types: Vec<ExportType>,
}

impl Default for ReportRules {
    fn default() -> Self {
        Self {
            max_sample: 10_000,
            export_types: ExportType::ALL.to_vec(),
        }
    }
}

impl ReportRules {
    /// `cap` must be 1..max_sample; absent means max_sample.
    pub fn check_cap(&self, cap: Option<i64>, checker: &mut Checker) -> Option<u64> {
        match cap {
            None => Some(self.max_sample),
            Some(cap) if cap >= 1 && cap as u64 <= self.max_sample => Some(cap as u64),
            Some(cap) => {
                checker.violation(
                    "cap",
                    format!("must be 1..{} (max_sample), got {cap}", self.max_sample),
                );
                None
            }
        }
    }

    /// One of the allowed formats.
    pub fn check_export_type(
        &self,
        export_type: Option<ExportType>,
        checker: &mut Checker,
    ) -> Option<ExportType> {
        let allowed = || {
            self.export_types
                .iter()
                .map(|t| t.extension().to_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match export_type {
            Some(t) if self.export_types.contains(&t) => Some(t),
            Some(t) => {
                checker.violation(
                    "export_type",
                    format!(
                        "{} is not offered for this bot; use one of {}",
                        t.extension().to_uppercase(),
                        allowed()
                    ),
                );
                None
            }
            None => {
                checker.violation("export_type", format!("is required: one of {}", allowed()));
                None
            }
        }
    }
}

/// A bot's exceptions to the deployment's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesOverride {
    pub max_sample: Option<u64>,
    pub export_types: Option<Vec<ExportType>>,
}

/// The deployment's report rules, with per-bot overrides: the `--report-config` file.
///
/// ```json
/// { "default": { "max_sample": 10000, "export_types": ["CSV", "XLSX", "JSONL", "PARQUET"] },
///   "bots": { "<bot uuid>": { "max_sample": 500, "export_types": ["CSV"] } } }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPolicy {
    #[serde(default)]
    pub default: ReportRules,
    #[serde(default)]
    pub bots: HashMap<Uuid, RulesOverride>,
}

impl ReportPolicy {
    pub fn rules(&self, bot_id: Uuid) -> ReportRules {
        let mut rules = self.default.clone();
        if let Some(exception) = self.bots.get(&bot_id) {
            if let Some(max_sample) = exception.max_sample {
                rules.max_sample = max_sample;
            }
            if let Some(types) = &exception.export_types {
                rules.export_types = types.clone();
            }
        }
        rules
    }

    /// Every bot's rules must allow a sample and at least one format.
    pub fn validate(&self) -> Result<(), String> {
        let check = |who: &str, rules: &ReportRules| {
            if rules.max_sample == 0 {
                return Err(format!("{who}: max_sample must be at least 1"));
            }
            if rules.export_types.is_empty() {
                return Err(format!("{who}: export_types must not be empty"));
            }
            Ok(())
        };
        check("default", &self.default)?;
        for bot in self.bots.keys() {
            check(&format!("bot {bot}"), &self.rules(*bot))?;
        }
        Ok(())
    }
}

/// A spreadsheet reads a cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return
/// that hides one) as a formula. Such text is written with a leading `'`, which spreadsheets show
/// as text (OWASP "CSV injection").
pub fn neutralize_formula(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralized_and_other_text_is_kept() {
        for text in ["=1+2", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralize_formula(text), format!("'{text}"));
        }
        for text in ["", "hello", "1-2", "a=b", "'quoted"] {
            assert!(matches!(neutralize_formula(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn a_bot_override_replaces_only_what_it_names() {
        let bot = Uuid::from_u128(7);
        let policy: ReportPolicy = serde_json::from_str(&format!(
            r#"{{"default": {{"max_sample": 100, "export_types": ["CSV", "PARQUET"]}},
                "bots": {{"{bot}": {{"max_sample": 5}}}}}}"#
        ))
        .unwrap();
        assert_eq!(policy.rules(bot).max_sample, 5);
        assert_eq!(
            policy.rules(bot).export_types,
            [ExportType::Csv, ExportType::Parquet]
        );
        assert_eq!(policy.rules(Uuid::from_u128(8)).max_sample, 100);
        assert!(policy.validate().is_ok());
        let empty: ReportPolicy = serde_json::from_str(
            r#"{"bots": {"00000000-0000-0000-0000-000000000007": {"export_types": []}}}"#,
        )
        .unwrap();
        assert!(empty.validate().unwrap_err().contains("export_types"));
        assert!(serde_json::from_str::<ReportPolicy>(r#"{"defaults": {}}"#).is_err());
    }

    #[test]
    fn caps_and_export_types_are_checked_against_the_rules() {
        let rules = ReportRules {
            max_sample: 10,
            export_types: vec![ExportType::Csv],
        };
        let mut checker = Checker::new();
        assert_eq!(rules.check_cap(None, &mut checker), Some(10));
        assert_eq!(rules.check_cap(Some(10), &mut checker), Some(10));
        assert_eq!(rules.check_cap(Some(11), &mut checker), None);
        assert_eq!(rules.check_cap(Some(0), &mut checker), None);
        assert_eq!(
            rules.check_export_type(Some(ExportType::Xlsx), &mut checker),
            None
        );
        assert_eq!(rules.check_export_type(None, &mut checker), None);
        let fields: Vec<String> = checker
            .finish(Some(()))
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["cap", "cap", "export_type", "export_type"]);
    }

    #[test]
    fn the_sample_rank_depends_on_the_report_and_the_item() {
        let a = sample_seed(Uuid::from_u128(1));
        let b = sample_seed(Uuid::from_u128(2));
        assert_ne!(a, b);
        assert_eq!(sample_rank(a, "s-1"), sample_rank(a, "s-1"));
        assert_ne!(sample_rank(a, "s-1"), sample_rank(b, "s-1"));
        assert_ne!(sample_rank(a, "s-1"), sample_rank(a, "s-2"));
    }

    #[test]
    fn a_spec_round_trips_through_json() {
        let spec = ReportSpec::Transcript {
            session_code: "s-1".into(),
            timezone: Zone::parse("+05:30").unwrap(),
        };
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"TRANSCRIPT","session_code":"s-1","timezone":"+05:30"}"#
        );
        assert_eq!(serde_json::from_str::<ReportSpec>(&json).unwrap(), spec);
    }
}
