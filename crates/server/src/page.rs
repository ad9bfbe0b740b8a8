//! The dashboard page at `/`: static files built into the binary, Chart.js among them (vendored
//! under `page/vendor`, MIT). The page calls the REST API of the server that serves it and
//! fetches nothing from anywhere else.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header;

/// Each file: its path, content type and bytes.
const FILES: [(&str, &str, &[u8]); 4] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../page/index.html"),
    ),
    (
        "/page/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../page/app.js"),
    ),
    (
        "/page/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../page/style.css"),
    ),
    (
        "/page/vendor/chart.umd.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../page/vendor/chart.umd.min.js"),
    ),
];

/// Only this server's own files and API: no script, style or connection elsewhere.
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'";

pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for (path, content_type, bytes) in FILES {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CONTENT_SECURITY_POLICY, POLICY),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    bytes,
                )
                    .into_response()
            }),
        );
    }
    router
}
