//! A store handler may rewrite the namespace; the server uses the namespace the handler leaves,
//! and validates it again (422 if the handler made it invalid). The policy here is the common
//! "each user's items live under their identity" pattern, written by rewriting instead of
//! refusing as the tutorial does.

use crate::common;

use agent_server::Limits;
use common::Server;
use serde_json::json;

mod per_user {
    use auth::types::StoreValue;
    use auth::{AuthContext, HttpException};

    #[auth::authenticate]
    async fn by_token(authorization: &str) -> Result<String, HttpException> {
        match authorization {
            "Bearer user1-token" => Ok("user1".into()),
            "Bearer user2-token" => Ok("user2".into()),
            "Bearer dotted-token" => Ok("a.b".into()),
            _ => Err(HttpException::new(401).with_detail("Invalid token")),
        }
    }

    /// Every store operation happens under the caller's own namespace.
    #[auth::on(store)]
    async fn own_namespace(ctx: &AuthContext, value: &mut StoreValue) {
        if let Some(namespace) = value.namespace_mut() {
            namespace.insert(0, ctx.user.identity().to_owned());
        }
    }
}

#[tokio::test]
async fn the_namespace_the_handler_leaves_is_the_one_used() {
    let auth = auth::Auth::builder()
        .module(&format!("{}::per_user", module_path!()))
        .build()
        .unwrap();
    let server = Server::start_with(auth, Limits::default()).await;
    let (alice, bob) = (server.alice(), server.bob());

    let put = alice
        .put(
            "/store/items",
            json!({"namespace": ["notes"], "key": "k", "value": {"text": "hers"}}),
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.text);

    // Alice reads it back under the same namespace as she sees it; it is stored under hers.
    let got = alice.get("/store/items?namespace=notes&key=k").await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["namespace"], json!(["user1", "notes"]));
    assert_eq!(got.body["value"], json!({"text": "hers"}));

    // Bob's `notes` are his own namespace: he cannot reach hers, even naming it in full.
    assert_eq!(
        bob.get("/store/items?namespace=notes&key=k").await.status,
        404
    );
    assert_eq!(
        bob.get("/store/items?namespace=user1.notes&key=k")
            .await
            .status,
        404
    );
    let found = bob
        .post("/store/items/search", json!({"namespace_prefix": []}))
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body["items"], json!([]));
    let deleted = bob
        .delete_json("/store/items", json!({"namespace": ["notes"], "key": "k"}))
        .await;
    assert!(
        deleted.status.is_success() || deleted.status == 404,
        "{}",
        deleted.text
    );
    assert_eq!(
        alice.get("/store/items?namespace=notes&key=k").await.status,
        200
    );

    // Listing without a prefix lists the caller's namespaces only.
    let listed = alice.post("/store/namespaces", json!({})).await;
    assert_eq!(
        listed.body["namespaces"],
        json!([["user1", "notes"]]),
        "{}",
        listed.text
    );
    let listed = bob.post("/store/namespaces", json!({})).await;
    assert_eq!(listed.body["namespaces"], json!([]), "{}", listed.text);

    // A namespace the handler made invalid (a label with a '.') is refused, and nothing is stored.
    let dotted = server.user(Some("dotted-token"));
    let put = dotted
        .put(
            "/store/items",
            json!({"namespace": ["notes"], "key": "k", "value": {}}),
        )
        .await;
    assert_eq!(put.status, 422, "{}", put.text);
    assert!(
        put.body["detail"].as_str().unwrap().contains("a.b"),
        "{}",
        put.text
    );
    server.stop().await;
}
