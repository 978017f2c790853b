//! What the server says about itself: one access log line per request and the Prometheus
//! metrics behind `GET /metrics`.
//!
//! The access log line (target `access`, level `info`) has the method, the route's path template
//! (never the raw path with its ids), the status, the latency and the user's identity; never a
//! token. A 401 also says why (the `detail` the client got). A request whose connection closed
//! before its answer was ready has a line too (`abandoned: …`). The authorization line of each
//! event is at `debug` (see [`authz`](crate::authz)).
//!
//! Metrics (names as Prometheus shows them):
//! - `http_requests_total{method, route, status}` and `http_request_duration_seconds{method,
//!   route}` (a histogram);
//! - `auth_authorizations_total{event, handler, outcome}` (from [`authz`](crate::authz));
//! - `auth_authentication_failures_total{reason}`.
//!
//! A slow storage call (a database statement, or a search in memory, slower than
//! [`Limits::slow_storage`](crate::Limits)) is one `warn` line (target `storage`) with the route
//! of the request that made it (`-` for the run queue's own work) and its duration, never the
//! statement: [`slow_storage`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth::axum::Authenticated;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_25, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The longest 401 reason kept as a metric label (a handler's detail could be anything).
const REASON_MAX: usize = 80;

/// The process's Prometheus recorder, installed on first use. `None` when another metrics
/// recorder was installed first (the app's own): `/metrics` then says so.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .expect("the buckets are not empty");
            builder.install_recorder().ok()
        })
        .as_ref()
}

/// Drains the latency histograms every few seconds, so that memory stays bounded between
/// scrapes. Runs until the process ends.
pub fn spawn_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if let Some(handle) = prometheus() {
        STARTED.get_or_init(|| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    handle.run_upkeep();
                }
            });
        });
    }
}

/// `GET /metrics`: every metric in Prometheus' text format.
pub async fn render() -> Response {
    match prometheus() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => crate::util::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed in this process",
        )
        .into_response(),
    }
}

/// The user of a request, handed from inside the authentication layer to [`access`] through
/// the response's extensions.
#[derive(Clone)]
struct Caller(Authenticated);

/// Inside the authentication layer: copies the authenticated user (a cheap clone) onto the
/// response for the access log.
pub async fn caller(request: Request, next: Next) -> Response {
    let user = request.extensions().get::<Authenticated>().cloned();
    let mut response = next.run(request).await;
    if let Some(user) = user {
        response.extensions_mut().insert(Caller(user));
    }
    response
}

tokio::task_local! {
    /// The route template of the request being served, for the lines of [`slow_storage`].
    static ROUTE: std::sync::Arc<str>;
}

/// Storage calls slower than this many microseconds are logged ([`set_slow_storage`]).
static SLOW_STORAGE_US: AtomicU64 = AtomicU64::new(1_000_000);

/// Storage calls slower than `threshold` are logged by [`slow_storage`] (process-wide, as the
/// log itself; [`Limits::slow_storage`](crate::Limits)).
pub fn set_slow_storage(threshold: Duration) {
    let us = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
    SLOW_STORAGE_US.store(us, Ordering::Relaxed);
}

/// Logs a storage call (`what`: `statement`, or the operation) that took `took`, if it is slow:
/// one `warn` line with the route and the duration. Never the statement's text.
pub fn slow_storage(what: &str, took: Duration) {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    if us < SLOW_STORAGE_US.load(Ordering::Relaxed) {
        return;
    }
    let route = ROUTE
        .try_with(|r| r.clone())
        .unwrap_or_else(|_| std::sync::Arc::from("-"));
    tracing::warn!(
        target: "storage",
        route = &*route,
        what,
        duration_ms = us / 1000,
        "slow storage call"
    );
}

