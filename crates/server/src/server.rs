//! Assembles the tonic server: services, health, reflection, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use talkhouse_proto::v1::analytics_service_server::AnalyticsServiceServer;
use talkhouse_proto::v1::conversation_service_server::ConversationServiceServer;
use talkhouse_proto::v1::dashboard_service_server::DashboardServiceServer;
use talkhouse_proto::v1::ingest_service_server::IngestServiceServer;
use talkhouse_proto::v1::message_service_server::MessageServiceServer;
use talkhouse_proto::v1::report_service_server::ReportServiceServer;
use talkhouse_query::QueryEngine;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_storage::EventTable;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::api::{DashboardApi, ServiceConfig};
use crate::ingest::IngestApi;

/// Largest request accepted: an ingest batch of 100,000 events fits.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub services: ServiceConfig,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            services: ServiceConfig::default(),
        }
    }
}

/// A bound, not yet serving, server. Binding first lets callers learn the port of `:0`.
pub struct Server {
    listener: TcpListener,
    table: Arc<EventTable>,
    services: ServiceConfig,
}

impl Server {
    pub async fn bind(config: &ServerConfig, table: Arc<EventTable>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            table,
            services: config.services.clone(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then drains requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<IngestServiceServer<IngestApi>>()
            .await;
        health_reporter
            .set_serving::<DashboardServiceServer<DashboardApi>>()
            .await;
        health_reporter
            .set_serving::<AnalyticsServiceServer<DashboardApi>>()
            .await;
        health_reporter
            .set_serving::<ConversationServiceServer<DashboardApi>>()
            .await;
        health_reporter
            .set_serving::<MessageServiceServer<DashboardApi>>()
            .await;
        health_reporter
            .set_serving::<ReportServiceServer<DashboardApi>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(talkhouse_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the descriptor sets built into this binary are valid");
        let dashboard = Arc::new(Dashboard::new(QueryEngine::new(self.table.clone())));
        let api = DashboardApi::new(dashboard, self.services);
        let ingest = IngestServiceServer::new(IngestApi::new(self.table))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
        tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(reflection)
            .add_service(ingest)
            .add_service(DashboardServiceServer::new(api.clone()))
            .add_service(AnalyticsServiceServer::new(api.clone()))
            .add_service(ConversationServiceServer::new(api.clone()))
            .add_service(MessageServiceServer::new(api.clone()))
            .add_service(ReportServiceServer::new(api))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await
    }
}
