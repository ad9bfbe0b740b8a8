//! Schema reflection, as grpcurl and GUI clients use it: both `grpc.reflection.v1` and
//! `v1alpha` list every service and describe its file, without a token.

use tonic_reflection::pb::{v1, v1alpha};

use crate::support::*;

const SERVICES: [&str; 8] = [
    "grpc.health.v1.Health",
    "talkhouse.v1.AdminService",
    "talkhouse.v1.AnalyticsService",
    "talkhouse.v1.ConversationService",
    "talkhouse.v1.DashboardService",
    "talkhouse.v1.IngestService",
    "talkhouse.v1.MessageService",
    "talkhouse.v1.ReportService",
];

#[tokio::test]
async fn both_reflection_versions_list_every_service_and_describe_it() {
    let data = DataDir::new();
    // Tokens are checked, but reflection needs none.
    let server = RunningServer::start_with(crate::auth::hs256_config(), data.table().await).await;

    // v1alpha, as grpcurl 1.8 asks.
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let requests = [
        v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
            "talkhouse.v1.AnalyticsService".into(),
        ),
    ]
    .map(|request| v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    });
    let mut answers = client
        .server_reflection_info(futures::stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    use v1alpha::server_reflection_response::MessageResponse as Alpha;
    let Some(Alpha::ListServicesResponse(listed)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services");
    };
    let mut names: Vec<String> = listed.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert!(
        SERVICES.iter().all(|s| names.contains(&s.to_string())),
        "{names:?}"
    );
    let Some(Alpha::FileDescriptorResponse(files)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a file descriptor");
    };
    assert!(!files.file_descriptor_proto.is_empty());

    // v1, as newer clients ask.
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    use v1::server_reflection_response::MessageResponse as V1;
    let Some(V1::ListServicesResponse(listed)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("not a list of services");
    };
    assert_eq!(listed.service.len(), names.len());
    server.stop().await;
}
