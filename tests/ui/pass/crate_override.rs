//! `crate = path` and `crate = "path"`: the runtime reached through another path, as when the
//! `auth` crate is renamed or re-exported by a facade crate.

mod facade {
    pub use ::auth as security;
}

use facade::security::types::{AuthValue, ThreadsCreate};
use facade::security::{Auth, AuthContext, MinimalUser, Target};

#[facade::security::on(threads.create, crate = crate::facade::security)]
async fn create(_ctx: &AuthContext, _value: &mut ThreadsCreate) {}

#[facade::security::on(crate = "crate::facade::security")]
async fn global(_ctx: &AuthContext, _value: &AuthValue) {}

#[facade::security::authenticate(crate = crate::facade::security)]
async fn user() -> MinimalUser {
    MinimalUser::new("u")
}

fn main() {
    let auth = Auth::from_registry().unwrap();
    let names: Vec<_> = auth.handlers().map(|h| h.name()).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(auth.authenticate_handler().unwrap().name(), "user");
    let global = auth.handlers().find(|h| h.name() == "global").unwrap();
    assert_eq!(global.targets(), Some(&[Target::Global][..]));
}
