//! Handlers registered by the macros across several modules of one binary, dispatched by
//! `Auth`s built from parts of the registry: precedence, filters, errors, duplicates, coverage.

use auth::types::{
    AssistantsCreate, AssistantsSearch, AuthValue, CronsRead, StoreGet, StoreListNamespaces,
    StorePut, ThreadsCreate, ThreadsRead, ThreadsSearch, ThreadsUpdate,
};
use auth::{Action, Auth, AuthUser, Filter, HttpException, RegistryError, Request, Resource};
use serde_json::json;

/// The tutorial's policy, in two parts: `global` alone is variant A; with `scoped`, variant B.
mod tutorial {
    use auth::types::{AssistantsValue, AuthValue, StoreValue, ThreadsCreate, ThreadsRead};
    use auth::{AuthContext, Filter, HttpException, MinimalUser};

    pub mod authn {
        use super::*;

        #[auth::authenticate]
        async fn get_current_user(
            authorization: Option<&str>,
        ) -> Result<MinimalUser, HttpException> {
            let unauthorized = |detail: &'static str| {
                HttpException::new(401)
                    .with_detail(detail)
                    .with_header("WWW-Authenticate", "Bearer")
            };
            let header =
                authorization.ok_or_else(|| unauthorized("Missing authorization header"))?;
            let (scheme, token) = header
                .split_once(' ')
                .ok_or_else(|| unauthorized("Invalid authorization header format"))?;
            auth::ensure!(
                scheme.eq_ignore_ascii_case("bearer"),
                "Invalid authorization scheme"
            );
            match token.trim() {
                "user1-token" => Ok(MinimalUser::new("user1").with_display_name("Alice")),
                "user2-token" => Ok(MinimalUser::new("user2").with_display_name("Bob")),
                _ => Err(unauthorized("Invalid token")),
            }
        }
    }

    pub mod global {
        use super::*;

        #[auth::on]
        async fn add_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
            let owner = ctx.user.identity();
            if let Some(metadata) = value.metadata_mut() {
                metadata.insert("owner".into(), owner.into());
            }
            Filter::eq("owner", owner)
        }
    }

    pub mod scoped {
        use super::*;

        #[auth::on(threads.create)]
        async fn on_thread_create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
            let owner = ctx.user.identity();
            value
                .metadata
                .get_or_insert_default()
                .insert("owner".into(), owner.into());
            auth::filter!({ "owner": owner })
        }

        #[auth::on(threads.read)]
        async fn on_thread_read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
            Filter::eq("owner", ctx.user.identity())
        }

        #[auth::on(assistants)]
        async fn on_assistants(
            _ctx: &AuthContext,
            _value: &mut AssistantsValue,
        ) -> Result<(), HttpException> {
            Err(HttpException::new(403).with_detail("User lacks the required permissions."))
        }

        #[auth::on(store)]
        async fn authorize_store(
            ctx: &AuthContext,
            value: &mut StoreValue,
        ) -> Result<(), HttpException> {
            let namespace = value.namespace().unwrap_or_default();
            auth::ensure!(
                namespace.first().map(String::as_str) == Some(ctx.user.identity()),
                "Not authorized"
            );
            Ok(())
        }
    }
}

/// One handler at each precedence level; each answers with its own name.
mod levels {
    use auth::types::{AuthValue, ThreadsRead, ThreadsValue};
    use auth::{AuthContext, Filter};

    #[auth::on]
    async fn global(_: &AuthContext, _: &AuthValue) -> Filter {
        Filter::eq("ran", "global")
    }

    #[auth::on(*.read)]
    async fn any_read(_: &AuthContext, _: &AuthValue) -> Filter {
        Filter::eq("ran", "any_read")
    }

    #[auth::on(threads)]
    async fn threads(_: &AuthContext, _: &ThreadsValue) -> Filter {
        Filter::eq("ran", "threads")
    }

    #[auth::on(threads.read)]
    async fn threads_read(_: &AuthContext, _: &ThreadsRead) -> Filter {
        Filter::eq("ran", "threads_read")
    }
}

/// Handlers that fail in every way a handler can.
mod failing {
    use auth::types::{CronsValue, StoreGet, StorePut, StoreValue, ThreadsSearch, ThreadsUpdate};
    use auth::{AuthContext, Filter, HttpException};

    #[auth::on(threads.update)]
    async fn panics(_: &AuthContext, _: &mut ThreadsUpdate) -> Filter {
        panic!("bug in a handler")
    }

