use auth::AuthContext;
use auth::types::ThreadsRead;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext, _value: &mut ThreadsRead) {}

fn main() {}
