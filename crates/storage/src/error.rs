use deltalake_core::DeltaTableError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The idempotency key was already used for a different batch.
    #[error("idempotency key {key:?} was already used for a different batch")]
    IdempotencyKeyReused { key: String },

    /// The table version asked for does not exist (yet or any more).
    #[error("table version {version} is not available")]
    SnapshotUnavailable { version: u64 },

    /// The table was written in a layout this build does not read (see `talkhouse.format`).
    #[error(
        "the event table is of {found}, which this build does not read (it reads talkhouse.format = \"1\"); ingest its events again into a new data folder"
    )]
    UnsupportedFormat { found: String },

    #[error("invalid data location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("the event table")]
    Table(#[source] DeltaTableError),

    #[error("reading the event table")]
    Query(#[source] datafusion::error::DataFusionError),

    #[error("building an Arrow batch")]
    Arrow(#[source] arrow::error::ArrowError),

    #[error("preparing the data folder")]
    Io(#[source] std::io::Error),

    #[error("reading or writing the data location")]
    ObjectStore(#[source] object_store::Error),
}

impl From<DeltaTableError> for Error {
    fn from(error: DeltaTableError) -> Self {
        Error::Table(error)
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        Error::Query(error)
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(error: arrow::error::ArrowError) -> Self {
        Error::Arrow(error)
    }
}
