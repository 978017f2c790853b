//! Hostile input: malformed credentials and malformed requests are answered 4xx with a JSON
//! `{"detail": …}`, never a 500 or a dropped connection, and store nothing.

use crate::common;

use agent_server::Limits;
use common::{Reply, Server};
use reqwest::Method;
use serde_json::json;
use tutorial_policy::Policy;

fn assert_json_error(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    assert_eq!(
        r.headers["content-type"], "application/json",
        "{what}: {}",
        r.text
    );
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no detail in {}",
        r.text
    );
}

/// `X-Api-Key: <token>` (what LangChain's agent-chat-ui sends) authenticates as
/// `Authorization: Bearer <token>` does, when there is no `Authorization` header; with one, the
/// `Authorization` header decides.
#[tokio::test]
async fn an_api_key_header_authenticates_like_a_bearer_token() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    alice.post("/threads", json!({})).await.ok();
    let anon = server.user(None);
    let count = |headers: Vec<(&'static str, &'static str)>| {
        let anon = &anon;
        async move {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            anon.bytes(
                Method::POST,
                "/threads/count",
                &headers,
                Some(b"{}".to_vec()),
            )
            .await
        }
    };
    let r = count(vec![("x-api-key", "user1-token")]).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "1"));
    let r = count(vec![("X-Api-Key", " user2-token ")]).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "0"));
    for bad in ["user3-token", "Bearer user1-token", "", "user1"] {
        let r = count(vec![("x-api-key", bad)]).await;
        assert_json_error(&r, 401, &format!("x-api-key {bad:?}"));
    }
    // With both, `Authorization` decides: a bad one is not rescued by a good key.
    let r = count(vec![
        ("authorization", "Bearer user3-token"),
        ("x-api-key", "user1-token"),
    ])
    .await;
    assert_json_error(&r, 401, "bad bearer, good key");
    let r = count(vec![
        ("authorization", "Bearer user2-token"),
        ("x-api-key", "user1-token"),
    ])
    .await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "0"));
    server.stop().await;
}

