//! The verifier with keys of its own (no provider) and with a key set served by a small local
//! HTTP server that counts its requests. The tests against a real OpenID Connect provider are in
//! `examples/private-conversations/tests/oidc.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header, encode, jwk::Jwk};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[path = "testdata/keys.rs"]
mod keys;
use keys::{RSA_PUB, ec_key, public_keys, rsa_key};

const ISS: &str = "https://issuer.example";
const AUD: &str = "my-api";

fn now_i() -> i64 {
    now() as i64
}

/// Standard claims for `sub`, valid for ten minutes.
fn claims(sub: &str) -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": sub, "iat": now_i(), "exp": now_i() + 600})
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, Some("rsa"), claims, &rsa_key())
}

/// A verifier with the test's RSA key (kid `rsa`) and EC key (kid `ec`).
fn verifier() -> JwtVerifier {
    JwtVerifier::from_keys(public_keys())
        .issuer(ISS)
        .audience(AUD)
        .build()
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The token's error: status, detail, and the `WWW-Authenticate` header.
async fn refusal(v: &JwtVerifier, token: &str) -> (u16, String, String) {
    let e = v
        .verify(token)
        .await
        .expect_err("the token must be refused");
    let header = e
        .headers()
        .find(|(n, _)| *n == "WWW-Authenticate")
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    (e.status(), e.detail().to_owned(), header)
}

/// Asserts a 401 `invalid_token` whose description contains `what`, and that neither the
/// detail nor the header echo the token.
async fn assert_refused(v: &JwtVerifier, token: &str, what: &str) {
    let (status, detail, header) = refusal(v, token).await;
    assert_eq!(status, 401, "{detail}");
    assert!(detail.contains(what), "{detail:?} should say {what:?}");
    assert!(
        header.starts_with(r#"Bearer error="invalid_token", error_description=""#),
        "{header}"
    );
    assert!(header.contains(what), "{header}");
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!detail.contains(part) && !header.contains(part));
    }
}

#[tokio::test]
async fn rs256_and_es256_tokens_become_users() {
    let v = verifier();
    let mut c = claims("alice");
    c["scope"] = json!("threads:read threads:write");
    c["name"] = json!("Alice");
    c["email"] = json!("alice@example.com");
    c["org"] = json!("acme");
    let user = v.verify(&rs256(&c)).await.unwrap();
    assert_eq!(user.identity(), "alice");
    assert_eq!(user.display_name(), "Alice");
    assert_eq!(user.permissions(), ["threads:read", "threads:write"]);
    assert_eq!(user.get("org"), Some(json!("acme")));
    assert_eq!(user.get("iss"), Some(json!(ISS)));
    assert_eq!(
        user.get("sub"),
        None,
        "sub is the identity, not an extra field"
    );
    assert!(user.is_authenticated());

    let mut c = claims("bob");
    c["scp"] = json!(["a", "b"]);
    c["permissions"] = json!(["b", "c"]);
    c["preferred_username"] = json!("bobby");
    c["email"] = json!("bob@example.com");
    let user = v
        .verify(&sign(Algorithm::ES256, Some("ec"), &c, &ec_key()))
        .await
        .unwrap();
    assert_eq!(user.identity(), "bob");
    assert_eq!(user.display_name(), "bobby");
    assert_eq!(user.permissions(), ["a", "b", "c"]);
}

#[tokio::test]
async fn claims_checks() {
    let v = verifier();
    let mut c = claims("alice");
    c["exp"] = json!(now_i() - 3600);
    assert_refused(&v, &rs256(&c), "the token has expired").await;
    let mut c = claims("alice");
    c["nbf"] = json!(now_i() + 3600);
    assert_refused(&v, &rs256(&c), "not valid yet").await;
    let mut c = claims("alice");
    c["iss"] = json!("https://evil.example");
    assert_refused(&v, &rs256(&c), "issuer (iss)").await;
    let mut c = claims("alice");
    c["aud"] = json!("other-api");
    assert_refused(&v, &rs256(&c), "audience (aud)").await;
    let mut c = claims("alice");
    c["aud"] = json!(["other-api", AUD]);
    assert!(
        v.verify(&rs256(&c)).await.is_ok(),
        "one of several audiences"
    );
    for missing in ["aud", "iss", "exp", "sub"] {
        let mut c = claims("alice");
        c.as_object_mut().unwrap().remove(missing);
        assert_refused(&v, &rs256(&c), &format!("no {missing} claim")).await;
    }
    let mut c = claims("alice");
    c["sub"] = json!("");
    assert_refused(&v, &rs256(&c), "subject (sub)").await;
    let mut c = claims("alice");
    c["exp"] = json!("tomorrow");
    assert_refused(&v, &rs256(&c), "exp claim").await;
}

