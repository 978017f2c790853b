use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext, value: ThreadsCreate) {
    drop(value);
}

fn main() {}
