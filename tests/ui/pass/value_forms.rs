//! The value parameter: `&T` or `&mut T`; the struct, the resource's enum or `AuthValue` for one
//! event; a path, a type alias or a `macro_rules!` type; `_` or `mut` patterns.

use auth::types::{AuthValue, ThreadsCreate, ThreadsUpdate, ThreadsValue};
use auth::{Auth, AuthContext, AuthUser};

type Update = ThreadsUpdate;

macro_rules! value_type {
    () => {
        auth::types::ThreadsDelete
    };
}

mod m {
    use super::*;

    #[auth::on(threads.create)]
    async fn by_mut(_ctx: &AuthContext, value: &mut ThreadsCreate) {
        value.thread_id = Some("t1".into());
    }

    #[auth::on(threads.read)]
    async fn by_ref(_ctx: &AuthContext, value: &auth::types::ThreadsRead) -> bool {
        value.thread_id.is_some()
    }

    #[auth::on(threads.update)]
    async fn alias(_: &AuthContext, _: &mut Update) {}

    #[auth::on(threads.delete)]
    async fn from_macro(_ctx: &AuthContext, mut value: &value_type!()) {
        value = &*value;
        let _ = value;
    }

    #[auth::on(threads.search)]
    async fn wider_enum(_ctx: &AuthContext, value: &ThreadsValue) -> bool {
        matches!(value, ThreadsValue::Search(_))
    }

    #[auth::on(threads.create_run)]
    async fn widest(_ctx: &AuthContext, value: &mut AuthValue) -> bool {
        value.resource() == auth::Resource::Threads
    }
}

fn main() {
    let auth = Auth::from_registry().unwrap();
    assert_eq!(auth.handlers().count(), 6);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let user = AuthUser::new("u");
    let mut value = AuthValue::from(ThreadsCreate::default());
    rt.block_on(auth.authorize(&user, &mut value)).unwrap();
    assert_eq!(
        value,
        AuthValue::from({
            let mut built = ThreadsCreate::default();
            built.thread_id = Some("t1".into());
            built
        })
    );
    let mut value = AuthValue::from(auth::types::ThreadsRead::default());
    assert_eq!(
        rt.block_on(auth.authorize(&user, &mut value))
            .unwrap_err()
            .status(),
        403
    );
    for mut value in [
        AuthValue::from(Update::default()),
        AuthValue::from(auth::types::ThreadsDelete::default()),
        AuthValue::from(auth::types::ThreadsSearch::default()),
        AuthValue::from(auth::types::RunsCreate::default()),
    ] {
        assert_eq!(rt.block_on(auth.authorize(&user, &mut value)), Ok(None));
    }
}
