//! What the storage backend costs a request: `GET /threads/{id}` and an owner-filtered
//! `POST /threads/search` (ten results and their count, among 1,000 threads of the caller's and
//! 1,000 of another user's), through the router with the tutorial's scoped policy, on memory,
//! SQLite (a temporary file) and PostgreSQL (a database made for the run from
//! `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`, dropped after;
//! skipped when unreachable).
//!
//! `cargo bench -p agent-server --bench storage_backends`

use std::sync::Arc;

use agent_server::Storage;
use agent_server::testing::{AppState, router};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
// The test suites' databases (a SQLite file, a PostgreSQL database made for the run and dropped).
use test_support::TestDatabase;
use tower::ServiceExt;
use tutorial_policy::Policy;

/// Sends a request as `user`; the response body (asserting a 200).
fn send(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    user: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> axum::body::Bytes {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {user}-token"))
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

fn backends(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // Each database is removed when dropped, at the end.
    let sqlite = TestDatabase::sqlite();
    let pg = match rt.block_on(TestDatabase::try_postgres()) {
        Ok(db) => Some(db),
        Err(why) => {
            eprintln!("skipping PostgreSQL: {why}");
            None
        }
    };
    let mut urls = vec![("memory", "memory"), ("sqlite", sqlite.url.as_str())];
    if let Some(db) = &pg {
        urls.push(("postgres", db.url.as_str()));
    }
    for (name, url) in urls {
        let storage = rt.block_on(Storage::connect(url)).expect("the storage");
        let app = rt.block_on(async {
            let auth = Policy::Scoped.build().expect("the tutorial policy");
            router(AppState::new(Arc::new(auth), storage.clone()).await)
        });
        let mut mine = String::new();
        for i in 0..1000 {
            for user in ["user1", "user2"] {
                let body = json!({"metadata": {"n": i}});
                let t = send(&rt, &app, user, "POST", "/threads", Some(&body));
                if user == "user1" {
                    let t: Value = serde_json::from_slice(&t).expect("JSON");
                    mine = t["thread_id"].as_str().expect("an id").to_owned();
                }
            }
        }
        let mut group = c.benchmark_group(format!("storage {name}"));
        let path = format!("/threads/{mine}");
        group.bench_function("GET /threads/{id}", |b| {
            b.iter(|| send(&rt, &app, "user1", "GET", &path, None))
        });
        let search = json!({"limit": 10});
        group.bench_function("POST /threads/search (1,000 of 2,000 visible)", |b| {
            b.iter(|| send(&rt, &app, "user1", "POST", "/threads/search", Some(&search)))
        });
        group.bench_function("POST /threads/count (1,000 of 2,000 visible)", |b| {
            b.iter(|| send(&rt, &app, "user1", "POST", "/threads/count", Some(&search)))
        });
        group.bench_function("POST /threads", |b| {
            let body = json!({"metadata": {"n": -1}});
            b.iter(|| send(&rt, &app, "user1", "POST", "/threads", Some(&body)))
        });
        group.finish();
        rt.block_on(storage.close());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = backends
}
criterion_main!(benches);
