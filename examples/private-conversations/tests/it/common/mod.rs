//! A server on 127.0.0.1:0 per test, on the backend `PC_TEST_BACKEND` names (see
//! [`TestDatabase::from_env`]), and a small client speaking as a user.

#![allow(dead_code)]

pub use test_support::TestDatabase;

use std::future::Future;
use std::sync::Arc;

use agent_server::Storage;
use agent_server::testing::{AppState, router};
use agent_server::{Limits, Server as App};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tutorial_policy::Policy;

/// The server's storage on a [`TestDatabase`] (test-support hands out only its URL).
pub trait OpenStorage {
    /// The storage on this database (schema applied); a new connection pool each time.
    fn storage(&self) -> impl Future<Output = Storage>;
}

impl OpenStorage for TestDatabase {
    async fn storage(&self) -> Storage {
        Storage::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("opening the test database {}: {e}", self.url))
    }
}

/// A running server; dropping it shuts it down and removes its database.
pub struct Server {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Declared last: dropped after the server was told to stop.
    db: TestDatabase,
}

impl Server {
    pub async fn start(policy: Policy) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let db = TestDatabase::from_env().await;
        let app = App::new(policy.build().unwrap())
            .quiet(true)
            .storage(db.storage().await);
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Server {
            base,
            stop: Some(tx),
            task: Some(task),
            db,
        }
    }

    /// A server guarded by a ready-made `Auth` (such as a test-only policy) with these limits.
    pub async fn start_with(auth: auth::Auth, limits: Limits) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let db = TestDatabase::from_env().await;
        let state = AppState::new(Arc::new(auth), db.storage().await)
            .await
            .with_limits(limits);
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Server {
            base,
            stop: Some(tx),
            task: Some(task),
            db,
        }
    }

    /// The name of the server's PostgreSQL database, when it runs on one.
    pub fn postgres_database(&self) -> Option<String> {
        if !self.db.url.starts_with("postgres") {
            return None;
        }
        let path = self.db.url.split('?').next()?;
        path.rsplit('/').next().map(str::to_owned)
    }

    pub fn user(&self, token: Option<&str>) -> Client {
        Client {
            base: self.base.clone(),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    pub fn alice(&self) -> Client {
        self.user(Some("user1-token"))
    }

    pub fn bob(&self) -> Client {
        self.user(Some("user2-token"))
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// A response: status, JSON body (Null when empty or not JSON) and raw text.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Sends the request and reads the whole response.
    async fn read(req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            text,
            headers,
        }
    }

    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{} {}", self.status, self.text);
        &self.body
    }
    pub fn detail(&self) -> &str {
        self.body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail in {}", self.text))
    }
}

impl Client {
    /// A client of the server at `base` (`http://ADDR`) sending `token` as a bearer token.
    pub fn at(base: &str, token: Option<&str>) -> Client {
        Client {
            base: base.to_owned(),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req).await
    }
    pub async fn raw(&self, method: Method, path: &str, authorization: Option<&str>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        Reply::read(req).await
    }
    /// Any method, any headers (raw bytes) and any body (raw bytes), as they are.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &[u8])],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        for (name, value) in headers {
            let value = reqwest::header::HeaderValue::from_bytes(value).unwrap();
            req = req.header(*name, value);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        Reply::read(req).await
    }
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
    pub async fn delete_json(&self, path: &str, body: Value) -> Reply {
        self.send(Method::DELETE, path, Some(body)).await
    }
}
