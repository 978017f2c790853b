//! What `GET /threads/{id}` costs as a thread's history grows (finding 4 of the security
//! review): through the router with the tutorial's scoped policy, on a thread with one
//! checkpoint and on threads with 1,000, whose values are either the same small object or a
//! conversation of 1,000 messages.
//!
//! Reading a thread reads its row only: the budget (`BENCHMARKS.md`) is that 1,000 checkpoints
//! of small values cost within 1.2x of one checkpoint; a conversation of 1,000 messages costs
//! what answering its values (which LangGraph's response includes) costs.
//!
//! `cargo bench -p private-conversations --bench thread_get`

use std::sync::Arc;

use agent_server::Storage;
use agent_server::testing::{AppState, router};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tower::ServiceExt;
use tutorial_policy::Policy;

/// Sends a request as user1; the response body's bytes (asserting a 200).
fn send_raw(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> axum::body::Bytes {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", "Bearer user1-token")
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a request");
    rt.block_on(async {
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200, "{method} {path}");
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body")
    })
}

/// [`send_raw`], the body as JSON.
fn send(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    serde_json::from_slice(&send_raw(rt, app, method, path, body)).expect("JSON")
}

/// A thread of user1 with `checkpoints` state updates, each made by `update(i)`.
fn thread(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    checkpoints: usize,
    update: impl Fn(usize) -> Value,
) -> String {
    let t = send(rt, app, "POST", "/threads", Some(json!({})));
    let id = t["thread_id"].as_str().expect("an id").to_owned();
    for i in 0..checkpoints {
        send(
            rt,
            app,
            "POST",
            &format!("/threads/{id}/state"),
            Some(json!({"values": update(i)})),
        );
    }
    id
}

fn get_thread(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let app = rt.block_on(async {
        let auth = Policy::Scoped.build().expect("the tutorial policy");
        router(AppState::new(Arc::new(auth), Storage::in_memory()).await)
    });
    let small = |i: usize| json!({"step": i % 2});
    let message =
        |i: usize| json!({"messages": [{"role": "user", "content": format!("message {i}")}]});
    let cases = [
        ("1 checkpoint", thread(&rt, &app, 1, small)),
        (
            "1,000 checkpoints, same small values",
            thread(&rt, &app, 1000, small),
        ),
        (
            "1,000 checkpoints, 1,000 messages",
            thread(&rt, &app, 1000, message),
        ),
    ];
    let mut group = c.benchmark_group("GET /threads/{id}");
    for (name, id) in &cases {
        let path = format!("/threads/{id}");
        group.bench_function(*name, |b| {
            b.iter(|| send_raw(&rt, &app, "GET", &path, None))
        });
    }
    group.finish();
}

criterion_group!(benches, get_thread);
criterion_main!(benches);