/// Logs the request and counts it, around `run`, which answers it (the app's other layers and
/// the route: [`crate::connection::outermost`] calls it outside every other layer).
pub async fn access<F, Fut>(request: Request, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut watch = Abandoned {
        started,
        method: &method,
        route: route.as_deref(),
        answered: false,
    };
    let template: std::sync::Arc<str> =
        std::sync::Arc::from(route.as_deref().unwrap_or("(unmatched)"));
    let response = ROUTE.scope(template, run(request)).await;
    watch.answered = true;
    drop(watch);
    let latency = started.elapsed();
    let status = response.status();
    let route = route.as_deref().unwrap_or("(unmatched)");
    let method_label = method.as_str().to_owned();
    metrics::counter!(
        "http_requests_total",
        "method" => method_label.clone(),
        "route" => route.to_owned(),
        "status" => status.as_str().to_owned()
    )
    .increment(1);
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method_label,
        "route" => route.to_owned()
    )
    .record(latency.as_secs_f64());
    if status == StatusCode::UNAUTHORIZED {
        let (response, reason) = unauthorized_reason(response).await;
        let label: String = reason.chars().take(REASON_MAX).collect();
        metrics::counter!("auth_authentication_failures_total", "reason" => label).increment(1);
        tracing::info!(
            target: "access",
            method = %method,
            route,
            status = status.as_u16(),
            latency_us = latency.as_micros() as u64,
            reason = %reason,
            "unauthorized"
        );
        return response;
    }
    let user = response
        .extensions()
        .get::<Caller>()
        .map(|c| c.0.identity());
    tracing::info!(
        target: "access",
        method = %method,
        route,
        status = status.as_u16(),
        latency_us = latency.as_micros() as u64,
        user = user.unwrap_or("-"),
        "request"
    );
    response
}

/// A request whose answer was not ready when its connection closed: the server drops its
/// handling, and [`access`] logs it (at `info`, target `access`, with the route and how long it
/// ran), so that a request the client saw go unanswered is never silent in the log.
struct Abandoned<'a> {
    started: Instant,
    method: &'a axum::http::Method,
    route: Option<&'a str>,
    answered: bool,
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        tracing::info!(
            target: "access",
            method = %self.method,
            route = self.route.unwrap_or("(unmatched)"),
            latency_us = self.started.elapsed().as_micros() as u64,
            "abandoned: the connection closed before the answer"
        );
    }
}

/// The `detail` of a 401 (the reason the client was told), and the same response.
async fn unauthorized_reason(response: Response) -> (Response, String) {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (
            Response::from_parts(parts, Body::empty()),
            "unreadable body".into(),
        );
    };
    let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "no detail".into());
    (Response::from_parts(parts, Body::from(bytes)), reason)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex, PoisonError};

    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    /// What the log lines written while it is the default subscriber say.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn text(&self) -> String {
            let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            String::from_utf8_lossy(&bytes).into_owned()
        }

        /// A subscriber writing every line (`info` and above) here, without colours.
        pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
            tracing_subscriber::fmt()
                .with_writer(self.clone())
                .with_ansi(false)
                .finish()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[tokio::test]
    async fn a_request_whose_connection_closes_before_the_answer_is_logged() {
        let logs = Captured::default();
        let _default = tracing::subscriber::set_default(logs.subscriber());
        let app = axum::Router::new()
            .route("/slow", get(std::future::pending::<()>))
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(|request, next: Next| {
                access(request, |request| next.run(request))
            }));
        let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let fast = app.clone().oneshot(request("/fast")).await.unwrap();
        assert_eq!(fast.status(), StatusCode::OK);
        // The connection closes: hyper drops the request's handling.
        let slow = tokio::time::timeout(Duration::from_millis(50), app.oneshot(request("/slow")));
        assert!(slow.await.is_err());
        let text = logs.text();
        let abandoned: Vec<&str> = text.lines().filter(|l| l.contains("abandoned")).collect();
        assert_eq!(abandoned.len(), 1, "{text}");
        assert!(abandoned[0].contains("/slow"), "{text}");
        assert!(abandoned[0].contains("GET"), "{text}");
    }
}
