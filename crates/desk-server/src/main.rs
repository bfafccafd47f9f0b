//! The `linedesk` binary: parses the command line and runs a command.

mod bench_sse;
mod bench_timers;
mod commands;
mod demo;
mod procfs;

use clap::Parser;
use desk_server::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    desk_server::telemetry::init(cli.log_format);
    commands::run(cli.command).await
}
