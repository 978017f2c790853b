//! A LangGraph-compatible agent server whose conversations are private, guarded by the `auth`
//! DSL policy of [`security::auth`].
//!
//! It speaks the HTTP API of LangGraph's server (assistants, threads, runs, crons, store) as the
//! official clients use it, runs a built-in echo graph ([`graph`]) and keeps everything in memory
//! ([`storage`]). Authentication is `auth::axum::AuthLayer`; every route then emits its
//! authorization event through [`authz`] and applies the handler's decision.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use private_conversations::{Config, serve};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! serve(Config::default(), listener, std::future::pending()).await
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

use auth::axum::AuthLayer;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub mod authz;
pub mod graph;
pub mod model;
pub mod routes;
pub mod security;
pub mod storage;
pub mod util;

pub use security::auth::Policy;
use storage::Storage;

/// How the server is set up.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The policy to enforce.
    pub policy: Policy,
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
}

impl AppState {
    /// A state with the given dispatcher and storage, and the default assistant of every graph.
    pub async fn new(auth: Arc<auth::Auth>, storage: Storage) -> Self {
        let state = AppState {
            auth,
            storage,
            runs_done: Arc::new(Notify::new()),
        };
        routes::assistants::create_default_assistants(&state).await;
        state
    }
}

/// The whole app: routes, authentication layer and JSON fallbacks.
pub fn router(state: AppState) -> Router {
    let layer = AuthLayer::new(state.auth.clone());
    routes::routes().with_state(state).layer(layer)
}

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// Prints the registered handlers, the uncovered (resource, action) pairs and, once ready,
/// `listening on http://ADDR`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let auth = config
        .policy
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("policy: {:?}", config.policy);
    serve_with(auth, Storage::in_memory(), listener, shutdown).await
}

/// [`serve`] with a dispatcher and a storage of the caller's: the binary uses it to switch
/// authentication and authorization off for benchmarks (an [`auth::Auth`] without handlers) and
/// to start with seeded threads.
pub async fn serve_with(
    auth: auth::Auth,
    storage: Storage,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    for h in auth.handlers() {
        println!("  handler {h}");
    }
    let uncovered = auth.uncovered();
    if uncovered.is_empty() {
        println!("  every (resource, action) is covered by a handler");
    } else {
        let pairs: Vec<String> = uncovered.iter().map(|(r, a)| format!("{r}.{a}")).collect();
        println!(
            "  uncovered (allowed without a filter): {}",
            pairs.join(", ")
        );
    }
    let state = AppState::new(Arc::new(auth), storage).await;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
