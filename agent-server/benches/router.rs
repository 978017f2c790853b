//! The whole server stack without the network: one `GET /threads/{id}` through the router
//! (authentication layer, route, authorization, storage, JSON), with the tutorial's scoped policy
//! and with auth off, in the same run. The difference is what auth costs a request in the server,
//! free of the load generator's and the kernel's noise.
//!
//! Before timing, it counts the heap allocations of one request with auth on and off (a global
//! allocator counts them): a count, unlike a time, is the same on every machine.
//!
//! `cargo bench -p private-conversations --bench router`
//!
//! With `ROUTER_REQUESTS=N` it times nothing: it sends N requests to one app (`ROUTER_AUTH=on` or
//! `off`) and exits, for `bench/instructions.sh` to count their instructions under callgrind.
//! `ROUTER_SEED_THREADS=K` first puts K more threads in the store, owned by 100 users in turn, as
//! the load test's server holds them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent_server::Storage;
use agent_server::authz::Scope;
use agent_server::testing::IfExists;
use agent_server::testing::new_thread;
use agent_server::testing::{AppState, router, seed};
use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tower::ServiceExt;
use tutorial_policy::Policy;

const THREAD: &str = "00000000-0000-4000-8000-000000000001";

/// Counts allocations (the runtime is single-threaded, so all of a request's are its own).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// A whole number from the environment, if set.
fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?}: expected a whole number")),
    )
}

fn app(rt: &tokio::runtime::Runtime, auth: auth::Auth) -> axum::Router {
    rt.block_on(async {
        // Storage is a handle: the state's clone sees what is seeded here.
        let storage = Storage::in_memory();
        let state = AppState::new(Arc::new(auth), storage.clone()).await;
        let seeded = env_number("ROUTER_SEED_THREADS").unwrap_or(0);
        seed(&storage, seeded, 100).await.expect("seeding threads");
        let metadata = json!({"owner": "user1"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        storage
            .threads()
            .insert(
                new_thread(THREAD.into(), metadata),
                IfExists::Raise,
                &Scope::system_for_tests("benchmark: seeding the thread"),
            )
            .await
            .expect("seeding the thread");
        router(state)
    })
}

fn get_thread(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let on = app(&rt, Policy::Scoped.build().expect("the tutorial policy"));
    let off = app(&rt, auth::Auth::builder().build().expect("no handlers"));
    let request = || {
        Request::get(format!("/threads/{THREAD}"))
            .header("authorization", "Bearer user1-token")
            .body(Body::empty())
            .expect("a request")
    };
    if let Some(requests) = env_number("ROUTER_REQUESTS") {
        let app = match std::env::var("ROUTER_AUTH").as_deref() {
            Ok("on") => &on,
            Ok("off") => &off,
            other => panic!("ROUTER_AUTH={other:?}: expected on or off"),
        };
        for _ in 0..requests {
            let response = rt.block_on(app.clone().oneshot(request()));
            assert_eq!(response.expect("infallible").status(), 200);
        }
        std::process::exit(0);
    }
    for (name, app) in [("auth on", &on), ("auth off", &off)] {
        let status = rt
            .block_on(app.clone().oneshot(request()))
            .expect("infallible")
            .status();
        assert_eq!(status, 200, "{name}");
        let rounds = 1000;
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..rounds {
            drop(rt.block_on(app.clone().oneshot(request())));
        }
        let per_request = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / rounds as f64;
        println!("GET /threads/{{id}}, {name}: {per_request:.1} allocations per request");
        c.bench_function(
            &format!("GET /threads/{{id}} through the router, {name}"),
            |b| {
                b.iter(|| {
                    rt.block_on(app.clone().oneshot(request()))
                        .expect("infallible")
                })
            },
        );
    }
}

criterion_group!(benches, get_thread);
criterion_main!(benches);
