use auth::AuthContext;
use auth::types::ThreadsValue;

#[auth::on(threads, threads.read)]
async fn on_threads(_ctx: &AuthContext, _value: &mut ThreadsValue) {}

fn main() {}