#[tokio::test]
async fn malformed_credentials_are_401_with_a_detail() {
    let server = Server::start(Policy::Scoped).await;
    let anon = server.user(None);
    let long = format!("Bearer {}", "a".repeat(64 * 1024));
    let long_valid_prefix = format!("Bearer user1-token{}", "x".repeat(64 * 1024));
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("no header", None),
        ("empty", Some(b"".to_vec())),
        ("scheme alone", Some(b"Bearer".to_vec())),
        ("scheme and space", Some(b"Bearer ".to_vec())),
        (
            "other scheme",
            Some(b"Basic dXNlcjE6dXNlcjEtdG9rZW4=".to_vec()),
        ),
        ("token scheme", Some(b"Token user1-token".to_vec())),
        ("token alone", Some(b"user1-token".to_vec())),
        ("scheme glued to token", Some(b"Beareruser1-token".to_vec())),
        (
            "three parts",
            Some(b"Bearer user1-token user2-token".to_vec()),
        ),
        ("token case", Some(b"Bearer USER1-TOKEN".to_vec())),
        ("unknown token", Some(b"Bearer user3-token".to_vec())),
        ("token prefix", Some(b"Bearer user1-toke".to_vec())),
        ("token suffix", Some(b"Bearer user1-token2".to_vec())),
        ("identity as token", Some(b"Bearer user1".to_vec())),
        (
            "non-ASCII token",
            Some("Bearer üser1-token".as_bytes().to_vec()),
        ),
        (
            "non-ASCII scheme",
            Some("Bëarer user1-token".as_bytes().to_vec()),
        ),
        (
            "no-break space after the scheme",
            Some("Bearer\u{a0}user1-token".as_bytes().to_vec()),
        ),
        ("invalid UTF-8", Some(b"Bearer \xff\xfe\xfd".to_vec())),
        (
            "valid token, invalid UTF-8 tail",
            Some(b"Bearer user1-token\xff".to_vec()),
        ),
        ("64 KiB token", Some(long.into_bytes())),
        (
            "64 KiB after a valid token",
            Some(long_valid_prefix.into_bytes()),
        ),
    ];
    let paths = [
        (Method::POST, "/threads/search"),
        (Method::GET, "/threads/00000000-0000-0000-0000-000000000000"),
        (Method::PUT, "/store/items"),
        (Method::DELETE, "/threads/not-a-uuid"),
        // Authentication runs before routing: an unknown path does not reveal itself.
        (Method::GET, "/no/such/route"),
    ];
    for (what, header) in &cases {
        for (method, path) in &paths {
            let headers: Vec<(&str, &[u8])> = header
                .iter()
                .map(|h| ("authorization", h.as_slice()))
                .collect();
            let r = anon
                .bytes(method.clone(), path, &headers, Some(b"{}".to_vec()))
                .await;
            assert_json_error(&r, 401, &format!("{what} on {method} {path}"));
            assert_eq!(r.headers["www-authenticate"], "Bearer", "{what}");
        }
    }
    // The scheme is case-insensitive (RFC 9110) and spaces around the token are tolerated; the
    // token itself must match exactly.
    for header in [
        "bearer user1-token",
        "BEARER user1-token",
        "BeArEr user1-token",
        "Bearer   user1-token",
        "Bearer\tuser1-token",
    ] {
        let r = anon
            .bytes(
                Method::POST,
                "/threads/count",
                &[("authorization", header.as_bytes())],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{header:?}: {}", r.text);
    }
    // Public paths need no credentials, and bad ones do not break them.
    let r = anon
        .bytes(Method::GET, "/ok", &[("authorization", b"\xff")], None)
        .await;
    assert_eq!(r.status, 200);
    // Nothing was stored by any of it, and the server still serves.
    let alice = server.alice();
    assert_eq!(
        alice.post("/threads/count", json!({})).await.ok(),
        &json!(0)
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_4xx_with_a_detail_and_store_nothing() {
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    let auth: &[(&str, &[u8])] = &[("authorization", b"Bearer user1-token")];
    let raw = |method: Method, path: &'static str, body: &'static [u8]| {
        let alice = &alice;
        async move { alice.bytes(method, path, auth, Some(body.to_vec())).await }
    };
    let t = alice
        .post("/threads", json!({"metadata": {"topic": "x"}}))
        .await;
    let t = t.ok()["thread_id"].as_str().unwrap().to_owned();

    // Bodies that are not JSON, or not the JSON the route takes.
    for (path, body) in [
        ("/threads", &b"not json"[..]),
        ("/threads", b"{"),
        ("/threads", b"[]"),
        ("/threads", b"42"),
        ("/threads", b"{\"metadata\": \"owner\"}"),
        ("/threads", b"{\"metadata\": [\"owner\"]}"),
        ("/threads", b"{\"thread_id\": \"not-a-uuid\"}"),
        ("/threads", b"{\"thread_id\": 7}"),
        ("/threads", b"{\"if_exists\": \"overwrite\"}"),
        ("/threads", b"\xff\xfe"),
        ("/threads/search", b"{\"limit\": \"ten\"}"),
        ("/threads/search", b"{\"limit\": -1}"),
        ("/threads/search", b"{\"limit\": 1e40}"),
        ("/threads/search", b"{\"offset\": -5}"),
        ("/threads/search", b"{\"ids\": [\"nope\"]}"),
        ("/threads/search", b"{\"sort_order\": \"sideways\"}"),
        ("/threads/prune", b"{\"thread_ids\": \"all\"}"),
        ("/assistants/search", b"{\"limit\": []}"),
        (
            "/runs/crons",
            b"{\"assistant_id\": \"agent\", \"schedule\": 5}",
        ),
        ("/store/items/search", b"{\"namespace_prefix\": \"user1\"}"),
        ("/store/namespaces", b"{\"max_depth\": 0}"),
    ] {
        let r = raw(Method::POST, path, body).await;
        assert!(
            r.status.is_client_error(),
            "POST {path} {body:?}: {}",
            r.text
        );
        assert_json_error(&r, r.status.as_u16(), &format!("POST {path}"));
    }
    for body in [
        &b"{\"namespace\": \"user1\", \"key\": \"k\", \"value\": {}}"[..],
        b"{\"namespace\": [\"user1\"], \"key\": \"\", \"value\": {}}",
        b"{\"namespace\": [], \"key\": \"k\", \"value\": {}}",
        b"{\"namespace\": [\"user1\", \"\"], \"key\": \"k\", \"value\": {}}",
        b"{\"namespace\": [\"user1.x\"], \"key\": \"k\", \"value\": {}}",
        b"{\"namespace\": [\"user1\"], \"key\": \"k\", \"value\": 5}",
        b"{\"namespace\": [\"user1\"], \"value\": {}}",
    ] {
        let r = raw(Method::PUT, "/store/items", body).await;
        assert_json_error(
            &r,
            422,
            &format!("PUT /store/items {}", String::from_utf8_lossy(body)),
        );
    }
    // Invalid ids in paths and queries.
    for (method, path, status) in [
        (Method::GET, "/threads/not-a-uuid", 422),
        (Method::PATCH, "/threads/123", 422),
        (Method::DELETE, "/threads/%20", 422),
        (Method::GET, "/threads/%FF%FE", 400),
        (Method::GET, "/threads/%FF/state/%FE", 400),
        (Method::GET, "/runs/crons/zzz", 422),
        (Method::GET, "/assistants/%C0", 400),
        (Method::GET, "/store/items?namespace=user1", 422),
    ] {
        let r = alice.bytes(method.clone(), path, auth, None).await;
        assert_json_error(&r, status, &format!("{method} {path}"));
    }
    let r = alice
        .bytes(
            Method::GET,
            &format!("/threads/{t}/history?limit=many"),
            auth,
            None,
        )
        .await;
    assert_json_error(&r, 422, "history?limit=many");
    // Unknown paths and methods.
    for (method, path, status) in [
        (Method::GET, "/nope", 404),
        (Method::POST, "/threads/search/more", 404),
        (Method::PUT, "/threads", 405),
        (Method::DELETE, "/threads/search", 405),
        (Method::from_bytes(b"BREW").unwrap(), "/threads", 405),
    ] {
        let r = alice.bytes(method.clone(), path, auth, None).await;
        assert_json_error(&r, status, &format!("{method} {path}"));
    }

    // Nothing of it was stored, and the one thread is unchanged.
    assert_eq!(
        alice.post("/threads/count", json!({})).await.ok(),
        &json!(1)
    );
    assert_eq!(
        alice.get(&format!("/threads/{t}")).await.ok()["metadata"],
        json!({"topic": "x", "owner": "user1"})
    );
    let items = alice
        .post(
            "/store/items/search",
            json!({"namespace_prefix": ["user1"]}),
        )
        .await;
    assert_eq!(items.ok()["items"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    // The default limit: 2 MiB.
    let server = Server::start(Policy::Scoped).await;
    let alice = server.alice();
    let auth: &[(&str, &[u8])] = &[("authorization", b"Bearer user1-token")];
    let big = |n: usize| {
        let mut body = b"{\"metadata\": {\"pad\": \"".to_vec();
        body.resize(n - 3, b'a');
        body.extend_from_slice(b"\"}}");
        body
    };
    let limit = Limits::default().body_limit;
    assert_eq!(limit, 2 * 1024 * 1024);
    let r = alice
        .bytes(Method::POST, "/threads", auth, Some(big(limit + 1)))
        .await;
    assert_json_error(&r, 413, "over the default limit");
    assert_eq!(
        alice.post("/threads/count", json!({})).await.ok(),
        &json!(0)
    );
    let r = alice
        .bytes(Method::POST, "/threads", auth, Some(big(limit - 1024)))
        .await;
    assert_eq!(r.status, 200, "{}", &r.text[..200.min(r.text.len())]);
    server.stop().await;

    // A configured limit.
    let auth_rules = tutorial_policy::Policy::Scoped.build().unwrap();
    let limits = Limits {
        body_limit: 4096,
        ..Limits::default()
    };
    let server = Server::start_with(auth_rules, limits).await;
    let alice = server.alice();
    for (path, method) in [
        ("/threads", Method::POST),
        ("/store/items", Method::PUT),
        ("/threads/search", Method::POST),
    ] {
        let r = alice
            .bytes(method.clone(), path, auth, Some(big(4097)))
            .await;
        assert_json_error(&r, 413, &format!("{method} {path}"));
    }
    let r = alice
        .bytes(Method::POST, "/threads", auth, Some(big(4000)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        alice.post("/threads/count", json!({})).await.ok(),
        &json!(1)
    );
    server.stop().await;
}
