use auth::AuthContext;
use auth::types::ThreadsCreate;

struct Policy;

impl Policy {
    #[auth::on(threads.create)]
    async fn on_create(&self, _ctx: &AuthContext, _value: &mut ThreadsCreate) {}
}

fn main() {}