#[tokio::test]
async fn leeway_applies_to_exp_and_nbf() {
    let v = verifier();
    let mut c = claims("alice");
    c["exp"] = json!(now_i() - 30);
    let first = v.verify(&rs256(&c)).await.expect("within the 60 s leeway");
    let again = v.verify(&rs256(&c)).await.unwrap();
    assert!(
        !std::ptr::eq(first.identity(), again.identity()),
        "a token past its exp is never cached"
    );
    let mut c = claims("alice");
    c["nbf"] = json!(now_i() + 30);
    v.verify(&rs256(&c)).await.expect("within the 60 s leeway");

    let strict = JwtVerifier::from_keys([StaticKey::rsa_pem(RSA_PUB.as_bytes()).unwrap()])
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let mut c = claims("alice");
    c["exp"] = json!(now_i() - 2);
    assert_refused(&strict, &rs256(&c), "expired").await;
}

#[tokio::test]
async fn forged_and_malformed_tokens() {
    let v = verifier();
    let good = rs256(&claims("alice"));
    let parts: Vec<&str> = good.split('.').collect();

    // Tampered payload: another subject under the same signature.
    let forged_payload = b64(serde_json::to_string(&claims("mallory"))
        .unwrap()
        .as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_refused(&v, &tampered, "signature does not match").await;

    // alg none, with and without a signature.
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "kid": "rsa"}).to_string().as_bytes());
        assert_refused(&v, &format!("{header}.{}.", parts[1]), "alg none").await;
        assert_refused(
            &v,
            &format!("{header}.{}.{}", parts[1], parts[2]),
            "alg none",
        )
        .await;
    }

    // HS256 with the RSA public key as the HMAC secret (algorithm confusion): not on the
    // allow-list of a verifier without an HMAC key…
    let confused = |kid: Option<&str>| {
        sign(
            Algorithm::HS256,
            kid,
            &claims("mallory"),
            &EncodingKey::from_secret(RSA_PUB.as_bytes()),
        )
    };
    assert_refused(&v, &confused(Some("rsa")), "HS256 is not allowed").await;
    // …and even where HS256 is allowed, an RSA key never verifies it.
    let lax = JwtVerifier::from_keys([StaticKey::rsa_pem(RSA_PUB.as_bytes())
        .unwrap()
        .with_kid("rsa")])
    .algorithms([Algorithm::RS256, Algorithm::HS256])
    .build()
    .unwrap();
    assert_refused(
        &lax,
        &confused(Some("rsa")),
        "does not match the type of the key",
    )
    .await;
    assert_refused(&lax, &confused(None), "signing key (kid) is unknown").await;
    // An ES256 token naming the RSA key.
    let crossed = sign(Algorithm::ES256, Some("rsa"), &claims("alice"), &ec_key());
    assert_refused(&v, &crossed, "does not match the type of the key").await;

    // Unknown kid.
    let unknown = sign(Algorithm::RS256, Some("nope"), &claims("alice"), &rsa_key());
    assert_refused(&v, &unknown, "signing key (kid) is unknown").await;

    // Oversized.
    let mut c = claims("alice");
    c["padding"] = json!("x".repeat(9000));
    assert_refused(&v, &rs256(&c), "longer than 8192 bytes").await;

    // Garbage and near-JWTs.
    for garbage in [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "\u{1F600}.\u{1F600}.\u{1F600}",
    ] {
        assert_refused(&v, garbage, "malformed").await;
    }
    // A good header over a garbage payload fails at the signature, checked before the payload
    // is read.
    assert_refused(
        &v,
        "eyJhbGciOiJSUzI1NiJ9.%%%.abc",
        "signature does not match",
    )
    .await;
    let unsupported = format!("{}.{}.{}", b64(br#"{"alg":"XY999"}"#), parts[1], parts[2]);
    assert_refused(&v, &unsupported, "algorithm is not supported").await;
    let crit = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","kid":"rsa","crit":["exp"]}"#),
        parts[1],
        parts[2]
    );
    assert_refused(&v, &crit, "crit").await;
}

