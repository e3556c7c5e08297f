//! Delivering a chunk of claimed messages for one destination domain over one SMTP connection:
//! route, connect (next MX on failure), STARTTLS, then per message DKIM-sign and send with all of
//! its recipients at that domain in one transaction; outcomes are committed per message.

use crate::config::DeliveryConfig;
use crate::content::Content;
use crate::keyring::KeyRing;
use crate::outcome::{outcome_for, Verdict};
use crate::pool::ConnectionPool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use taube_crypto::SubjectKey;
use taube_smtp::{dot_stuff, Destination, DkimKey, Resolver, RouteError, SmtpClient};
use taube_store::{ClaimedRecipient, CommitterHandle, Outcome, Store};
use taube_types::now_millis;
use tokio::sync::{watch, Semaphore};

/// How long an idle connection is kept for reuse.
const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Recipients of one message at one domain.
pub(crate) struct MessageGroup {
    pub recipients: Vec<ClaimedRecipient>,
}

/// Shared state of all delivery tasks on this node.
pub(crate) struct DeliveryContext {
    pub store: Store,
    pub committer: CommitterHandle,
    pub keys: Arc<KeyRing>,
    pub config: Arc<DeliveryConfig>,
    pub resolver: Resolver,
    pub shutdown: watch::Receiver<bool>,
    dkim: Mutex<HashMap<(String, String), Arc<DkimKey>>>,
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub pool: ConnectionPool,
}

impl DeliveryContext {
    pub fn new(
        store: Store,
        committer: CommitterHandle,
        keys: Arc<KeyRing>,
        config: Arc<DeliveryConfig>,
        resolver: Resolver,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let pool = ConnectionPool::new(config.connections_per_domain, IDLE_TIMEOUT);
        DeliveryContext {
            store,
            committer,
            keys,
            config,
            resolver,
            shutdown,
            dkim: Mutex::new(HashMap::new()),
            per_domain: Mutex::new(HashMap::new()),
            pool,
        }
    }

    /// The connection limiter for one destination domain.
    pub fn domain_limiter(&self, domain: &str) -> Arc<Semaphore> {
        self.per_domain
            .lock()
            .expect("lock")
            .entry(domain.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.connections_per_domain)))
            .clone()
    }

    async fn dkim_key(&self, tenant_id: &str, domain: &str) -> Option<Arc<DkimKey>> {
        let cache_key = (tenant_id.to_string(), domain.to_string());
        if let Some(k) = self.dkim.lock().expect("lock").get(&cache_key) {
            return Some(k.clone());
        }
        let row = self.store.domain(tenant_id, domain).await.ok()??;
        let tenant = self.keys.tenant(tenant_id).await.ok()?;
        let pkcs8 = tenant.open("domain.dkim", &row.dkim_private_sealed).ok()?;
        let key = match DkimKey::new(domain, &row.dkim_selector, &row.dkim_algorithm, &pkcs8) {
            Ok(k) => Arc::new(k),
            Err(e) => {
                tracing::warn!(error = %e, "unusable DKIM key");
                return None;
            }
        };
        self.dkim
            .lock()
            .expect("lock")
            .insert(cache_key, key.clone());
        Some(key)
    }
}

/// A recipient with its decrypted address and key.
struct Ready {
    claim: ClaimedRecipient,
    key: Option<SubjectKey>,
    address: Option<String>,
}

