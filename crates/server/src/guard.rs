//! The one gate every call passes before a handler sees it: authentication, the scope of the
//! method, the bots the request names, request size, admission and deadline.
//!
//! It is a tower layer around the whole router, so no handler can skip it. A method missing
//! from [`policy::METHODS`] is answered UNIMPLEMENTED here; only health and reflection pass
//! unchecked. Messages never say whether another tenant's bot or session exists.

mod admission;
mod deadline;
mod policy;

pub use admission::QueryLimits;
pub use policy::{Cost, METHODS, Method};

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use talkhouse_core::access::Grant;
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;

use crate::ServiceError;
use crate::auth::Authentication;
use crate::metrics::{Metrics, Surface};
use admission::Admission;

/// Paths answered without a token: standard health checks and schema reflection.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Builds a [`Guard`] around the router.
#[derive(Clone)]
pub struct GuardLayer {
    shared: Arc<Shared>,
}

struct Shared {
    authentication: Authentication,
    limits: QueryLimits,
    admission: Arc<Admission>,
    metrics: Arc<Metrics>,
}

impl GuardLayer {
    pub fn new(authentication: Authentication, limits: QueryLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            shared: Arc::new(Shared {
                authentication,
                admission: Arc::new(Admission::new(&limits)),
                limits,
                metrics,
            }),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    shared: Arc<Shared>,
}

tokio::task_local! {
    /// When the call being answered arrived and how long it waited for its turn.
    pub(crate) static ADMITTED: Admitted;
}

/// Who the call is answered for, as the handlers see it (a request extension): the grant of its
/// token, or anyone on a server started with `--dev-no-auth`.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Granted(Grant),
    Anyone,
}

impl Caller {
    pub(crate) fn covers(&self, tenant: &talkhouse_core::Tenant) -> bool {
        match self {
            Caller::Granted(grant) => grant.covers(tenant),
            Caller::Anyone => true,
        }
    }

    /// Who the caller is, for the records of what it did.
    pub(crate) fn name(&self) -> String {
        match self {
            Caller::Granted(grant) => grant
                .subject
                .clone()
                .unwrap_or_else(|| format!("a token of organization {}", grant.org_id)),
            Caller::Anyone => "a caller without a token (--dev-no-auth)".into(),
        }
    }
}

/// A query call's turn, as a handler that streams its answer keeps it (a request extension): the
/// admission slot, held until the last batch, and the deadline, which bounds the stream too.
#[derive(Clone)]
pub(crate) struct Turn {
    pub(crate) deadline: Instant,
    slot: Arc<std::sync::Mutex<Option<admission::Slot>>>,
}

/// The slot a streaming answer holds; given back when dropped.
pub(crate) struct HeldSlot(#[allow(dead_code)] Option<admission::Slot>);

impl Turn {
    /// The slot, for the stream to hold; the call gives it back when it returns otherwise.
    pub(crate) fn hold(&self) -> HeldSlot {
        HeldSlot(
            self.slot
                .lock()
                .expect("the slot lock is never poisoned")
                .take(),
        )
    }
}

#[derive(Clone)]
pub(crate) struct Admitted {
    pub(crate) arrived: std::time::Instant,
    pub(crate) waited: std::time::Duration,
    pub(crate) metrics: Arc<Metrics>,
}

type HttpRequest = http::Request<Body>;
type HttpResponse = http::Response<Body>;

impl<S> tower::Service<HttpRequest> for Guard<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let span = tracing::info_span!(
            "call",
            method = %request.uri().path(),
            surface = tracing::field::Empty,
            org_id = tracing::field::Empty,
            env_id = tracing::field::Empty,
            bot_id = tracing::field::Empty,
            code = tracing::field::Empty,
        );
        crate::trace_context::continue_callers_trace(&span, request.headers());
        let arrived = std::time::Instant::now();
        let call = async move {
            let path = request.uri().path();
            if OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
                let mut inner = inner;
                return inner.call(request).await;
            }
            let surface = match request.extensions().get::<Surface>() {
                Some(surface) => *surface,
                None if path.starts_with("/arrow.flight.") => Surface::flight_sql,
                None => Surface::grpc,
            };
            let method = policy::method(path).map_or("unknown", |m| m.name());
            tracing::Span::current().record("surface", format!("{surface:?}"));
            let mut organization = None;
            let answer = match shared.admit(request, &mut organization).await {
                Ok((request, ticket)) => shared.run(inner, request, ticket, arrived).await,
                Err(status) => {
                    shared.metrics.refusal(organization, status.code());
                    Ok(status.into_http())
                }
            };
            if let Ok(response) = &answer {
                // A refusal's status is in the headers (a trailers-only answer).
                let code = Status::from_header_map(response.headers())
                    .map_or(tonic::Code::Ok, |status| status.code());
                tracing::Span::current().record("code", crate::metrics::code_name(code));
                shared
                    .metrics
                    .call(surface, method, code, arrived.elapsed());
            }
            answer
        };
        Box::pin(tracing::Instrument::instrument(call, span))
    }
}

/// A call that passed the gate, and what it may still use.
struct Ticket {
    method: &'static Method,
    deadline: Option<Instant>,
    slot: Option<admission::Slot>,
}

