//! `*.action`: that action on every resource that has it. An action of several resources takes
//! `AuthValue`; `put`, `get`, `list_namespaces` and `create_run` belong to one resource, so
//! their struct or enum fits too.

use auth::types::{
    AuthValue, CronsSearch, RunsCreate, StoreGet, StoreListNamespaces, StorePut, StoreValue,
    ThreadsSearch,
};
use auth::{Action, Auth, AuthContext, AuthUser, Resource, Target};

#[auth::on(*.search)]
async fn searches(_ctx: &AuthContext, value: &AuthValue) -> bool {
    value.resource() != Resource::Crons
}

#[auth::on(*.put)]
async fn puts(_ctx: &AuthContext, value: &mut StorePut) {
    value.namespace.insert(0, "prefixed".into());
}

#[auth::on(*.get)]
async fn gets(_ctx: &AuthContext, _value: &StoreValue) {}

#[auth::on(*.list_namespaces)]
async fn lists(_ctx: &AuthContext, _value: &mut StoreListNamespaces) {}

#[auth::on(*.create_run)]
async fn runs(_ctx: &AuthContext, _value: &RunsCreate) {}

fn main() {
    let auth = Auth::from_registry().unwrap();
    for (r, a, name) in [
        (Resource::Threads, Action::Search, "searches"),
        (Resource::Assistants, Action::Search, "searches"),
        (Resource::Crons, Action::Search, "searches"),
        (Resource::Store, Action::Search, "searches"),
        (Resource::Store, Action::Put, "puts"),
        (Resource::Store, Action::Get, "gets"),
        (Resource::Store, Action::ListNamespaces, "lists"),
        (Resource::Threads, Action::CreateRun, "runs"),
    ] {
        let info = auth.handler_for(r, a).unwrap();
        assert_eq!(info.name(), name);
        assert_eq!(info.targets(), Some(&[Target::Action(a)][..]));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let user = AuthUser::new("u");
    let mut value = AuthValue::from(CronsSearch::default());
    assert_eq!(
        rt.block_on(auth.authorize(&user, &mut value))
            .unwrap_err()
            .status(),
        403
    );
    let mut value = AuthValue::from(ThreadsSearch::default());
    assert_eq!(rt.block_on(auth.authorize(&user, &mut value)), Ok(None));
    let mut value = AuthValue::from(StorePut::default());
    rt.block_on(auth.authorize(&user, &mut value)).unwrap();
    assert_eq!(value.namespace().unwrap(), ["prefixed"]);
    let mut value = AuthValue::from(StoreGet::default());
    assert_eq!(rt.block_on(auth.authorize(&user, &mut value)), Ok(None));
}
