use auth::AuthContext;
use auth::types::AuthValue;

#[auth::on]
async fn on_any(_ctx: &AuthContext, &mut ref _value: &mut AuthValue) {}

fn main() {}
