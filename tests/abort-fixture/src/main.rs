//! Refuses requests with `ensure!` in a binary whose panics abort, then keeps serving.
//!
//! Prints one line per request, `status detail`, and `alive` at the end: the test that runs it
//! checks both, and that the process exits with 0.

use auth::types::{AuthValue, ThreadsRead};
use auth::{Auth, AuthContext, AuthUser, Filter, HttpException};

#[auth::on(threads.read)]
async fn only_alice(ctx: &AuthContext, _value: &ThreadsRead) -> Result<Filter, HttpException> {
    auth::ensure!(ctx.user.identity() == "alice", "only alice reads threads");
    Ok(Filter::eq("owner", "alice"))
}

fn main() {
    assert!(cfg!(panic = "abort"), "this fixture must be built with panic = \"abort\"");
    let auth = Auth::from_registry().expect("one handler");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for who in ["mallory", "alice", "mallory"] {
        let mut value = AuthValue::from(ThreadsRead::default());
        let answer = runtime.block_on(auth.authorize(&AuthUser::new(who), &mut value));
        match answer {
            Ok(filter) => println!("200 {}", filter.map(|f| f.to_json()).unwrap_or_default()),
            Err(e) => println!("{} {}", e.status(), e.detail()),
        }
    }
    println!("alive");
}
