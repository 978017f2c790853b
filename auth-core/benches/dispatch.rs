//! What `auth` costs per request: handler resolution, `authorize` with the tutorial's handlers,
//! `authenticate` with its bearer-token handler, and `Filter::matches`.
//!
//! `cargo bench -p auth-core --bench dispatch` (budgets and figures: `BENCHMARKS.md`).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth::types::{AuthValue, ThreadsCreate, ThreadsRead};
use auth::{Action, Auth, AuthUser, Filter, Request, Resource};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};

/// The tutorial's policy, as the README writes it: authentication (with literal users as the
/// README does, and from a static table as the example server does: both lent, not copied), the
/// global handler (as the example server writes it, with `Filter::eq`, and as the README does,
/// with `filter!`, which compiles to the same call), and a scoped read handler.
mod policy {
    /// `Authorization: Bearer <token>` → the token, or the tutorial's 401s.
    fn bearer_token(authorization: Option<&str>) -> Result<&str, auth::HttpException> {
        use auth::HttpException;
        let header = authorization
            .ok_or_else(|| HttpException::new(401).with_detail("Missing authorization header"))?;
        let (scheme, token) = header.split_once(' ').ok_or_else(|| {
            HttpException::new(401).with_detail("Invalid authorization header format")
        })?;
        auth::ensure!(
            scheme.eq_ignore_ascii_case("bearer"),
            "Invalid authorization scheme"
        );
        Ok(token)
    }

    pub mod authn {
        use auth::{HttpException, MinimalUser};

        #[auth::authenticate]
        async fn get_current_user(
            authorization: Option<&str>,
        ) -> Result<MinimalUser, HttpException> {
            match super::bearer_token(authorization)? {
                "user1-token" => Ok(MinimalUser::new("user1").with_display_name("Alice")),
                "user2-token" => Ok(MinimalUser::new("user2").with_display_name("Bob")),
                _ => Err(HttpException::new(401).with_detail("Invalid token")),
            }
        }
    }

    /// The same handler as the example server writes it: its users' strings are lent from a
    /// static table instead of copied.
    pub mod authn_lent {
        use std::borrow::Cow;

        use auth::{HttpException, MinimalUser};

        static TOKENS: [(&str, &str, &str); 2] = [
            ("user1-token", "user1", "Alice"),
            ("user2-token", "user2", "Bob"),
        ];

        #[auth::authenticate]
        async fn get_current_user(
            authorization: Option<&str>,
        ) -> Result<MinimalUser, HttpException> {
            let token = super::bearer_token(authorization)?;
            let (_, identity, name) = TOKENS
                .iter()
                .find(|(t, _, _)| *t == token)
                .ok_or_else(|| HttpException::new(401).with_detail("Invalid token"))?;
            Ok(MinimalUser::new(Cow::Borrowed(*identity)).with_display_name(Cow::Borrowed(*name)))
        }
    }

    pub mod global_macro {
        use auth::types::AuthValue;
        use auth::{AuthContext, Filter};

        #[auth::on]
        async fn add_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
            if let Some(metadata) = value.metadata_mut() {
                metadata.insert("owner".into(), ctx.user.identity().into());
            }
            auth::filter!({ "owner": ctx.user.identity() })
        }
    }

    pub mod global {
        use auth::types::AuthValue;
        use auth::{AuthContext, Filter};

        #[auth::on]
        async fn add_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
            if let Some(metadata) = value.metadata_mut() {
                metadata.insert("owner".into(), ctx.user.identity().into());
            }
            Filter::eq("owner", ctx.user.identity())
        }
    }

    pub mod scoped {
        use auth::types::ThreadsRead;
        use auth::{AuthContext, Filter};

        #[auth::on(threads.read)]
        async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
            Filter::eq("owner", ctx.user.identity())
        }
    }
}

/// Runs a future that never waits (every handler here is ready at once) without an executor,
/// so that the figure is the dispatcher's and the handler's, not a runtime's.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a benchmarked handler waited"),
    }
}

