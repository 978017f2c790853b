//! `team-server`: the team's policy and notes graph, with every flag of the agent server
//! (`--help` lists them; the database defaults to `sqlite:team-server.db`).

use std::process::ExitCode;

#[derive(clap::Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: agent_server::Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Args = match agent_server::cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    agent_server::cli::run(args.server, async |_| Ok(team_server::server()?)).await
}
