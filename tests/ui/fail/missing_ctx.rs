use auth::types::StoreValue;

#[auth::on(store)]
async fn on_store(_value: &mut StoreValue) {}

fn main() {}
