//! `gitgate audit ...`: query, verify, export, checkpoint.

use clap::Subcommand;
use gitgate::settings::StateConfig;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {}

pub async fn run(_state: &StateConfig, command: AuditCommand) -> anyhow::Result<()> {
    match command {}
}