fn policy(modules: &[&str]) -> Auth {
    modules
        .iter()
        .fold(Auth::builder(), |b, m| {
            b.module(&format!("dispatch::policy::{m}"))
        })
        .build()
        .unwrap()
}

fn dispatch(c: &mut Criterion) {
    let global = policy(&["authn", "global"]);
    let global_macro = policy(&["authn", "global_macro"]);
    let scoped = policy(&["authn", "global", "scoped"]);
    let user = AuthUser::new("user1");

    c.bench_function("resolve handler", |b| {
        b.iter(|| scoped.handler_for(black_box(Resource::Threads), black_box(Action::Read)))
    });

    let mut create = AuthValue::from(ThreadsCreate::new().with_metadata(Map::new()));
    // What is measured is what the tutorial does: stamp the owner, return its filter.
    for auth in [&global, &global_macro] {
        let filter = ready(auth.authorize(&user, &mut create)).unwrap();
        assert_eq!(filter, Some(Filter::eq("owner", "user1")));
        assert_eq!(create.metadata().unwrap()["owner"], "user1");
    }
    assert_eq!(
        scoped
            .handler_for(Resource::Threads, Action::Read)
            .unwrap()
            .name(),
        "on_thread_read"
    );
    c.bench_function(
        "authorize global handler (threads.create, stamps owner)",
        |b| b.iter(|| ready(global.authorize(black_box(&user), black_box(&mut create))).unwrap()),
    );
    c.bench_function(
        "authorize global handler, filter! form (threads.create, stamps owner)",
        |b| {
            b.iter(|| {
                ready(global_macro.authorize(black_box(&user), black_box(&mut create))).unwrap()
            })
        },
    );
    let mut read = AuthValue::from(ThreadsRead::default());
    c.bench_function("authorize scoped handler (threads.read)", |b| {
        b.iter(|| ready(scoped.authorize(black_box(&user), black_box(&mut read))).unwrap())
    });
    c.bench_function(
        "authorize_as scoped handler (threads.read, typed value)",
        |b| {
            b.iter(|| {
                ready(scoped.authorize_as(black_box(&user), black_box(ThreadsRead::new()))).unwrap()
            })
        },
    );

    let headers = [("authorization", "Bearer user1-token")];
    let request =
        Request::new("GET", "/threads/00000000-0000-0000-0000-000000000000").with_headers(&headers);
    let who = ready(global.authenticate(&request)).unwrap();
    assert_eq!((who.identity(), who.display_name()), ("user1", "Alice"));
    c.bench_function("authenticate bearer token", |b| {
        b.iter(|| ready(global.authenticate(black_box(&request))).unwrap())
    });
    let lent = policy(&["authn_lent"]);
    let who = ready(lent.authenticate(&request)).unwrap();
    assert_eq!((who.identity(), who.display_name()), ("user1", "Alice"));
    c.bench_function(
        "authenticate bearer token, users lent from a static table",
        |b| b.iter(|| ready(lent.authenticate(black_box(&request))).unwrap()),
    );
}

fn filters(c: &mut Criterion) {
    let mut metadata = Map::new();
    for i in 0..8 {
        metadata.insert(format!("key{i}"), json!(format!("value{i}")));
    }
    metadata.insert("owner".into(), json!("user1"));
    metadata.insert("tags".into(), json!(["a", "b", "private", "c"]));
    let metadata = black_box(metadata);

    let eq = Filter::eq("owner", "user1");
    let contains = Filter::from_json(&json!({"tags": {"$contains": "private"}})).unwrap();
    let or = Filter::from_json(&json!({"$or": [{"owner": "user2"}, {"tags": {"$contains": "c"}}]}))
        .unwrap();
    for (name, filter) in [("$eq", &eq), ("$contains", &contains), ("$or of two", &or)] {
        assert!(filter.matches(&metadata));
        c.bench_function(&format!("Filter::matches {name} (10-key metadata)"), |b| {
            b.iter(|| black_box(filter).matches(&metadata))
        });
    }
}

criterion_group!(benches, dispatch, filters);
criterion_main!(benches);
