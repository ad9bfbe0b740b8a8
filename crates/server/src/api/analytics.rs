//! `talkhouse.v1.AnalyticsService`.

use talkhouse_core::Tenant;
use talkhouse_core::request::{Checker, Filter};
use talkhouse_core::window::Granularity;
use talkhouse_proto::v1;
use talkhouse_proto::v1::analytics_service_server::AnalyticsService;
use talkhouse_query::dashboard::{Answer, SeriesResource, Traffic};
use tonic::{Request, Response, Status};

use super::{DashboardApi, bot_id, valid};
use crate::ServiceError;
use crate::convert::answer::{breakdown, granularity, overview, provenance, timestamp};
use crate::convert::request::{filter, tenant};

impl DashboardApi {
    fn analytics_request(
        &self,
        request: &v1::AnalyticsRequest,
    ) -> Result<(Tenant, Filter), ServiceError> {
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let filter = filter(request.filter.as_ref(), &self.config.limits, &mut checker);
        valid(checker, tenant.zip(filter))
    }

    fn series_request(
        &self,
        request: &v1::SeriesRequest,
    ) -> Result<(Tenant, Filter, Option<Granularity>), ServiceError> {
        let mut checker = Checker::new();
        let tenant = tenant(request.bot.as_ref(), &mut checker);
        let filter = filter(request.filter.as_ref(), &self.config.limits, &mut checker);
        let granularity = crate::convert::request::granularity(request.granularity, &mut checker);
        let value = match (tenant, filter, granularity) {
            (Some(t), Some(f), Some(g)) => Some((t, f, g)),
            _ => None,
        };
        valid(checker, value)
    }

    async fn series(
        &self,
        request: v1::SeriesRequest,
        resource: SeriesResource,
    ) -> Result<Response<v1::SeriesResponse>, Status> {
        let (tenant, filter, granularity) = self.series_request(&request)?;
        let answer = self
            .dashboard
            .series(tenant, resource, &filter, granularity)
            .await
            .map_err(ServiceError::from)?;
        let provenance = provenance(&answer);
        let series = answer.value;
        Ok(Response::new(v1::SeriesResponse {
            resource: resource_of(resource) as i32,
            granularity: self::granularity(series.granularity) as i32,
            buckets: series
                .buckets
                .into_iter()
                .map(|b| v1::SeriesBucket {
                    start: Some(timestamp(b.start)),
                    label: b.label,
                })
                .collect(),
            datasets: series
                .datasets
                .into_iter()
                .map(|d| v1::Dataset {
                    channel_uuid: d.channel_uuid,
                    channel_name: d.channel_name,
                    data: d.data,
                })
                .collect(),
            provenance,
        }))
    }
}

fn resource_of(resource: SeriesResource) -> v1::Resource {
    match resource {
        SeriesResource::Conversations => v1::Resource::Conversations,
        SeriesResource::Messages => v1::Resource::Messages,
        SeriesResource::Users => v1::Resource::Users,
    }
}

fn traffic(answer: Answer<Traffic>, resource: v1::Resource) -> Response<v1::TrafficResponse> {
    Response::new(v1::TrafficResponse {
        resource: resource as i32,
        overview: Some(overview(&answer.value.overview)),
        breakdown: breakdown(&answer.value.breakdown),
        provenance: provenance(&answer),
    })
}

#[tonic::async_trait]
impl AnalyticsService for DashboardApi {
    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_conversation_traffic(
        &self,
        request: Request<v1::AnalyticsRequest>,
    ) -> Result<Response<v1::TrafficResponse>, Status> {
        let (tenant, filter) = self.analytics_request(request.get_ref())?;
        let answer = self
            .dashboard
            .conversation_traffic(tenant, &filter)
            .await
            .map_err(ServiceError::from)?;
        Ok(traffic(answer, v1::Resource::Conversations))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_message_traffic(
        &self,
        request: Request<v1::AnalyticsRequest>,
    ) -> Result<Response<v1::TrafficResponse>, Status> {
        let (tenant, filter) = self.analytics_request(request.get_ref())?;
        let answer = self
            .dashboard
            .message_traffic(tenant, &filter)
            .await
            .map_err(ServiceError::from)?;
        Ok(traffic(answer, v1::Resource::Messages))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_user_traffic(
        &self,
        request: Request<v1::AnalyticsRequest>,
    ) -> Result<Response<v1::TrafficResponse>, Status> {
        let (tenant, filter) = self.analytics_request(request.get_ref())?;
        let answer = self
            .dashboard
            .user_traffic(tenant, &filter)
            .await
            .map_err(ServiceError::from)?;
        Ok(traffic(answer, v1::Resource::Users))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_accuracy(
        &self,
        request: Request<v1::AnalyticsRequest>,
    ) -> Result<Response<v1::AccuracyResponse>, Status> {
        let (tenant, filter) = self.analytics_request(request.get_ref())?;
        let answer = self
            .dashboard
            .accuracy(tenant, &filter)
            .await
            .map_err(ServiceError::from)?;
        let a = &answer.value;
        Ok(Response::new(v1::AccuracyResponse {
            accuracy: a.accuracy(),
            previous_accuracy: a.previous_accuracy(),
            increased: a.increased(),
            increase_percentage: a.increase_percentage(),
            compared_start: Some(timestamp(a.compared_start)),
            compared_end: Some(timestamp(a.compared_end)),
            found: a.found,
            not_found: a.not_found,
            previous_found: a.previous_found,
            previous_not_found: a.previous_not_found,
            provenance: provenance(&answer),
        }))
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_conversation_series(
        &self,
        request: Request<v1::SeriesRequest>,
    ) -> Result<Response<v1::SeriesResponse>, Status> {
        self.series(request.into_inner(), SeriesResource::Conversations)
            .await
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_message_series(
        &self,
        request: Request<v1::SeriesRequest>,
    ) -> Result<Response<v1::SeriesResponse>, Status> {
        self.series(request.into_inner(), SeriesResource::Messages)
            .await
    }

    #[tracing::instrument(skip_all, fields(bot = bot_id(&request.get_ref().bot)))]
    async fn get_user_series(
        &self,
        request: Request<v1::SeriesRequest>,
    ) -> Result<Response<v1::SeriesResponse>, Status> {
        self.series(request.into_inner(), SeriesResource::Users)
            .await
    }
}
