//! A LangGraph-compatible agent server that enforces **your** `auth` policy.
//!
//! It speaks the HTTP API of LangGraph's server (assistants, threads, runs, crons, store) as the
//! official clients use it, runs the graphs you register ([`graph`]) and keeps everything in
//! memory ([`storage`]). Authentication is `auth::axum::AuthLayer`; every route then emits its
//! authorization event through [`authz`] and applies the handler's decision.
//!
//! The library registers no auth handlers of its own: a crate that depends on it, defines its
//! handlers with `#[auth::authenticate]` and `#[auth::on(...)]` and builds its dispatcher with
//! `Auth::from_registry()` gets exactly its own handlers. [`Server`] then serves them:
//!
//! ```no_run
//! use agent_server::Server;
//!
//! #[auth::authenticate]
//! async fn authenticate(authorization: Option<&str>) -> Result<auth::MinimalUser, auth::HttpException> {
//!     match authorization {
//!         Some("Bearer secret") => Ok(auth::MinimalUser::new("me")),
//!         _ => Err(auth::HttpException::new(401).with_detail("Invalid token")),
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = auth::Auth::from_registry()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! Server::new(auth)
//!     .serve(listener, async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The `private-conversations` binary serves the policy of LangGraph's tutorial (the
//! `tutorial-policy` crate) this way.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use auth::axum::AuthLayer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub mod authz;
pub mod cli;
pub mod cors;
pub mod graph;
pub mod history;
pub mod model;
pub mod observe;
pub mod openapi;
pub mod queue;
pub mod routes;
pub mod storage;
pub mod util;

pub use cli::Config;
pub use cors::Cors;
use storage::Storage;

/// Puts `threads` threads in `storage`, owned in turn by `user1` … `user{users}` (the server's
/// `--seed-threads`, and the benchmarks' stores). Their ids are fixed: thread `i` is always the same,
/// and a thread already stored under its id is kept as it is (seeding a database again adds only
/// the threads it lacks).
pub async fn seed(storage: &Storage, threads: u64, users: u64) -> Result<(), String> {
    if users == 0 && threads > 0 {
        return Err("seeding threads needs at least one user".into());
    }
    // On PostgreSQL several inserts in flight: each is its own transaction, and one at a time
    // waits for every round trip and commit in turn (10k threads: 4 s instead of 18). SQLite has
    // one writer: inserts in flight would only wait for its lock.
    use futures_util::{StreamExt, TryStreamExt};
    let in_flight = match storage.database {
        Some(storage::sql::Database::Postgres(_)) => 16,
        _ => 1,
    };
    let scope = authz::Scope::system("seeding threads");
    futures_util::stream::iter(0..threads)
        .map(Ok)
        .try_for_each_concurrent(in_flight, |i| {
            let owner = format!("user{}", i % users + 1);
            let mut metadata = model::Object::new();
            metadata.insert("owner".into(), owner.into());
            let id =
                uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(i));
            let thread = routes::threads::new_thread(id.to_string(), metadata);
            let scope = &scope;
            async move {
                storage
                    .threads()
                    .insert(thread, storage::IfExists::DoNothing, scope)
                    .await
                    .map(drop)
                    .map_err(|e| format!("seeding thread {i}: {e:?}"))
            }
        })
        .await
}

/// Deadlines and sizes that keep one request from holding the server (see `SECURITY.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long one call to an auth handler (authenticate, or the authorization handler of an
    /// event) may take: past it the request is answered 504 `{"detail": …}` naming the handler,
    /// and nothing is stored. Default: 10 s.
    pub handler_timeout: Duration,
    /// The largest request body, in bytes: a larger one is answered 413 `{"detail": …}` before
    /// any handler runs. Default: 2 MiB (axum's default).
    pub body_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handler_timeout: Duration::from_secs(10),
            body_limit: 2 * 1024 * 1024,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The authorization dispatcher.
    pub auth: Arc<auth::Auth>,
    /// Where resources live.
    pub storage: Storage,
    /// Woken whenever a run finishes, for joins and streams.
    pub runs_done: Arc<Notify>,
    /// Handler deadline and body size limit.
    pub limits: Limits,
    /// The graphs runs execute, by name.
    pub graphs: graph::Graphs,
    /// This process's run queue worker, which executes runs and fires crons.
    pub queue: queue::QueueHandle,
}

