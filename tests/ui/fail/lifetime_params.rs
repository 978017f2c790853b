use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create<'a>(_ctx: &'a AuthContext, _value: &'a mut ThreadsCreate) {}

fn main() {}
