//! Data lifecycle on generated data: a person erased over gRPC, another over REST, events aged
//! out by `talkhouse retain`. After each, every dashboard answer equals the plain reference's over
//! the data without those rows; after `talkhouse vacuum`, no file under the data folder holds a
//! byte of the erased texts or keys. A killed `talkhouse erase` erases all or nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_core::generate::{GenerateConfig, Generator};
use talkhouse_core::{Event, Tenant};
use talkhouse_proto::v1;
use talkhouse_server::{Authentication, ServerConfig};
use uuid::Uuid;

use crate::dashboard_crosscheck::check_random_round;
use crate::dashboard_crosscheck::reference::Reference;
use crate::reports::client;
use crate::support::*;

/// Random requests checked after each deletion.
const ROUNDS: usize = 8;

/// A session, as the table keys it.
type Session = (Tenant, String);

/// What the test's person left in the data: their sessions, and the texts and key that must
/// leave every file.
struct Person {
    user_id: String,
    business_key: String,
    secret: String,
    sessions: HashSet<Session>,
}

/// The events of `batches` without `sessions`, and without the messages `keep` refuses.
fn without(
    batches: &[Vec<Event>],
    sessions: &HashSet<Session>,
    keep: impl Fn(&talkhouse_core::Message) -> bool,
) -> Vec<Vec<Event>> {
    batches
        .iter()
        .map(|batch| {
            batch
                .iter()
                .filter(|event| match event {
                    Event::Message(m) => {
                        !sessions.contains(&(m.tenant, m.session_code.clone())) && keep(m)
                    }
                    Event::Conversation(c) => {
                        !sessions.contains(&(c.tenant, c.session_code.clone()))
                    }
                })
                .cloned()
                .collect()
        })
        .collect()
}

/// The user of `tenant` with the most sessions becomes the test's person: their messages carry
/// `secret` and every event of theirs the business key.
fn make_person(batches: &mut [Vec<Event>], tenant: Tenant, secret: &str, key: &str) -> Person {
    let mut sessions_of: HashMap<String, HashSet<String>> = HashMap::new();
    for event in batches.iter().flatten() {
        if let Event::Message(m) = event
            && m.tenant == tenant
        {
            sessions_of
                .entry(m.user_id.clone())
                .or_default()
                .insert(m.session_code.clone());
        }
    }
    let (user_id, sessions) = sessions_of
        .into_iter()
        .max_by_key(|(user, sessions)| (sessions.len(), user.clone()))
        .expect("the bot has users");
    let mut line = 0;
    for event in batches.iter_mut().flatten() {
        match event {
            Event::Message(m) if m.tenant == tenant && sessions.contains(&m.session_code) => {
                line += 1;
                m.text = format!("{secret} said line {line}");
                m.business_key = Some(key.to_string());
            }
            Event::Conversation(c) if c.tenant == tenant && sessions.contains(&c.session_code) => {
                c.business_key = Some(key.to_string());
            }
            _ => {}
        }
    }
    Person {
        user_id,
        business_key: key.to_string(),
        secret: secret.to_string(),
        sessions: sessions.into_iter().map(|s| (tenant, s)).collect(),
    }
}

/// The person's events copied to `tenant` (another organization, the same bot UUID and user),
/// with their own secret and key.
fn copy_to(
    batches: &[Vec<Event>],
    person: &Person,
    tenant: Tenant,
    secret: &str,
    key: &str,
) -> Vec<Event> {
    batches
        .iter()
        .flatten()
        .filter(|event| match event {
            Event::Message(m) => person
                .sessions
                .contains(&(m.tenant, m.session_code.clone())),
            Event::Conversation(c) => person
                .sessions
                .contains(&(c.tenant, c.session_code.clone())),
        })
        .cloned()
        .map(|mut event| {
            match &mut event {
                Event::Message(m) => {
                    m.tenant = tenant;
                    m.text = m.text.replace(&person.secret, secret);
                    m.business_key = Some(key.to_string());
                }
                Event::Conversation(c) => {
                    c.tenant = tenant;
                    c.business_key = Some(key.to_string());
                }
            }
            event
        })
        .collect()
}

