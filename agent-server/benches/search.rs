//! What a thread search costs in the in-memory store: one user's threads under the tutorial's
//! owner filter, as `POST /threads/search` asks for them (newest first, limit 10), while the
//! store grows from 1k to 100k threads.
//!
//! The budget (`BENCHMARKS.md`): the search never scans every thread, so "100k threads / 100
//! users" (1,000 threads per user) costs within 3x of "1k threads / 1 user" (the same 1,000
//! matches, with nothing else around them).
//!
//! `cargo bench -p private-conversations --bench search`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use std::sync::Arc;

use agent_server::Storage;
use agent_server::authz::{Scope, System, authorize_for_tests};
use agent_server::testing::AppState;
use agent_server::testing::Object;
use agent_server::testing::new_thread;
use agent_server::testing::{Column, IfExists, Search};
use auth::types::ThreadsSearch;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;
use tutorial_policy::Policy;

/// The in-memory store inserts at once: poll its future once, without a runtime.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory store waited"),
    }
}

/// `threads` threads, owned in turn by `user0`, `user1`, … `user{users - 1}`.
fn store(threads: usize, users: usize) -> Storage {
    let collection = Storage::in_memory();
    let seeding: Scope<System> = Scope::system_for_tests("benchmark: seeding threads");
    for i in 0..threads {
        let metadata: Object = json!({"owner": format!("user{}", i % users), "n": i})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let id = format!("00000000-0000-4000-8000-{i:012x}");
        ready(
            collection
                .threads()
                .insert(new_thread(id, metadata), IfExists::Raise, &seeding),
        )
        .unwrap_or_else(|e| panic!("seeding thread {i}: {e:?}"));
    }
    collection
}

/// The query `POST /threads/search` makes for an empty body: the handler's filter, newest first
/// by `created_at`, ten results. A search is a guarded read: its candidates are evaluated on a
/// blocking thread of `rt`, within the storage deadline.
fn search(
    rt: &tokio::runtime::Runtime,
    collection: &Storage,
    scope: &Scope<ThreadsSearch>,
) -> (usize, usize) {
    let page = rt
        .block_on(collection.threads().search(Search {
            sort: Column::CreatedAt,
            descending: true,
            limit: 10,
            ..Search::new(scope)
        }))
        .unwrap_or_else(|e| panic!("search: {e:?}"));
    (page.items.len(), page.total)
}

fn thread_search(c: &mut Criterion) {
    let mut group = c.benchmark_group("thread search, one user's threads");
    // The scope the tutorial's handler gives `user0` for `threads.search`: owner = user0.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let filter = rt.block_on(async {
        let auth = Policy::Global.build().expect("the tutorial policy");
        let state = AppState::new(Arc::new(auth), Storage::in_memory()).await;
        let user = auth::AuthUser::new("user0");
        let (_, scope) = authorize_for_tests(&state, &user, ThreadsSearch::new())
            .await
            .expect("allowed");
        scope
    });
    for (threads, users) in [(1_000, 1), (1_000, 100), (10_000, 100), (100_000, 100)] {
        let collection = store(threads, users);
        let expected = threads / users;
        assert_eq!(
            search(&rt, &collection, &filter),
            (10.min(expected), expected)
        );
        let label = format!("{}k threads / {users} users", threads / 1000);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| search(&rt, black_box(&collection), black_box(&filter)))
        });
    }
    group.finish();
}

criterion_group!(benches, thread_search);
criterion_main!(benches);