    #[auth::on(threads.search)]
    async fn malformed_filter(_: &AuthContext, _: &mut ThreadsSearch) -> Filter {
        // Bad input at run time poisons the filter (`filter!` refuses it at compile time).
        Filter::eq("$ne", "x")
    }

    #[auth::on(store.put)]
    async fn says_no(_: &AuthContext, _: &mut StorePut) -> bool {
        false
    }

    #[auth::on(store.get)]
    async fn rate_limited(_: &AuthContext, _: &StoreGet) -> Result<Option<Filter>, HttpException> {
        Err(HttpException::new(429)
            .with_detail("slow down")
            .with_header("Retry-After", "7"))
    }

    #[auth::on(store.search, store.list_namespaces)]
    async fn ensures(ctx: &AuthContext, _: &mut StoreValue) -> Result<Filter, HttpException> {
        auth::ensure!(
            ctx.user.permissions().iter().any(|p| p == "store:read"),
            "needs store:read"
        );
        Ok(Filter::all())
    }

    #[auth::on(crons)]
    async fn allows(_: &AuthContext, _: &CronsValue) {}
}

/// Two handlers claiming `crons.read`, in two modules.
mod duplicates {
    pub mod first {
        #[auth::on(crons.read)]
        async fn read_crons(_: &auth::AuthContext, _: &auth::types::CronsRead) {}
    }
    pub mod second {
        #[auth::on(crons.read, crons.delete)]
        async fn read_or_delete_crons(_: &auth::AuthContext, _: &auth::types::CronsValue) {}
    }
}

fn policy(parts: &[&str]) -> Auth {
    let mut builder = Auth::builder();
    for part in parts {
        builder = builder.module(&format!("{}::{part}", module_path!()));
    }
    builder.build().unwrap()
}

async fn login(auth: &Auth, header: &str) -> Result<AuthUser, HttpException> {
    let headers = [("Authorization", header)];
    auth.authenticate(&Request::new("GET", "/threads").with_headers(&headers))
        .await
}

const VARIANT_A: &[&str] = &["tutorial::authn", "tutorial::global"];
const VARIANT_B: &[&str] = &["tutorial::authn", "tutorial::global", "tutorial::scoped"];

#[tokio::test]
async fn authentication_follows_the_tutorial_and_never_fails_open() {
    let auth = policy(VARIANT_A);
    let alice = login(&auth, "Bearer user1-token").await.unwrap();
    assert_eq!((alice.identity(), alice.display_name()), ("user1", "Alice"));
    assert_eq!(
        login(&auth, "bearer user2-token").await.unwrap().identity(),
        "user2"
    );
    for (header, detail) in [
        ("Bearer", "Invalid authorization header format"),
        ("Bearer nope", "Invalid token"),
        ("Basic dXNlcjE=", "Invalid authorization scheme"),
        ("", "Invalid authorization header format"),
    ] {
        let e = login(&auth, header).await.unwrap_err();
        assert_eq!((e.status(), e.detail()), (401, detail), "{header:?}");
    }
    let e = auth
        .authenticate(&Request::new("GET", "/"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.detail()),
        (401, "Missing authorization header")
    );
    assert_eq!(
        e.headers().collect::<Vec<_>>(),
        [("WWW-Authenticate", "Bearer")]
    );
    let bad = [("authorization", &b"Bearer \xffuser1-token"[..])];
    let e = auth
        .authenticate(&Request::new("GET", "/").with_headers(&bad))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 401);
}

