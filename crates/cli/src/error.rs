use talkhouse_core::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),

    #[error("{path}: {source}")]
    Batch {
        path: String,
        #[source]
        source: BatchError,
    },

    #[error(transparent)]
    Storage(#[from] talkhouse_storage::Error),

    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error("serving gRPC")]
    Serve(#[from] talkhouse_server::ServeError),

    #[error(transparent)]
    Reports(#[from] talkhouse_reports::Error),

    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The error and its causes on one line, without repeating a transparent cause.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}