/// Every file under `folder` that holds `needle`.
fn files_holding(folder: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                if memchr::memmem::find(&bytes, needle.as_bytes()).is_some() {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

fn bot_of(tenant: &Tenant) -> Option<v1::BotRef> {
    bot_ref(
        &tenant.org_id.to_string(),
        &tenant.env_id.to_string(),
        &tenant.bot_id.to_string(),
    )
}

#[tokio::test]
async fn erasure_and_retention_leave_the_answers_of_the_rest_and_vacuum_leaves_no_trace() {
    let seed = std::env::var("TALKHOUSE_LIFECYCLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("lifecycle seed {seed} (replay with TALKHOUSE_LIFECYCLE_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let today = Utc::now().date_naive();
    let generator = Generator::new(GenerateConfig {
        seed,
        bots: 2,
        days: 40,
        until: today,
        conversations_per_day: 8,
    });
    let bot = generator.bots()[0].clone();
    let mut batches: Vec<Vec<Event>> = generator.events().collect();
    let secret = format!("erase-me-{}", Uuid::new_v4());
    let person = make_person(&mut batches, bot.tenant, &secret, "+49 151 5550 1234");
    assert!(person.sessions.len() >= 2, "a person with several sessions");
    // Another organization has a bot of the same UUID, and a person of the same user id.
    let other_tenant = Tenant {
        org_id: Uuid::new_v4(),
        ..bot.tenant
    };
    let other_secret = format!("erase-me-too-{}", Uuid::new_v4());
    let other_key = "+34 600 555 999";
    let copied = copy_to(&batches, &person, other_tenant, &other_secret, other_key);
    let data = DataDir::new();
    let table = data.table().await;
    table.write(batches.concat(), None).await.unwrap();
    table.write(copied, None).await.unwrap();

    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        Authentication::DisabledForDevelopment,
    );
    config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = RunningServer::start_with(config, table).await;
    let mut c = Clients::connect(&server).await;
    let bot_ref = bot_of(&bot.tenant);

    // A report made before the erasure holds the person's messages.
    let report = c
        .messages
        .request_messages_report(v1::MessagesReportRequest {
            bot: bot_ref.clone(),
            filter: Some(days(
                &(today - chrono::Days::new(45)).to_string(),
                &today.to_string(),
                "UTC",
            )),
            export_type: v1::ExportType::Csv as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report_id;
    client::ready(&mut c, &bot_ref, &report).await;
    let file = client::download(&mut c, &bot_ref, &report).await;
    assert!(memchr::memmem::find(&file, secret.as_bytes()).is_some());
    for needle in [&secret, &other_secret] {
        assert!(
            !files_holding(data.path(), needle).is_empty(),
            "{needle} is stored"
        );
    }

    // The person, erased over gRPC by user id.
    let erasure = c
        .admin
        .erase_person(v1::ErasePersonRequest {
            bot: bot_ref.clone(),
            user_id: person.user_id.clone(),
            business_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erasure.sessions, person.sessions.len() as i64);
    assert_eq!(erasure.key, "user_id");
    assert_eq!(erasure.reports_deleted, 1);
    let gone = c
        .reports
        .get_report(v1::GetReportRequest {
            bot: bot_ref.clone(),
            report_id: report.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    let mut erased = person.sessions.clone();
    let remaining = without(&batches, &erased, |_| true);
    let reference = Reference::new(bot.tenant, &remaining);
    let first = today - chrono::Days::new(45);
    for round in 0..ROUNDS {
        check_random_round(&mut c, &reference, &bot, first, 45, round, &mut rng).await;
    }
    // The other organization's person, of the same bot UUID and user id, is still there.
    let sql = |query: &str| sql_rows(&data, query);
    let copies = format!(
        "SELECT COUNT(*) FROM messages WHERE org_id = '{}' AND business_key = '{other_key}'",
        other_tenant.org_id
    );
    assert_ne!(sql(&copies), vec!["0".to_string()]);

    // The other person, erased over REST by business key.
    let http = reqwest::Client::new();
    let path = format!(
        "http://{}/org/{}/env/{}/bot/{}/erasures",
        server.http_address.unwrap(),
        other_tenant.org_id,
        other_tenant.env_id,
        other_tenant.bot_id
    );
    let answer = http
        .post(&path)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "businessKey": other_key }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let answer: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["key"], "business_key");
    assert_eq!(answer["sessions"], person.sessions.len());
    assert_eq!(sql(&copies), vec!["0".to_string()]);
    let both = http
        .post(&path)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "businessKey": other_key, "userId": "u" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(both.status().as_u16(), 400);

    // Retention: the bot's organization keeps 20 days; the other bot, when it is of the same
    // organization, keeps its own 1,000.
    let cutoff_days = 20;
    let mut rules = vec![serde_json::json!({"orgId": bot.tenant.org_id, "days": cutoff_days})];
    let sibling = generator.bots()[1].tenant;
    if sibling.org_id == bot.tenant.org_id {
        rules.push(serde_json::json!({
            "orgId": sibling.org_id, "envId": sibling.env_id, "botId": sibling.bot_id, "days": 1000
        }));
    }
    let config = data.file(
        "retention.json",
        &serde_json::json!({ "rules": rules }).to_string(),
    );
    let sibling_messages = |data: &DataDir| {
        sql_rows(
            data,
            &format!(
                "SELECT COUNT(*) FROM messages WHERE org_id = '{}' AND bot_id = '{}'",
                sibling.org_id, sibling.bot_id
            ),
        )
    };
    let sibling_before = sibling_messages(&data);
    let before: DateTime<Utc> = (today - chrono::Days::new(cutoff_days))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    run_ok(talkhouse(&data).args(["retain", "--config"]).arg(&config));
    // The latest version of each remaining session: greatest `updated_at`, the later on a tie.
    let mut latest: HashMap<Session, DateTime<Utc>> = HashMap::new();
    let mut updated: HashMap<Session, DateTime<Utc>> = HashMap::new();
    for event in remaining.iter().flatten() {
        if let Event::Conversation(conversation) = event
            && conversation.tenant == bot.tenant
        {
            let key = (conversation.tenant, conversation.session_code.clone());
            if updated
                .get(&key)
                .is_none_or(|at| conversation.updated_at >= *at)
            {
                updated.insert(key.clone(), conversation.updated_at);
                latest.insert(key, conversation.started_at);
            }
        }
    }
    erased.extend(
        latest
            .into_iter()
            .filter(|(_, started)| *started < before)
            .map(|(session, _)| session),
    );
    let kept = without(&remaining, &erased, |m| {
        m.tenant != bot.tenant || m.sent_at >= before
    });
    let reference = Reference::new(bot.tenant, &kept);
    assert!(
        reference.messages.len() < Reference::new(bot.tenant, &remaining).messages.len(),
        "retention deleted messages"
    );
    for round in 0..ROUNDS {
        check_random_round(&mut c, &reference, &bot, first, 45, round, &mut rng).await;
    }
    assert_eq!(
        sibling_messages(&data),
        sibling_before,
        "the sibling keeps its own period"
    );
    server.stop().await;

    // After vacuum, nothing of either person is left in any file: tables, log, reports.
    run_ok(talkhouse(&data).args(["vacuum", "--retention-hours", "0"]));
    for needle in [
        secret.as_str(),
        other_secret.as_str(),
        other_key,
        &person.business_key,
    ] {
        assert_eq!(
            files_holding(data.path(), needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    let records: BTreeSet<String> = files_holding(data.path(), "\"state\": \"DONE\"")
        .into_iter()
        .filter(|path| path.contains("erasures"))
        .collect();
    assert_eq!(records.len(), 2, "one record per erasure");
}

#[test]
fn a_killed_erase_erases_all_or_nothing() {
    let data = DataDir::new();
    let generator = Generator::new(GenerateConfig {
        seed: 7,
        bots: 1,
        days: 30,
        until: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
        conversations_per_day: 20,
    });
    let bot = generator.bots()[0].clone();
    let mut batches: Vec<Vec<Event>> = generator.events().collect();
    let person = make_person(&mut batches, bot.tenant, "killed-erase", "+1 555 0100");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let table = data.table().await;
        for batch in &batches {
            table.write(batch.clone(), None).await.unwrap();
        }
    });
    let person_messages = format!(
        "SELECT COUNT(*) FROM messages WHERE user_id = '{}' OR business_key = '{}'",
        person.user_id, person.business_key
    );
    let stored = sql_rows(&data, &person_messages);
    assert_ne!(stored, vec!["0".to_string()]);
    // Every count the rollups hold equals the events' own, before and after each kill.
    let consistent = |data: &DataDir| {
        let from_rollups = sql_rows(
            data,
            "SELECT SUM(user_messages) + SUM(bot_messages) FROM rollups",
        );
        let from_events = sql_rows(data, "SELECT COUNT(*) FROM messages");
        assert_eq!(from_rollups, from_events, "the rollups count the messages");
    };
    consistent(&data);
    let erase = |data: &DataDir| {
        let mut command = talkhouse(data);
        command.args([
            "erase",
            "--org",
            &bot.tenant.org_id.to_string(),
            "--env",
            &bot.tenant.env_id.to_string(),
            "--bot",
            &bot.tenant.bot_id.to_string(),
            "--user",
            &person.user_id,
        ]);
        command
    };
    let started = std::time::Instant::now();
    let reference = DataDir::new();
    runtime.block_on(async {
        let table = reference.table().await;
        table.write(batches.concat(), None).await.unwrap();
    });
    run_ok(&mut erase(&reference));
    let full_run = started.elapsed().as_millis() as u64;

    let mut rng = ChaCha8Rng::seed_from_u64(full_run);
    for _ in 0..4 {
        let mut child = erase(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..full_run.max(50))));
        let _ = child.kill();
        child.wait().unwrap();
        let left = sql_rows(&data, &person_messages);
        assert!(
            left == stored || left == vec!["0".to_string()],
            "all or nothing: {left:?} of {stored:?}"
        );
        consistent(&data);
    }
    run_ok(&mut erase(&data));
    assert_eq!(sql_rows(&data, &person_messages), vec!["0".to_string()]);
    consistent(&data);
}