impl AppState {
    /// A state with the given dispatcher and storage, the [echo graph](graph::Echo) as
    /// `agent`, and its default assistant.
    pub async fn new(auth: Arc<auth::Auth>, storage: Storage) -> Self {
        let graphs = graph::Graphs::new().with(graph::GRAPH_ID, graph::Echo);
        AppState::with_graphs(auth, storage, graphs).await
    }

    /// A state with the given dispatcher, storage and graphs, and the default assistant of
    /// every graph (as `langgraph dev` creates them).
    ///
    /// Its [run queue worker](queue) starts with it (with [`queue::QueueConfig::default`]) and
    /// stops at [`queue::QueueHandle::shutdown`], or once every clone of the state is dropped.
    pub async fn with_graphs(
        auth: Arc<auth::Auth>,
        storage: Storage,
        graphs: graph::Graphs,
    ) -> Self {
        AppState::with_queue(auth, storage, graphs, queue::QueueConfig::default()).await
    }

    /// [`AppState::with_graphs`] with a worker configured by `config`.
    pub async fn with_queue(
        auth: Arc<auth::Auth>,
        storage: Storage,
        graphs: graph::Graphs,
        config: queue::QueueConfig,
    ) -> Self {
        let mut state = AppState {
            auth,
            storage,
            runs_done: Arc::new(Notify::new()),
            limits: Limits::default(),
            graphs,
            queue: queue::idle(),
        };
        routes::assistants::create_default_assistants(&state).await;
        queue::start(&mut state, config);
        state
    }

    /// The same state with these limits (its worker's too).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.queue.set_limits(limits);
        self
    }
}

/// The whole app: routes, authentication layer (with the handler deadline), body size limit,
/// JSON errors (every 4xx or 5xx, axum's own rejections included, answers `{"detail": …}`),
/// and the access log and request metrics of [`observe`].
pub fn router(state: AppState) -> Router {
    let layer = AuthLayer::new(state.auth.clone())
        .with_timeout(state.limits.handler_timeout)
        .with_body_limit(state.limits.body_limit);
    let body_limit = DefaultBodyLimit::max(state.limits.body_limit);
    routes::routes()
        .with_state(state)
        .layer(body_limit)
        .layer(axum::middleware::from_fn(observe::caller))
        .layer(layer)
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::from_fn(observe::access))
}

/// Rewrites an error response that is not JSON (axum's rejections of a path, query or body it
/// cannot read answer plain text) as `{"detail": <its text>}`, keeping status and headers.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text
    };
    let mut out = util::ApiError::new(status, detail).into_response();
    for (name, value) in parts.headers {
        if let Some(name) = name
            && name != CONTENT_TYPE
            && name != CONTENT_LENGTH
        {
            out.headers_mut().append(name, value);
        }
    }
    out
}