#[tokio::test]
async fn an_hmac_key_verifies_hs256_only() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let v = JwtVerifier::from_keys([StaticKey::hmac(secret)])
        .audience(AUD)
        .build()
        .unwrap();
    let token = sign(
        Algorithm::HS256,
        None,
        &claims("alice"),
        &EncodingKey::from_secret(secret),
    );
    assert_eq!(v.verify(&token).await.unwrap().identity(), "alice");
    let wrong = sign(
        Algorithm::HS256,
        None,
        &claims("alice"),
        &EncodingKey::from_secret(b"another secret, just as long....."),
    );
    assert_refused(&v, &wrong, "signature does not match").await;
    // An RS256 token finds no key of its type.
    assert_refused(&v, &rs256(&claims("alice")), "unknown").await;
    // A pinned list without HS256 refuses it even with the key.
    let pinned = JwtVerifier::from_keys([StaticKey::hmac(secret)])
        .algorithms([Algorithm::HS512])
        .build()
        .unwrap();
    assert_refused(&pinned, &token, "HS256 is not allowed").await;
}

#[tokio::test]
async fn jwk_alg_pins_the_key() {
    let mut jwk = Jwk::from_encoding_key(&rsa_key(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("rsa".into());
    let v =
        JwtVerifier::from_keys([StaticKey::jwk(&serde_json::to_string(&jwk).unwrap()).unwrap()])
            .build()
            .unwrap();
    assert!(v.verify(&rs256(&claims("alice"))).await.is_ok());
    let ps = sign(Algorithm::PS256, Some("rsa"), &claims("alice"), &rsa_key());
    assert_refused(&v, &ps, "does not match the type of the key").await;
    assert!(StaticKey::jwk(r#"{"kty":"oct","k":"c2VjcmV0"}"#).is_ok());
    assert!(StaticKey::jwk("{}").is_err());
}

#[tokio::test]
async fn verified_tokens_are_cached_by_hash() {
    let v = verifier();
    let token = rs256(&claims("alice"));
    let first = v.verify(&token).await.unwrap();
    let second = v.verify(&token).await.unwrap();
    assert!(
        std::ptr::eq(first.identity(), second.identity()),
        "the second answer is the cached user"
    );
    assert_eq!(v.cached_tokens(), 1);
    // A different token of the same user is another entry.
    let mut c = claims("alice");
    c["jti"] = json!("2");
    v.verify(&rs256(&c)).await.unwrap();
    assert_eq!(v.cached_tokens(), 2);
    // A refused token is never cached, and a tampered copy of a cached one is refused.
    let mut tampered = token.clone();
    tampered.push('A');
    assert_refused(&v, &tampered, "").await;
    assert_eq!(v.cached_tokens(), 2);

    let bounded = JwtVerifier::from_keys([StaticKey::rsa_pem(RSA_PUB.as_bytes()).unwrap()])
        .cache_capacity(4)
        .build()
        .unwrap();
    for i in 0..50 {
        let mut c = claims("alice");
        c["jti"] = json!(i);
        bounded.verify(&rs256(&c)).await.unwrap();
        assert!(bounded.cached_tokens() <= 4, "{}", bounded.cached_tokens());
    }
    let none = JwtVerifier::from_keys([StaticKey::rsa_pem(RSA_PUB.as_bytes()).unwrap()])
        .cache_capacity(0)
        .build()
        .unwrap();
    none.verify(&token).await.unwrap();
    assert_eq!(none.cached_tokens(), 0);
}

#[tokio::test]
async fn bearer_headers() {
    let v = verifier();
    let token = rs256(&claims("alice"));
    for header in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("  Bearer   {token} "),
    ] {
        assert_eq!(
            v.verify_bearer(Some(&header)).await.unwrap().identity(),
            "alice"
        );
    }
    let missing = v.verify_bearer(None).await.unwrap_err();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers().collect::<Vec<_>>(),
        [("WWW-Authenticate", "Bearer")]
    );
    for bad in ["Bearer", "Basic dXNlcjE=", "Bearer a b", &token] {
        let e = v.verify_bearer(Some(bad)).await.unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(e.headers().any(|(_, v)| v.contains("invalid_request")));
    }
}

#[test]
fn configuration_errors() {
    assert!(JwtVerifier::from_keys([]).build().is_err());
    assert!(
        JwtVerifier::from_issuer("http://issuer.example")
            .build()
            .is_err()
    );
    assert!(JwtVerifier::from_issuer("not a url").build().is_err());
    assert!(
        JwtVerifier::from_issuer("http://127.0.0.1:9/")
            .build()
            .is_ok()
    );
    assert!(
        JwtVerifier::from_issuer("http://localhost:9/")
            .build()
            .is_ok()
    );
    assert!(JwtVerifier::from_issuer("http://[::1]:9/").build().is_ok());
    assert!(
        JwtVerifier::from_jwks_url("https://issuer.example/jwks")
            .build()
            .is_ok()
    );
    assert!(
        JwtVerifier::from_issuer("https://issuer.example")
            .algorithms([])
            .build()
            .is_err()
    );
    assert!(StaticKey::rsa_pem(b"not a pem").is_err());
    assert!(StaticKey::ec_pem(RSA_PUB.as_bytes()).is_err());
}

/// A key set server: GET `/.well-known/openid-configuration` names `/jwks`, GET `/jwks` answers
/// the current key set (or 500 while `down`); each request is counted.
struct JwksServer {
    base: String,
    jwks: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl JwksServer {
    async fn start(keys: Value) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(std::sync::Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (j, f, d, b) = (jwks.clone(), fetches.clone(), down.clone(), base.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (j, f, d, b) = (j.clone(), f.clone(), d.clone(), b.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buf);
                    let (status, body) = if request.starts_with("GET /jwks ") {
                        f.fetch_add(1, Ordering::SeqCst);
                        // Slow enough that concurrent requests overlap with this fetch.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if d.load(Ordering::SeqCst) {
                            ("500 Internal Server Error", String::new())
                        } else {
                            ("200 OK", j.lock().unwrap().to_string())
                        }
                    } else if request.contains("/.well-known/openid-configuration ") {
                        (
                            "200 OK",
                            json!({"issuer": b, "jwks_uri": format!("{b}/jwks")}).to_string(),
                        )
                    } else {
                        ("404 Not Found", String::new())
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        JwksServer {
            base,
            jwks,
            fetches,
            down,
        }
    }
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.into());
    serde_json::to_value(jwk).unwrap()
}

#[tokio::test]
async fn unknown_kids_refetch_once_rate_limited_and_rotation_is_picked_up() {
    let server =
        JwksServer::start(json!({"keys": [jwk(&rsa_key(), Algorithm::RS256, "k1")]})).await;
    let v = JwtVerifier::from_issuer(&server.base)
        .refetch_interval(Duration::from_millis(500))
        .build()
        .unwrap();
    let claims_for = |sub: &str| {
        let mut c = claims(sub);
        c["iss"] = json!(server.base);
        c.as_object_mut().unwrap().remove("aud");
        c
    };
    let token = sign(
        Algorithm::RS256,
        Some("k1"),
        &claims_for("alice"),
        &rsa_key(),
    );
    assert_eq!(v.verify(&token).await.unwrap().identity(), "alice");
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);

    // A flood of made-up kids, concurrently: one fetch for all of them. (Tokens are signed
    // beforehand: signing is slow in a debug build, and the interval is short.)
    let bogus: Vec<String> = (0..50)
        .map(|i| {
            sign(
                Algorithm::RS256,
                Some(&format!("bogus{i}")),
                &claims_for("m"),
                &rsa_key(),
            )
        })
        .collect();
    let rotated = sign(Algorithm::ES256, Some("k2"), &claims_for("bob"), &ec_key());
    let fresh = sign(
        Algorithm::RS256,
        Some("k1"),
        &claims_for("carol"),
        &rsa_key(),
    );
    let new_kid = sign(
        Algorithm::RS256,
        Some("k3"),
        &claims_for("dave"),
        &rsa_key(),
    );
    let flood: Vec<_> = bogus[..40]
        .iter()
        .map(|t| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in flood {
        let e = task.await.unwrap().unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(e.detail().contains("unknown"), "{}", e.detail());
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2, "single flight");
    // Within the interval, more unknown kids fetch nothing.
    for t in &bogus[40..] {
        assert_eq!(v.verify(t).await.unwrap_err().status(), 401);
    }
    assert_eq!(server.fetches.load(Ordering::SeqCst), 2, "rate-limited");

    // Rotation: the provider adds an EC key; a token naming it is verified after one refetch.
    *server.jwks.lock().unwrap() = json!({"keys": [
        jwk(&ec_key(), Algorithm::ES256, "k2"),
        jwk(&rsa_key(), Algorithm::RS256, "k1"),
    ]});
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(v.verify(&rotated).await.unwrap().identity(), "bob");
    assert_eq!(server.fetches.load(Ordering::SeqCst), 3);
    assert_eq!(v.key_fetches().await, 3);

    // Provider down: known keys still verify (fresh tokens, not from the cache); an unknown kid
    // is a 503, also within the interval after the failed fetch.
    server.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(v.verify(&fresh).await.unwrap().identity(), "carol");
    let e = v.verify(&new_kid).await.unwrap_err();
    assert_eq!(e.status(), 503, "{}", e.detail());
    assert_eq!(
        serde_json::to_value(&e).unwrap()["detail"],
        json!(e.detail())
    );
    let e = v.verify(&new_kid).await.unwrap_err();
    assert_eq!(e.status(), 503);
    let fetched = server.fetches.load(Ordering::SeqCst);
    assert_eq!(
        fetched, 4,
        "the second 503 came from the rate limit, not a fetch"
    );

    // Back up: the key set is fetched again after the interval.
    server.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(v.verify(&new_kid).await.unwrap_err().status(), 401);
    assert_eq!(v.refresh_keys().await.unwrap(), 2);
}

#[tokio::test]
async fn an_unreachable_provider_is_503_within_the_timeout() {
    // A port nothing listens on: connection refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let v = JwtVerifier::from_issuer(&url).build().unwrap();
    let e = v.verify(&rs256(&claims("alice"))).await.unwrap_err();
    assert_eq!(e.status(), 503);
    assert!(v.refresh_keys().await.is_err());

    // A provider that accepts and never answers: the fetch deadline ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let v = JwtVerifier::from_jwks_url(format!("{url}/jwks"))
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = v.verify(&rs256(&claims("alice"))).await.unwrap_err();
    assert_eq!(e.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}

#[tokio::test]
async fn a_key_set_without_usable_keys_or_a_foreign_issuer_is_unavailable() {
    let server = JwksServer::start(json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "k1"},
        {"kty": "RSA", "use": "enc", "kid": "k2", "n": "AQAB", "e": "AQAB"},
    ]}))
    .await;
    let v = JwtVerifier::from_jwks_url(format!("{}/jwks", server.base))
        .build()
        .unwrap();
    let token = sign(
        Algorithm::HS256,
        Some("k1"),
        &claims("alice"),
        &EncodingKey::from_secret(b"secret"),
    );
    // HS256 is not even allowed: no HMAC key was given.
    assert_refused(&v, &token, "HS256 is not allowed").await;
    let e = v.verify(&rs256(&claims("alice"))).await.unwrap_err();
    assert_eq!(e.status(), 503, "an oct key from the network is never used");

    // Discovery naming another issuer is refused.
    let v = JwtVerifier::from_issuer(format!("{}/other", server.base))
        .build()
        .unwrap();
    assert!(v.refresh_keys().await.is_err());
}

