//! The names the expansions use are their own: handlers named like the generated shim, and
//! parameters named like the shim's locals, are called as written (a user fn named
//! `__auth_handler` used to be shadowed by the shim and call itself).

use auth::types::{ThreadsCreate, ThreadsRead};
use auth::{Auth, AuthContext, AuthUser, Filter, HttpException, MinimalUser};

mod policy {
    use super::*;

    #[auth::authenticate]
    pub async fn __auth_authenticate(
        authorization: Option<&str>,
    ) -> Result<MinimalUser, HttpException> {
        let __auth_request = authorization.unwrap_or("nobody");
        Ok(MinimalUser::new(__auth_request.to_owned()))
    }

    #[auth::on(threads.create)]
    pub async fn __auth_handler(__auth_ctx: &AuthContext, __auth_value: &mut ThreadsCreate) -> Filter {
        let __auth_out = __auth_ctx.user.identity().to_owned();
        __auth_value.thread_id = Some("stamped".into());
        Filter::eq("owner", __auth_out)
    }

    #[auth::on(threads.read)]
    pub async fn __AUTH_SHIM(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        Filter::eq("reader", ctx.user.identity().to_owned())
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let auth = Auth::builder()
        .module(concat!(module_path!(), "::policy"))
        .build()
        .unwrap();
    let headers = [("Authorization", "alice")];
    let request = auth::Request::new("GET", "/").with_headers(&headers);
    let user: AuthUser = rt.block_on(auth.authenticate(&request)).unwrap();
    assert_eq!(user.identity(), "alice");

    let mut create = ThreadsCreate::default().into();
    let filter = rt.block_on(auth.authorize(&user, &mut create)).unwrap();
    assert_eq!(filter, Some(Filter::eq("owner", "alice")));
    let mut read = ThreadsRead::default().into();
    let filter = rt.block_on(auth.authorize(&user, &mut read)).unwrap();
    assert_eq!(filter, Some(Filter::eq("reader", "alice")));
}
