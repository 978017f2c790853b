//! CORS: a preflight is answered before authentication, an allowed origin reads a thread with a
//! bearer token, another origin is refused. First with plain HTTP, then in a real browser:
//! Debian's headless Chromium loads a page from another origin (a second server on port 0) whose
//! `fetch` calls the API.
//!
//! The browser test needs `/usr/bin/chromium` and `npm ci` in `tests/browser`; without them it
//! prints a skip line, unless `CI` is set: then it fails.

use std::path::Path;
use std::process::Command;

use agent_server::Cors;
use axum::response::Html;
use serde_json::{Value, json};

use crate::support;

/// Serves the API with CORS for `origins` on port 0; its base URL.
async fn api(origins: &[&str]) -> String {
    support::serve(support::scoped().cors(Cors {
        allow_origins: origins.iter().map(|o| o.to_string()).collect(),
        expose_headers: vec!["content-location".into()],
        ..Cors::default()
    }))
    .await
}

#[tokio::test]
async fn preflight_is_answered_before_authentication() {
    let origin = "http://app.example";
    let base = api(&[origin]).await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/threads/search"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200, "no token needed for a preflight");
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") || allowed == "*",
        "{allowed}"
    );

    // The actual request still needs its token, and carries the CORS headers either way.
    let refused = http
        .post(format!("{base}/threads/search"))
        .header("origin", origin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["access-control-allow-origin"], origin);
    let served = http
        .post(format!("{base}/threads/search"))
        .header("origin", origin)
        .bearer_auth("user1-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["access-control-allow-origin"], origin);

    // Another origin gets no permission.
    let other = http
        .request(reqwest::Method::OPTIONS, format!("{base}/threads/search"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// By default, as LangGraph: any origin may call, without credentials, and may read the headers
/// the official clients read.
#[tokio::test]
async fn by_default_any_origin_may_call_without_credentials() {
    let base = support::serve(support::scoped()).await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/threads/search"))
        .header("origin", "http://chat.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key,content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    let served = http
        .post(format!("{base}/threads/search"))
        .header("origin", "http://chat.example")
        .header("x-api-key", "user1-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let h = served.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("content-location"), "{exposed}");
    assert!(exposed.contains("x-pagination-total"), "{exposed}");
}

/// With no origins (`--cors-allow-origins ""`), CORS is off.
#[tokio::test]
async fn with_cors_off_a_preflight_is_not_allowed() {
    let off = Cors {
        allow_origins: Vec::new(),
        ..Cors::default()
    };
    let base = support::serve(support::scoped().cors(off)).await;
    let r = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/threads/search"))
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// Whether the browser test can run here; with `CI` set it must.
fn browser_available(dir: &Path) -> bool {
    let chromium = Path::new("/usr/bin/chromium").exists();
    let modules = dir.join("node_modules/playwright-core").exists();
    let node = Command::new("node").arg("--version").output().is_ok();
    if chromium && modules && node {
        return true;
    }
    let missing = format!(
        "chromium: {chromium}, tests/browser/node_modules: {modules}, node: {node} \
         (apt-get install chromium; npm ci in tests/browser)"
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the browser test cannot run: {missing}"
    );
    println!("skipped: the Chromium CORS test needs {missing}");
    false
}

#[tokio::test]
async fn a_page_from_another_origin_reads_a_thread_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !browser_available(&dir) {
        return;
    }
    // The page's own server, on another port: another origin.
    let page_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", page_listener.local_addr().unwrap());
    let allowed = api(&[&page_origin]).await;
    let refusing = api(&["http://elsewhere.example"]).await;

    let http = reqwest::Client::new();
    let thread = support::create_thread(
        &http,
        &allowed,
        "user1-token",
        json!({"metadata": {"title": "from the browser"}}),
    )
    .await;
    let tid = thread["thread_id"].as_str().unwrap().to_owned();

    let page = format!(
        r#"<!doctype html><title>cors</title><script>
window.run = async () => {{
  const out = {{}};
  const r = await fetch("{allowed}/threads/{tid}", {{ headers: {{ Authorization: "Bearer user1-token" }} }});
  out.status = r.status;
  out.thread = await r.json();
  const bob = await fetch("{allowed}/threads/{tid}", {{ headers: {{ Authorization: "Bearer user2-token" }} }});
  out.bob = bob.status;
  try {{
    await fetch("{refusing}/threads/{tid}", {{ headers: {{ Authorization: "Bearer user1-token" }} }});
    out.refused = "read";
  }} catch (e) {{
    out.refused = "blocked";
  }}
  return out;
}};
</script>"#
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(page_listener, app).await });

    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(dir.join("cors.mjs"))
            .arg(format!("{page_origin}/"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    let result = &report["result"];
    assert_eq!(result["status"], 200, "{report}");
    assert_eq!(result["thread"]["thread_id"], tid.as_str(), "{report}");
    assert_eq!(result["thread"]["metadata"]["title"], "from the browser");
    assert_eq!(
        result["bob"], 404,
        "Bob may not read Alice's thread: {report}"
    );
    assert_eq!(result["refused"], "blocked", "{report}");
}
