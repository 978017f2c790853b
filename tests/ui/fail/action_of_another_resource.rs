use auth::AuthContext;
use auth::types::ThreadsValue;

#[auth::on(threads.put)]
async fn on_put(_ctx: &AuthContext, _value: &mut ThreadsValue) {}

fn main() {}
