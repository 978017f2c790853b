//! What requests cost in memory, counted by the allocator (findings 4 and 5 of the security
//! review): N state updates keep memory proportional to what was sent, reading a thread does not
//! read its history, and a thread the caller may not see costs what an absent one does.
//!
//! Allocations are counted per test thread: each test drives the router on a current-thread
//! runtime, so every allocation of its requests (spawned runs included) happens on that thread.
//!
//! Memory-only by nature, whatever `PC_TEST_BACKEND` says: these count the heap of the memory
//! backend, where resources live; a database backend keeps them outside the process (and its
//! driver's pool and background tasks allocate on other threads, which this count cannot see).
//!
//! A test binary of its own, not a module of `tests/it`: the counting allocator is the
//! `#[global_allocator]` of the whole binary, and the other suites should run on the system's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use agent_server::Storage;
use agent_server::testing::{AppState, router};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;
use tutorial_policy::Policy;

thread_local! {
    /// Bytes allocated and not yet freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` has been since the last [`reset_peak`].
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Bytes allocated by this thread in all.
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        if delta > 0 {
            let _ = TOTAL.try_with(|t| t.set(t.get() + delta as usize));
        }
    });
}

struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        // SAFETY: as the caller promised.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn reset_peak() {
    PEAK.with(|p| p.set(live()));
}

fn peak() -> isize {
    PEAK.with(Cell::get)
}

fn total() -> usize {
    TOTAL.with(Cell::get)
}

const MIB: isize = 1024 * 1024;

struct App {
    rt: tokio::runtime::Runtime,
    router: Router,
}

impl App {
    fn new(policy: Policy) -> App {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let router = rt.block_on(async {
            let state =
                AppState::new(Arc::new(policy.build().unwrap()), Storage::in_memory()).await;
            router(state)
        });
        App { rt, router }
    }

    /// Sends a request as `user` (1 Alice, 2 Bob); the status and the JSON body.
    fn send(&self, user: u8, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer user{user}-token"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        self.rt.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    fn thread(&self, user: u8) -> String {
        let (status, body) = self.send(user, "POST", "/threads", Some(json!({})));
        assert_eq!(status, 200);
        body["thread_id"].as_str().unwrap().to_owned()
    }

    /// `n` state updates adding a message of `size` bytes each.
    fn updates(&self, user: u8, thread: &str, n: usize, size: usize) {
        for i in 0..n {
            let content = format!("{i:08}").repeat(size / 8);
            let body = json!({"values": {"messages": [{"role": "user", "content": content}]}});
            let (status, _) = self.send(
                user,
                "POST",
                &format!("/threads/{thread}/state"),
                Some(body),
            );
            assert_eq!(status, 200);
        }
    }

    /// The bytes a request allocates in all.
    fn cost(&self, user: u8, method: &str, path: &str, body: Option<Value>) -> (u16, usize) {
        let before = total();
        let (status, _) = self.send(user, method, path, body);
        (status, total() - before)
    }
}

/// N updates of 20 KB keep memory proportional to what was sent: every checkpoint shares the
/// messages of the one before (before the fix, each held a copy of all earlier messages, so 200
/// updates of 20 KB held ~400 MB, and each update copied the whole history under the lock).
#[test]
fn memory_of_n_updates_is_proportional_to_what_was_sent() {
    let app = App::new(Policy::Scoped);
    const SIZE: usize = 20 * 1024;
    for n in [50, 200] {
        let t = app.thread(1);
        let before = live();
        reset_peak();
        app.updates(1, &t, n, SIZE);
        let sent = (n * SIZE) as isize;
        let kept = live() - before;
        let peak = peak() - before;
        println!(
            "{n} updates of 20 KB: {:.1} MiB kept, {:.1} MiB at the peak, {:.1} MiB sent",
            kept as f64 / MIB as f64,
            peak as f64 / MIB as f64,
            sent as f64 / MIB as f64
        );
        // What was sent once (with JSON's own overhead), plus a pointer per message per
        // checkpoint; the peak adds one request's copies of the state.
        assert!(kept < 2 * sent + 2 * MIB, "{n} updates kept {kept} bytes");
        assert!(
            peak < 4 * sent + 4 * MIB,
            "{n} updates peaked at {peak} bytes"
        );
        let (status, state) = app.send(1, "GET", &format!("/threads/{t}/state"), None);
        assert_eq!(status, 200);
        assert_eq!(state["values"]["messages"].as_array().unwrap().len(), n);
    }
}

