//! The seeded demo dataset: organizations, environments and bots with realistic traffic.
//!
//! Every (bot, day) pair draws from its own random stream derived from the seed, so the same seed
//! and the same dates give the same events, whatever the traffic of the other bots.

mod vocabulary;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::event::{
    ContentType, Conversation, Event, Message, NlpResponse, NlpResponseType, Sender, Tenant,
};
use vocabulary::{CHANNEL_KINDS, FLOWS, HOME_ZONES, INTENTS, TAGS, USER_TEXTS};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    pub seed: u64,
    pub bots: usize,
    /// The number of days, ending with `until` (inclusive).
    pub days: u32,
    pub until: NaiveDate,
    /// Conversations a day for the busiest bot on a weekday; the others get fewer.
    pub conversations_per_day: u32,
}

/// A generated channel of a bot.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub uuid: Uuid,
    pub name: &'static str,
    pub kind: &'static str,
    weight: f64,
}

/// A generated bot: its tenant, channels, and the zone its users live in.
#[derive(Debug, Clone, PartialEq)]
pub struct Bot {
    pub tenant: Tenant,
    pub index: usize,
    pub channels: Vec<Channel>,
    pub home_zone: Tz,
    /// Share of `conversations_per_day` this bot receives.
    pub traffic_share: f64,
}

/// The generator: the bots it made up from the seed and the days to fill.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GenerateConfig,
    bots: Vec<Bot>,
}

impl Generator {
    pub fn new(config: GenerateConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let orgs: Vec<Uuid> = (0..config.bots.div_ceil(3).max(1))
            .map(|_| uuid(&mut rng))
            .collect();
        let envs: Vec<[Uuid; 2]> = orgs
            .iter()
            .map(|_| [uuid(&mut rng), uuid(&mut rng)])
            .collect();
        let bots = (0..config.bots)
            .map(|index| {
                let org = index % orgs.len();
                let env = (index / orgs.len()) % 2;
                let channel_count = rng.random_range(3..=6);
                let mut kinds: Vec<_> = CHANNEL_KINDS.to_vec();
                let channels = (0..channel_count)
                    .map(|rank| {
                        let (kind, name) = kinds.remove(rng.random_range(0..kinds.len()));
                        Channel {
                            uuid: uuid(&mut rng),
                            name,
                            kind,
                            weight: 1.0 / (1.0 + rank as f64),
                        }
                    })
                    .collect();
                Bot {
                    tenant: Tenant {
                        org_id: orgs[org],
                        env_id: envs[org][env],
                        bot_id: uuid(&mut rng),
                    },
                    index,
                    channels,
                    home_zone: HOME_ZONES[index % HOME_ZONES.len()],
                    traffic_share: 1.0 / (1.0 + index as f64 * 0.6),
                }
            })
            .collect();
        Self { config, bots }
    }

    pub fn bots(&self) -> &[Bot] {
        &self.bots
    }

    /// The local days to fill, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        let first = self.config.until - Duration::days(i64::from(self.config.days.max(1)) - 1);
        first.iter_days().take(self.config.days as usize)
    }

    /// All events of one local day (in each bot's home zone), every bot.
    pub fn day(&self, date: NaiveDate) -> Vec<Event> {
        let first = self.days().next().unwrap_or(date);
        let day_index = (date - first).num_days().max(0) as u64;
        let mut events = Vec::new();
        for bot in &self.bots {
            BotDay::new(&self.config, bot, date, day_index).generate(&mut events);
        }
        events
    }

    /// Every event, one day at a time.
    pub fn events(&self) -> impl Iterator<Item = Vec<Event>> + '_ {
        self.days().map(|date| self.day(date))
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// One bot's traffic on one local day.
struct BotDay<'a> {
    config: &'a GenerateConfig,
    bot: &'a Bot,
    date: NaiveDate,
    /// Days since the first generated day: sizes the pool of users seen before.
    day_index: u64,
    rng: ChaCha8Rng,
}

/// Relative traffic of each local hour: quiet nights, morning and afternoon peaks.
const HOURLY_SHAPE: [f64; 24] = [
    0.15, 0.1, 0.06, 0.05, 0.05, 0.08, 0.2, 0.45, 0.8, 1.0, 1.0, 0.95, 0.75, 0.8, 0.95, 1.0, 0.9,
    0.8, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3,
];
const NEW_USERS_PER_CONVERSATION: f64 = 0.45;

impl<'a> BotDay<'a> {
    fn new(config: &'a GenerateConfig, bot: &'a Bot, date: NaiveDate, day_index: u64) -> Self {
        let day_number = i64::from(date.num_days_from_ce());
        let stream = config
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((bot.index as u64) << 32)
            .wrapping_add(day_number as u64);
        Self {
            config,
            bot,
            date,
            day_index,
            rng: ChaCha8Rng::seed_from_u64(stream),
        }
    }

