//! A LangGraph-compatible agent server that enforces **your** `auth` policy.
//!
//! It speaks the HTTP API of LangGraph's server (assistants, threads, runs, crons, store) as the
//! official clients use it, runs the graphs you register ([`graph`]) and keeps conversations in
//! the [`Storage`] you choose: a SQLite file, a PostgreSQL database shared by several replicas,
//! or memory (lost at exit; for tests). Authentication is `auth::axum::AuthLayer`; every route
//! then emits its authorization event through [`authz`], whose typed scopes storage requires.
//!
//! A server binary is a `main` of a few lines: [`cli`] brings every flag (`--database`,
//! `--host`, `--port`, logs, CORS, metrics, limits, OIDC, seeding), the start-up report and the
//! signal handling; you bring the policy and the graphs (see [`cli`] for the whole `main`).
//! [`Server`] is the builder underneath, for a program that configures the server itself.
//!
//! The library registers no auth handlers of its own: a crate that depends on it, defines its
//! handlers with `#[auth::authenticate]` and `#[auth::on(...)]` and builds its dispatcher with
//! `Auth::from_registry()` gets exactly its own handlers. [`Server`] then serves them:
//!
//! ```no_run
//! use agent_server::{Server, Storage};
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
//!     .storage(Storage::connect("sqlite:my-server.db").await?)
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
use tokio::net::TcpListener;

mod app;
pub mod authz;
pub mod cli;
mod connection;
mod cors;
mod defaults;
pub mod graph;
mod history;
mod model;
mod observe;
mod openapi;
mod queue;
mod routes;
mod runner;
mod service;
mod storage;
mod util;

pub(crate) use app::{AppState, router, seed};

pub use cli::Config;
pub use cors::Cors;
pub use queue::QueueConfig;
pub use storage::{SearchBudget, Storage, StorageError};

/// What the server's own integration tests and benchmarks reach behind its API (feature
/// `test-internals`, which no server may enable). Not part of the API.
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub mod testing {
    pub use crate::app::{AppState, router, seed};
    pub use crate::model::{Assistant, AssistantVersion, Object, Run, Thread, new_thread};
    pub use crate::storage::{Column, IfExists, LeaseTerms, Search, now_ms};
    pub use crate::util::now;
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
    /// How long one guarded read may run: a search (threads, assistants, crons, store items) or
    /// a history page. The database stops it there (PostgreSQL's `statement_timeout`, SQLite's
    /// progress handler; in memory the evaluation looks at the clock) and the request is
    /// answered 422 `{"detail": "the search did not finish within the storage deadline of N ms
    /// …"}`: a query too expensive to answer. A read waits for its turn (below) at most as long.
    /// Default: 5 s.
    pub storage_timeout: Duration,
    /// The complexity budget of a caller's containment values (search `metadata` and `values`,
    /// store `filter` and words, history `metadata`): over it, 422 naming the bound.
    pub search: SearchBudget,
    /// Guarded reads at once, in all (and at most half of the database's connections that read,
    /// so that reads by id, writes and the run queue always find one): past it a read waits for
    /// its turn, then is answered 503 with `Retry-After`. Default: 8.
    pub searches_in_flight: usize,
    /// Guarded reads at once per user (authenticated identity): past it a read waits for its
    /// turn, then is answered 429 with `Retry-After`. Default: 4.
    pub searches_per_user: usize,
    /// A database statement (or an in-memory search) that takes longer is logged at `warn`,
    /// one line with the route and the duration, never the statement. Default: 1 s.
    pub slow_storage: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handler_timeout: Duration::from_secs(10),
            body_limit: 2 * 1024 * 1024,
            storage_timeout: Duration::from_secs(5),
            search: SearchBudget::default(),
            searches_in_flight: 8,
            searches_per_user: 4,
            slow_storage: Duration::from_secs(1),
        }
    }
}

/// A server to run: your dispatcher, the storage, the limits (and the graphs, CORS and metrics
/// set up by the other methods), served by [`Server::serve`].
///
/// ```no_run
/// # async fn run(auth: auth::Auth) -> std::io::Result<()> {
/// use agent_server::{Limits, Server};
/// use agent_server::Storage;
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
    /// A reverse proxy on the same host reaches the server on loopback, so behind one that
    /// forwards every path `/metrics` is public: the server logs a warning at start when this
    /// makes it public.
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

    /// Cross-origin requests (default: [`Cors::default`], any origin without credentials, as
    /// LangGraph's server). An invalid policy makes
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
    ///
    /// Creates each graph's default assistant in storage, or checks the one there: an error
    /// when it cannot be created, or when its id is held by an assistant the server did not
    /// create (see `SECURITY.md`, "Default assistants"); likewise [`serve`](Self::serve).
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
            .map_err(std::io::Error::other)?
            .with_limits(self.limits);
        let mut app = router(state.clone());
        let metrics = Router::new().route("/metrics", axum::routing::get(observe::render));
        if self.metrics == MetricsAccess::Auto && addr.is_loopback() {
            tracing::warn!(
                address = %addr,
                "/metrics is served without authentication because the server listens on a \
                 loopback address (--metrics auto); a reverse proxy on this host that forwards \
                 every path makes it public: set --metrics authenticated or off behind one"
            );
        }
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
    /// requests in flight, and stops the run queue's worker.
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