/// Reading a thread reads neither its checkpoints nor its runs: `GET /threads/{id}` on a thread
/// with 1,000 checkpoints allocates what it does on a thread with one and the same values, and a
/// page of history costs the page.
#[test]
fn reading_a_thread_does_not_read_its_history() {
    let app = App::new(Policy::Scoped);
    let long = app.thread(1);
    let short = app.thread(1);
    for i in 0..1000 {
        let body = json!({"values": {"n": i % 2}});
        let (status, _) = app.send(1, "POST", &format!("/threads/{long}/state"), Some(body));
        assert_eq!(status, 200);
    }
    let body = json!({"values": {"n": 1}});
    let (status, _) = app.send(1, "POST", &format!("/threads/{short}/state"), Some(body));
    assert_eq!(status, 200);
    for _ in 0..20 {
        let (_, long_cost) = app.cost(1, "GET", &format!("/threads/{long}"), None);
        let (_, short_cost) = app.cost(1, "GET", &format!("/threads/{short}"), None);
        assert!(
            long_cost < short_cost + short_cost / 10 + 1024,
            "GET on 1,000 checkpoints: {long_cost} bytes, on one: {short_cost}"
        );
    }
    let (_, page_long) = app.cost(1, "GET", &format!("/threads/{long}/history?limit=1"), None);
    let (_, page_short) = app.cost(1, "GET", &format!("/threads/{short}/history?limit=1"), None);
    assert!(
        page_long < page_short + page_short / 10 + 1024,
        "a page of one checkpoint: {page_long} bytes of 1,000, {page_short} of one"
    );
}

/// Finding 5: a thread the caller may not see costs what an absent one does. Bob's stream run
/// on Alice's large thread is a 404 (a copy: 409) that allocates as much as one on a random id (before the
/// fix, the route copied Alice's thread, history included, before authorizing).
#[test]
fn a_hidden_thread_costs_what_an_absent_one_does() {
    for policy in [Policy::Scoped, Policy::Global] {
        let app = App::new(policy);
        let hers = app.thread(1);
        app.updates(1, &hers, 100, 20 * 1024);
        let body = json!({"assistant_id": "agent", "input": {"messages": "hi"}});
        for route in [
            "runs/stream",
            "runs/wait",
            "runs",
            "state",
            "history",
            "copy",
        ] {
            let (method, body) = match route {
                "state" => ("GET", None),
                "history" => ("POST", Some(json!({"limit": 10}))),
                "copy" => ("POST", Some(json!({}))),
                _ => ("POST", Some(body.clone())),
            };
            // Warm up both paths once (lazily initialized statics, pools).
            app.cost(2, method, &format!("/threads/{hers}/{route}"), body.clone());
            let random = uuid::Uuid::new_v4();
            let (absent_status, absent) = app.cost(
                2,
                method,
                &format!("/threads/{random}/{route}"),
                body.clone(),
            );
            let (hidden_status, hidden) =
                app.cost(2, method, &format!("/threads/{hers}/{route}"), body.clone());
            // A copy answers 409 for both, as both LangGraph servers do; every other route 404.
            let expected = if route == "copy" { 409 } else { 404 };
            assert_eq!(
                (absent_status, hidden_status),
                (expected, expected),
                "{policy:?} {route}"
            );
            assert!(
                hidden < absent + absent / 5 + 2048,
                "{policy:?} {route}: hidden {hidden} bytes, absent {absent}"
            );
        }
    }
}