    fn conversation_count(&mut self) -> u32 {
        let weekday = match self.date.weekday() {
            Weekday::Sat => 0.6,
            Weekday::Sun => 0.45,
            _ => 1.0,
        };
        let noise = self.rng.random_range(0.85..1.15);
        let expected =
            f64::from(self.config.conversations_per_day) * self.bot.traffic_share * weekday * noise;
        expected.round() as u32
    }

    fn generate(mut self, events: &mut Vec<Event>) {
        let count = self.conversation_count();
        let users_before = self.users_before_today();
        for number in 0..count {
            self.conversation(number, users_before, events);
        }
    }

    /// The users of earlier days: ids below this were handed to new users before today, so a
    /// returning user is drawn from them. An estimate, so days need no state from each other.
    fn users_before_today(&self) -> u64 {
        let new_per_day = f64::from(self.config.conversations_per_day)
            * self.bot.traffic_share
            * NEW_USERS_PER_CONVERSATION;
        (self.day_index as f64 * new_per_day) as u64 + 1
    }

    fn start_instant(&mut self) -> DateTime<Utc> {
        let hour = pick_index(&mut self.rng, &HOURLY_SHAPE);
        let seconds = self.rng.random_range(0..3600);
        let local = self.date.and_hms_opt(hour as u32, 0, 0).unwrap() + Duration::seconds(seconds);
        // A local time skipped by a daylight-saving change moves to the next real instant.
        match self.bot.home_zone.from_local_datetime(&local).earliest() {
            Some(instant) => instant.with_timezone(&Utc),
            None => (self
                .bot
                .home_zone
                .from_local_datetime(&(local + Duration::hours(1))))
            .earliest()
            .map_or_else(|| local.and_utc(), |i| i.with_timezone(&Utc)),
        }
    }

    fn conversation(&mut self, number: u32, users_before: u64, events: &mut Vec<Event>) {
        let visit = self.visit(number, users_before);
        let started_at = self.start_instant();
        let talk = exchanges(&mut self.rng, self.bot.tenant, &visit, started_at, events);
        versions(
            &mut self.rng,
            self.bot.tenant,
            visit,
            started_at,
            talk,
            events,
        );
    }

