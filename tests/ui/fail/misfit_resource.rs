use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads)]
async fn on_threads(_ctx: &AuthContext, _value: &ThreadsCreate) {}

fn main() {}