/// Delivers `groups` (all at `domain`), committing an outcome for every recipient.
pub(crate) async fn deliver_chunk(
    ctx: Arc<DeliveryContext>,
    domain: String,
    groups: Vec<MessageGroup>,
) {
    let limiter = ctx.domain_limiter(&domain);
    let Ok(_slot) = limiter.acquire_owned().await else {
        return;
    };
    let groups = match unseal_recipients(&ctx, groups).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "could not load recipient keys; leases will expire and retry");
            return;
        }
    };
    let mut client = match ctx.pool.take(&domain).await {
        Some(client) => client,
        None => {
            let destinations = match route(&ctx, &domain).await {
                Ok(d) => d,
                Err(e) => {
                    let permanent = matches!(e, RouteError::Permanent(_));
                    fail_all(&ctx, groups, &e.to_string(), permanent).await;
                    return;
                }
            };
            match connect(&ctx, &destinations).await {
                Ok(c) => c,
                Err(text) => {
                    fail_all(&ctx, groups, &text, false).await;
                    return;
                }
            }
        }
    };
    let mut remaining = groups.into_iter();
    while let Some(group) = remaining.next() {
        if *ctx.shutdown.borrow() {
            let rest: Vec<String> = std::iter::once(group)
                .chain(remaining.by_ref())
                .flat_map(|g| g.into_iter().map(|r| r.claim.id))
                .collect();
            let _ = ctx.store.release_recipients(&rest).await;
            break;
        }
        match send_message(&ctx, &mut client, group).await {
            Ok(outcomes) => record(&ctx, outcomes).await,
            Err((outcomes, broken)) => {
                record(&ctx, outcomes).await;
                if broken {
                    let rest: Vec<Vec<Ready>> = remaining.collect();
                    fail_all(
                        &ctx,
                        rest,
                        "connection lost during an earlier transaction",
                        false,
                    )
                    .await;
                    return;
                }
            }
        }
    }
    ctx.pool.put(&domain, client);
}

async fn unseal_recipients(
    ctx: &DeliveryContext,
    groups: Vec<MessageGroup>,
) -> Result<Vec<Vec<Ready>>, crate::keyring::KeyError> {
    let mut by_tenant: HashMap<String, Vec<String>> = HashMap::new();
    for r in groups.iter().flat_map(|g| &g.recipients) {
        by_tenant
            .entry(r.tenant_id.clone())
            .or_default()
            .push(r.pseudonym.clone());
    }
    let mut keys: HashMap<(String, String), SubjectKey> = HashMap::new();
    for (tenant, pseudonyms) in by_tenant {
        for (p, k) in ctx.keys.subject_keys(&tenant, &pseudonyms).await? {
            keys.insert((tenant.clone(), p), k);
        }
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            g.recipients
                .into_iter()
                .map(|claim| {
                    let key = keys
                        .get(&(claim.tenant_id.clone(), claim.pseudonym.clone()))
                        .cloned();
                    let address = key
                        .as_ref()
                        .and_then(|k| k.open("recipient.address", &claim.address_sealed).ok())
                        .and_then(|b| String::from_utf8(b).ok());
                    Ready {
                        claim,
                        key,
                        address,
                    }
                })
                .collect()
        })
        .collect())
}

async fn route(ctx: &DeliveryContext, domain: &str) -> Result<Vec<Destination>, RouteError> {
    let fixed = ctx.config.routes.get(domain).or(ctx.config.relay.as_ref());
    match fixed {
        Some(host_port) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host_port.as_str())
                .await
                .map_err(|e| RouteError::Transient(format!("{host_port}: {e}")))?
                .collect();
            let host = host_port
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(host_port);
            Ok(vec![Destination {
                host: host.to_string(),
                addrs,
            }])
        }
        None => {
            ctx.resolver
                .mx_destinations(domain, ctx.config.mx_port)
                .await
        }
    }
}

async fn connect(
    ctx: &DeliveryContext,
    destinations: &[Destination],
) -> Result<SmtpClient, String> {
    let mut last_error = String::from("no destination");
    for dest in destinations {
        for addr in &dest.addrs {
            match SmtpClient::connect(*addr, &ctx.config.helo_name, ctx.config.timeouts).await {
                Ok(client) => match client.starttls(&dest.host, false).await {
                    Ok(client) => return Ok(client),
                    Err(e) => last_error = format!("{}: {e}", dest.host),
                },
                Err(e) => last_error = format!("{} ({addr}): {e}", dest.host),
            }
        }
    }
    Err(last_error)
}

