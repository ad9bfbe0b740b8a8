//! Assembles the tonic server: services, health, reflection, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use talkhouse_proto::v1::admin_service_server::AdminServiceServer;
use talkhouse_proto::v1::analytics_service_server::AnalyticsServiceServer;
use talkhouse_proto::v1::conversation_service_server::ConversationServiceServer;
use talkhouse_proto::v1::dashboard_service_server::DashboardServiceServer;
use talkhouse_proto::v1::ingest_service_server::IngestServiceServer;
use talkhouse_proto::v1::message_service_server::MessageServiceServer;
use talkhouse_proto::v1::report_service_server::ReportServiceServer;
use talkhouse_query::dashboard::Dashboard;
use talkhouse_query::sql::SqlService;
use talkhouse_query::{QueryEngine, QueryExecutor};
use talkhouse_reports::{ReportSettings, ReportStore, Reports};
use talkhouse_storage::{EventTable, Lease};
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;

use crate::api::{AdminApi, DashboardApi, ServiceConfig};
use crate::auth::Authentication;
use crate::guard::{GuardLayer, QueryLimits};
use crate::ingest::IngestApi;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where the same API is served as JSON over HTTP; `None` for no HTTP listener.
    pub http_listen: Option<SocketAddr>,
    pub authentication: Authentication,
    pub services: ServiceConfig,
    pub limits: QueryLimits,
    /// Memory one request's query operators may hold; `None` is unbounded.
    pub query_memory_limit: Option<usize>,
    /// The report workers.
    pub reports: ReportSettings,
    /// Whether traffic, accuracy and series may be answered from rollups.
    pub use_rollups: bool,
    /// Memory the rollup and user rollup rows kept for answers may hold, across bots.
    pub index_memory_limit: usize,
    /// How often the keys of JWKS URLs are fetched again.
    pub jwks_refresh_interval: std::time::Duration,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, authentication: Authentication) -> Self {
        Self {
            listen,
            http_listen: None,
            authentication,
            services: ServiceConfig::default(),
            limits: QueryLimits::default(),
            query_memory_limit: Some(DEFAULT_QUERY_MEMORY_LIMIT),
            reports: ReportSettings::default(),
            use_rollups: true,
            index_memory_limit: talkhouse_query::dashboard::DEFAULT_INDEX_MEMORY,
            jwks_refresh_interval: std::time::Duration::from_secs(300),
        }
    }
}

