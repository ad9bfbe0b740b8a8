pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] talkhouse_storage::Error),

    #[error("running a query")]
    Query(#[from] datafusion::error::DataFusionError),

    #[error("reading a query's answer: column {column} is not {expected}")]
    UnexpectedColumn {
        column: String,
        expected: &'static str,
    },
}

impl From<arrow::error::ArrowError> for Error {
    fn from(error: arrow::error::ArrowError) -> Self {
        Error::Query(error.into())
    }
}