/// A server to run: your dispatcher, the storage, the limits (and the graphs, CORS and metrics
/// set up by the other methods), served by [`Server::serve`].
///
/// ```no_run
/// # async fn run(auth: auth::Auth) -> std::io::Result<()> {
/// use agent_server::{Limits, Server};
/// use agent_server::storage::Storage;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:2024").await?;
/// Server::new(auth)
///     .storage(Storage::in_memory())
///     .limits(Limits::default())
///     .serve(listener, std::future::pending())
///     .await
/// # }
/// ```
pub struct Server {
    auth: auth::Auth,
    storage: Storage,
    limits: Limits,
    quiet: bool,
    cors: Cors,
    metrics: MetricsAccess,
    graphs: graph::Graphs,
    queue: queue::QueueConfig,
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsAccess {
    /// [`Public`](Self::Public) when the server listens on a loopback address, else
    /// [`Off`](Self::Off): metrics say which routes are used and by how many failed logins.
    #[default]
    Auto,
    /// Served without authentication.
    Public,
    /// Served to any authenticated user (the authenticate handler runs; no authorization event).
    Authenticated,
    /// Not served (404).
    Off,
}

impl MetricsAccess {
    /// What [`Auto`](Self::Auto) means for a server listening on `addr`.
    pub fn resolve(self, addr: std::net::IpAddr) -> MetricsAccess {
        match self {
            MetricsAccess::Auto if addr.is_loopback() => MetricsAccess::Public,
            MetricsAccess::Auto => MetricsAccess::Off,
            other => other,
        }
    }
}

impl Server {
    /// A server enforcing `auth`, with an empty in-memory storage and the default limits.
    pub fn new(auth: auth::Auth) -> Self {
        Server {
            auth,
            storage: Storage::in_memory(),
            limits: Limits::default(),
            quiet: false,
            cors: Cors::default(),
            metrics: MetricsAccess::Auto,
            graphs: graph::Graphs::new(),
            queue: queue::QueueConfig::default(),
        }
    }

    /// The same server enforcing `auth` instead (`--auth off`).
    pub(crate) fn with_auth(mut self, auth: auth::Auth) -> Self {
        self.auth = auth;
        self
    }

    /// How the run queue's worker polls, leases and executes (default:
    /// [`queue::QueueConfig::default`]).
    pub fn queue(mut self, config: queue::QueueConfig) -> Self {
        self.queue = config;
        self
    }

    /// Registers `graph` under `name` (an assistant's `graph_id`); its default assistant is
    /// created at start-up. With no graph registered, the server runs the
    /// [echo graph](graph::Echo) as `agent`.
    pub fn graph(mut self, name: impl Into<String>, graph: impl graph::Graph) -> Self {
        self.graphs = self.graphs.with(name, graph);
        self
    }

    /// Cross-origin requests (default: none allowed). An invalid policy makes
    /// [`router`](Self::router) and [`serve`](Self::serve) fail; check it first with
    /// [`Cors::layer`].
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Who may read `GET /metrics` (default: [`MetricsAccess::Auto`]).
    pub fn metrics(mut self, access: MetricsAccess) -> Self {
        self.metrics = access;
        self
    }