/// Sends one message; on error returns the outcomes and whether the connection is unusable.
async fn send_message(
    ctx: &DeliveryContext,
    client: &mut SmtpClient,
    group: Vec<Ready>,
) -> Result<Vec<Outcome>, (Vec<Outcome>, bool)> {
    let now = now_millis();
    let policy = ctx.config.retry;
    let (ready, erased): (Vec<Ready>, Vec<Ready>) =
        group.into_iter().partition(|r| r.address.is_some());
    let mut outcomes: Vec<Outcome> = erased
        .iter()
        .map(|r| local(r, "5.1.0 recipient data erased", true, &policy, now))
        .collect();
    if ready.is_empty() {
        return Ok(outcomes);
    }
    let content = match load_content(ctx, &ready).await {
        Some(c) => c,
        None => {
            outcomes.extend(
                ready
                    .iter()
                    .map(|r| local(r, "5.3.0 message content unavailable", true, &policy, now)),
            );
            return Ok(outcomes);
        }
    };
    let (from_domain, content) = content;
    if content.require_tls && !client.is_tls() {
        outcomes.extend(ready.iter().map(|r| {
            local(
                r,
                "4.7.10 TLS required but not offered by the server",
                false,
                &policy,
                now,
            )
        }));
        return Ok(outcomes);
    }
    let tenant_id = ready[0].claim.tenant_id.clone();
    let signed = match ctx.dkim_key(&tenant_id, &from_domain).await {
        Some(key) => match key.sign(&content.mime) {
            Ok(header) => [header.as_bytes(), &content.mime].concat(),
            Err(e) => {
                tracing::warn!(error = %e, "DKIM signing failed; sending unsigned");
                content.mime.clone()
            }
        },
        None => content.mime.clone(),
    };
    let data = dot_stuff(&signed);
    let per_transaction = ctx.config.max_rcpts_per_transaction.max(1);
    for (index, batch) in ready.chunks(per_transaction).enumerate() {
        let rcpts: Vec<String> = batch
            .iter()
            .map(|r| r.address.clone().unwrap_or_default())
            .collect();
        let result = client.send(&content.envelope_from, &rcpts, &data).await;
        let now = now_millis();
        match result {
            Ok(result) => {
                for (i, r) in batch.iter().enumerate() {
                    let verdict = Verdict::Remote(result.for_recipient(i));
                    outcomes.push(outcome_for(
                        &r.claim,
                        r.key.as_ref(),
                        &rcpts[i],
                        verdict,
                        &policy,
                        now,
                    ));
                }
            }
            Err(e) => {
                let text = format!("4.4.2 {e}");
                let unsent = &ready[index * per_transaction..];
                outcomes.extend(unsent.iter().map(|r| local(r, &text, false, &policy, now)));
                return Err((outcomes, true));
            }
        }
    }
    Ok(outcomes)
}

async fn load_content(ctx: &DeliveryContext, ready: &[Ready]) -> Option<(String, Content)> {
    let first = ready.iter().find(|r| r.key.is_some())?;
    let (from_domain, sealed) = ctx
        .store
        .message_content(&first.claim.message_id)
        .await
        .ok()??;
    let data_key = first
        .key
        .as_ref()?
        .unwrap_data_key(&first.claim.message_id, &first.claim.data_key_wrapped)
        .ok()?;
    let plain = data_key.open(&first.claim.message_id, &sealed).ok()?;
    Some((from_domain, Content::decode(&plain)?))
}

fn local(
    r: &Ready,
    text: &str,
    permanent: bool,
    policy: &crate::retry::RetryPolicy,
    now: i64,
) -> Outcome {
    let verdict = Verdict::Local {
        text: text.to_string(),
        permanent,
    };
    outcome_for(
        &r.claim,
        r.key.as_ref(),
        r.address.as_deref().unwrap_or(""),
        verdict,
        policy,
        now,
    )
}

async fn fail_all(ctx: &DeliveryContext, groups: Vec<Vec<Ready>>, text: &str, permanent: bool) {
    let now = now_millis();
    let policy = ctx.config.retry;
    let outcomes: Vec<Outcome> = groups
        .iter()
        .flatten()
        .map(|r| local(r, text, permanent, &policy, now))
        .collect();
    record(ctx, outcomes).await;
}

async fn record(ctx: &DeliveryContext, outcomes: Vec<Outcome>) {
    if outcomes.is_empty() {
        return;
    }
    if let Err(e) = ctx.committer.record(outcomes).await {
        // The leases expire and the recipients are retried: a duplicate, never a loss.
        tracing::error!(error = %e, "could not record delivery outcomes");
    }
}
