//! Several targets in one attribute register one handler for each, like LangGraph's
//! `@auth.on(resources=[...], actions=[...])`; the value type covers all of them.

use auth::types::{AuthValue, StoreValue, ThreadsRead, ThreadsValue};
use auth::{Action, Auth, AuthContext, AuthUser, Filter, Resource, Target};

/// Two events of one resource: the resource's enum.
#[auth::on(threads.read, threads.search)]
async fn owner_filter(ctx: &AuthContext, _value: &ThreadsValue) -> Filter {
    Filter::eq("owner", ctx.user.identity())
}

/// Two resources: `AuthValue`.
#[auth::on(assistants.create, crons.create,)]
async fn creations(_ctx: &AuthContext, value: &mut AuthValue) {
    if let Some(metadata) = value.metadata_mut() {
        metadata.insert("created".into(), true.into());
    }
}

/// A resource and an action of every resource, overlapping on `store.search` only.
#[auth::on(store, *.delete)]
async fn store_and_deletes(_ctx: &AuthContext, _value: &mut AuthValue) -> bool {
    false
}

/// Two events of the store: `StoreValue`.
#[auth::on(store.put, store.get)]
async fn never_used(_ctx: &AuthContext, _value: &StoreValue) {}

fn main() {
    let auth = Auth::builder()
        .registrations(auth::registry().filter(|r| r.name() != "never_used"))
        .build()
        .unwrap();
    let info = |name: &str| {
        auth.handlers()
            .find(|h| h.name() == name)
            .unwrap()
            .targets()
            .unwrap()
            .to_vec()
    };
    assert_eq!(
        info("owner_filter"),
        [
            Target::Event(Resource::Threads, Action::Read),
            Target::Event(Resource::Threads, Action::Search)
        ]
    );
    assert_eq!(
        info("creations"),
        [
            Target::Event(Resource::Assistants, Action::Create),
            Target::Event(Resource::Crons, Action::Create)
        ]
    );
    assert_eq!(
        info("store_and_deletes"),
        [
            Target::Resource(Resource::Store),
            Target::Action(Action::Delete)
        ]
    );
    for (r, a, name) in [
        (Resource::Threads, Action::Read, "owner_filter"),
        (Resource::Threads, Action::Search, "owner_filter"),
        (Resource::Assistants, Action::Create, "creations"),
        (Resource::Crons, Action::Create, "creations"),
        (Resource::Store, Action::Put, "store_and_deletes"),
        (Resource::Threads, Action::Delete, "store_and_deletes"),
        (Resource::Crons, Action::Delete, "store_and_deletes"),
    ] {
        assert_eq!(auth.handler_for(r, a).unwrap().name(), name, "{r}.{a}");
    }
    assert!(
        auth.handler_for(Resource::Threads, Action::Create)
            .is_none()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bob = AuthUser::new("bob");
    let mut value = AuthValue::from(ThreadsRead::default());
    assert_eq!(
        rt.block_on(auth.authorize(&bob, &mut value)),
        Ok(Some(Filter::eq("owner", "bob")))
    );
    let mut value = AuthValue::from(auth::types::AssistantsCreate::default());
    assert_eq!(rt.block_on(auth.authorize(&bob, &mut value)), Ok(None));
    assert_eq!(value.metadata().unwrap()["created"], true);

    // `never_used` claims store.put and store.get at the event level: with it, the registry
    // still builds (more specific than `store`), and it decides those two events.
    let all = Auth::from_registry().unwrap();
    assert_eq!(
        all.handler_for(Resource::Store, Action::Get)
            .unwrap()
            .name(),
        "never_used"
    );
}
