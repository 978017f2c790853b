#[auth::on(assistants.search)]
async fn on_search() {}

fn main() {}
