//! The `taube` binary: command-line interface and composition root.

mod cli;
mod config;
mod operator;
mod serve;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let config = config::Config::load(cli.config.as_deref())?;
    config.prepare_data_dir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve => serve::run(config).await,
            other => operator::run(config, other).await,
        }
    })
}
