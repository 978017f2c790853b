use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create(_value: &mut ThreadsCreate, _ctx: &AuthContext) {}

fn main() {}
