//! Command-line arguments (clap). Every command prints its result value on the last line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Taube: self-hosted email and SMS platform.
#[derive(Parser, Debug)]
#[command(name = "taube", version, about)]
pub struct Cli {
    /// TOML configuration file (optional; every setting also has a TAUBE_* variable).
    #[arg(long, global = true, env = "TAUBE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: HTTP API and delivery.
    Serve,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage sending domains.
    #[command(subcommand)]
    Domain(DomainCommand),
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create { name: String },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an API key; prints the key once (only its hash is stored).
    Create {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// Comma-separated scopes (send:email, events:read, messages:read, domains:manage); all when omitted.
        #[arg(long)]
        scopes: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Create a sending domain with a DKIM key; prints the DNS records to publish.
    Create {
        #[arg(long)]
        tenant: String,
        domain: String,
        /// DKIM key type: rsa (default) or ed25519.
        #[arg(long, default_value = "rsa")]
        algorithm: String,
    },
    /// Mark a domain verified. Without --force, DNS is checked via the API's verify endpoint instead.
    Verify {
        #[arg(long)]
        tenant: String,
        domain: String,
        /// Mark it verified without looking at DNS (creates the domain if needed).
        #[arg(long)]
        force: bool,
    },
}
