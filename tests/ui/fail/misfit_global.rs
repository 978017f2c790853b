use auth::AuthContext;
use auth::types::ThreadsValue;

#[auth::on(*.read)]
async fn on_reads(_ctx: &AuthContext, _value: &mut ThreadsValue) {}

fn main() {}
