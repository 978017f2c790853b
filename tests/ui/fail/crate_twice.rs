use auth::AuthContext;
use auth::types::AuthValue;

#[auth::on(crate = auth, crate = "auth")]
async fn on_any(_ctx: &AuthContext, _value: &mut AuthValue) {}

fn main() {}