    /// Who the conversation `number` of the day is with, on which channel, with which tags.
    fn visit(&mut self, number: u32, users_before: u64) -> Visit {
        let rng = &mut self.rng;
        let bot_short = &self.bot.tenant.bot_id.simple().to_string()[..8];
        let session_code = format!("{bot_short}-{}-{number:05}", self.date.format("%Y%m%d"));
        let user = if users_before <= 1 || rng.random_bool(NEW_USERS_PER_CONVERSATION) {
            users_before + u64::from(number)
        } else {
            rng.random_range(0..users_before)
        };
        let user_id = format!("user-{bot_short}-{user}");
        let business_key = (user % 3 != 0).then(|| format!("+55119{:08}", user % 100_000_000));
        let channel = pick_weighted(rng, &self.bot.channels, |c| c.weight).clone();
        let tags: Vec<String> = if rng.random_bool(0.6) {
            let count = rng.random_range(1..=2);
            let mut tags: Vec<String> = Vec::new();
            for _ in 0..count {
                let tag = TAGS.choose(rng).unwrap().to_string();
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            tags
        } else {
            Vec::new()
        };
        Visit {
            session_code,
            user_id,
            business_key,
            channel,
            tags,
        }
    }
}

/// Who a conversation is with, on which channel, with which tags.
struct Visit {
    session_code: String,
    user_id: String,
    business_key: Option<String>,
    channel: Channel,
    tags: Vec<String>,
}

/// What a conversation's messages came to: when the last one was sent, the flows travelled, and
/// the user's and the bot's message counts.
struct Talk {
    closed_at: DateTime<Utc>,
    flows: Vec<String>,
    counts: (u32, u32),
}

/// A conversation's messages from `started_at`: one to eight exchanges of a user message and the
/// bot's answer.
fn exchanges(
    rng: &mut ChaCha8Rng,
    tenant: Tenant,
    visit: &Visit,
    started_at: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Talk {
    let exchanges = rng.random_range(1..=8);
    let mut at = started_at;
    let mut flows: Vec<String> = Vec::new();
    let mut counts = (0u32, 0u32);
    for exchange in 0..exchanges {
        let flow = if exchange == 0 || rng.random_bool(0.3) {
            let flow = FLOWS.choose(rng).unwrap().to_string();
            if flows.last() != Some(&flow) {
                flows.push(flow.clone());
            }
            flow
        } else {
            flows.last().cloned().unwrap_or_default()
        };
        let tags = if rng.random_bool(0.85) {
            visit.tags.clone()
        } else {
            Vec::new()
        };
        let base = Message {
            tenant,
            message_id: uuid(rng),
            session_code: visit.session_code.clone(),
            user_id: visit.user_id.clone(),
            business_key: visit.business_key.clone(),
            channel_uuid: visit.channel.uuid,
            channel_name: Some(visit.channel.name.to_string()),
            channel_type: Some(visit.channel.kind.to_string()),
            sent_at: at,
            sender: Sender::User,
            content_type: ContentType::Text,
            text: String::new(),
            nlp_response: None,
            nlp_response_type: None,
            nlp_response_name: None,
            confidence: None,
            answer_name: None,
            answer_text: None,
            flow: Some(flow),
            tags,
        };
        let user_message = user_message(rng, base.clone());
        counts.0 += 1;
        at += Duration::seconds(rng.random_range(2..=20));
        let answer = user_message.nlp_response_name.clone();
        events.push(Event::Message(user_message));
        let bot_message = Message {
            message_id: uuid(rng),
            sent_at: at,
            sender: Sender::Bot,
            text: format!(
                "Answer about {}",
                answer.as_deref().unwrap_or("your request")
            ),
            answer_name: Some(answer.unwrap_or_else(|| "fallback".into())),
            answer_text: Some("Here is what I found.".into()),
            ..base
        };
        counts.1 += 1;
        events.push(Event::Message(bot_message));
        at += Duration::seconds(rng.random_range(5..=300));
    }
    Talk {
        closed_at: at,
        flows,
        counts,
    }
}

/// The conversation's record in one to three versions: as it started, midway, and as it closed
/// (or stayed open).
fn versions(
    rng: &mut ChaCha8Rng,
    tenant: Tenant,
    visit: Visit,
    started_at: DateTime<Utc>,
    talk: Talk,
    events: &mut Vec<Event>,
) {
    let Talk {
        closed_at,
        flows,
        counts,
    } = talk;
    let still_open = rng.random_bool(0.04);
    let first = Conversation {
        tenant,
        session_code: visit.session_code,
        user_id: visit.user_id,
        business_key: visit.business_key,
        channel_uuid: visit.channel.uuid,
        started_at,
        ended_at: None,
        updated_at: started_at,
        satisfaction: None,
        flows: flows[..1].to_vec(),
        tags: visit.tags,
        user_messages: 1,
        bot_messages: 1,
    };
    let versions = rng.random_range(1..=3);
    if versions == 3 {
        let midway = started_at + (closed_at - started_at) / 2;
        events.push(Event::Conversation(first.clone()));
        events.push(Event::Conversation(Conversation {
            updated_at: midway,
            flows: flows[..flows.len().div_ceil(2)].to_vec(),
            user_messages: counts.0.div_ceil(2),
            bot_messages: counts.1.div_ceil(2),
            ..first.clone()
        }));
    } else if versions == 2 {
        events.push(Event::Conversation(first.clone()));
    }
    let satisfaction = rng.random_bool(0.7).then(|| rng.random_range(1..=5u8));
    events.push(Event::Conversation(Conversation {
        ended_at: (!still_open).then_some(closed_at),
        updated_at: closed_at,
        satisfaction: if still_open { None } else { satisfaction },
        flows,
        user_messages: counts.0,
        bot_messages: counts.1,
        ..first
    }));
}

fn user_message(rng: &mut ChaCha8Rng, base: Message) -> Message {
    let content_type = pick_weighted(
        rng,
        &[
            (ContentType::Text, 85.0),
            (ContentType::Image, 5.0),
            (ContentType::Audio, 4.0),
            (ContentType::Document, 2.0),
            (ContentType::Location, 2.0),
            (ContentType::Video, 1.0),
            (ContentType::Other, 1.0),
        ],
        |(_, w)| *w,
    )
    .0;
    if content_type != ContentType::Text {
        return Message {
            content_type,
            text: String::new(),
            ..base
        };
    }
    let intent = *INTENTS.choose(rng).unwrap();
    let found = rng.random_bool(0.78);
    let confidence = if found {
        rng.random_range(60.0..100.0_f64)
    } else {
        rng.random_range(0.0..60.0_f64)
    };
    Message {
        text: USER_TEXTS.choose(rng).unwrap().to_string(),
        nlp_response: Some(if found {
            NlpResponse::Found
        } else {
            NlpResponse::None
        }),
        nlp_response_type: found.then(|| {
            if rng.random_bool(0.85) {
                NlpResponseType::Intent
            } else {
                NlpResponseType::Question
            }
        }),
        nlp_response_name: Some(intent.to_string()),
        confidence: Some((confidence * 100.0).round() / 100.0),
        ..base
    }
}

fn pick_weighted<'t, T>(rng: &mut ChaCha8Rng, items: &'t [T], weight: impl Fn(&T) -> f64) -> &'t T {
    let weights: Vec<f64> = items.iter().map(weight).collect();
    &items[pick_index(rng, &weights)]
}

fn pick_index(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut point = rng.random_range(0.0..total);
    for (index, weight) in weights.iter().enumerate() {
        point -= weight;
        if point < 0.0 {
            return index;
        }
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests;
