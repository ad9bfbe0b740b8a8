//! The groups of `serve`'s flags: reports, authentication, query limits and request limits.
//! Each is flattened into [`super::ServeArgs`] and readable from a `TALKHOUSE_*` variable.

use std::path::PathBuf;

use clap::Args;

/// What reports may hold, and the workers that produce them.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Largest number of items a report may hold (`max_sample`), unless the report config file
    /// says otherwise.
    #[arg(long, env = "TALKHOUSE_REPORT_MAX_SAMPLE", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub report_max_sample: u64,

    /// Export types offered, unless the report config file says otherwise.
    #[arg(
        long,
        env = "TALKHOUSE_REPORT_EXPORT_TYPES",
        value_delimiter = ',',
        default_value = "csv,xlsx,jsonl,parquet",
        value_parser = parse_export_type
    )]
    pub report_export_types: Vec<talkhouse_core::report::ExportType>,

    /// JSON file of report rules with per-bot overrides:
    /// {"default": {"max_sample": N, "export_types": [...]}, "bots": {"<uuid>": {...}}}.
    #[arg(long, env = "TALKHOUSE_REPORT_CONFIG")]
    pub report_config: Option<PathBuf>,

    /// Reports produced at the same time.
    #[arg(long, env = "TALKHOUSE_REPORT_WORKERS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub report_workers: u64,

    /// Reports waiting or running beyond which new requests are refused.
    #[arg(long, env = "TALKHOUSE_MAX_UNFINISHED_REPORTS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_unfinished_reports: u64,

    /// Reports one organization may have waiting or running.
    #[arg(long, env = "TALKHOUSE_MAX_UNFINISHED_REPORTS_PER_ORG", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_unfinished_reports_per_org: u64,

    /// How long a finished report (and its file) is kept.
    #[arg(long, env = "TALKHOUSE_REPORT_TTL_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u64).range(1..=87_600))]
    pub report_ttl_hours: u64,

    /// How often the server making reports looks for reports requested on other servers over
    /// the same data (one listing of the report queue each time).
    #[arg(long, env = "TALKHOUSE_REPORT_POLL_INTERVAL_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub report_poll_interval_ms: u64,

    /// How long the reports lease lasts unrenewed: when the server making reports dies, another
    /// takes over within this time.
    #[arg(long, env = "TALKHOUSE_REPORT_LEASE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub report_lease_seconds: u64,
}

fn parse_export_type(text: &str) -> Result<talkhouse_core::report::ExportType, String> {
    talkhouse_core::report::ExportType::parse(text)
        .ok_or_else(|| format!("{text:?} is not one of csv, xlsx, jsonl, parquet"))
}

/// Who may call: bearer JWTs checked against a secret or public keys, or nobody checked.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Serve without authentication: every caller may do everything. Refused unless --listen is
    /// a loopback address.
    #[arg(long, env = "TALKHOUSE_DEV_NO_AUTH")]
    pub dev_no_auth: bool,

    #[command(flatten)]
    pub secret: SecretArgs,

    /// RS256 or ES256 (P-256) public key files in PEM; repeat or separate with commas.
    #[arg(
        long = "auth-public-key",
        env = "TALKHOUSE_AUTH_PUBLIC_KEYS",
        value_delimiter = ','
    )]
    pub public_keys: Vec<PathBuf>,

    /// A JWKS file (as served by Keycloak's `/protocol/openid-connect/certs`): its RS256 and
    /// ES256 signing keys, chosen by the token's `kid`.
    #[arg(long = "auth-jwks", env = "TALKHOUSE_AUTH_JWKS")]
    pub jwks: Option<PathBuf>,

    /// An identity provider's JWKS URL, whose keys rotate (Keycloak:
    /// `https://HOST/realms/REALM/protocol/openid-connect/certs`); `ORG_UUID,…=URL` lets its keys
    /// grant only those organizations (one realm per organization). Fetched at start, every
    /// --auth-jwks-refresh-seconds, and when a token names an unknown key id (at most every 10
    /// s); the keys last fetched stay in use while the provider cannot be reached. Repeatable.
    #[arg(
        long = "auth-jwks-url",
        env = "TALKHOUSE_AUTH_JWKS_URLS",
        value_delimiter = ' '
    )]
    pub jwks_urls: Vec<String>,

    /// Seconds between two fetches of each --auth-jwks-url.
    #[arg(long = "auth-jwks-refresh-seconds", env = "TALKHOUSE_AUTH_JWKS_REFRESH_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub jwks_refresh_seconds: u64,

    /// Accepted `iss` values; none accepts any issuer.
    #[arg(
        long = "auth-issuer",
        env = "TALKHOUSE_AUTH_ISSUERS",
        value_delimiter = ','
    )]
    pub issuers: Vec<String>,

    /// Accepted `aud` values; none accepts any audience.
    #[arg(
        long = "auth-audience",
        env = "TALKHOUSE_AUTH_AUDIENCES",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,

    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    #[arg(
        long = "auth-leeway-seconds",
        env = "TALKHOUSE_AUTH_LEEWAY_SECONDS",
        default_value_t = 30
    )]
    pub leeway_seconds: u64,

    #[command(flatten)]
    pub claims: ClaimArgs,
}

