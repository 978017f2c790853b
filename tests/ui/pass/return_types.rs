//! Every return type an authorization handler may have, and the decision each gives.

use auth::types::*;
use auth::{Auth, AuthContext, AuthUser, Filter, HttpException};

#[auth::on(threads.create)]
async fn unit(_ctx: &AuthContext, _value: &mut ThreadsCreate) {}

#[auth::on(threads.read)]
async fn allow(_ctx: &AuthContext, _value: &ThreadsRead) -> bool {
    true
}

#[auth::on(threads.update)]
async fn deny(_ctx: &AuthContext, _value: &ThreadsUpdate) -> bool {
    false
}

#[auth::on(threads.delete)]
async fn filter(ctx: &AuthContext, _value: &ThreadsDelete) -> Filter {
    Filter::eq("owner", ctx.user.identity())
}

#[auth::on(threads.search)]
async fn maybe_filter(_ctx: &AuthContext, _value: &ThreadsSearch) -> Option<Filter> {
    None
}

#[auth::on(assistants.create)]
async fn result_unit(_ctx: &AuthContext, _value: &AssistantsCreate) -> Result<(), HttpException> {
    Err(HttpException::new(409).with_detail("exists"))
}

#[auth::on(assistants.read)]
async fn result_bool(_ctx: &AuthContext, _value: &AssistantsRead) -> Result<bool, HttpException> {
    Ok(false)
}

#[auth::on(assistants.update)]
async fn result_filter(
    ctx: &AuthContext,
    _value: &AssistantsUpdate,
) -> Result<Filter, HttpException> {
    Ok(Filter::eq("team", ctx.user.identity()))
}

#[auth::on(assistants.delete)]
async fn result_option(
    _ctx: &AuthContext,
    _value: &AssistantsDelete,
) -> Result<Option<Filter>, HttpException> {
    Ok(Some(Filter::eq("a", 1)))
}

#[auth::on(assistants.search)]
async fn ensures(_ctx: &AuthContext, _value: &AssistantsSearch) -> Result<bool, HttpException> {
    auth::ensure!(false, "not today");
    Ok(true)
}

fn main() {
    let auth = Auth::from_registry().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let user = AuthUser::new("u");
    let decide = |value: AuthValue| {
        let mut value = value;
        rt.block_on(auth.authorize(&user, &mut value))
            .map_err(|e| (e.status(), e.detail().to_owned()))
    };
    assert_eq!(decide(ThreadsCreate::default().into()), Ok(None));
    assert_eq!(decide(ThreadsRead::default().into()), Ok(None));
    assert_eq!(
        decide(ThreadsUpdate::default().into()),
        Err((403, "Forbidden".into()))
    );
    assert_eq!(
        decide(ThreadsDelete::default().into()),
        Ok(Some(Filter::eq("owner", "u")))
    );
    assert_eq!(decide(ThreadsSearch::default().into()), Ok(None));
    assert_eq!(
        decide(AssistantsCreate::default().into()),
        Err((409, "exists".into()))
    );
    assert_eq!(
        decide(AssistantsRead::default().into()),
        Err((403, "Forbidden".into()))
    );
    assert_eq!(
        decide(AssistantsUpdate::default().into()),
        Ok(Some(Filter::eq("team", "u")))
    );
    assert_eq!(
        decide(AssistantsDelete::default().into()),
        Ok(Some(Filter::eq("a", 1)))
    );
    assert_eq!(
        decide(AssistantsSearch::default().into()),
        Err((403, "not today".into()))
    );
}
