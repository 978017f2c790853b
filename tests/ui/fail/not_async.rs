use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
fn on_create(_ctx: &AuthContext, _value: &mut ThreadsCreate) {}

fn main() {}