/// Claims of `sub` for a verifier of the key set server `server` (its issuer, no audience).
fn claims_of(server: &JwksServer, sub: &str) -> Value {
    let mut c = claims(sub);
    c["iss"] = json!(server.base);
    c.as_object_mut().unwrap().remove("aud");
    c
}

/// Issue 26: one token with a made-up `kid` per refetch interval used to spend every refetch,
/// so a key the provider had just published was refused for up to the interval. Now a fetch
/// spent on a `kid` the provider does not have lets a token naming another unknown `kid` fetch
/// after the gap, and then the budget holds again: the same made-up `kid` fetches nothing, a
/// flood of others fetches at most once per gap.
#[tokio::test]
async fn a_made_up_kid_does_not_hold_back_a_newly_published_key() {
    let server =
        JwksServer::start(json!({"keys": [jwk(&rsa_key(), Algorithm::RS256, "k1")]})).await;
    let v = JwtVerifier::from_issuer(&server.base)
        .refetch_interval(Duration::from_secs(600))
        .refetch_gap(Duration::from_secs(1))
        .refresh_interval(None)
        .build()
        .unwrap();
    let fetches = || server.fetches.load(Ordering::SeqCst);
    // Signed beforehand: signing is slow in a debug build.
    let made_up: Vec<String> = (0..6)
        .map(|i| {
            let kid = format!("made-up-{i}");
            sign(
                Algorithm::RS256,
                Some(&kid),
                &claims_of(&server, "m"),
                &rsa_key(),
            )
        })
        .collect();
    let published = sign(
        Algorithm::ES256,
        Some("k2"),
        &claims_of(&server, "bob"),
        &ec_key(),
    );
    let first = sign(
        Algorithm::RS256,
        Some("k1"),
        &claims_of(&server, "alice"),
        &rsa_key(),
    );

    // The first made-up kid spends the budget (the first fetch).
    assert_eq!(v.verify(&made_up[0]).await.unwrap_err().status(), 401);
    assert_eq!(fetches(), 1);
    assert_eq!(v.verify(&first).await.unwrap().identity(), "alice");
    // The provider publishes k2; a token naming it comes right after the made-up one.
    *server.jwks.lock().unwrap() = json!({"keys": [
        jwk(&ec_key(), Algorithm::ES256, "k2"),
        jwk(&rsa_key(), Algorithm::RS256, "k1"),
    ]});
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        v.verify(&published).await.unwrap().identity(),
        "bob",
        "the new key is fetched although the budget was spent on a made-up kid"
    );
    assert_eq!(fetches(), 2);
    // That fetch found its kid: the budget holds again, for any made-up kid.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(v.verify(&made_up[1]).await.unwrap_err().status(), 401);
    assert_eq!(
        fetches(),
        2,
        "within the budget after a fetch that found its kid"
    );

    // A made-up kid that spent a fetch: the same kid again fetches nothing; another one
    // fetches only after the gap, each time.
    let v = JwtVerifier::from_issuer(&server.base)
        .refetch_interval(Duration::from_secs(600))
        .refetch_gap(Duration::from_secs(1))
        .refresh_interval(None)
        .build()
        .unwrap();
    let before = fetches();
    assert_eq!(v.verify(&made_up[2]).await.unwrap_err().status(), 401);
    assert_eq!(fetches(), before + 1);
    assert_eq!(v.verify(&made_up[2]).await.unwrap_err().status(), 401);
    assert_eq!(v.verify(&made_up[3]).await.unwrap_err().status(), 401);
    assert_eq!(
        fetches(),
        before + 1,
        "the same kid, or another within the gap"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(v.verify(&made_up[2]).await.unwrap_err().status(), 401);
    assert_eq!(fetches(), before + 1, "the same kid after the gap");
    for t in &made_up[3..] {
        assert_eq!(v.verify(t).await.unwrap_err().status(), 401);
    }
    assert_eq!(fetches(), before + 2, "one more for all of them");
}