impl Shared {
    /// Everything but running the handler: the request comes back rebuilt from its checked bytes.
    /// `organization` is set once the call's organization is known, for the refusal's metric.
    async fn admit(
        &self,
        request: HttpRequest,
        organization: &mut Option<uuid::Uuid>,
    ) -> Result<(HttpRequest, Ticket), Status> {
        let path = request.uri().path().to_owned();
        let method = policy::method(&path)
            .ok_or_else(|| Status::unimplemented(format!("unknown method {}", shorten(&path))))?;
        let grant = match &self.authentication {
            Authentication::Tokens(verifier) => Some(
                verifier
                    .verify_fetching(request.headers().get("authorization").map(|v| v.as_bytes()))
                    .await
                    .map_err(|e| Status::from(ServiceError::Unauthenticated(e)))?,
            ),
            Authentication::DisabledForDevelopment => None,
        };
        *organization = grant.as_ref().map(|g| g.org_id);
        if let Some(grant) = &grant {
            grant
                .check_scope(method.scope)
                .map_err(|e| Status::from(ServiceError::PermissionDenied(e)))?;
        }
        let client_deadline = deadline::from_headers(request.headers());
        let (parts, body) = request.into_parts();
        let bytes = self.read_body(method, body).await?;
        let tenants = policy::tenants(method, &bytes)?;
        if let Some(tenant) = tenants.first() {
            *organization = Some(tenant.org_id);
            let span = tracing::Span::current();
            span.record("org_id", tenant.org_id.to_string());
            span.record("env_id", tenant.env_id.to_string());
            span.record("bot_id", tenant.bot_id.to_string());
        }
        if let Some(grant) = &grant {
            check_tenants(grant, &tenants)?;
        }
        let (deadline, slot) = match method.cost {
            Cost::Query => {
                let deadline = Instant::now() + self.limits.deadline(client_deadline);
                let organization = tenants
                    .first()
                    .map(|t| t.org_id)
                    .or(grant.as_ref().map(|g| g.org_id))
                    .unwrap_or_default();
                let slot = tracing::Instrument::instrument(
                    self.admission.enter(organization, deadline),
                    tracing::info_span!("admission", org_id = %organization),
                )
                .await?;
                (Some(deadline), Some(slot))
            }
            Cost::Write => (None, None),
        };
        let mut request = http::Request::from_parts(parts, Body::new(Full::new(bytes)));
        request.extensions_mut().insert(match grant {
            Some(grant) => Caller::Granted(grant),
            None => Caller::Anyone,
        });
        Ok((
            request,
            Ticket {
                method,
                deadline,
                slot,
            },
        ))
    }

    async fn run<S>(
        &self,
        mut inner: S,
        mut request: HttpRequest,
        mut ticket: Ticket,
        arrived: std::time::Instant,
    ) -> Result<HttpResponse, S::Error>
    where
        S: tower::Service<HttpRequest, Response = HttpResponse>,
    {
        let admitted = Admitted {
            arrived,
            waited: ticket
                .slot
                .as_ref()
                .map_or(std::time::Duration::ZERO, |slot| slot.waited),
            metrics: self.metrics.clone(),
        };
        if ticket.slot.is_some() {
            self.metrics.admission_wait(admitted.waited);
        }
        // The call holds its slot until it returns (this binding lives to the end); a handler
        // that streams its answer takes the slot from its `Turn` to hold it to the last batch.
        let slot = Arc::new(std::sync::Mutex::new(ticket.slot.take()));
        if let Some(deadline) = ticket.deadline {
            request.extensions_mut().insert(Turn {
                deadline,
                slot: slot.clone(),
            });
        }
        let call = ADMITTED.scope(admitted, inner.call(request));
        let Some(deadline) = ticket.deadline else {
            return call.await;
        };
        let answer = tokio::time::timeout_at(deadline, call).await;
        // The timer fires at millisecond granularity, so a query may complete after its deadline
        // but before the timer: an answer that late is refused all the same.
        match answer {
            Ok(response) if Instant::now() <= deadline => response,
            _ => {
                tracing::info!(
                    method = ticket.method.path,
                    "query cancelled at its deadline"
                );
                Ok(Status::from(ServiceError::DeadlineExceeded(
                    "the query did not finish before its deadline and was cancelled".into(),
                ))
                .into_http())
            }
        }
    }

    /// The whole request body, refused beyond the method's size limit.
    async fn read_body(&self, method: &Method, body: Body) -> Result<Bytes, Status> {
        let limit = self.limits.max_request_bytes(method.cost);
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(Status::from(ServiceError::ResourceExhausted(format!(
                    "the request is larger than the limit of {limit} bytes"
                ))))
            }
            Err(error) => match error.downcast::<Status>() {
                Ok(status) => Err(*status),
                Err(error) => Err(Status::cancelled(format!(
                    "the request body could not be read: {error}"
                ))),
            },
        }
    }
}

/// Every bot the request names must be granted; the denial is the same whether or not the bot
/// exists.
fn check_tenants(grant: &Grant, tenants: &[talkhouse_core::Tenant]) -> Result<(), Status> {
    for tenant in tenants {
        grant
            .check_tenant(tenant)
            .map_err(|e| Status::from(ServiceError::PermissionDenied(e)))?;
    }
    Ok(())
}

fn shorten(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(120)
        .map_or(text.len(), |(index, _)| index);
    &text[..end]
}
