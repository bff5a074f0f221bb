//! `gitgate users ...`: add, list, issue tokens, revoke, set a user's GitHub token.

use clap::Subcommand;
use gitgate::settings::StateConfig;

/// The `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {}

pub async fn run(_state: &StateConfig, command: UsersCommand) -> anyhow::Result<()> {
    match command {}
}