    /// Where resources live (default: [`Storage::in_memory`]).
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Deadlines and sizes (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether [`serve`](Self::serve) prints nothing but `listening on http://ADDR` (default:
    /// it also prints the handlers and the uncovered (resource, action) pairs).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// What [`serve`](Self::serve) prints about the dispatcher: one line per handler, then the
    /// (resource, action) pairs no handler covers and what happens to them: denied (403) under
    /// `deny_uncovered(true)`, else allowed without a filter.
    pub fn report(&self) -> String {
        policy_report(&self.auth)
    }

    /// The app, without listening: every route with its layers. `/metrics` is served as
    /// [`MetricsAccess::resolve`] says for a server listening on `addr`.
    pub async fn router(self, addr: std::net::IpAddr) -> std::io::Result<Router> {
        self.app(addr).await.map(|(app, _)| app)
    }

    /// The app and its state.
    async fn app(self, addr: std::net::IpAddr) -> std::io::Result<(Router, AppState)> {
        let cors = if self.cors.is_enabled() {
            Some(self.cors.layer().map_err(std::io::Error::other)?)
        } else {
            None
        };
        let auth = Arc::new(self.auth);
        let graphs = if self.graphs.is_empty() {
            graph::Graphs::new().with(graph::GRAPH_ID, graph::Echo)
        } else {
            self.graphs
        };
        let state = AppState::with_queue(auth.clone(), self.storage, graphs, self.queue)
            .await
            .with_limits(self.limits);
        let mut app = router(state.clone());
        let metrics = Router::new().route("/metrics", axum::routing::get(observe::render));
        match self.metrics.resolve(addr) {
            MetricsAccess::Public | MetricsAccess::Auto => {
                observe::prometheus();
                app = app.merge(metrics);
            }
            MetricsAccess::Authenticated => {
                observe::prometheus();
                let layer = AuthLayer::new(auth)
                    .with_timeout(state.limits.handler_timeout)
                    .with_public_paths(Vec::<String>::new());
                app = app.merge(metrics.layer(layer));
            }
            MetricsAccess::Off => {}
        }
        if let Some(cors) = cors {
            app = app.layer(cors);
        }
        Ok((app, state))
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting and finishes the
    /// requests in flight, and stops the run queue's worker (see [`queue`]).
    ///
    /// Prints the [report](Self::report) (unless [quiet](Self::quiet)) and, once ready,
    /// `listening on http://ADDR`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if !self.quiet {
            cli::say!("{}", self.report().trim_end());
        }
        let addr = listener.local_addr()?;
        let (app, state) = self.app(addr.ip()).await?;
        observe::spawn_upkeep();
        cli::say!("listening on http://{addr}");
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        state.queue.shutdown().await;
        served
    }
}

fn policy_report(auth: &auth::Auth) -> String {
    let mut out = String::new();
    for h in auth.handlers() {
        out.push_str(&format!("  handler {h}\n"));
    }
    let uncovered = auth.uncovered();
    if uncovered.is_empty() {
        out.push_str("  every (resource, action) is covered by a handler\n");
    } else {
        let pairs: Vec<String> = uncovered.iter().map(|(r, a)| format!("{r}.{a}")).collect();
        let fate = if auth.deny_uncovered() {
            "denied with 403"
        } else {
            "allowed without a filter"
        };
        out.push_str(&format!("  uncovered ({fate}): {}\n", pairs.join(", ")));
    }
    out
}

/// [`Server`] in one call: serves `auth` over `storage` with `limits` on `listener` until
/// `shutdown` completes.
pub async fn serve_with(
    auth: auth::Auth,
    storage: Storage,
    limits: Limits,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::new(auth)
        .storage(storage)
        .limits(limits)
        .serve(listener, shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeding_gives_fixed_ids_to_users_in_turn_and_refuses_no_users() {
        let storage = Storage::in_memory();
        seed(&storage, 3, 2).await.unwrap();
        for (id, owner) in [
            ("5eed0000-0000-4000-8000-000000000000", "user1"),
            ("5eed0000-0000-4000-8000-000000000001", "user2"),
            ("5eed0000-0000-4000-8000-000000000002", "user1"),
        ] {
            let scope = authz::Scope::system("test: reading seeded threads");
            let thread = storage.threads().get(id, &scope).await.unwrap().unwrap();
            assert_eq!(thread.metadata["owner"], owner, "{id}");
        }
        // Seeding again keeps what is there and adds what is missing.
        seed(&storage, 4, 3).await.unwrap();
        let scope = authz::Scope::system("test: reading seeded threads");
        let threads = storage.threads();
        let kept = threads.get("5eed0000-0000-4000-8000-000000000002", &scope);
        assert_eq!(kept.await.unwrap().unwrap().metadata["owner"], "user1");
        let added = threads.get("5eed0000-0000-4000-8000-000000000003", &scope);
        assert_eq!(added.await.unwrap().unwrap().metadata["owner"], "user1");
        assert!(seed(&storage, 1, 0).await.is_err());
        seed(&Storage::in_memory(), 0, 0).await.unwrap();
    }

    #[test]
    fn the_report_says_what_happens_to_uncovered_pairs() {
        let allowing = auth::Auth::builder().build().unwrap();
        let report = policy_report(&allowing);
        assert!(
            report.contains("uncovered (allowed without a filter): "),
            "{report}"
        );
        let denying = auth::Auth::builder().deny_uncovered(true).build().unwrap();
        let report = policy_report(&denying);
        assert!(report.contains("uncovered (denied with 403): "), "{report}");
        assert!(!report.contains("allowed"), "{report}");
    }
}
