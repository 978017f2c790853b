//! A filter that is not returned restricts nothing: building one and dropping it is a warning
//! (an error here, as in a crate that denies `unused_must_use`).
#![deny(unused_must_use)]

use auth::types::ThreadsRead;
use auth::{AuthContext, Filter};

#[auth::on(threads.read)]
async fn forgets_its_filter(ctx: &AuthContext, _value: &ThreadsRead) {
    Filter::eq("owner", ctx.user.identity());
}

#[auth::on(threads.search)]
async fn forgets_the_combined_filter(ctx: &AuthContext, _value: &auth::types::ThreadsSearch) {
    Filter::eq("owner", ctx.user.identity()).and(Filter::eq("archived", false));
}

fn main() {}
