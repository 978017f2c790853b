use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext, _value: &mut ThreadsCreate, _more: &str) {}

fn main() {}
