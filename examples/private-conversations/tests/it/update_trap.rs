//! What a `threads.update` handler sees, and the rule that follows (SECURITY.md, "What your
//! handlers must do"): the value of an update holds only the change being sent, never the stored
//! thread. A rule that stamps the owner "if missing" on update hands any thread to whoever
//! updates it; a filter on update keeps others out.

use crate::common;

use common::Server;
use serde_json::json;

/// `Bearer <name>` is the user `<name>`.
mod who {
    use auth::{HttpException, MinimalUser};

    #[auth::authenticate]
    pub async fn who(authorization: Option<&str>) -> Result<MinimalUser, HttpException> {
        match authorization.and_then(|h| h.strip_prefix("Bearer ")) {
            Some(name) if !name.is_empty() => Ok(MinimalUser::new(name.to_owned())),
            _ => Err(HttpException::new(401).with_detail("Missing token")),
        }
    }
}

/// The owner is stamped on create, and reads are filtered by owner (so that the outcome of an
/// update can be seen); each test adds its own `threads.update` handler.
mod owned {
    use auth::types::{ThreadsCreate, ThreadsRead};
    use auth::{AuthContext, Filter};

    #[auth::on(threads.create)]
    pub async fn create(ctx: &AuthContext, value: &mut ThreadsCreate) -> Filter {
        let me = ctx.user.identity();
        value
            .metadata
            .get_or_insert_default()
            .insert("owner".into(), me.into());
        Filter::eq("owner", me)
    }

    #[auth::on(threads.read)]
    pub async fn read(ctx: &AuthContext, _value: &ThreadsRead) -> Filter {
        Filter::eq("owner", ctx.user.identity())
    }
}

/// The trap: the owner "set if missing" on update, with no filter on update.
mod trap {
    use auth::AuthContext;
    use auth::types::ThreadsUpdate;

    /// Wrong: `value.metadata` is the patch Carol sends, which has no `owner`.
    #[auth::on(threads.update)]
    pub async fn update(ctx: &AuthContext, value: &mut ThreadsUpdate) -> Option<auth::Filter> {
        let metadata = value.metadata.get_or_insert_default();
        metadata
            .entry("owner")
            .or_insert_with(|| ctx.user.identity().into());
        None
    }
}

/// The rule: on update, return a filter (and keep the owner out of the patch).
mod rule {
    use auth::types::ThreadsUpdate;
    use auth::{AuthContext, Filter};

    #[auth::on(threads.update)]
    pub async fn update(ctx: &AuthContext, value: &mut ThreadsUpdate) -> Filter {
        if let Some(metadata) = value.metadata.as_mut() {
            metadata.remove("owner");
        }
        Filter::eq("owner", ctx.user.identity())
    }
}

async fn server(policy: &str) -> Server {
    let auth = auth::Auth::builder()
        .module(&format!("{}::who", module_path!()))
        .module(&format!("{}::owned", module_path!()))
        .module(&format!("{}::{policy}", module_path!()))
        .build()
        .unwrap();
    Server::start_with(auth, agent_server::Limits::default()).await
}

#[tokio::test]
async fn stamping_the_owner_if_missing_on_update_hands_the_thread_to_the_updater() {
    let server = server("trap").await;
    let alice = server.user(Some("alice"));
    let carol = server.user(Some("carol"));
    let thread = alice.post("/threads", json!({})).await;
    let id = thread.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(thread.body["metadata"]["owner"], "alice");

    // Carol sends a harmless-looking patch; the handler sees only it, finds no owner, adds hers.
    let patched = carol
        .patch(
            &format!("/threads/{id}"),
            json!({"metadata": {"title": "mine now"}}),
        )
        .await;
    assert_eq!(patched.ok()["metadata"]["owner"], "carol");
    assert_eq!(alice.get(&format!("/threads/{id}")).await.status, 404);
    assert_eq!(carol.get(&format!("/threads/{id}")).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_filter_on_update_keeps_the_thread_with_its_owner() {
    let server = server("rule").await;
    let alice = server.user(Some("alice"));
    let carol = server.user(Some("carol"));
    let thread = alice.post("/threads", json!({})).await;
    let id = thread.ok()["thread_id"].as_str().unwrap().to_owned();

    // Carol's patch, with or without an owner in it, finds nothing.
    for patch in [json!({"title": "mine now"}), json!({"owner": "carol"})] {
        let refused = carol
            .patch(&format!("/threads/{id}"), json!({"metadata": patch}))
            .await;
        assert_eq!(refused.status, 404, "{}", refused.text);
    }
    // Alice's own patch keeps her the owner, even if it names someone else.
    let own = alice
        .patch(
            &format!("/threads/{id}"),
            json!({"metadata": {"title": "t", "owner": "carol"}}),
        )
        .await;
    assert_eq!(own.ok()["metadata"]["owner"], "alice");
    assert_eq!(own.body["metadata"]["title"], "t");
    assert_eq!(carol.get(&format!("/threads/{id}")).await.status, 404);
    server.stop().await;
}