#[tokio::test]
async fn variant_a_stamps_the_owner_and_filters_every_event() {
    let auth = policy(VARIANT_A);
    assert!(auth.uncovered().is_empty());
    let alice = AuthUser::new("user1");
    let mut create = AuthValue::from(
        ThreadsCreate::new().with_metadata(
            json!({"owner": "user2", "topic": "x"})
                .as_object()
                .unwrap()
                .clone(),
        ),
    );
    let filter = auth.authorize(&alice, &mut create).await.unwrap().unwrap();
    // The handler overwrote a spoofed owner and kept the rest.
    assert_eq!(create.metadata().unwrap()["owner"], "user1");
    assert_eq!(create.metadata().unwrap()["topic"], "x");
    assert!(filter.matches(create.metadata().unwrap()));
    let bobs = json!({"owner": "user2"});
    assert!(!filter.matches(bobs.as_object().unwrap()));
    // Reads have no metadata to stamp, but get the same filter.
    let mut read = AuthValue::from(ThreadsRead::default());
    assert_eq!(
        auth.authorize(&alice, &mut read).await.unwrap(),
        Some(Filter::eq("owner", "user1"))
    );
    // Assistants too: variant A lets Alice create one, as hers.
    let mut assistant = AuthValue::from(AssistantsCreate::default());
    assert!(
        auth.authorize(&alice, &mut assistant)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(assistant.metadata().unwrap()["owner"], "user1");
}

#[tokio::test]
async fn variant_b_adds_scoped_handlers() {
    let auth = policy(VARIANT_B);
    let alice = AuthUser::new("user1");
    assert_eq!(
        auth.handler_for(Resource::Threads, Action::Create)
            .unwrap()
            .name(),
        "on_thread_create"
    );
    assert_eq!(
        auth.handler_for(Resource::Threads, Action::Search)
            .unwrap()
            .name(),
        "add_owner"
    );
    assert_eq!(
        auth.handler_for(Resource::Store, Action::Get)
            .unwrap()
            .name(),
        "authorize_store"
    );

    for mut value in [
        AuthValue::from(AssistantsCreate::default()),
        AssistantsSearch::default().into(),
    ] {
        let e = auth.authorize(&alice, &mut value).await.unwrap_err();
        assert_eq!(
            (e.status(), e.detail()),
            (403, "User lacks the required permissions.")
        );
    }
    let mut create = AuthValue::from(ThreadsCreate::default());
    let filter = auth.authorize(&alice, &mut create).await.unwrap().unwrap();
    assert_eq!(filter, Filter::eq("owner", "user1"));
    assert_eq!(create.metadata().unwrap()["owner"], "user1");

    let mut own = AuthValue::from(
        StorePut::new()
            .with_namespace(vec!["user1".into(), "notes".into()])
            .with_key("k"),
    );
    assert_eq!(auth.authorize(&alice, &mut own).await.unwrap(), None);
    let mut other = AuthValue::from(
        StoreGet::new()
            .with_namespace(vec!["user2".into()])
            .with_key("k"),
    );
    let e = auth.authorize(&alice, &mut other).await.unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "Not authorized"));
    // Listing namespaces without a prefix: the handler sees an empty namespace, and refuses.
    let mut list = AuthValue::from(StoreListNamespaces::default());
    assert_eq!(
        auth.authorize(&alice, &mut list)
            .await
            .unwrap_err()
            .status(),
        403
    );
}

#[tokio::test]
async fn the_most_specific_level_decides() {
    let auth = policy(&["levels"]);
    let user = AuthUser::new("u");
    let ran = |value: AuthValue| {
        let auth = &auth;
        let user = &user;
        async move {
            let mut value = value;
            auth.authorize(user, &mut value)
                .await
                .unwrap()
                .unwrap()
                .to_json()["ran"]
                .clone()
        }
    };
    assert_eq!(ran(ThreadsRead::default().into()).await, "threads_read");
    assert_eq!(ran(ThreadsSearch::default().into()).await, "threads");
    assert_eq!(ran(CronsRead::default().into()).await, "any_read");
    assert_eq!(ran(StorePut::default().into()).await, "global");
    assert!(auth.uncovered().is_empty());
}

#[tokio::test]
async fn failures_are_contained_and_answered() {
    let auth = policy(&["failing"]);
    let user = AuthUser::new("u");
    let e = auth
        .authorize(&user, &mut ThreadsUpdate::default().into())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.detail().contains("`panics`"), "{}", e.detail());

    let e = auth
        .authorize(&user, &mut ThreadsSearch::default().into())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(
        e.detail().contains("`malformed_filter`") && e.detail().contains("$ne"),
        "{}",
        e.detail()
    );

    let e = auth
        .authorize(&user, &mut StorePut::default().into())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "Forbidden"));

    let e = auth
        .authorize(&user, &mut StoreGet::default().into())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (429, "slow down"));
    assert_eq!(e.headers().collect::<Vec<_>>(), [("Retry-After", "7")]);

    let e = auth
        .authorize(&user, &mut StoreListNamespaces::default().into())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "needs store:read"));
    let reader = AuthUser::from(auth::MinimalUser::new("r").with_permissions(["store:read"]));
    assert!(
        auth.authorize(&reader, &mut StoreListNamespaces::default().into())
            .await
            .is_ok()
    );

    assert_eq!(
        auth.authorize(&user, &mut CronsRead::default().into())
            .await
            .unwrap(),
        None
    );
    // Still serving after the panic.
    assert_eq!(
        auth.authorize(&user, &mut ThreadsUpdate::default().into())
            .await
            .unwrap_err()
            .status(),
        500
    );
    // Uncovered: four of threads, all of assistants, store.delete.
    let uncovered = auth.uncovered();
    assert!(uncovered.contains(&(Resource::Threads, Action::Create)));
    assert!(uncovered.contains(&(Resource::Assistants, Action::Delete)));
    assert!(!uncovered.contains(&(Resource::Crons, Action::Delete)));
    assert_eq!(uncovered.len(), 4 + 5 + 1);
}

