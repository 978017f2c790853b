//! `private-conversations`: the server with the policy of LangGraph's "private conversations"
//! tutorial (the `tutorial-policy` crate). Every flag is also read from an environment variable;
//! `--help` lists them with their defaults. Serves until Ctrl-C or SIGTERM, then finishes the
//! requests in flight within `--shutdown-grace` seconds and exits 0 (1 when the grace period ran
//! out). An invalid flag or variable is one line on stderr and exit code 2.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use private_conversations::storage::Storage;
use private_conversations::storage::sql::mask_url;
use private_conversations::{Cors, Limits, MetricsAccess, Server, seed};
use tutorial_policy::Policy;

/// A LangGraph-compatible agent server whose conversations are private: the tutorial's policy,
/// enforced with the `auth` DSL.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, env = "PORT", default_value_t = 2024)]
    port: u16,
    /// Which part of the tutorial's policy to enforce.
    #[arg(long, env = "POLICY", value_enum, default_value_t = PolicyArg::Scoped)]
    policy: PolicyArg,
    /// `off` serves without authentication and authorization (for benchmarks): every request is
    /// the anonymous user and every event is allowed.
    #[arg(long, env = "AUTH", value_enum, default_value_t = OnOff::On)]
    auth: OnOff,
    /// Where conversations are kept: `sqlite:PATH` (one file, created if missing),
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (one database for one or several replicas), or
    /// `memory` (lost at exit; for tests and benchmarks).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:private-conversations.db",
        hide_env_values = true
    )]
    database: String,
    /// Start with this many threads, owned in turn by user1 … user{--seed-users} (threads already
    /// in the database with the same ids are kept).
    #[arg(long, env = "SEED_THREADS", default_value_t = 0)]
    seed_threads: u64,
    /// How many users own the seeded threads.
    #[arg(long, env = "SEED_USERS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    seed_users: u64,
    /// Log filter, as `RUST_LOG` (`info`, `debug`, `warn,access=info`, …). `debug` adds one line
    /// per authorization.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log lines for people (`text`) or machines (`json`, one object per line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Who may read `GET /metrics`: `auto` is `public` on a loopback address, else `off`.
    #[arg(long, env = "METRICS", value_enum, default_value_t = MetricsArg::Auto)]
    metrics: MetricsArg,
    /// Origins allowed to call from a browser, comma-separated (`*`: any). Empty: CORS off.
    #[arg(
        long,
        env = "CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    cors_allow_origins: Vec<String>,
    /// Methods allowed cross-origin, comma-separated (`*`: any).
    #[arg(
        long,
        env = "CORS_ALLOW_METHODS",
        value_delimiter = ',',
        default_value = "*"
    )]
    cors_allow_methods: Vec<String>,
    /// Request headers allowed cross-origin, comma-separated (`*`: any).
    #[arg(
        long,
        env = "CORS_ALLOW_HEADERS",
        value_delimiter = ',',
        default_value = "*"
    )]
    cors_allow_headers: Vec<String>,
    /// Allow credentials (cookies, HTTP authentication) cross-origin; needs listed origins.
    #[arg(long, env = "CORS_ALLOW_CREDENTIALS", default_value_t = false,
          action = clap::ArgAction::Set)]
    cors_allow_credentials: bool,
    /// Response headers a page may read, comma-separated.
    #[arg(
        long,
        env = "CORS_EXPOSE_HEADERS",
        value_delimiter = ',',
        default_value = ""
    )]
    cors_expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    #[arg(long, env = "CORS_MAX_AGE", default_value_t = 600)]
    cors_max_age: u64,
    /// Deadline of one auth handler call, in milliseconds (past it: 504).
    #[arg(long, env = "HANDLER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    handler_timeout_ms: u64,
    /// Largest request body, in bytes (past it: 413).
    #[arg(long, env = "BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    body_limit: usize,
    /// After Ctrl-C or SIGTERM, how long requests and streams in flight may take to finish,
    /// in seconds.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// Tutorial part 3: verify bearer JWTs from this OpenID Connect issuer (discovery at
    /// `{issuer}/.well-known/openid-configuration`) instead of the fixed tokens. Needs
    /// `--oidc-audience`.
    #[arg(long, env = "OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The audience (`aud`) every JWT must name; with `--oidc-issuer`.
    #[arg(long, env = "OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum PolicyArg {
    /// Authentication and the global handler (the tutorial's first part).
    Global,
    /// The global handler plus the scoped handlers (the tutorial's second part).
    Scoped,
    /// The global handler plus LangGraph.js's documented store filter: each user sees the
    /// store namespaces containing their id.
    Namespaced,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OnOff {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum MetricsArg {
    Auto,
    Public,
    Authenticated,
    Off,
}

/// One line on stderr, exit code 2: how an invalid command line ends.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            return usage_error(line.trim_start_matches("error: "));
        }
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&args.log_level) {
        Ok(f) => f,
        Err(e) => return usage_error(&format!("invalid --log-level {:?}: {e}", args.log_level)),
    };
    let cors = Cors {
        allow_origins: nonempty(args.cors_allow_origins),
        allow_methods: nonempty(args.cors_allow_methods),
        allow_headers: nonempty(args.cors_allow_headers),
        allow_credentials: args.cors_allow_credentials,
        expose_headers: nonempty(args.cors_expose_headers),
        max_age: Some(Duration::from_secs(args.cors_max_age)),
    };
    if cors.is_enabled()
        && let Err(e) = cors.layer()
    {
        return usage_error(&e);
    }
    // Opened before logging starts: what fails is one line on stderr, not the driver's warnings
    // (a locked SQLite file is retried for seconds). The password is never printed: the error
    // names the database masked and the driver's text is scrubbed.
    let database = mask_url(&args.database);
    let storage = match Storage::connect(&args.database).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    match sqlite_file(&args.database) {
        Some(file) => println!("database: {database} ({})", file.display()),
        None => println!("database: {database}"),
    }
    // Lines are formatted where they happen and written by a background thread; the guard
    // flushes what is left when main returns. The thread writes each batch of queued lines into a
    // buffer and flushes it once the queue is empty: one write for many lines under load, every
    // line out as soon as the server is idle.
    let (writer, _flush) = tracing_appender::non_blocking(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stderr(),
    ));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match args.log_format {
        LogFormat::Text => subscriber.with_ansi(ansi).init(),
        LogFormat::Json => subscriber.json().with_current_span(false).init(),
    }

    let auth = if args.auth == OnOff::On {
        let policy = match args.policy {
            PolicyArg::Global => Policy::Global,
            PolicyArg::Scoped => Policy::Scoped,
            PolicyArg::Namespaced => Policy::Namespaced,
        };
        println!("policy: {policy:?}");
        policy.build().map_err(|e| e.to_string())
    } else {
        println!("authentication and authorization: off");
        auth::Auth::builder().build().map_err(|e| e.to_string())
    };
    // Tutorial part 3: real accounts from an OpenID Connect provider (tutorial_policy::oidc).
    if args.auth == OnOff::On
        && let Err(e) = tutorial_policy::oidc::setup(args.oidc_issuer, args.oidc_audience).await
    {
        return usage_error(&e);
    }
    let auth = match auth {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = seed(&storage, args.seed_threads, args.seed_users).await {
        eprintln!("error: seeding {database}: {}", one_line(&e));
        return ExitCode::FAILURE;
    }
    if args.seed_threads > 0 {
        println!(
            "seeded {} threads over {} users",
            args.seed_threads, args.seed_users
        );
    }
    let addr = std::net::SocketAddr::new(args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let metrics = match args.metrics {
        MetricsArg::Auto => MetricsAccess::Auto,
        MetricsArg::Public => MetricsAccess::Public,
        MetricsArg::Authenticated => MetricsAccess::Authenticated,
        MetricsArg::Off => MetricsAccess::Off,
    };
    let server = Server::new(auth)
        .storage(storage)
        .limits(Limits {
            handler_timeout: Duration::from_millis(args.handler_timeout_ms),
            body_limit: args.body_limit,
        })
        .cors(cors)
        .metrics(metrics);

    // The signal stops accepting; the grace period starts with it.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        println!("shutting down: finishing the requests in flight");
        let _ = stop_tx.send(true);
    });
    let mut grace_rx = stop_rx.clone();
    let mut shutdown_rx = stop_rx;
    let served = server.serve(listener, async move {
        let _ = shutdown_rx.wait_for(|stop| *stop).await;
    });
    let grace = Duration::from_secs(args.shutdown_grace);
    let grace_over = async move {
        let _ = grace_rx.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = served => match result {
            Ok(()) => {
                println!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        () = grace_over => {
            eprintln!("error: requests still in flight after the {}s grace period", args.shutdown_grace);
            ExitCode::FAILURE
        }
    }
}

/// A list flag whose value was empty (`--cors-allow-origins ""`) is an empty list.
fn nonempty(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The absolute path of the file a `sqlite:` URL names with a relative path (`None` for any
/// other URL).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = std::path::Path::new(rest.split('?').next()?);
    if path.is_absolute() || path.as_os_str().is_empty() || rest.starts_with(":memory:") {
        return None;
    }
    std::env::current_dir().ok().map(|dir| dir.join(path))
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_on_one_line_and_sqlite_paths() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let here = std::env::current_dir().unwrap();
        assert_eq!(sqlite_file("sqlite:x.db"), Some(here.join("x.db")));
        assert_eq!(
            sqlite_file("sqlite://d/x.db?mode=rwc"),
            Some(here.join("d/x.db"))
        );
        assert_eq!(sqlite_file("sqlite:/abs/x.db"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
