//! `/metrics`, `/healthz` and `/readyz` on a bot that works: the counts follow what
//! happened, and readiness follows whether Discord answers. (Two pages' figures apart:
//! `pages.rs`.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot::discord::recorder::Recorder;
use bot::metrics::{self, Health, MeteredDiscord, MeteredGraph, Metrics};
use bot::pages::{Page, Pages};
use tower::ServiceExt;

use crate::harness::Harness;

/// mock-graph's page: the `page` label of every per-page series.
const PAGE: &str = "104857600000001";

async fn metered(discord: &Recorder) -> (Harness, Arc<Metrics>) {
    let mut h = Harness::new(Arc::new(discord.clone()), None).await;
    let m = Arc::new(Metrics::new());
    let clock: Arc<dyn bot::clock::Clock> = Arc::new(h.clock.clone());
    h.engine.discord = Arc::new(MeteredDiscord::new(
        h.engine.discord.clone(),
        m.clone(),
        clock.clone(),
    ));
    h.engine.graph = Arc::new(MeteredGraph::new(
        PAGE,
        h.engine.graph.clone(),
        m.clone(),
        clock,
    ));
    (h, m)
}

async fn get(h: &Harness, m: &Arc<Metrics>, path: &str) -> (StatusCode, String) {
    let app = metrics::router(Health {
        pages: Pages::new(vec![Page {
            id: PAGE.into(),
            engine: h.engine.clone(),
        }]),
        metrics: m.clone(),
        clock: h.engine.clock.clone(),
    });
    let answer = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = answer.status();
    let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the series `line` starts with, e.g. `tagdesk_page_warnings `.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The series of metric `name` about mock-graph's page, with `labels` after `page`
/// (e.g. `call="post"`), as written in the text format.
fn of_page(name: &str, labels: &str) -> String {
    if labels.is_empty() {
        format!(r#"{name}{{page="{PAGE}"}}"#)
    } else {
        format!(r#"{name}{{page="{PAGE}",{labels}}}"#)
    }
}

#[tokio::test]
async fn metrics_count_what_happened_and_read_the_store() {
    let discord = Recorder::new();
    let (h, m) = metered(&discord).await;
    let (status, text) = get(&h, &m, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        value(&text, &of_page("tagdesk_events_ingested_total", "")),
        Some(0.0),
        "{text}"
    );

    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "where is my order?").await;
    h.say(&ada, "hello?").await;
    h.tick().await;

    let (_, text) = get(&h, &m, "/metrics").await;
    assert_eq!(
        value(&text, &of_page("tagdesk_events_ingested_total", "")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"tagdesk_discord_calls_total{call="post",answer="200"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"tagdesk_discord_calls_total{call="start_thread",answer="200"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &of_page(
                "tagdesk_graph_calls_total",
                r#"call="profile",outcome="ok""#
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &of_page("tagdesk_messages", r#"direction="in",state="received""#)
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &of_page("tagdesk_page_restricted", "")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &of_page("tagdesk_page_restriction_rung", "")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &of_page("tagdesk_windows_expired_unanswered", "")),
        Some(0.0),
        "{text}"
    );

    // A week and a day later nobody has answered: every window has closed on her.
    h.advance("8d").await;
    h.tick().await;
    let (_, text) = get(&h, &m, "/metrics").await;
    assert_eq!(
        value(&text, &of_page("tagdesk_windows_expired_unanswered", "")),
        Some(1.0),
        "{text}"
    );
    // An agent's late reply is refused by the guard: counted with its reason.
    let late = bot::commands::interaction::parse(&serde_json::json!({
        "id": "1200000000000000001", "type": 2, "token": "t", "application_id": "1",
        "data": {"name": "reply", "options": [
            {"name": "text", "type": 3, "value": "Sorry for the wait!"},
            {"name": "customer", "type": 3, "value": ada}]},
        "member": {"user": {"id": "42", "username": "grace"}, "roles": [crate::harness::ROLE.to_string()]},
    }))
    .unwrap();
    let answer = bot::commands::handle(&h.engine, &late).await;
    assert!(format!("{answer:?}").contains("Not sent"), "{answer:?}");
    let (_, text) = get(&h, &m, "/metrics").await;
    assert_eq!(
        value(
            &text,
            &of_page(
                "tagdesk_sends_ended",
                r#"state="refused",reason="window_closed""#
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn readyz_says_not_ready_while_discord_stays_unreachable_and_ready_again_after() {
    let discord = Recorder::new();
    let (h, m) = metered(&discord).await;
    assert_eq!(
        get(&h, &m, "/healthz").await,
        (StatusCode::OK, "ok\n".into())
    );
    assert_eq!(get(&h, &m, "/readyz").await.0, StatusCode::OK);

    discord.set_outage(true);
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "anyone there?").await;
    h.tick().await;
    // A blip is not an outage.
    h.advance("1m").await;
    h.tick().await;
    assert_eq!(get(&h, &m, "/readyz").await.0, StatusCode::OK);
    h.advance("2m").await;
    h.tick().await;
    let (status, why) = get(&h, &m, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(why.contains("Discord unreachable since"), "{why}");
    let (_, text) = get(&h, &m, "/metrics").await;
    assert!(
        value(
            &text,
            r#"tagdesk_discord_calls_total{call="post",answer="503"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &of_page("tagdesk_work_pending", r#"kind="open_thread""#)
        ),
        Some(1.0),
        "{text}"
    );

    discord.set_outage(false);
    h.advance("5m").await;
    h.tick().await;
    assert_eq!(get(&h, &m, "/readyz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_page_whose_id_is_unknown_is_labelled_empty() {
    let discord = Recorder::new();
    let (h, m) = metered(&discord).await;
    let text = m
        .render(&*h.engine.store, &h.engine.settings, h.now())
        .unwrap();
    assert_eq!(
        value(&text, r#"tagdesk_page_warnings{page=""}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"tagdesk_events_ingested_total{page=""}"#),
        Some(0.0),
        "{text}"
    );
}
