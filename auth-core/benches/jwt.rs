//! What `auth::jwt` costs per token: a cold verification (signature and claims, RS256 and
//! ES256, no cache) and a cached one (the same token again: a SHA-256 and a cache lookup).
//!
//! `cargo bench -p auth-core --features jwt --bench jwt` (budget and figures: `BENCHMARKS.md`).
//!
//! The tokens carry the claims of an `oidc-provider` access token (jti, sub, iat, exp, scope,
//! client_id, iss, aud). With static keys every verification completes in one poll, so it is
//! polled once with a no-op waker: no runtime is measured.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth::AuthUser;
use auth::jwt::{Algorithm, JwtVerifier, StaticKey};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

#[path = "../src/jwt/testdata/keys.rs"]
mod keys;

const ISS: &str = "https://issuer.example";

fn token(alg: Algorithm, kid: &str, key: &EncodingKey) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "jti": "IL1h5wv1T-Fq-755P0_kJ", "sub": "alice", "iat": now, "exp": now + 3600,
        "scope": "threads:read threads:write", "client_id": "alice", "iss": ISS,
        "aud": "private-conversations",
    });
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn verifier(cache: usize) -> JwtVerifier {
    JwtVerifier::from_keys(keys::public_keys())
        .issuer(ISS)
        .audience("private-conversations")
        .cache_capacity(cache)
        .build()
        .unwrap()
}

/// Polls a verification that completes without waiting (static keys) once.
fn now_or_never(v: &JwtVerifier, token: &str) -> AuthUser {
    let mut fut = pin!(v.verify(token));
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(user) => user.expect("a valid token"),
        Poll::Pending => panic!("a verification with static keys does not wait"),
    }
}

fn bench(c: &mut Criterion) {
    let rs = token(Algorithm::RS256, "rsa", &keys::rsa_key());
    let es = token(Algorithm::ES256, "ec", &keys::ec_key());
    println!(
        "token lengths: RS256 {} bytes, ES256 {} bytes",
        rs.len(),
        es.len()
    );
    let cold = verifier(0);
    c.bench_function("jwt/cold/RS256", |b| {
        b.iter(|| now_or_never(&cold, black_box(&rs)))
    });
    c.bench_function("jwt/cold/ES256", |b| {
        b.iter(|| now_or_never(&cold, black_box(&es)))
    });
    let cached = verifier(10_000);
    assert_eq!(now_or_never(&cached, &rs).identity(), "alice");
    now_or_never(&cached, &es);
    c.bench_function("jwt/cached/RS256", |b| {
        b.iter(|| now_or_never(&cached, black_box(&rs)))
    });
    c.bench_function("jwt/cached/ES256", |b| {
        b.iter(|| now_or_never(&cached, black_box(&es)))
    });
    // The part of the cached path that grows with the token: its SHA-256, the cache's key.
    use sha2::Digest;
    c.bench_function("jwt/sha256-of-token/RS256", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(rs.as_bytes())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
