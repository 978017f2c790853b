//! The tutorial's part 3 against a real OpenID Connect provider: the npm package `oidc-provider`
//! (`tests/oidc/provider.mjs`, installed by `npm ci` in `tests/oidc`), started here on port 0.
//!
//! The provider signs with the test keys of `tests/oidc/keys`; the tokens it would never issue
//! (expired, wrong audience, `alg: none`…) are signed here with the same keys. One test, in
//! steps: the verifier is process-wide (the server's `--oidc-issuer`), and key rotation and the
//! provider's outage follow each other.
//!
//! Without `tests/oidc/node_modules` the test prints a skip line; with `CI` set it fails instead.
//!
//! A test binary of its own, not a module of `tests/it`: `oidc::install` sets a process-wide
//! verifier (a `OnceLock` in `tutorial_policy`) that cannot be undone and replaces the fixed
//! tokens every suite of `tests/it` relies on.

// The helpers of `tests/it`.
#[path = "it/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use auth::jwt::JwtVerifier;
use base64::Engine as _;
use common::{Client, Reply, Server};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tutorial_policy::Policy;
use tutorial_policy::oidc;

const AUDIENCE: &str = "private-conversations";
const RS256: &str = "https://pc.example/rs256";
const ES256: &str = "https://pc.example/es256";
/// The verifier's refetch interval here: short, so that rotation and outage need no long waits.
const REFETCH: Duration = Duration::from_millis(300);

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

fn key_pem(name: &str) -> String {
    std::fs::read_to_string(oidc_dir().join("keys").join(format!("{name}.pem"))).unwrap()
}

/// A running `provider.mjs`; dropping it stops it.
struct Provider {
    child: Child,
    issuer: String,
    port: u16,
}

