use auth::AuthContext;
use auth::types::ThreadsRead;

type Created = ThreadsRead;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext, _value: &mut Created) {}

fn main() {}
