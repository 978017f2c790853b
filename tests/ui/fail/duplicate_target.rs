use auth::AuthContext;
use auth::types::ThreadsValue;

#[auth::on(threads.read, threads.search, threads.read)]
async fn on_reads(_ctx: &AuthContext, _value: &mut ThreadsValue) {}

fn main() {}
