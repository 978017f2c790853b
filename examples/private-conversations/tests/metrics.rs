//! `GET /metrics`: Prometheus text with requests by route and status, latency histograms,
//! authorization decisions and authentication failures; who may read it.
//!
//! The recorder is global to the process, so one test makes all the requests it counts.
//!
//! A test binary of its own, not a module of `tests/it`: every server of the process records into
//! that one recorder, so the requests of the other suites' servers would change the exact counts
//! asserted here.

use agent_server::MetricsAccess;
use serde_json::json;

// The helpers of `tests/it`.
#[path = "it/support/mod.rs"]
mod support;

async fn start(access: MetricsAccess, host: &str) -> String {
    support::serve_on(host, support::scoped().metrics(access)).await
}

/// The value of the sample named `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_decisions_and_failures() {
    let base = start(MetricsAccess::Auto, "127.0.0.1").await;
    let http = reqwest::Client::new();
    let tid = support::new_thread(&http, &base, "user1-token").await;
    for token in ["user1-token", "user2-token"] {
        http.get(format!("{base}/threads/{tid}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let r = http
            .get(format!("{base}/threads/{tid}"))
            .bearer_auth("stolen")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = http
        .post(format!("{base}/assistants/search"))
        .bearer_auth("user1-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // On a loopback address, /metrics needs no token by default.
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let get = |name: &str, labels: &[&str]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} in\n{text}"))
    };
    let route = r#"route="/threads/{thread_id}""#;
    assert_eq!(get("http_requests_total", &[route, r#"status="200""#]), 1.0);
    assert_eq!(get("http_requests_total", &[route, r#"status="404""#]), 1.0);
    assert_eq!(get("http_requests_total", &[route, r#"status="401""#]), 2.0);
    assert_eq!(
        get(
            "http_requests_total",
            &[r#"route="/threads""#, r#"method="POST""#]
        ),
        1.0
    );
    // A histogram: buckets, sum and count by route.
    assert_eq!(
        get(
            "http_request_duration_seconds_count",
            &[route, r#"method="GET""#]
        ),
        4.0
    );
    assert_eq!(
        get(
            "http_request_duration_seconds_bucket",
            &[route, r#"le="+Inf""#]
        ),
        4.0
    );
    assert_eq!(
        get(
            "auth_authorizations_total",
            &[
                r#"event="threads.read""#,
                r#"handler="on_thread_read""#,
                r#"outcome="filtered""#
            ]
        ),
        2.0
    );
    assert_eq!(
        get(
            "auth_authorizations_total",
            &[
                r#"event="assistants.search""#,
                r#"handler="on_assistants""#,
                r#"outcome="denied""#
            ]
        ),
        1.0
    );
    assert_eq!(
        get(
            "auth_authentication_failures_total",
            &[r#"reason="Invalid token""#]
        ),
        2.0
    );
    assert!(
        !text.contains("stolen") && !text.contains("user1-token"),
        "{text}"
    );

    // Who may read it.
    // Not served: an unknown path like any other (401 without a token, 404 with one).
    let status = |url: String, token: Option<&'static str>| {
        let mut req = http.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().status() }
    };
    let off = start(MetricsAccess::Off, "127.0.0.1").await;
    assert_eq!(status(format!("{off}/metrics"), None).await, 401);
    assert_eq!(
        status(format!("{off}/metrics"), Some("user1-token")).await,
        404
    );
    let everywhere = start(MetricsAccess::Auto, "0.0.0.0").await;
    assert_eq!(
        status(format!("{everywhere}/metrics"), Some("user1-token")).await,
        404,
        "not on loopback: off unless enabled"
    );
    let authed = start(MetricsAccess::Authenticated, "0.0.0.0").await;
    let r = http.get(format!("{authed}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{authed}/metrics"))
        .bearer_auth("user2-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("http_requests_total"));
}
