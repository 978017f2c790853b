//! `ensure!` returns its refusal as a value: a handler that cannot carry one is told so.

use auth::types::ThreadsRead;
use auth::{AuthContext, Filter};

#[auth::on(threads.read)]
async fn read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
    auth::ensure!(ctx.user.is_authenticated(), "sign in first");
    Filter::eq("owner", ctx.user.identity())
}

fn main() {}