/// Memory one request's query operators may hold by default: 512 MiB.
pub const DEFAULT_QUERY_MEMORY_LIMIT: usize = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "authentication is disabled, which is allowed only on a loopback address, not {0}; \
         configure token keys or listen on 127.0.0.1"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen: {0}")]
    Bind(#[source] std::io::Error),
    #[error("cannot start the report workers: {0}")]
    Reports(#[source] talkhouse_reports::Error),
    #[error("cannot start the query threads: {0}")]
    Threads(#[source] std::io::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Start(StartError),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// A bound, not yet serving, server. Binding first lets callers learn the port of `:0`.
pub struct Server {
    listener: TcpListener,
    http_listener: Option<TcpListener>,
    table: Arc<EventTable>,
    config: ServerConfig,
}

impl Server {
    /// Refuses to serve without authentication on anything but a loopback address.
    pub async fn bind(config: &ServerConfig, table: Arc<EventTable>) -> Result<Self, StartError> {
        if matches!(
            config.authentication,
            Authentication::DisabledForDevelopment
        ) && !config.listen.ip().is_loopback()
        {
            return Err(StartError::NotLoopback(config.listen));
        }
        if let Some(http) = config.http_listen
            && matches!(
                config.authentication,
                Authentication::DisabledForDevelopment
            )
            && !http.ip().is_loopback()
        {
            return Err(StartError::NotLoopback(http));
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(StartError::Bind)?;
        let http_listener = match config.http_listen {
            Some(address) => Some(TcpListener::bind(address).await.map_err(StartError::Bind)?),
            None => None,
        };
        Ok(Self {
            listener,
            http_listener,
            table,
            config: config.clone(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the HTTP listener, when there is one.
    pub fn local_http_addr(&self) -> Option<SocketAddr> {
        self.http_listener.as_ref()?.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then drains requests in flight.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
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
        health_reporter
            .set_serving::<AdminServiceServer<AdminApi>>()
            .await;
        // Both versions of reflection: grpcurl 1.8 and several GUI clients ask for v1alpha only.
        let valid = "the descriptor sets built into this binary are valid";
        let reflection_v1 = reflection().build_v1().expect(valid);
        let reflection_v1alpha = reflection().build_v1alpha().expect(valid);
        let engine = QueryEngine::new(self.table.clone());
        let executor =
            QueryExecutor::per_core().map_err(|e| ServeError::Start(StartError::Threads(e)))?;
        let sql = SqlService::new(
            engine.clone(),
            executor.clone(),
            self.config.query_memory_limit,
        );
        let mut dashboard = Dashboard::new(engine)
            .with_executor(executor)
            .with_rollups(self.config.use_rollups)
            .with_index_memory(self.config.index_memory_limit);
        if let Some(bytes) = self.config.query_memory_limit {
            dashboard = dashboard.with_memory_limit(bytes);
        }
        let dashboard = Arc::new(dashboard);
        let location = self.table.location();
        let settings = self.config.reports;
        let store =
            ReportStore::at(location).map_err(|e| ServeError::Start(StartError::Reports(e)))?;
        let lease = Lease::new(
            location,
            "reports",
            &Lease::process_holder(),
            settings.lease_term,
        )
        .map_err(|e| ServeError::Start(StartError::Reports(e.into())))?;
        let reports = Reports::start(store, lease, dashboard.clone(), settings)
            .await
            .map_err(|e| ServeError::Start(StartError::Reports(e)))?;
        let limits = self.config.limits;
        let metrics = crate::Metrics::new();
        metrics.attach(crate::metrics::Sources {
            dashboard: dashboard.clone(),
            table: self.table.clone(),
            reports: reports.clone(),
        });
        let api = DashboardApi::new(dashboard, reports.clone(), self.config.services);
        let admin = AdminApi::new(self.table.clone());
        let ingest = IngestServiceServer::new(IngestApi::new(self.table, metrics.clone()))
            .max_decoding_message_size(limits.max_ingest_bytes);
        // Answers go out at once: with Nagle's algorithm, an answer of more than one segment
        // waits for the client's delayed acknowledgement (40 ms on Linux). `Server::tcp_nodelay`
        // does not apply to a listener of our own.
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        // One guard, so both surfaces share one admission: an organization's REST and gRPC calls
        // count against the same share of the server.
        let keys = match &self.config.authentication {
            Authentication::Tokens(verifier) if verifier.keys().has_urls() => {
                Some(verifier.keys().clone())
            }
            _ => None,
        };
        let guard = GuardLayer::new(self.config.authentication, limits, metrics.clone());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.changed().await;
            }
        };
        if let Some(keys) = keys {
            refresh_keys(keys, self.config.jwks_refresh_interval, until_stopped()).await;
        }
        let rest = self.http_listener.map(|listener| {
            let routes = Routes::new(DashboardServiceServer::new(api.clone()))
                .add_service(AnalyticsServiceServer::new(api.clone()))
                .add_service(ConversationServiceServer::new(api.clone()))
                .add_service(MessageServiceServer::new(api.clone()))
                .add_service(ReportServiceServer::new(api.clone()))
                .add_service(AdminServiceServer::new(admin.clone()));
            let router = crate::rest::router(tower::Layer::layer(&guard, routes), metrics);
            tokio::spawn(
                axum::serve(listener, router)
                    .with_graceful_shutdown(until_stopped())
                    .into_future(),
            )
        });
        let grpc = tonic::transport::Server::builder()
            .layer(guard)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(ingest)
            .add_service(DashboardServiceServer::new(api.clone()))
            .add_service(AnalyticsServiceServer::new(api.clone()))
            .add_service(ConversationServiceServer::new(api.clone()))
            .add_service(MessageServiceServer::new(api.clone()))
            .add_service(ReportServiceServer::new(api))
            .add_service(AdminServiceServer::new(admin))
            .add_service(crate::flight_sql::service(sql))
            .serve_with_incoming_shutdown(incoming, until_stopped());
        let signal = async move {
            shutdown.await;
            let _ = stop.send(());
        };
        let served =
            match futures::future::select(std::pin::pin!(grpc), std::pin::pin!(signal)).await {
                futures::future::Either::Left((served, _)) => served,
                futures::future::Either::Right(((), grpc)) => grpc.await,
            };
        if let Some(rest) = rest {
            match rest.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "the HTTP listener stopped with an error"),
                Err(error) => tracing::warn!(%error, "the HTTP listener stopped with an error"),
            }
        }
        // Reports still running stay RUNNING in storage and resume under the next lease holder.
        reports.shutdown().await;
        Ok(served?)
    }
}

/// Reflection over every service this server answers.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(talkhouse_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Fetches the keys of the JWKS URLs now, then every `interval` until `stopped`; a provider that
/// cannot be reached keeps its keys from before, and says so in the log.
async fn refresh_keys(
    keys: crate::auth::VerificationKeys,
    interval: std::time::Duration,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    let report = |failures: Vec<String>| {
        for failure in failures {
            tracing::warn!(%failure, "a JWKS URL could not be fetched; its keys stay as they were");
        }
    };
    report(keys.refresh().await);
    tokio::spawn(async move {
        let refreshing = async {
            loop {
                tokio::time::sleep(interval).await;
                report(keys.refresh().await);
            }
        };
        futures::future::select(std::pin::pin!(refreshing), std::pin::pin!(stopped)).await;
    });
}