impl Provider {
    /// Starts the provider on `port` (0: any) signing with these keys (names in
    /// `tests/oidc/keys`, also their `kid`s), and waits for its `listening on` line.
    fn start(port: u16, keys: &[&str]) -> Provider {
        let listed: Vec<Value> = keys
            .iter()
            .map(|k| json!({"kid": k, "pem": key_pem(k)}))
            .collect();
        let file = std::env::temp_dir().join(format!(
            "oidc-keys-{}-{}.json",
            std::process::id(),
            keys.join("-")
        ));
        std::fs::write(&file, Value::from(listed).to_string()).unwrap();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(oidc_dir())
            .env("PORT", port.to_string())
            .env("OIDC_KEYS", &file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider prints its URL");
        let _ = std::fs::remove_file(&file);
        let issuer = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let port = issuer.rsplit(':').next().unwrap().parse().unwrap();
        Provider {
            child,
            issuer,
            port,
        }
    }

    /// An access token for `client` (`alice` or `bob`) from the token endpoint.
    async fn token(&self, client: &str, resource: &str) -> String {
        let body = format!(
            "grant_type=client_credentials&client_id={client}&client_secret={client}-secret\
             &scope=threads%3Aread%20threads%3Awrite&resource={}",
            resource.replace(':', "%3A").replace('/', "%2F")
        );
        let res = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
        assert!(status.is_success(), "{status} {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Signs `claims` with the test key `key` (also the `kid`), as the provider would.
fn forge(alg: Algorithm, key: &str, claims: &Value) -> String {
    let pem = key_pem(key);
    let encoding = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => unreachable!(),
    };
    let mut header = Header::new(alg);
    header.kid = Some(key.to_owned());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts a 401 whose `WWW-Authenticate` is RFC 6750's `invalid_token` and whose detail says
/// `what`, without echoing the token.
fn assert_invalid(reply: &Reply, token: &str, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    let header = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(
        header.starts_with(r#"Bearer error="invalid_token", error_description=""#),
        "{what}: {header}"
    );
    assert!(reply.detail().contains(what), "{what}: {}", reply.detail());
    for seg in token.split('.').filter(|s| s.len() > 8) {
        assert!(!reply.text.contains(seg), "the reply echoes the token");
    }
}

async fn threads_search(client: &Client) -> Reply {
    client.post("/threads/search", json!({})).await
}

/// The tutorial's privacy between the provider's two subjects, on a server with `policy`.
async fn privacy_holds(policy: Policy, alice_token: &str, bob_token: &str) {
    let server = Server::start(policy).await;
    let (alice, bob) = (server.user(Some(alice_token)), server.user(Some(bob_token)));
    let thread = alice.post("/threads", json!({})).await;
    let alice_thread = thread.ok()["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(
        thread.body["metadata"]["owner"], "alice",
        "sub is the owner"
    );
    let out = alice
        .post(
            &format!("/threads/{alice_thread}/runs/wait"),
            json!({"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}}),
        )
        .await;
    assert_eq!(
        out.ok()["messages"][1]["response_metadata"]["langgraph_auth_user_id"],
        "alice"
    );
    let denied = bob.get(&format!("/threads/{alice_thread}")).await;
    assert_eq!(denied.status, 404, "{policy:?}: {}", denied.text);
    let bob_thread = bob.post("/threads", json!({})).await.ok()["thread_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        alice.get(&format!("/threads/{bob_thread}")).await.status,
        404
    );
    for (client, own) in [(&alice, &alice_thread), (&bob, &bob_thread)] {
        let found = threads_search(client).await;
        let ids: Vec<&str> = found
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["thread_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [own.as_str()], "{policy:?}");
    }
    // The run sees the token's claims as the user's fields.
    let run = bob
        .post(
            &format!("/threads/{bob_thread}/runs"),
            json!({"assistant_id": "agent", "input": {"messages": []}}),
        )
        .await;
    let user = &run.ok()["kwargs"]["config"]["configurable"]["langgraph_auth_user"];
    assert_eq!(user["identity"], "bob");
    assert_eq!(user["client_id"], "bob");
    assert_eq!(
        user["permissions"],
        json!(["threads:read", "threads:write"])
    );
    if policy == Policy::Scoped {
        let denied = alice.post("/assistants/search", json!({})).await;
        assert_eq!(denied.status, 403);
    }
    // The fixed tokens of the tutorial's first parts are gone.
    let fixed = server.alice().get("/threads/search").await;
    assert_eq!(fixed.status, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_part_3_with_a_real_provider() {
    if !oidc_dir().join("node_modules/oidc-provider").exists() {
        let msg = "tests/oidc/node_modules is missing: run `npm ci` in tests/oidc";
        if std::env::var_os("CI").is_some() {
            panic!("{msg} (CI is set, so this is a failure)");
        }
        println!("SKIPPED tutorial_part_3_with_a_real_provider: {msg}");
        return;
    }
    let provider = Provider::start(0, &["rsa1", "ec1"]);
    let verifier = JwtVerifier::from_issuer(&provider.issuer)
        .audience(AUDIENCE)
        .refetch_interval(REFETCH)
        .build()
        .unwrap();
    oidc::install(verifier).unwrap();

    // Both subjects, one with an RS256 token and one with an ES256 token, and the other way.
    let alice_rs = provider.token("alice", RS256).await;
    let bob_es = provider.token("bob", ES256).await;
    assert_eq!(part(&alice_rs, 0)["alg"], "RS256");
    assert_eq!(part(&alice_rs, 0)["kid"], "rsa1");
    assert_eq!(part(&bob_es, 0)["alg"], "ES256");
    assert_eq!(part(&bob_es, 1)["sub"], "bob");
    privacy_holds(Policy::Scoped, &alice_rs, &bob_es).await;
    let alice_es = provider.token("alice", ES256).await;
    let bob_rs = provider.token("bob", RS256).await;
    privacy_holds(Policy::Global, &alice_es, &bob_rs).await;

    // Tokens a provider would not issue: each a 401 saying what failed.
    let server = Server::start(Policy::Scoped).await;
    let real = part(&alice_rs, 1);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut c = real.clone();
        edit(&mut c);
        c
    };
    let post = |token: String| {
        let client = server.user(Some(&token));
        async move { (threads_search(&client).await, token) }
    };
    let cases: Vec<(String, &str)> = vec![
        (
            forge(
                Algorithm::RS256,
                "rsa1",
                &with(&|c| c["exp"] = json!(now() - 600)),
            ),
            "the token has expired",
        ),
        (
            forge(
                Algorithm::ES256,
                "ec1",
                &with(&|c| c["nbf"] = json!(now() + 600)),
            ),
            "not valid yet",
        ),
        (
            forge(
                Algorithm::RS256,
                "rsa1",
                &with(&|c| c["iss"] = json!("https://evil.example")),
            ),
            "issuer (iss)",
        ),
        (
            forge(
                Algorithm::RS256,
                "rsa1",
                &with(&|c| c["aud"] = json!("another-api")),
            ),
            "audience (aud)",
        ),
        (
            {
                let parts: Vec<&str> = alice_rs.split('.').collect();
                let payload = with(&|c| c["sub"] = json!("bob"));
                format!(
                    "{}.{}.{}",
                    parts[0],
                    b64(payload.to_string().as_bytes()),
                    parts[2]
                )
            },
            "signature does not match",
        ),
        (
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "at+jwt"})
                    .to_string()
                    .as_bytes()),
                b64(with(&|c| c["sub"] = json!("bob")).to_string().as_bytes())
            ),
            "alg none",
        ),
        (
            {
                // HS256 with the provider's RSA public key as the secret, naming that key.
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some("rsa1".into());
                let public = std::fs::read(oidc_dir().join("keys/rsa1.pub.pem")).unwrap();
                jsonwebtoken::encode(
                    &header,
                    &with(&|c| c["sub"] = json!("bob")),
                    &EncodingKey::from_secret(&public),
                )
                .unwrap()
            },
            "HS256 is not allowed",
        ),
        (
            forge(Algorithm::RS256, "rsa2", &real),
            "signing key (kid) is unknown",
        ),
        (
            forge(
                Algorithm::RS256,
                "rsa1",
                &with(&|c| c["pad"] = json!("x".repeat(9000))),
            ),
            "longer than 8192 bytes",
        ),
        ("garbage".to_owned(), "malformed"),
        ("a.b.c".to_owned(), "malformed"),
    ];
    for (token, what) in cases {
        let (reply, token) = post(token).await;
        assert_invalid(&reply, &token, what);
    }
    // A forged token with the real claims is accepted: the refusals above are each one change.
    let (ok, _) = post(forge(Algorithm::RS256, "rsa1", &real)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    // Key rotation at the provider: restarted on the same port (same issuer) with a new RSA key
    // first, the old keys still published. New tokens carry the new kid and are accepted
    // without restarting the server, as is the token refused above as unknown.
    let port = provider.port;
    provider.stop();
    tokio::time::sleep(REFETCH).await;
    let provider = Provider::start(port, &["rsa2", "rsa1", "ec1"]);
    let rotated = provider.token("alice", RS256).await;
    assert_eq!(part(&rotated, 0)["kid"], "rsa2");
    let (reply, _) = post(rotated).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (reply, _) = post(forge(Algorithm::RS256, "rsa2", &real)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // The provider stops: keys already fetched keep verifying (fresh tokens, not cached ones);
    // a token naming a key never seen is a 503 {"detail": …}, not a 401, 500 or hang.
    provider.stop();
    tokio::time::sleep(REFETCH).await;
    for (alg, key) in [
        (Algorithm::RS256, "rsa2"),
        (Algorithm::RS256, "rsa1"),
        (Algorithm::ES256, "ec1"),
    ] {
        let fresh = with(&|c| c["jti"] = json!(format!("after-outage-{key}")));
        let (reply, _) = post(forge(alg, key, &fresh)).await;
        assert_eq!(reply.status, 200, "{key}: {}", reply.text);
    }
    let started = std::time::Instant::now();
    let (reply, _) = post(forge(Algorithm::ES256, "ec2", &real)).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(
        reply.detail().contains("identity provider"),
        "{}",
        reply.text
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    server.stop().await;
}
