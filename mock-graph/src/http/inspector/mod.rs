//! The inspector: a page at `/` to watch and drive the emulated Messenger. Plain HTML,
//! CSS and JavaScript compiled into the binary, so one command starts emulator and
//! page; it reads and writes only the `/_mock/` admin API and follows
//! `/_mock/events`.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::AppState;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX)))
        .route(
            "/inspector/app.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/inspector/app.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
}

/// An asset; `no-cache` so a rebuilt emulator's page is the one shown.
async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
