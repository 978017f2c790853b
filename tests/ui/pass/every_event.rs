//! `resource.action` for all 21 events, each with its own struct (by `&mut`).

use auth::types::*;
use auth::{Auth, AuthContext, AuthUser, Target};

macro_rules! handlers {
    ($($name:ident: $resource:ident . $action:ident => $value:ident;)*) => {
        $(
            #[auth::on($resource.$action)]
            async fn $name(_ctx: &AuthContext, value: &mut $value) -> bool {
                *value == $value::default()
            }
        )*
    };
}

// Written out, each attribute spelled as a user would.
mod written {
    use super::*;

    #[auth::on(threads.create)]
    async fn threads_create(_ctx: &AuthContext, _value: &mut ThreadsCreate) {}
    #[auth::on(threads.read)]
    async fn threads_read(_ctx: &AuthContext, _value: &mut ThreadsRead) {}
    #[auth::on(threads.update)]
    async fn threads_update(_ctx: &AuthContext, _value: &mut ThreadsUpdate) {}
    #[auth::on(threads.delete)]
    async fn threads_delete(_ctx: &AuthContext, _value: &mut ThreadsDelete) {}
    #[auth::on(threads.search)]
    async fn threads_search(_ctx: &AuthContext, _value: &mut ThreadsSearch) {}
    #[auth::on(threads.create_run)]
    async fn threads_create_run(_ctx: &AuthContext, _value: &mut RunsCreate) {}
    #[auth::on(assistants.create)]
    async fn assistants_create(_ctx: &AuthContext, _value: &mut AssistantsCreate) {}
    #[auth::on(assistants.read)]
    async fn assistants_read(_ctx: &AuthContext, _value: &mut AssistantsRead) {}
    #[auth::on(assistants.update)]
    async fn assistants_update(_ctx: &AuthContext, _value: &mut AssistantsUpdate) {}
    #[auth::on(assistants.delete)]
    async fn assistants_delete(_ctx: &AuthContext, _value: &mut AssistantsDelete) {}
    #[auth::on(assistants.search)]
    async fn assistants_search(_ctx: &AuthContext, _value: &mut AssistantsSearch) {}
    #[auth::on(crons.create)]
    async fn crons_create(_ctx: &AuthContext, _value: &mut CronsCreate) {}
    #[auth::on(crons.read)]
    async fn crons_read(_ctx: &AuthContext, _value: &mut CronsRead) {}
    #[auth::on(crons.update)]
    async fn crons_update(_ctx: &AuthContext, _value: &mut CronsUpdate) {}
    #[auth::on(crons.delete)]
    async fn crons_delete(_ctx: &AuthContext, _value: &mut CronsDelete) {}
    #[auth::on(crons.search)]
    async fn crons_search(_ctx: &AuthContext, _value: &mut CronsSearch) {}
    #[auth::on(store.put)]
    async fn store_put(_ctx: &AuthContext, _value: &mut StorePut) {}
    #[auth::on(store.get)]
    async fn store_get(_ctx: &AuthContext, _value: &mut StoreGet) {}
    #[auth::on(store.search)]
    async fn store_search(_ctx: &AuthContext, _value: &mut StoreSearch) {}
    #[auth::on(store.delete)]
    async fn store_delete(_ctx: &AuthContext, _value: &mut StoreDelete) {}
    #[auth::on(store.list_namespaces)]
    async fn store_list_namespaces(_ctx: &AuthContext, _value: &mut StoreListNamespaces) {}
}

// The same 21 through a declarative macro (targets and types as `macro_rules!` fragments),
// in a module of its own.
mod generated {
    use super::*;

    handlers! {
        g_threads_create: threads.create => ThreadsCreate;
        g_threads_read: threads.read => ThreadsRead;
        g_threads_update: threads.update => ThreadsUpdate;
        g_threads_delete: threads.delete => ThreadsDelete;
        g_threads_search: threads.search => ThreadsSearch;
        g_threads_create_run: threads.create_run => RunsCreate;
        g_assistants_create: assistants.create => AssistantsCreate;
        g_assistants_read: assistants.read => AssistantsRead;
        g_assistants_update: assistants.update => AssistantsUpdate;
        g_assistants_delete: assistants.delete => AssistantsDelete;
        g_assistants_search: assistants.search => AssistantsSearch;
        g_crons_create: crons.create => CronsCreate;
        g_crons_read: crons.read => CronsRead;
        g_crons_update: crons.update => CronsUpdate;
        g_crons_delete: crons.delete => CronsDelete;
        g_crons_search: crons.search => CronsSearch;
        g_store_put: store.put => StorePut;
        g_store_get: store.get => StoreGet;
        g_store_search: store.search => StoreSearch;
        g_store_delete: store.delete => StoreDelete;
        g_store_list_namespaces: store.list_namespaces => StoreListNamespaces;
    }
}

fn main() {
    let root = module_path!();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let user = AuthUser::new("u");
    for prefix in ["written::", "generated::g_"] {
        let (module, name_prefix) = prefix.split_once("::").unwrap();
        let auth = Auth::builder()
            .module(&format!("{root}::{module}"))
            .build()
            .unwrap();
        assert!(auth.uncovered().is_empty());
        assert_eq!(auth.handlers().count(), 21);
        for (resource, action) in auth::events() {
            let info = auth.handler_for(resource, action).unwrap();
            assert_eq!(info.name(), format!("{name_prefix}{resource}_{action}"));
            assert_eq!(info.targets(), Some(&[Target::Event(resource, action)][..]));
        }
        let mut value = AuthValue::from(StoreListNamespaces::default());
        assert_eq!(rt.block_on(auth.authorize(&user, &mut value)), Ok(None));
    }
    // both modules claim every event: the registry as a whole is refused
    assert!(Auth::from_registry().is_err());
}
