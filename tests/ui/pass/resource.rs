//! A resource target: every action of that resource, with the resource's enum or `AuthValue`,
//! by `&` or `&mut`.

use auth::types::{AuthValue, CronsValue, StoreValue, ThreadsValue};
use auth::{Action, Auth, AuthContext, HttpException, Resource, Target};

#[auth::on(threads)]
async fn threads(_ctx: &AuthContext, value: &mut ThreadsValue) {
    let _ = value;
}

#[auth::on(assistants)]
async fn assistants(_ctx: &AuthContext, _value: &mut AuthValue) -> Result<(), HttpException> {
    Err(HttpException::new(403).with_detail("User lacks the required permissions."))
}

#[auth::on(crons)]
async fn crons(_ctx: &AuthContext, value: &CronsValue) -> bool {
    matches!(value, CronsValue::Read(_))
}

#[auth::on(store)]
async fn store(ctx: &AuthContext, value: &mut StoreValue) -> Result<(), HttpException> {
    auth::ensure!(
        value
            .namespace()
            .and_then(<[String]>::first)
            .map(String::as_str)
            == Some(ctx.user.identity()),
        "Not authorized"
    );
    Ok(())
}

fn main() {
    let auth = Auth::from_registry().unwrap();
    assert!(auth.uncovered().is_empty());
    for (name, resource) in [
        ("threads", Resource::Threads),
        ("assistants", Resource::Assistants),
        ("crons", Resource::Crons),
        ("store", Resource::Store),
    ] {
        for action in resource.actions() {
            assert_eq!(auth.handler_for(resource, *action).unwrap().name(), name);
        }
        let info = auth.handlers().find(|h| h.name() == name).unwrap();
        assert_eq!(info.targets(), Some(&[Target::Resource(resource)][..]));
    }
    assert!(auth.handler_for(Resource::Threads, Action::Put).is_none());
}
