//! Operator commands that work on the same data dir / database as a running server.

use crate::cli::{Command, DomainCommand, KeyCommand, TenantCommand};
use crate::config::Config;
use anyhow::{anyhow, bail, Context};
use std::sync::Arc;
use taube_api::admin;
use taube_crypto::{DkimAlgorithm, MasterKey};
use taube_delivery::KeyRing;
use taube_smtp::Resolver;
use taube_store::Store;
use taube_types::{DomainName, Scope};

/// Runs one operator command.
pub async fn run(config: Config, command: Command) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let master = MasterKey::load_or_create(&config.master_key_file)?;
    let result = dispatch(&config, &store, master, command).await;
    store.close().await;
    result
}

async fn dispatch(
    config: &Config,
    store: &Store,
    master: MasterKey,
    command: Command,
) -> anyhow::Result<()> {
    match command {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Tenant(TenantCommand::Create { name }) => {
            let tenant = admin::create_tenant(store, &master, &name).await?;
            println!("{}", tenant.id);
        }
        Command::Key(KeyCommand::Create { tenant, scopes }) => {
            let scopes = match scopes {
                Some(list) => Scope::parse_list(&list)?,
                None => Scope::ALL.to_vec(),
            };
            if scopes.is_empty() {
                bail!("give at least one scope");
            }
            let key = admin::create_api_key(store, &tenant, &scopes).await?;
            println!("{key}");
        }
        Command::Domain(cmd) => domain(config, store, master, cmd).await?,
    }
    Ok(())
}

async fn domain(
    config: &Config,
    store: &Store,
    master: MasterKey,
    cmd: DomainCommand,
) -> anyhow::Result<()> {
    let keys = Arc::new(KeyRing::new(master, store.clone()));
    let (tenant, name) = match &cmd {
        DomainCommand::Create { tenant, domain, .. }
        | DomainCommand::Verify { tenant, domain, .. } => (tenant, domain),
    };
    let tenant = store
        .tenant(tenant)
        .await?
        .ok_or_else(|| anyhow!("no tenant `{tenant}`"))?;
    let name = DomainName::parse(name).map_err(|e| anyhow!("`{name}`: {e}"))?;
    let existing = store.domain(&tenant.id, name.as_str()).await?;
    match cmd {
        DomainCommand::Create { algorithm, .. } => {
            let algorithm = DkimAlgorithm::parse(&algorithm)
                .ok_or_else(|| anyhow!("algorithm is rsa or ed25519"))?;
            let domain = admin::create_domain(store, &keys, &tenant.id, &name, algorithm).await?;
            for record in admin::dns_records(&domain) {
                println!(
                    "{} {} \"{}\"",
                    record.record_type, record.name, record.value
                );
            }
            println!("{}", domain.name);
        }
        DomainCommand::Verify { force, .. } => {
            let domain = match existing {
                Some(d) => d,
                None if force => {
                    admin::create_domain(store, &keys, &tenant.id, &name, DkimAlgorithm::Rsa)
                        .await?
                }
                None => bail!("no domain `{name}` for this tenant"),
            };
            let verified = if force {
                true
            } else {
                let resolver = Resolver::new(config.dns_resolver)?;
                let checks = admin::check_dns(&resolver, &domain).await?;
                eprintln!("dkim: {}, spf: {}", checks.dkim, checks.spf);
                checks.dkim && checks.spf
            };
            store
                .set_domain_verified(&tenant.id, &domain.name, verified)
                .await?;
            println!("{}", if verified { "verified" } else { "not verified" });
            if !verified {
                bail!("DNS records not found");
            }
        }
    }
    Ok(())
}
