//! The command line of a server binary: every flag (each also read from an environment
//! variable), the log set-up, the database connection, seeding, the start-up report and the
//! signal handling, so that a binary that brings its own policy and graphs is a `main` of a few
//! lines.
//!
//! A binary flattens [`Config`] into its own `clap` arguments (adding flags of its own, or
//! none), reads them with [`parse`] and hands the [`Config`] to [`run`] with a closure that
//! builds its [`Server`] (the policy and the graphs; storage, limits, CORS and metrics come from
//! the configuration):
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! #[derive(clap::Parser)]
//! #[command(version, about)]
//! struct Args {
//!     #[command(flatten)]
//!     server: agent_server::Config,
//! }
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     let args: Args = match agent_server::cli::parse() {
//!         Ok(args) => args,
//!         Err(code) => return code,
//!     };
//!     agent_server::cli::run(args.server, async |_config| {
//!         Ok(agent_server::Server::new(auth::Auth::from_registry()?))
//!     })
//!     .await
//! }
//! ```
//!
//! [`run`] serves until Ctrl-C or SIGTERM, then finishes the requests in flight within
//! `--shutdown-grace` seconds and returns success (failure when the grace period ran out). An
//! invalid flag or variable is one line on stderr and exit code 2. A closed standard output
//! (`server | head -1`) is not an error: what the server prints is then dropped.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::storage::Storage;
use crate::storage::sql::mask_url;
use crate::{Cors, Limits, MetricsAccess, Server, seed};

/// Prints a line on standard output, ignoring a closed pipe (`server | head -1` must not make
/// the server panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}
pub(crate) use say;

/// The server's flags, each also read from the environment variable `--help` names. Flatten it
/// into a binary's own arguments with `#[command(flatten)]`.
///
/// `--database` defaults to `sqlite:NAME.db` in the working directory, `NAME` being the binary's
/// name (as [`parse`] sets it).
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address or host name to listen on (`localhost`, `0.0.0.0`, `::1`, …).
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, env = "PORT", default_value_t = 2024)]
    pub port: u16,
    /// `off` serves without authentication and authorization (for benchmarks): every request is
    /// the anonymous user and every event is allowed.
    #[arg(long, env = "AUTH", value_enum, default_value_t = OnOff::On)]
    pub auth: OnOff,
    /// Where conversations are kept: `sqlite:PATH` (one file, created if missing),
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` (one database for one or several replicas), or
    /// `memory` (lost at exit; for tests and benchmarks).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:agent-server.db",
        hide_env_values = true
    )]
    pub database: String,
    /// Start with this many threads, owned in turn by user1 … user{--seed-users} (threads already
    /// in the database with the same ids are kept).
    #[arg(long, env = "SEED_THREADS", default_value_t = 0)]
    pub seed_threads: u64,
    /// How many users own the seeded threads.
    #[arg(long, env = "SEED_USERS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seed_users: u64,
    /// Log filter, as `RUST_LOG` (`info`, `debug`, `warn,access=info`, …). `debug` adds one line
    /// per authorization.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log lines for people (`text`) or machines (`json`, one object per line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Who may read `GET /metrics`: `auto` is `public` on a loopback address (a reverse proxy on
    /// the same host then makes it public: a warning at start), else `off`.
    #[arg(long, env = "METRICS", value_enum, default_value_t = MetricsAccess::Auto)]
    pub metrics: MetricsAccess,
    /// Origins allowed to call from a browser, comma-separated (`*`: any, LangGraph's default;
    /// safe with bearer tokens, which browsers never send on their own). Empty: CORS off.
    #[arg(
        long,
        env = "CORS_ALLOW_ORIGINS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_allow_origins: Vec<String>,
    /// Methods allowed cross-origin, comma-separated (`*`: any).
    #[arg(
        long,
        env = "CORS_ALLOW_METHODS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_allow_methods: Vec<String>,
    /// Request headers allowed cross-origin, comma-separated (`*`: any).
    #[arg(
        long,
        env = "CORS_ALLOW_HEADERS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub cors_allow_headers: Vec<String>,
    /// Allow credentials (cookies, HTTP authentication) cross-origin; needs listed origins.
    #[arg(long, env = "CORS_ALLOW_CREDENTIALS", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub cors_allow_credentials: bool,
    /// Response headers a page may read, comma-separated.
    #[arg(
        long,
        env = "CORS_EXPOSE_HEADERS",
        value_delimiter = ',',
        default_value = "content-location,x-pagination-total"
    )]
    pub cors_expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    #[arg(long, env = "CORS_MAX_AGE", default_value_t = 600)]
    pub cors_max_age: u64,
    /// Deadline of one auth handler call, in milliseconds (past it: 504).
    #[arg(long, env = "HANDLER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub handler_timeout_ms: u64,
    /// Largest request body, in bytes (past it: 413).
    #[arg(long, env = "BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    pub body_limit: usize,
    /// Deadline of one search or history page in storage, in milliseconds: the database stops
    /// it there (past it: 422, a query too expensive to answer).
    #[arg(long, env = "STORAGE_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub storage_timeout_ms: u64,
    /// Most values (objects, arrays, scalars) in a search's `metadata`, `values` or store
    /// `filter`, and most words of a store search's `query` (past it: 422).
    #[arg(long, env = "SEARCH_MAX_NODES", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub search_max_nodes: u64,
    /// Most keys of any one object in a search's `metadata`, `values` or store `filter` (past
    /// it: 422).
    #[arg(long, env = "SEARCH_MAX_KEYS", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub search_max_keys: u64,
    /// Most elements of any one array in a search's `metadata`, `values` or store `filter`
    /// (past it: 422).
    #[arg(long, env = "SEARCH_MAX_ELEMENTS", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub search_max_elements: u64,
    /// Searches and history pages in storage at once, in all (at most half of the database's
    /// reading connections; past it a search waits its turn, then 503).
    #[arg(long, env = "SEARCHES_IN_FLIGHT", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub searches_in_flight: u64,
    /// Searches and history pages in storage at once per user (past it a search waits its
    /// turn, then 429).
    #[arg(long, env = "SEARCHES_PER_USER", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub searches_per_user: u64,
    /// A database statement (or in-memory search) slower than this, in milliseconds, is logged
    /// at `warn`: one line with the route and the duration, never the statement.
    #[arg(long, env = "LOG_SLOW_STORAGE_MS", default_value_t = 1_000)]
    pub log_slow_storage_ms: u64,
    /// After Ctrl-C or SIGTERM, how long requests and streams in flight may take to finish,
    /// in seconds.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Verify bearer JWTs from this OpenID Connect issuer (discovery at
    /// `{issuer}/.well-known/openid-configuration`), for a policy that reads it. Needs
    /// `--oidc-audience`.
    #[arg(long, env = "OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) every JWT must name; with `--oidc-issuer`.
    #[arg(long, env = "OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// How old the provider's signing keys may get before they are fetched again in the
    /// background, ahead of a key rotation, in seconds (0: only when a token names an unknown
    /// key); with `--oidc-issuer`.
    #[arg(long, env = "OIDC_KEY_REFRESH_SECS", default_value_t = 600)]
    pub oidc_key_refresh_secs: u64,
}

/// `--auth`: whether the policy is enforced.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    /// The binary's policy authenticates and authorizes every request.
    On,
    /// Every request is the anonymous user and every event is allowed (benchmarks only).
    Off,
}

/// `--log-format`: how log lines are written on stderr.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line per event, coloured on a terminal.
    Text,
    /// For machines: one JSON object per line.
    Json,
}

impl Config {
    /// The limits the flags set.
    pub fn limits(&self) -> Limits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Limits {
            handler_timeout: Duration::from_millis(self.handler_timeout_ms),
            body_limit: self.body_limit,
            storage_timeout: Duration::from_millis(self.storage_timeout_ms),
            search: crate::SearchBudget {
                max_nodes: size(self.search_max_nodes),
                max_keys: size(self.search_max_keys),
                max_elements: size(self.search_max_elements),
            },
            searches_in_flight: size(self.searches_in_flight),
            searches_per_user: size(self.searches_per_user),
            slow_storage: Duration::from_millis(self.log_slow_storage_ms),
        }
    }

    /// How old the OIDC provider's key set may get before it is fetched again
    /// (`--oidc-key-refresh-secs`; `None`: never on a timer).
    pub fn oidc_key_refresh(&self) -> Option<Duration> {
        (self.oidc_key_refresh_secs > 0).then(|| Duration::from_secs(self.oidc_key_refresh_secs))
    }

    /// The CORS policy the flags set ([`Cors::is_enabled`] is false without origins).
    pub fn cors(&self) -> Cors {
        Cors {
            allow_origins: nonempty(&self.cors_allow_origins),
            allow_methods: nonempty(&self.cors_allow_methods),
            allow_headers: nonempty(&self.cors_allow_headers),
            allow_credentials: self.cors_allow_credentials,
            expose_headers: nonempty(&self.cors_expose_headers),
            max_age: Some(Duration::from_secs(self.cors_max_age)),
        }
    }
}

/// The error a binary's build closure returns: anything that prints.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Reads the command line (and the environment) as `A`, a `clap` parser that flattens
/// [`Config`]. Help and version are printed on stdout: `Err(ExitCode::SUCCESS)`. An invalid flag
/// or variable is one line on stderr, with the allowed values when there is a list:
/// `Err(ExitCode::from(2))`. The default of `--database` becomes `sqlite:NAME.db`, `NAME` being
/// the binary's name.
pub fn parse<A: Parser>() -> Result<A, ExitCode> {
    parse_from(std::env::args_os())
}

/// [`parse`] from the given arguments (the first is the program's name).
pub fn parse_from<A, I, T>(args: I) -> Result<A, ExitCode>
where
    A: Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = A::command();
    let name = command.get_name().to_owned();
    let command = command.mut_arg("database", |arg| {
        arg.default_value(format!("sqlite:{name}.db"))
    });
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|mut matches| A::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(args) => Ok(args),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(ExitCode::SUCCESS);
            }
            Err(usage_error(&usage_line(&e.render().to_string())))
        }
    }
}

/// Clap's error as one line: its first paragraph (the message and, for a value not in a list,
/// the list), without the `error: ` prefix and the `--help` hint.
fn usage_line(text: &str) -> String {
    let paragraph: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = paragraph.join(" ");
    let line = line.trim_start_matches("error: ");
    if line.is_empty() {
        "invalid arguments".to_owned()
    } else {
        line.to_owned()
    }
}

/// One line on stderr, exit code 2: how an invalid command line ends.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Serves as `config` says: opens the database (printing it, password masked), starts the log,
/// calls `build` for the server (the binary's policy and graphs), seeds, listens, prints the
/// start-up report and `listening on http://ADDR`, and serves until Ctrl-C or SIGTERM and the
/// grace period.
///
/// The server `build` returns is given the configuration's storage, limits, CORS policy and
/// metrics access; with `--auth off`, its dispatcher is replaced by one that allows everything.
/// An error from `build` is printed on stderr and ends the process with failure.
pub async fn run<F>(config: Config, build: F) -> ExitCode
where
    F: AsyncFnOnce(&Config) -> Result<Server, BuildError>,
{
    let filter = match tracing_subscriber::EnvFilter::try_new(&config.log_level) {
        Ok(f) => f,
        Err(e) => {
            return usage_error(&format!("invalid --log-level {:?}: {e}", config.log_level));
        }
    };
    let cors = config.cors();
    if cors.is_enabled()
        && let Err(e) = cors.layer()
    {
        return usage_error(&e);
    }
    // Opened before logging starts: what fails is one line on stderr, not the driver's warnings
    // (a locked SQLite file is retried for seconds). The password is never printed: the error
    // names the database masked and the driver's text is scrubbed.
    let database = mask_url(&config.database);
    let storage = match Storage::connect(&config.database).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    match sqlite_file(&config.database) {
        Some(file) => say!("database: {database} ({})", file.display()),
        None => say!("database: {database}"),
    }
    // Lines are formatted where they happen and written by a background thread; the guard
    // flushes what is left when this returns. The thread writes each batch of queued lines into
    // a buffer and flushes it once the queue is empty: one write for many lines under load, every
    // line out as soon as the server is idle.
    let (writer, _flush) = tracing_appender::non_blocking(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stderr(),
    ));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // A subscriber set already (a test calling `run` twice in one process) keeps its own.
    let _ = match config.log_format {
        LogFormat::Text => subscriber.with_ansi(ansi).try_init(),
        LogFormat::Json => subscriber.json().with_current_span(false).try_init(),
    };

    if let Some(warning) = readable_by_others(&config.database) {
        tracing::warn!("{warning}");
    }

    let server = match build(&config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let server = if config.auth == OnOff::Off {
        say!("authentication and authorization: off");
        match auth::Auth::builder().build() {
            Ok(allow_all) => server.with_auth(allow_all),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        server
    };
    if let Err(e) = seed(&storage, config.seed_threads, config.seed_users).await {
        eprintln!("error: seeding {database}: {}", one_line(&e));
        return ExitCode::FAILURE;
    }
    if config.seed_threads > 0 {
        say!(
            "seeded {} threads over {} users",
            config.seed_threads,
            config.seed_users
        );
    }
    let listener = match bind(&config.host, config.port).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = server
        .storage(storage)
        .limits(config.limits())
        .cors(cors)
        .metrics(config.metrics);

    // The signal stops accepting; the grace period starts with it.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        say!("shutting down: finishing the requests in flight");
        let _ = stop_tx.send(true);
    });
    let mut grace_rx = stop_rx.clone();
    let mut shutdown_rx = stop_rx;
    let served = server.serve(listener, async move {
        let _ = shutdown_rx.wait_for(|stop| *stop).await;
    });
    let grace = Duration::from_secs(config.shutdown_grace);
    let grace_over = async move {
        let _ = grace_rx.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = served => match result {
            Ok(()) => {
                say!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        () = grace_over => {
            eprintln!(
                "error: requests still in flight after the {}s grace period",
                config.shutdown_grace
            );
            ExitCode::FAILURE
        }
    }
}

/// Listens on `host` (an address or a name, looked up; the first address that binds) and `port`.
async fn bind(host: &str, port: u16) -> Result<tokio::net::TcpListener, String> {
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Err(format!("cannot resolve --host {host:?}: {e}")),
    };
    let mut last = None;
    for addr in &addrs {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(format!("cannot listen on {addr}: {e}")),
        }
    }
    Err(last.unwrap_or_else(|| format!("--host {host:?} has no address")))
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