// `authorize_as`: the same dispatch as `authorize`, on a typed value.

#[tokio::test]
async fn authorize_as_returns_the_typed_value_as_the_handler_left_it() {
    let auth = policy(VARIANT_B);
    let alice = AuthUser::new("user1");
    let spoofed = json!({"owner": "user2", "topic": "x"});
    let create = ThreadsCreate::new()
        .with_thread_id("6e3f5d2a-1b4c-4d8e-9f00-0a1b2c3d4e5f")
        .with_metadata(spoofed.as_object().unwrap().clone());
    let auth::Authorized { value, filter, .. } = auth.authorize_as(&alice, create).await.unwrap();
    // `on_thread_create` (threads.create) ran, not the global `add_owner`: its filter is the
    // `filter!` one, and the owner it stamped is in the returned `ThreadsCreate`.
    let value: ThreadsCreate = value;
    let metadata = value.metadata.as_ref().unwrap();
    assert_eq!(
        (&metadata["owner"], &metadata["topic"]),
        (&json!("user1"), &json!("x"))
    );
    assert_eq!(
        value.thread_id.as_deref(),
        Some("6e3f5d2a-1b4c-4d8e-9f00-0a1b2c3d4e5f")
    );
    assert_eq!(filter, Some(Filter::eq("owner", "user1")));
    assert!(filter.unwrap().matches(metadata));

    // The same through `authorize`: one dispatch, two entry points.
    let mut untyped =
        AuthValue::from(ThreadsCreate::new().with_metadata(spoofed.as_object().unwrap().clone()));
    let untyped_filter = auth.authorize(&alice, &mut untyped).await.unwrap();
    let typed = auth
        .authorize_as(
            &alice,
            ThreadsCreate::new().with_metadata(spoofed.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(typed.filter, untyped_filter);
    assert_eq!(AuthValue::from(typed.value), untyped);

    // Store: the handler reads the namespace the setters built.
    let own = StorePut::new()
        .with_namespace(vec!["user1".into(), "notes".into()])
        .with_key("k")
        .with_value(json!({"text": "tea"}).as_object().unwrap().clone());
    let done = auth.authorize_as(&alice, own.clone()).await.unwrap();
    assert_eq!(done.into_parts(), (own, None));
    let other = StoreGet::new()
        .with_namespace(vec!["user2".into()])
        .with_key("k");
    let e = auth.authorize_as(&alice, other).await.unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "Not authorized"));
}

#[tokio::test]
async fn authorize_as_follows_precedence() {
    let auth = policy(&["levels"]);
    let user = AuthUser::new("u");
    async fn ran<E: auth::Event>(auth: &Auth, user: &AuthUser, value: E) -> serde_json::Value {
        let done = auth.authorize_as(user, value).await.unwrap();
        done.filter.unwrap().to_json()["ran"].clone()
    }
    assert_eq!(ran(&auth, &user, ThreadsRead::new()).await, "threads_read");
    assert_eq!(ran(&auth, &user, ThreadsSearch::new()).await, "threads");
    assert_eq!(ran(&auth, &user, ThreadsCreate::new()).await, "threads");
    assert_eq!(ran(&auth, &user, CronsRead::new()).await, "any_read");
    assert_eq!(ran(&auth, &user, AssistantsSearch::new()).await, "global");
    assert_eq!(ran(&auth, &user, StorePut::new()).await, "global");
}