/// The key set is fetched again in the background once it is older than the refresh interval:
/// a key the provider published ahead of using it verifies without a fetch of its own, even
/// with the refetch budget spent. The token that found the set old is answered at once, from
/// the keys known.
#[tokio::test]
async fn the_key_set_is_refreshed_ahead_of_rotation() {
    let server =
        JwksServer::start(json!({"keys": [jwk(&rsa_key(), Algorithm::RS256, "k1")]})).await;
    let v = JwtVerifier::from_issuer(&server.base)
        .refetch_interval(Duration::from_secs(600))
        .refresh_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let fetches = || server.fetches.load(Ordering::SeqCst);
    let tokens: Vec<String> = (0..3)
        .map(|i| {
            let sub = format!("alice{i}");
            sign(
                Algorithm::RS256,
                Some("k1"),
                &claims_of(&server, &sub),
                &rsa_key(),
            )
        })
        .collect();
    let published = sign(
        Algorithm::ES256,
        Some("k2"),
        &claims_of(&server, "bob"),
        &ec_key(),
    );
    assert_eq!(v.verify(&tokens[0]).await.unwrap().identity(), "alice0");
    assert_eq!(fetches(), 1);
    // Published ahead of use.
    *server.jwks.lock().unwrap() = json!({"keys": [
        jwk(&ec_key(), Algorithm::ES256, "k2"),
        jwk(&rsa_key(), Algorithm::RS256, "k1"),
    ]});
    // Young: no refresh.
    assert_eq!(v.verify(&tokens[1]).await.unwrap().identity(), "alice1");
    assert_eq!(fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Old: this token is answered from the known keys, and starts the refresh.
    assert_eq!(v.verify(&tokens[2]).await.unwrap().identity(), "alice2");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while v.key_fetches().await < 2 {
        assert!(std::time::Instant::now() < deadline, "no refresh");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Wait for the refresh to finish (it holds the fetch lock while it runs).
    let _ = v.key_fetches().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(v.verify(&published).await.unwrap().identity(), "bob");
    assert_eq!(fetches(), 2, "k2 was known: no fetch of its own");

    // Without a refresh interval, nothing is fetched on a timer.
    let v = JwtVerifier::from_issuer(&server.base)
        .refresh_interval(None)
        .build()
        .unwrap();
    assert_eq!(v.verify(&tokens[0]).await.unwrap().identity(), "alice0");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(v.verify(&tokens[1]).await.unwrap().identity(), "alice1");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(v.key_fetches().await, 1);
}
