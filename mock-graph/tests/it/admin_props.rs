//! No admin request can crash a handler: out-of-range values are refused with a 400
//! naming the field, and arbitrary JSON sent to every endpoint gets an answer.

use super::*;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::json;
use tower::ServiceExt;

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn out_of_range_values_are_refused_naming_the_field() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hi").await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/_mock/clock",
            json!({"advance": "100000000h"}),
            "field `advance`",
        ),
        ("/_mock/clock", json!({"advance": "-1s"}), "field `advance`"),
        (
            "/_mock/clock",
            json!({"to": "9999-12-31T23:59:59Z"}),
            "field `to`",
        ),
        ("/_mock/clock", json!({"advance": 36}), "field `advance`"),
        (
            "/_mock/faults",
            json!({"latency_ms": u64::MAX}),
            "field `latency_ms`",
        ),
        (
            "/_mock/faults",
            json!({"latency_ms": -1}),
            "field `latency_ms`",
        ),
        (
            "/_mock/faults",
            json!({"echo_lag": "100000000h"}),
            "field `echo_lag`",
        ),
        (
            "/_mock/faults",
            json!({"late_redelivery": "400d"}),
            "field `late_redelivery`",
        ),
        (
            "/_mock/faults",
            json!({"error_rate": 1e300}),
            "field `error_rate`",
        ),
        (
            "/_mock/faults",
            json!({"rate_limit_burst": 1u64 << 40}),
            "field `rate_limit_burst`",
        ),
        (
            "/_mock/other-app/sends",
            json!({"recipients": 0, "text": "x"}),
            "field `recipients`",
        ),
        (
            "/_mock/other-app/sends",
            json!({"recipients": u64::MAX, "text": "x"}),
            "field `recipients`",
        ),
        (
            "/_mock/other-app/sends",
            json!({"recipients": -3, "text": "x"}),
            "field `recipients`",
        ),
        (
            "/_mock/other-app/sends",
            json!({"psid": psid, "text": "x", "tag": "NOPE"}),
            "field `tag`",
        ),
        (
            "/_mock/judge",
            json!({"phrases": "deal"}),
            "field `phrases`",
        ),
    ];
    for (path, body, field) in cases {
        let (s, v) = m.post(path, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path} {body}: {v}");
        assert!(message(&v).starts_with(field), "{path} {body}: {v}");
    }
    // Customer actions too.
    let (s, v) = m
        .post(
            &format!("/_mock/customers/{psid}/handover"),
            json!({"owner": "nobody"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(message(&v).starts_with("field `owner`"), "{v}");
    // The clock may go far, but no farther than it can show; nothing breaks there.
    let (s, v) = m
        .post("/_mock/clock", json!({"to": "8999-12-31T00:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    m.post(
        "/_mock/faults",
        json!({"echo_lag": "365d", "late_redelivery": "365d"}),
    )
    .await;
    let (s, _) = m
        .post(
            "/_mock/other-app/sends",
            json!({"psid": psid, "text": "Black Friday deal", "tag": "HUMAN_AGENT"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "outside the window, as Meta says"
    );
    let (s, v) = m.post("/_mock/clock", json!({"advance": "2d"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(message(&v).starts_with("field `advance`"), "{v}");
}

#[tokio::test]
async fn scenarios_out_of_range_are_refused_naming_the_field() {
    let m = Mock::new();
    let base = "name = \"x\"\ndescription = \"x\"\n[customers.ada]\n";
    for (extra, field) in [
        // In the year 9441: an instant that exists, past the emulator's latest (one
        // past the year 9999 doesn't exist, and the loader refuses it first).
        (
            "[[step]]\nat = \"65000000h\"\ncustomer = \"ada\"\nsays = \"hi\"\n",
            "field `at`",
        ),
        (
            "[[step]]\nat = \"0s\"\ncustomer = \"ada\"\nfaults = { echo_lag = \"100000000h\" }\n",
            "field `faults`",
        ),
        (
            "[[step]]\nat = \"0s\"\ncustomer = \"ada\"\nfaults = { latency = \"1000h\" }\n",
            "field `faults`",
        ),
    ] {
        let text = format!("{base}{extra}");
        let (s, v) = m.call("POST", "/_mock/scenario", Some(&text)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{text}: {v}");
        assert!(message(&v).starts_with(field), "{text}: {v}");
    }
    let text = format!("start = \"9999-12-31T00:00:00Z\"\n{base}");
    let (s, v) = m.call("POST", "/_mock/scenario", Some(&text)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

const FIELDS: &[&str] = &[
    "advance",
    "to",
    "name",
    "text",
    "title",
    "payload",
    "mid",
    "emoji",
    "action",
    "ref",
    "source",
    "owner",
    "psid",
    "tag",
    "recipients",
    "error_rate",
    "rate_limit_burst",
    "latency_ms",
    "drop_rate",
    "duplicate_rate",
    "reorder_rate",
    "echo_lag",
    "late_redelivery",
    "phrases",
    "recipient",
    "messaging_type",
    "message",
    "persona_id",
    "sender_action",
    "profile_picture_url",
    "id",
];

const STRINGS: &[&str] = &[
    "100000000h",
    "10000000h",
    "175307616h",
    "36h",
    "-5m",
    "7d",
    "0s",
    "P1000000Y",
    "9999-12-31T23:59:59Z",
    "8999-12-31T00:00:00Z",
    "2026-11-20T09:00:00Z",
    "-009999-01-01T00:00:00Z",
    "HUMAN_AGENT",
    "ACCOUNT_UPDATE",
    "MESSAGE_TAG",
    "RESPONSE",
    "react",
    "unreact",
    "ADS",
    "us",
    "other",
    "$PSID",
    "",
    "❤️",
    "typing_on",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(0.5), Just(-1.0), Just(1e308), Just(2.0), any::<f64>()]
            .prop_filter_map("finite", |f: f64| serde_json::Number::from_f64(f)
                .map(Value::Number)),
        proptest::sample::select(STRINGS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(FIELDS).prop_map(str::to_owned),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Admin endpoints, with `$PSID` for a customer who exists, and the fields each takes.
const ADMIN: &[(&str, &[&str])] = &[
    ("/_mock/clock", &["advance", "to"]),
    ("/_mock/customers", &["name"]),
    ("/_mock/customers/$PSID/messages", &["text"]),
    ("/_mock/customers/$PSID/postbacks", &["title", "payload"]),
    (
        "/_mock/customers/$PSID/reactions",
        &["mid", "emoji", "action"],
    ),
    ("/_mock/customers/$PSID/referrals", &["ref", "source"]),
    ("/_mock/customers/$PSID/read", &[]),
    ("/_mock/customers/$PSID/block", &[]),
    ("/_mock/customers/$PSID/unblock", &[]),
    ("/_mock/customers/$PSID/handover", &["owner"]),
    ("/_mock/customers/$PSID/bogus", &[]),
    ("/_mock/customers/0000/messages", &["text"]),
    (
        "/_mock/other-app/sends",
        &["psid", "text", "tag", "recipients"],
    ),
    (
        "/_mock/faults",
        &[
            "error_rate",
            "rate_limit_burst",
            "latency_ms",
            "drop_rate",
            "duplicate_rate",
            "reorder_rate",
            "echo_lag",
            "late_redelivery",
        ],
    ),
    ("/_mock/judge", &["phrases"]),
    ("/_mock/scenario", &[]),
    ("/_mock/reset", &[]),
];

/// A value an admin field might be given: often one near the edges.
fn near_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(Value::from),
        2 => prop_oneof![
            Just(Value::from(0)),
            Just(Value::from(-1)),
            Just(Value::from(u64::MAX)),
            Just(Value::from(i64::MIN)),
            Just(Value::from(1e300)),
            Just(Value::from(0.5)),
            Just(Value::from(100)),
        ],
        1 => arb_json(),
    ]
}

/// A body for an endpoint taking `fields`: its own fields with values near the edges,
/// or any JSON at all.
fn admin_body() -> impl Strategy<Value = (usize, Value)> {
    (0..ADMIN.len()).prop_flat_map(|i| {
        let fields = ADMIN[i].1;
        let own = if fields.is_empty() {
            Just(Value::Object(Default::default())).boxed()
        } else {
            proptest::collection::vec((proptest::sample::select(fields), near_value()), 0..4)
                .prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                })
                .boxed()
        };
        (Just(i), prop_oneof![3 => own, 1 => arb_json()])
    })
}

/// Graph endpoints a client may send anything to.
const GRAPH: &[&str] = &[
    "/v25.0/me/messages?access_token=mock-page-token",
    "/v25.0/104857600000001/personas?access_token=mock-page-token",
];

fn with_psid(v: Value, psid: &str) -> Value {
    match v {
        Value::String(s) if s == "$PSID" => Value::String(psid.to_owned()),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| with_psid(v, psid)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, with_psid(v, psid)))
                .collect(),
        ),
        other => other,
    }
}

async fn request(m: &Mock, path: &str, body: String) -> StatusCode {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    m.router.clone().oneshot(req).await.unwrap().status()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary JSON, in sequences, to every admin endpoint and the Graph endpoints
    /// that take bodies: every answer is an answer (a panic fails the test), and admin
    /// mistakes are 4xx, never 5xx.
    #[test]
    fn arbitrary_json_never_crashes_a_handler(
        calls in proptest::collection::vec(
            prop_oneof![
                4 => admin_body().prop_map(|(i, body)| (None, i, body)),
                1 => (any::<prop::sample::Index>(), arb_json())
                    .prop_map(|(i, body)| (Some(i.index(GRAPH.len())), 0, body)),
            ],
            1..8,
        )
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let m = Mock::new();
            let psid = m.customer_who_wrote("hello").await;
            for (graph, admin, body) in calls {
                let body = with_psid(body, &psid).to_string();
                if let Some(g) = graph {
                    let path = GRAPH[g];
                    let status = request(&m, path, body.clone()).await;
                    // Meta's own 500 (code 2) is allowed when a fault asks for it.
                    let faulty = m.state.lock().faults.error_rate > 0.0;
                    prop_assert!(status.as_u16() != 500 || faulty, "{path} {body}: {status}");
                } else {
                    let path = ADMIN[admin].0.replace("$PSID", &psid);
                    let status = request(&m, &path, body.clone()).await;
                    prop_assert!(
                        [200, 400, 404].contains(&status.as_u16()),
                        "{path} {body}: {status}"
                    );
                }
            }
            Ok(())
        })?;
    }
}
