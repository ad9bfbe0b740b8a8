pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("report storage")]
    Store(#[from] object_store::Error),

    #[error("a report record is not readable: {0}")]
    Record(#[from] serde_json::Error),

    #[error(transparent)]
    Query(#[from] talkhouse_query::Error),

    #[error(transparent)]
    Storage(#[from] talkhouse_storage::Error),

    #[error("writing the report file")]
    Io(#[from] std::io::Error),

    #[error("writing the report file")]
    Csv(#[from] csv::Error),

    #[error("writing the report file")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),

    #[error("writing the report file")]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error("converting report rows")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("reading report rows")]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// Too many reports are waiting or running.
    #[error("{0} reports are already waiting or running; try again later")]
    Busy(usize),

    /// Too many of the organization's reports are waiting or running.
    #[error(
        "this organization already has {0} reports waiting or running; try again when some are READY"
    )]
    OrganizationBusy(usize),
}

impl Error {
    /// The query ran out of its memory budget.
    pub fn is_resources_exhausted(&self) -> bool {
        use datafusion::error::DataFusionError;
        let query = match self {
            Error::Query(talkhouse_query::Error::Query(e)) | Error::DataFusion(e) => e,
            _ => return false,
        };
        matches!(query.find_root(), DataFusionError::ResourcesExhausted(_))
    }
}
