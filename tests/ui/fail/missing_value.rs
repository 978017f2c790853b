use auth::AuthContext;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext) {}

fn main() {}
