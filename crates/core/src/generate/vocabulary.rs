//! Names the demo dataset draws from.

use chrono_tz::Tz;

/// (channel type, display name)
pub const CHANNEL_KINDS: [(&str, &str); 8] = [
    ("WHATSAPP", "WhatsApp"),
    ("WEBCHAT", "Website chat"),
    ("TELEGRAM", "Telegram"),
    ("MESSENGER", "Facebook Messenger"),
    ("INSTAGRAM", "Instagram"),
    ("SMS", "SMS"),
    ("TEAMS", "Microsoft Teams"),
    ("APP", "Mobile app"),
];

pub const HOME_ZONES: [Tz; 4] = [
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Europe::London,
    chrono_tz::America::New_York,
    chrono_tz::Asia::Kolkata,
];

pub const FLOWS: [&str; 8] = [
    "greeting",
    "main-menu",
    "order-status",
    "billing",
    "technical-support",
    "human-handoff",
    "feedback",
    "store-locator",
];

pub const INTENTS: [&str; 10] = [
    "greeting",
    "order_status",
    "cancel_order",
    "payment_methods",
    "opening_hours",
    "talk_to_agent",
    "reset_password",
    "delivery_time",
    "refund",
    "goodbye",
];

pub const TAGS: [&str; 6] = [
    "sales",
    "support",
    "billing",
    "vip",
    "complaint",
    "campaign-nov",
];

pub const USER_TEXTS: [&str; 8] = [
    "Hi there",
    "Where is my order?",
    "I want to cancel my order",
    "Which payment methods do you accept?",
    "What time do you open tomorrow?",
    "Can I talk to a person?",
    "I forgot my password",
    "=SUM(A1:A9) is not what I asked",
];
