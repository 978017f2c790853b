use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(thread.create)]
fn on_create<T>(_ctx: &AuthContext, _value: &mut ThreadsCreate) {}

fn main() {}
