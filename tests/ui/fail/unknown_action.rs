use auth::AuthContext;
use auth::types::AuthValue;

#[auth::on(*.fetch)]
async fn on_fetch(_ctx: &AuthContext, _value: &mut AuthValue) {}

fn main() {}
