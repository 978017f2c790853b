use auth::AuthContext;
use auth::types::StoreListNamespaces;

#[auth::on(store.list_namespace)]
async fn on_list(_ctx: &AuthContext, _value: &mut StoreListNamespaces) {}

fn main() {}