/// A list flag whose value was empty (`--cors-allow-origins ""`) is an empty list.
fn nonempty(list: &[String]) -> Vec<String> {
    list.iter()
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

/// A warning when `database` is a SQLite file that users other than its owner may read (a file
/// an earlier server created with the umask's mode, or one copied in): the server creates new
/// ones 0600, but does not change the mode of a file it finds.
fn readable_by_others(database: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if !database.starts_with("sqlite:") {
            return None;
        }
        let path = crate::storage::sql::sqlite::file_of(database);
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "the database file {path} may be read by other users of this machine (mode \
                 {mode:03o}): `chmod 600` it and its -wal and -shm files, or keep it in a \
                 directory only the server's account can enter"
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = database;
        None
    }
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    #[command(name = "my-server")]
    struct Args {
        #[command(flatten)]
        server: Config,
        /// A flag of the binary's own.
        #[arg(long, value_enum, default_value_t = Mode::A)]
        mode: Mode,
    }

    #[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
    enum Mode {
        A,
        B,
    }

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

    #[test]
    fn the_database_defaults_to_a_file_named_for_the_binary() {
        let args: Args = parse_from(["my-server"]).unwrap();
        assert_eq!(args.server.database, "sqlite:my-server.db");
        assert_eq!(args.mode, Mode::A);
        let args: Args = parse_from(["my-server", "--database", "memory", "--mode", "b"]).unwrap();
        assert_eq!(args.server.database, "memory");
        assert_eq!(args.mode, Mode::B);
    }

    #[test]
    fn a_value_outside_a_list_names_the_list_on_one_line() {
        let error = <Args as clap::CommandFactory>::command()
            .try_get_matches_from(["my-server", "--mode", "c"])
            .unwrap_err()
            .render()
            .to_string();
        let line = usage_line(&error);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("invalid value 'c' for '--mode"), "{line}");
        assert!(line.contains("[possible values: a, b]"), "{line}");
    }

    #[tokio::test]
    async fn host_names_are_looked_up() {
        let listener = bind("localhost", 0).await.unwrap();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        let error = bind("no-such-host.invalid", 0).await.unwrap_err();
        assert!(error.contains("no-such-host.invalid"), "{error}");
    }

    #[test]
    fn the_flags_make_limits_and_cors() {
        let args: Args = parse_from([
            "my-server",
            "--handler-timeout-ms",
            "250",
            "--cors-allow-origins",
            "https://a.example, ",
        ])
        .unwrap();
        assert_eq!(
            args.server.limits().handler_timeout,
            Duration::from_millis(250)
        );
        // The defaults of the flags are those of `Limits`.
        let defaults: Args = parse_from(["my-server"]).unwrap();
        assert_eq!(defaults.server.limits(), Limits::default());
        let tight: Args = parse_from([
            "my-server",
            "--storage-timeout-ms",
            "300",
            "--search-max-keys",
            "3",
            "--searches-per-user",
            "1",
        ])
        .unwrap();
        let limits = tight.server.limits();
        assert_eq!(limits.storage_timeout, Duration::from_millis(300));
        assert_eq!(limits.search.max_keys, 3);
        assert_eq!(limits.search.max_nodes, 256);
        assert_eq!(limits.searches_per_user, 1);
        assert_eq!(args.server.cors().allow_origins, ["https://a.example"]);
        let none: Args = parse_from(["my-server", "--cors-allow-origins", ""]).unwrap();
        assert!(!none.server.cors().is_enabled());
        assert_eq!(
            none.server.oidc_key_refresh(),
            Some(Duration::from_secs(600))
        );
        let off: Args = parse_from(["my-server", "--oidc-key-refresh-secs", "0"]).unwrap();
        assert_eq!(off.server.oidc_key_refresh(), None);
        let default: Args = parse_from(["my-server"]).unwrap();
        assert_eq!(default.server.cors(), Cors::default());
    }
}
