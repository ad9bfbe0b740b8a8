use super::*;

fn config(seed: u64) -> GenerateConfig {
    GenerateConfig {
        seed,
        bots: 4,
        days: 3,
        until: NaiveDate::from_ymd_opt(2024, 3, 10).unwrap(),
        conversations_per_day: 40,
    }
}

#[test]
fn the_same_seed_gives_the_same_events_and_another_seed_does_not() {
    let a: Vec<Event> = Generator::new(config(7)).events().flatten().collect();
    let b: Vec<Event> = Generator::new(config(7)).events().flatten().collect();
    let c: Vec<Event> = Generator::new(config(8)).events().flatten().collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn each_bot_has_three_to_six_named_channels_over_several_orgs() {
    let generator = Generator::new(GenerateConfig {
        bots: 9,
        ..config(1)
    });
    for bot in generator.bots() {
        assert!((3..=6).contains(&bot.channels.len()));
    }
    let orgs: std::collections::BTreeSet<_> =
        generator.bots().iter().map(|b| b.tenant.org_id).collect();
    assert_eq!(orgs.len(), 3);
}

#[test]
fn the_data_has_every_feature_the_dashboard_shows() {
    let events: Vec<Event> = Generator::new(config(3)).events().flatten().collect();
    let messages: Vec<&Message> = events
        .iter()
        .filter_map(|e| {
            if let Event::Message(m) = e {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    let conversations: Vec<&Conversation> = events
        .iter()
        .filter_map(|e| {
            if let Event::Conversation(c) = e {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    assert!(messages.iter().any(|m| m.sender == Sender::Bot));
    assert!(messages.iter().any(|m| m.content_type != ContentType::Text));
    assert!(
        messages
            .iter()
            .any(|m| m.nlp_response == Some(NlpResponse::Found))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.nlp_response == Some(NlpResponse::None))
    );
    assert!(messages.iter().any(|m| m.tags.is_empty()));
    assert!(messages.iter().any(|m| !m.tags.is_empty()));
    assert!(conversations.iter().any(|c| c.satisfaction.is_some()));
    assert!(conversations.iter().any(|c| c.ended_at.is_none()));
    let mut versions = std::collections::HashMap::<&str, usize>::new();
    for c in &conversations {
        *versions.entry(&c.session_code).or_default() += 1;
    }
    assert!(versions.values().any(|n| *n == 1));
    assert!(versions.values().any(|n| *n == 3));
    let crosses_midnight = conversations.iter().any(|c| {
        c.ended_at
            .is_some_and(|end| end.date_naive() != c.started_at.date_naive())
    });
    assert!(crosses_midnight, "no conversation crosses midnight (UTC)");

    // Users come back: some users have conversations on two different days, others do not.
    let mut days_of_user = std::collections::HashMap::<&str, std::collections::BTreeSet<_>>::new();
    for c in &conversations {
        days_of_user
            .entry(&c.user_id)
            .or_default()
            .insert(c.started_at.date_naive());
    }
    let returning = days_of_user.values().filter(|days| days.len() > 1).count();
    assert!(
        returning > 0 && returning < days_of_user.len(),
        "{returning} of {}",
        days_of_user.len()
    );
}
