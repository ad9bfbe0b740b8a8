//! Hostile bytes through the real server: random and mutated protobuf messages sent to every
//! method. Each call gets a proper gRPC status (never INTERNAL, never a broken connection) and
//! the server keeps serving. Replay with `TALKHOUSE_FUZZ_SEED`; `TALKHOUSE_FUZZ_CASES` sets the
//! number of calls.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use talkhouse_proto::v1;
use talkhouse_server::guard::METHODS;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::support::{RunningServer, bot_ref, days, with_fixture};

/// Sends and receives message bodies as they are.
#[derive(Default, Clone)]
pub(crate) struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Valid requests of several shapes, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let bot = bot_ref(
        "0a000000-0000-4000-8000-000000000001",
        "0e000000-0000-4000-8000-000000000001",
        "0b000000-0000-4000-8000-000000000001",
    );
    let mut filter = days("2024-03-01", "2024-03-31", "America/Sao_Paulo");
    filter.start_hour = Some(22);
    filter.end_hour = Some(3);
    filter.tags_name = vec!["sales".into()];
    vec![
        v1::AnalyticsRequest {
            bot: bot.clone(),
            filter: Some(filter.clone()),
        }
        .encode_to_vec(),
        v1::SeriesRequest {
            bot: bot.clone(),
            filter: Some(filter.clone()),
            granularity: v1::Granularity::Hour as i32,
        }
        .encode_to_vec(),
        v1::SearchMessagesRequest {
            bot: bot.clone(),
            filter: Some(filter.clone()),
            search_by: v1::SearchBy::SessionCode as i32,
            search_term: "A".into(),
            page: Some(2),
            size: Some(5),
            ..Default::default()
        }
        .encode_to_vec(),
        v1::GetConversationRequest {
            bot,
            session_code: "A".into(),
            timezone: "+05:45".into(),
        }
        .encode_to_vec(),
    ]
}

/// The seed of the method's own request type, where there is one.
fn seed_of(path: &str) -> Option<usize> {
    let name = path.rsplit('/').next()?;
    match name {
        _ if name.ends_with("Traffic") || name == "GetAccuracy" => Some(0),
        _ if name.ends_with("Series") => Some(1),
        "SearchMessages" => Some(2),
        "GetConversation" => Some(3),
        _ => None,
    }
}

/// A well-formed request of the method's own type for the fixture's bot, with odd field values:
/// it passes decoding and reaches validation and the queries.
fn structured(rng: &mut ChaCha8Rng, path: &str) -> Vec<u8> {
    fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
        items[rng.random_range(0..items.len())]
    }
    let dates = [
        "2024-03-01",
        "2024-03-10",
        "2024-03-31",
        "2024-02-29",
        "2023-02-29",
        "1970-01-01",
        "9999-12-31",
        "0001-01-01",
        "2024-03-10T02:30:00-03:00",
        "2024-13-01",
        "",
    ];
    let zones = [
        "UTC",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "+14:00",
        "-12:00",
        "+05:30",
        "Mars/Olympus",
        "",
        "+18:00",
        "-18:01",
    ];
    let long_tag = "x".repeat(300);
    let filter = v1::Filter {
        start_date: pick(rng, &dates).into(),
        end_date: pick(rng, &dates).into(),
        start_hour: rng.random_bool(0.5).then(|| rng.random_range(-2..26)),
        end_hour: rng.random_bool(0.5).then(|| rng.random_range(-2..26)),
        timezone: pick(rng, &zones).into(),
        channel_uuids: (0..rng.random_range(0..3))
            .map(|_| pick(rng, &["0c000000-0000-4000-8000-000000000001", "nope", ""]).into())
            .collect(),
        tags_name: (0..rng.random_range(0..3))
            .map(|_| pick(rng, &["sales", "", &long_tag]).into())
            .collect(),
        untagged: rng.random_bool(0.2),
    };
    let bot = bot_ref(
        "0a000000-0000-4000-8000-000000000001",
        "0e000000-0000-4000-8000-000000000001",
        "0b000000-0000-4000-8000-000000000001",
    );
    let name = path.rsplit('/').next().unwrap_or_default();
    match name {
        _ if name.ends_with("Series") => v1::SeriesRequest {
            bot,
            filter: Some(filter),
            granularity: rng.random_range(-1..6),
        }
        .encode_to_vec(),
        "SearchConversations" => v1::SearchConversationsRequest {
            bot,
            filter: Some(filter),
            page: rng.random_bool(0.5).then(|| rng.random_range(-1..1000)),
            size: rng.random_bool(0.5).then(|| rng.random_range(-1..200)),
            sort: rng.random_range(-1..12),
            order: rng.random_range(-1..4),
            search_by: rng.random_range(-1..5),
            search_term: pick(rng, &["A", "", "%", "_", "'; DROP TABLE events; --"]).into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "SearchMessages" => v1::SearchMessagesRequest {
            bot,
            filter: Some(filter),
            page: rng.random_bool(0.5).then(|| rng.random_range(-1..1000)),
            size: rng.random_bool(0.5).then(|| rng.random_range(-1..200)),
            sort: rng.random_range(-1..12),
            order: rng.random_range(-1..4),
            search_by: rng.random_range(-1..5),
            search_term: pick(rng, &["A", "", "%", "\\", "'; DROP TABLE events; --"]).into(),
            nlp_response_filters: (0..rng.random_range(0..3))
                .map(|_| rng.random_range(-1..8))
                .collect(),
            snapshot: rng.random_bool(0.2).then(|| rng.random_range(0..5)),
        }
        .encode_to_vec(),
        _ => v1::AnalyticsRequest {
            bot,
            filter: Some(filter),
        }
        .encode_to_vec(),
    }
}

fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..4) {
            0 if at < bytes.len() => bytes[at] = rng.random(),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, rng.random()),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[tokio::test]
async fn hostile_bytes_get_a_status_and_the_server_keeps_serving() {
    let seed = std::env::var("TALKHOUSE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    let cases: usize = std::env::var("TALKHOUSE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    eprintln!("gRPC fuzz seed {seed} (replay with TALKHOUSE_FUZZ_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let data = with_fixture();
    let server = RunningServer::start(data.table().await).await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    let seeds = seeds();
    // The seeds themselves are valid requests.
    for (index, path) in [
        "/talkhouse.v1.AnalyticsService/GetConversationTraffic",
        "/talkhouse.v1.AnalyticsService/GetUserSeries",
        "/talkhouse.v1.MessageService/SearchMessages",
        "/talkhouse.v1.ConversationService/GetConversation",
    ]
    .into_iter()
    .enumerate()
    {
        grpc.ready().await.unwrap();
        let request = tonic::Request::new(Bytes::from(seeds[index].clone()));
        let path = http::uri::PathAndQuery::from_static(path);
        if let Err(status) = grpc.unary(request, path, RawCodec).await {
            panic!("seed {index} is refused: {status:?}");
        }
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..cases {
        let method = &METHODS[rng.random_range(0..METHODS.len())];
        let body = match rng.random_range(0..4) {
            3 => structured(&mut rng, method.path),
            0 => {
                let mut bytes = vec![0u8; rng.random_range(0..64)];
                rng.fill_bytes(&mut bytes);
                bytes
            }
            _ => {
                let base = seed_of(method.path).unwrap_or(rng.random_range(0..seeds.len()));
                mutate(&mut rng, &seeds[base])
            }
        };
        grpc.ready().await.expect("the connection stays up");
        let path = http::uri::PathAndQuery::from_static(method.path);
        let request = tonic::Request::new(Bytes::from(body.clone()));
        let code = if method.path.ends_with("/DownloadReport") {
            match grpc.server_streaming(request, path, RawCodec).await {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            }
        } else {
            match grpc.unary(request, path, RawCodec).await {
                Ok(_) => Code::Ok,
                Err(status) => status.code(),
            }
        };
        assert!(
            !matches!(code, Code::Internal | Code::Unknown | Code::Unavailable),
            "case {case}: {} with {body:02x?} answered {code:?}",
            method.path
        );
        *codes.entry(format!("{code:?}")).or_default() += 1;
    }
    eprintln!("answers: {codes:?}");
    assert!(codes.contains_key("InvalidArgument"), "{codes:?}");

    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.stop().await;
}
