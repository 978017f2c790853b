use auth::AuthUser;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthUser, _value: &mut ThreadsCreate) {}

fn main() {}
