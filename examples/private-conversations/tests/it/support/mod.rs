//! What the binary, CORS, metrics, OpenAPI and outside-crate tests share: the tutorial's policy
//! served in process on port 0, a thread created as a user, a child process killed on drop.

// Each test file uses a part.
#![allow(dead_code)]

pub mod process;

use agent_server::Server;
use serde_json::Value;
use tutorial_policy::Policy;

/// The server with the tutorial's scoped policy, not logging.
pub fn scoped() -> Server {
    Server::new(Policy::Scoped.build().unwrap()).quiet(true)
}

/// Serves `server` on 127.0.0.1, port 0; its base URL.
pub async fn serve(server: Server) -> String {
    serve_on("127.0.0.1", server).await
}

/// Serves `server` on `host` (an address of this machine), port 0; its base URL over loopback.
pub async fn serve_on(host: &str, server: Server) -> String {
    let listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server.serve(listener, std::future::pending()));
    format!("http://127.0.0.1:{port}")
}

/// `POST /threads` with `body` as the user of `token`: the thread created.
pub async fn create_thread(http: &reqwest::Client, base: &str, token: &str, body: Value) -> Value {
    let response = http
        .post(format!("{base}/threads"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "creating a thread");
    response.json().await.unwrap()
}

/// The id of a thread created as `token` with no metadata.
pub async fn new_thread(http: &reqwest::Client, base: &str, token: &str) -> String {
    let thread = create_thread(http, base, token, serde_json::json!({})).await;
    thread["thread_id"].as_str().unwrap().to_owned()
}

/// A child process, killed and reaped on drop (also when the test fails).
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