/// The HS256 shared secret.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// File holding the HS256 secret (at least 32 bytes; one trailing newline is ignored).
    #[arg(
        long = "auth-hs256-secret-file",
        env = "TALKHOUSE_AUTH_HS256_SECRET_FILE"
    )]
    pub secret_file: Option<PathBuf>,

    /// The HS256 secret itself (at least 32 bytes); prefer the file or the variable to a flag.
    #[arg(
        long = "auth-hs256-secret",
        env = "TALKHOUSE_AUTH_HS256_SECRET",
        hide_env_values = true,
        conflicts_with = "secret_file"
    )]
    pub secret: Option<String>,
}

/// Which token claims carry the grant; dots reach into nested objects.
#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Claim holding the organization UUID.
    #[arg(
        long = "auth-org-claim",
        env = "TALKHOUSE_AUTH_ORG_CLAIM",
        default_value = "org"
    )]
    pub org_claim: String,

    /// Claim holding environment UUIDs or `*`.
    #[arg(
        long = "auth-environments-claim",
        env = "TALKHOUSE_AUTH_ENVIRONMENTS_CLAIM",
        default_value = "environments"
    )]
    pub environments_claim: String,

    /// Claim holding bot UUIDs or `*`.
    #[arg(
        long = "auth-bots-claim",
        env = "TALKHOUSE_AUTH_BOTS_CLAIM",
        default_value = "bots"
    )]
    pub bots_claim: String,

    /// Claim holding the scopes (read, report, ingest, sql, admin).
    #[arg(
        long = "auth-scope-claim",
        env = "TALKHOUSE_AUTH_SCOPE_CLAIM",
        default_value = "scope"
    )]
    pub scope_claim: String,

    /// Prefix of our scopes within that claim (e.g. `talkhouse:`); others are ignored.
    #[arg(
        long = "auth-scope-prefix",
        env = "TALKHOUSE_AUTH_SCOPE_PREFIX",
        default_value = ""
    )]
    pub scope_prefix: String,
}

/// How much one query, and all of them together, may use.
#[derive(Debug, Args)]
pub struct QueryLimitArgs {
    /// Seconds a query may run when its client set no deadline.
    #[arg(long, env = "TALKHOUSE_QUERY_TIMEOUT_SECONDS", default_value_t = 30)]
    pub query_timeout_seconds: u64,

    /// Longest deadline a client may set, in seconds; longer ones are shortened.
    #[arg(
        long,
        env = "TALKHOUSE_MAX_QUERY_TIMEOUT_SECONDS",
        default_value_t = 300
    )]
    pub max_query_timeout_seconds: u64,

    /// Queries running at once; more wait in line until their deadline.
    #[arg(long, env = "TALKHOUSE_MAX_CONCURRENT_QUERIES", default_value_t = 16)]
    pub max_concurrent_queries: usize,

    /// Queries one organization may have running or waiting; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "TALKHOUSE_MAX_QUERIES_PER_TENANT", default_value_t = 8)]
    pub max_queries_per_tenant: usize,

    /// Queries one organization may have running at once; its others wait their turn while
    /// other organizations' queries start. A query's plan already spreads over every core.
    #[arg(
        long,
        env = "TALKHOUSE_MAX_RUNNING_QUERIES_PER_TENANT",
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_running_queries_per_tenant: u64,

    /// Memory one request's query operators may hold, in MiB; beyond it RESOURCE_EXHAUSTED.
    #[arg(long, env = "TALKHOUSE_QUERY_MEMORY_MIB", default_value_t = 512)]
    pub query_memory_mib: usize,

    /// Memory the rollup and user rollup rows kept for answers may hold, in MiB, across bots;
    /// the bots asked about longest ago are forgotten first.
    #[arg(long, env = "TALKHOUSE_INDEX_MEMORY_MIB", default_value_t = 1024)]
    pub index_memory_mib: usize,

    /// Largest query request, in KiB.
    #[arg(long, env = "TALKHOUSE_MAX_REQUEST_KIB", default_value_t = 1024)]
    pub max_request_kib: usize,

    /// Largest ingest request, in MiB.
    #[arg(long, env = "TALKHOUSE_MAX_INGEST_MIB", default_value_t = 256)]
    pub max_ingest_mib: usize,
}

/// What a request may ask for.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Most local days a request's date range may hold, counting both ends (up to 3660).
    #[arg(
        long,
        env = "TALKHOUSE_MAX_RANGE_DAYS",
        default_value_t = 366,
        value_parser = clap::value_parser!(u64).range(1..=3660)
    )]
    pub max_range_days: u64,

    /// Largest page of a conversation or message search.
    #[arg(long, env = "TALKHOUSE_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u32,
}