#[tokio::test]
async fn authorize_as_denies_uncovered_events_when_asked() {
    let parts = || {
        Auth::builder()
            .module(&format!("{}::tutorial::scoped", module_path!()))
            .module(&format!("{}::tutorial::authn", module_path!()))
    };
    let user = AuthUser::new("user1");
    // Open (LangGraph's default): an uncovered event is allowed with no filter, value untouched.
    let open = parts().build().unwrap();
    let search = ThreadsSearch::new().with_limit(5);
    let done = open.authorize_as(&user, search.clone()).await.unwrap();
    assert_eq!((done.value, done.filter), (search.clone(), None));
    // Closed: the same event is a 403, while covered events still go through.
    let closed = parts().deny_uncovered(true).build().unwrap();
    let e = closed.authorize_as(&user, search).await.unwrap_err();
    assert_eq!(
        (e.status(), e.detail()),
        (403, "No handler covers threads.search")
    );
    let e = closed
        .authorize_as(&user, CronsRead::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(
        closed
            .authorize_as(&user, ThreadsRead::new())
            .await
            .unwrap()
            .filter
            .is_some()
    );
}

#[tokio::test]
async fn authorize_as_answers_failures_as_authorize_does() {
    let auth = policy(&["failing"]);
    let user = AuthUser::new("u");
    let e = auth
        .authorize_as(&user, StoreGet::new().with_key("k"))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (429, "slow down"));
    assert_eq!(e.headers().collect::<Vec<_>>(), [("Retry-After", "7")]);
    let e = auth.authorize_as(&user, StorePut::new()).await.unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "Forbidden"));
    let e = auth
        .authorize_as(&user, StoreListNamespaces::new())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (403, "needs store:read"));
    let e = auth
        .authorize_as(&user, ThreadsUpdate::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.detail().contains("`panics`"), "{}", e.detail());
    let e = auth
        .authorize_as(&user, ThreadsSearch::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert!(e.detail().contains("`malformed_filter`"), "{}", e.detail());
    // Still serving after the panic.
    let done = auth.authorize_as(&user, CronsRead::new()).await.unwrap();
    assert_eq!(done.filter, None);
}

#[test]
fn duplicates_are_refused_naming_both_handlers() {
    let err = Auth::builder()
        .module(&format!("{}::duplicates", module_path!()))
        .build()
        .unwrap_err();
    match &err {
        RegistryError::DuplicateTarget {
            target,
            first,
            second,
        } => {
            assert_eq!(target.to_string(), "crons.read");
            assert_eq!(
                (first.name(), second.name()),
                ("read_crons", "read_or_delete_crons")
            );
            assert!(first.file().ends_with("dispatch.rs") && first.line() < second.line());
        }
        other => panic!("unexpected {other:?}"),
    }
    // The whole registry holds the duplicates too, and two policies' global handlers.
    assert!(Auth::from_registry().is_err());
}

#[test]
fn handlers_are_listed_with_their_places() {
    let auth = policy(VARIANT_B);
    let listed: Vec<String> = auth.handlers().map(ToString::to_string).collect();
    assert_eq!(listed.len(), 6, "{listed:#?}");
    assert!(
        listed[0].starts_with("authenticate -> get_current_user (tests/tests/dispatch.rs:"),
        "{listed:#?}"
    );
    for expected in [
        "* -> add_owner",
        "threads.create -> on_thread_create",
        "threads.read -> on_thread_read",
        "assistants -> on_assistants",
        "store -> authorize_store",
    ] {
        assert!(
            listed.iter().any(|l| l.starts_with(expected)),
            "{expected} in {listed:#?}"
        );
    }
    let uncovered_b = policy(&["tutorial::scoped"]).uncovered();
    assert_eq!(uncovered_b.len(), 4 + 5, "{uncovered_b:?}");
}

/// An authenticate handler that reads the body, as LangGraph's `body` parameter allows.
mod body_reader {
    use auth::HttpException;
    use serde_json::Value;

    #[auth::authenticate]
    async fn from_body(body: Option<&Value>, method: &str) -> Result<String, HttpException> {
        auth::ensure!(method == "POST", "only POST carries credentials here");
        body.and_then(|b| b["api_user"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| HttpException::new(401).with_detail("no api_user in the body"))
    }
}

#[tokio::test]
async fn a_handler_taking_the_body_asks_servers_to_read_it() {
    let auth = policy(&["body_reader"]);
    assert!(auth.read_body());
    assert!(!policy(VARIANT_A).read_body());

    let body = json!({"api_user": "svc-7"});
    let user = auth
        .authenticate(&Request::new("POST", "/threads").with_body(Some(&body)))
        .await
        .unwrap();
    assert_eq!(user.identity(), "svc-7");
    let e = auth
        .authenticate(&Request::new("POST", "/threads"))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.detail()), (401, "no api_user in the body"));
    let e = auth
        .authenticate(&Request::new("GET", "/threads").with_body(Some(&body)))
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.detail()),
        (401, "only POST carries credentials here")
    );
}
