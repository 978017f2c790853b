//! `private-conversations [--host ADDR] [--port N] [--policy scoped|global|namespaced]
//! [--auth on|off] [--seed-threads N] [--seed-users U]`: serves until Ctrl-C.
//!
//! `--auth off` (for benchmarks) serves the same build without authentication and authorization:
//! an `auth::Auth` with no handlers, so every request is the anonymous user and every event is
//! allowed without a filter. `--seed-threads N` starts with N threads owned in turn by `user1` …
//! `user{U}` (`--seed-users`, default 100).

use std::process::ExitCode;

use private_conversations::storage::Storage;
use private_conversations::{Limits, Policy, seed, serve_with};

const USAGE: &str = "usage: private-conversations [--host ADDR] [--port N] \
                     [--policy scoped|global|namespaced] [--auth on|off] \
                     [--seed-threads N] [--seed-users U]";

struct Args {
    host: String,
    port: u16,
    policy: Policy,
    auth: bool,
    seed_threads: u64,
    seed_users: u64,
}

fn count(name: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("invalid {name} {v:?}: expected a whole number"))
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        host: "127.0.0.1".into(),
        port: 2024,
        policy: Policy::Scoped,
        auth: true,
        seed_threads: 0,
        seed_users: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--host" => args.host = value()?,
            "--port" => {
                let v = value()?;
                args.port = v
                    .parse()
                    .map_err(|_| format!("invalid port {v:?}: expected 0-65535"))?;
            }
            "--policy" => args.policy = value()?.parse()?,
            "--auth" => {
                args.auth = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    v => return Err(format!("invalid --auth {v:?}: expected on or off")),
                }
            }
            "--seed-threads" => args.seed_threads = count("--seed-threads", &value()?)?,
            "--seed-users" => {
                args.seed_users = count("--seed-users", &value()?)?;
                if args.seed_users == 0 {
                    return Err("--seed-users must be at least 1".into());
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let addr = format!("{}:{}", args.host, args.port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    };
    let auth = if args.auth {
        println!("policy: {:?}", args.policy);
        args.policy.build().map_err(|e| e.to_string())
    } else {
        println!("authentication and authorization: off");
        auth::Auth::builder().build().map_err(|e| e.to_string())
    };
    let auth = match auth {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let storage = Storage::in_memory();
    if let Err(e) = seed(&storage, args.seed_threads, args.seed_users).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.seed_threads > 0 {
        println!(
            "seeded {} threads over {} users",
            args.seed_threads, args.seed_users
        );
    }
    match serve_with(auth, storage, Limits::default(), listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
