//! The global handler, written `#[auth::on]` or `#[auth::on(*)]`, with `&mut AuthValue` or
//! `&AuthValue`: registered for `Target::Global` and run for every event.

use auth::types::{AuthValue, StoreGet, ThreadsCreate};
use auth::{Auth, AuthContext, AuthUser, Filter, Target};

mod bare {
    use super::*;

    #[auth::on]
    pub async fn stamp_owner(ctx: &AuthContext, value: &mut AuthValue) -> Filter {
        if let Some(metadata) = value.metadata_mut() {
            metadata.insert("owner".into(), ctx.user.identity().into());
        }
        Filter::eq("owner", ctx.user.identity())
    }
}

mod star {
    use super::*;

    #[auth::on(*)]
    pub async fn read_only(_ctx: &AuthContext, value: &AuthValue) -> bool {
        value.resource() != auth::Resource::Store
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alice = AuthUser::new("alice");

    let auth = Auth::builder()
        .module(concat!(module_path!(), "::bare"))
        .build()
        .unwrap();
    let info: Vec<_> = auth.handlers().collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].name(), "stamp_owner");
    assert_eq!(info[0].targets(), Some(&[Target::Global][..]));
    assert!(auth.uncovered().is_empty());
    let mut value = AuthValue::from(ThreadsCreate::default());
    let filter = rt.block_on(auth.authorize(&alice, &mut value)).unwrap();
    assert_eq!(filter, Some(Filter::eq("owner", "alice")));
    assert_eq!(value.metadata().unwrap()["owner"], "alice");

    let auth = Auth::builder()
        .module(concat!(module_path!(), "::star"))
        .build()
        .unwrap();
    assert_eq!(
        auth.handlers().next().unwrap().targets(),
        Some(&[Target::Global][..])
    );
    let mut value = AuthValue::from(ThreadsCreate::default());
    assert_eq!(rt.block_on(auth.authorize(&alice, &mut value)), Ok(None));
    let mut value = AuthValue::from(StoreGet::default());
    assert_eq!(
        rt.block_on(auth.authorize(&alice, &mut value))
            .unwrap_err()
            .status(),
        403
    );
}
