//! `private-conversations`: the agent server with the policy of LangGraph's "private
//! conversations" tutorial (the `tutorial-policy` crate). Every flag of `agent_server::Config`,
//! plus `--policy`; `--help` lists them with their defaults and environment variables.

use std::io::Write;
use std::process::ExitCode;

use agent_server::{Config, Server};
use tutorial_policy::Policy;

/// A LangGraph-compatible agent server whose conversations are private: the tutorial's policy,
/// enforced with the `auth` DSL.
#[derive(clap::Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: Config,
    /// Which part of the tutorial's policy to enforce: `global` (its first part), `scoped` (the
    /// second: the global handler and the scoped ones) or `namespaced` (the global handler and
    /// LangGraph.js's store filter).
    #[arg(long, env = "POLICY", default_value = "scoped", value_parser = ["global", "scoped", "namespaced"])]
    policy: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Args { server, policy } = match agent_server::cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    agent_server::cli::run(server, async |config: &Config| {
        let policy = match policy.as_str() {
            "global" => Policy::Global,
            "namespaced" => Policy::Namespaced,
            _ => Policy::Scoped,
        };
        // (A closed stdout, as in `private-conversations | head -1`, is not an error.)
        let _ = writeln!(std::io::stdout(), "policy: {policy:?}");
        // The tutorial's part 3: real accounts from an OpenID Connect provider.
        let (issuer, audience) = (config.oidc_issuer.clone(), config.oidc_audience.clone());
        tutorial_policy::oidc::setup(issuer, audience, config.oidc_key_refresh()).await?;
        Ok(Server::new(policy.build()?))
    })
    .await
}
