use auth::AuthContext;
use auth::types::AuthValue;

#[auth::on]
async fn on_any<V: Send>(_ctx: &AuthContext, _value: &mut AuthValue) {}

fn main() {}
