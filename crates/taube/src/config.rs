//! Configuration: an optional TOML file, then `TAUBE_*` environment overrides, then defaults.
//! `taube serve` with no configuration at all works (127.0.0.1:8025, ./taube-data, SQLite).

use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use taube_delivery::{DeliveryConfig, RetryPolicy};

/// The file format; every field is optional. See the README's configuration reference.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_addr: Option<String>,
    database_url: Option<String>,
    delivery_relay: Option<String>,
    delivery_port: Option<u16>,
    dns_resolver: Option<String>,
    master_key_file: Option<PathBuf>,
    retry_initial_secs: Option<u64>,
    retry_max_secs: Option<u64>,
    retry_give_up_secs: Option<u64>,
    max_message_bytes: Option<usize>,
    node_id: Option<String>,
    lease_secs: Option<u64>,
    helo_name: Option<String>,
    connections_per_domain: Option<usize>,
    log: Option<String>,
    routes: HashMap<String, String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub database_url: String,
    pub dns_resolver: Option<SocketAddr>,
    pub master_key_file: PathBuf,
    pub log: String,
    pub delivery: DeliveryConfig,
}

fn env(name: &str) -> Option<String> {
    std::env::var(format!("TAUBE_{name}")).ok()
}

fn env_parse<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("TAUBE_{name}: {e}")),
        None => Ok(None),
    }
}

impl Config {
    /// Creates the data directory if missing, readable by the owner only (it holds the
    /// database and, by default, the master key).
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        if self.data_dir.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }

    /// Loads `file` (if any) and applies environment overrides.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let f: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir: PathBuf = env("DATA_DIR")
            .map(PathBuf::from)
            .or(f.data_dir)
            .unwrap_or_else(|| "taube-data".into());
        let http_addr = env("HTTP_ADDR")
            .or(f.http_addr)
            .unwrap_or_else(|| "127.0.0.1:8025".into());
        let http_addr: SocketAddr = http_addr
            .parse()
            .with_context(|| format!("http_addr `{http_addr}`"))?;
        let database_url = env("DATABASE_URL")
            .or(f.database_url)
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| data_dir.join("taube.db").display().to_string());
        let dns_resolver = env("DNS_RESOLVER")
            .or(f.dns_resolver)
            .filter(|s| !s.is_empty());
        let dns_resolver = dns_resolver
            .map(|s| {
                s.parse::<SocketAddr>()
                    .with_context(|| format!("dns_resolver `{s}` (use ip:port)"))
            })
            .transpose()?;
        let master_key_file = env("MASTER_KEY_FILE")
            .map(PathBuf::from)
            .or(f.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let relay = env("DELIVERY_RELAY")
            .or(f.delivery_relay)
            .filter(|s| !s.is_empty());
        let mut routes = f.routes;
        if let Some(list) = env("ROUTES") {
            for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
                let Some((domain, target)) = entry.split_once('=') else {
                    bail!("TAUBE_ROUTES entries look like domain=host:port");
                };
                routes.insert(
                    domain.trim().to_ascii_lowercase(),
                    target.trim().to_string(),
                );
            }
        }
        let secs = |v: Option<u64>, default: u64| Duration::from_secs(v.unwrap_or(default));
        let defaults = DeliveryConfig::default();
        let delivery = DeliveryConfig {
            relay,
            routes,
            mx_port: env_parse("DELIVERY_PORT")?
                .or(f.delivery_port)
                .unwrap_or(25),
            helo_name: env("HELO_NAME")
                .or(f.helo_name)
                .unwrap_or_else(|| "localhost".into()),
            retry: RetryPolicy {
                initial: secs(
                    env_parse("RETRY_INITIAL_SECS")?.or(f.retry_initial_secs),
                    300,
                ),
                max: secs(env_parse("RETRY_MAX_SECS")?.or(f.retry_max_secs), 3600),
                give_up: secs(
                    env_parse("RETRY_GIVE_UP_SECS")?.or(f.retry_give_up_secs),
                    432_000,
                ),
            },
            lease: secs(env_parse("LEASE_SECS")?.or(f.lease_secs), 300),
            node_id: env("NODE_ID")
                .or(f.node_id)
                .unwrap_or(defaults.node_id.clone()),
            max_message_bytes: env_parse("MAX_MESSAGE_BYTES")?
                .or(f.max_message_bytes)
                .unwrap_or(defaults.max_message_bytes),
            connections_per_domain: env_parse("CONNECTIONS_PER_DOMAIN")?
                .or(f.connections_per_domain)
                .unwrap_or(defaults.connections_per_domain),
            ..defaults
        };
        Ok(Config {
            data_dir,
            http_addr,
            database_url,
            dns_resolver,
            master_key_file,
            log: env("LOG")
                .or(f.log)
                .unwrap_or_else(|| "info,sqlx=warn".into()),
            delivery,
        })
    }
}
