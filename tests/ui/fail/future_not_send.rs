use std::rc::Rc;

use auth::AuthContext;
use auth::types::ThreadsCreate;

#[auth::on(threads.create)]
async fn on_create(_ctx: &AuthContext, _value: &mut ThreadsCreate) {
    let shared = Rc::new(1);
    std::future::ready(()).await;
    drop(shared);
}

fn main() {}
