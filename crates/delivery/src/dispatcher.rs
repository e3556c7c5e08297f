//! The dispatcher: claims due recipients under a lease, groups them by destination domain and
//! message, and runs delivery tasks within the node's in-flight limit; stops cleanly on shutdown.

use crate::config::DeliveryConfig;
use crate::deliver::{deliver_chunk, DeliveryContext, MessageGroup};
use crate::keyring::KeyRing;
use std::collections::HashMap;
use std::sync::Arc;
use taube_smtp::Resolver;
use taube_store::{Backend, ClaimedRecipient, CommitterHandle, Store};
use taube_types::now_millis;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

const MAX_CLAIM: usize = 500;

/// The delivery loop of one node.
pub struct Dispatcher {
    ctx: Arc<DeliveryContext>,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
}

impl Dispatcher {
    /// A dispatcher; `wake` is notified by the acceptor, `shutdown` flips to true to stop.
    pub fn new(
        store: Store,
        committer: CommitterHandle,
        keys: Arc<KeyRing>,
        config: Arc<DeliveryConfig>,
        resolver: Resolver,
        wake: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let ctx = DeliveryContext::new(store, committer, keys, config, resolver, shutdown.clone());
        Dispatcher {
            ctx: Arc::new(ctx),
            wake,
            shutdown,
        }
    }

    /// Runs until shutdown, then waits for transactions in flight to finish.
    pub async fn run(mut self) {
        let store = self.ctx.store.clone();
        let config = self.ctx.config.clone();
        // A single SQLite node owns every lease; on PostgreSQL only this node's own.
        let released = match store.backend() {
            Backend::Sqlite => store.release_leases(None).await,
            Backend::Postgres => store.release_leases(Some(&config.node_id)).await,
        };
        match released {
            Ok(n) if n > 0 => {
                tracing::info!(recipients = n, "released leases left by an earlier run")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "could not release old leases"),
        }
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        let mut tasks = JoinSet::new();
        tracing::info!(node = %config.node_id, "dispatcher started");
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let free = in_flight.available_permits().min(MAX_CLAIM);
            if free == 0 {
                tokio::select! {
                    _ = tasks.join_next() => {}
                    _ = self.shutdown.changed() => {}
                }
                continue;
            }
            let now = now_millis();
            let lease_until = now + config.lease.as_millis() as i64;
            let claimed = match store
                .claim_due(&config.node_id, now, lease_until, free as i64)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming due recipients failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                self.ctx.pool.sweep(false);
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = self.shutdown.changed() => {}
                }
                continue;
            }
            for (domain, chunk) in split_by_domain(claimed, config.connections_per_domain) {
                let count = chunk.iter().map(|g| g.recipients.len()).sum::<usize>() as u32;
                let permit = in_flight
                    .clone()
                    .acquire_many_owned(count)
                    .await
                    .expect("semaphore is never closed");
                let ctx = self.ctx.clone();
                tasks.spawn(async move {
                    deliver_chunk(ctx, domain, chunk).await;
                    drop(permit);
                });
            }
        }
        tracing::info!(
            in_flight = tasks.len(),
            "dispatcher stopping; finishing transactions in flight"
        );
        while tasks.join_next().await.is_some() {}
        self.ctx.pool.sweep(true);
    }
}

/// Groups claims by domain, then by message, and spreads each domain's messages over up to
/// `connections` chunks (one connection each).
fn split_by_domain(
    claimed: Vec<ClaimedRecipient>,
    connections: usize,
) -> Vec<(String, Vec<MessageGroup>)> {
    let mut by_domain: HashMap<String, Vec<MessageGroup>> = HashMap::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for r in claimed {
        let groups = by_domain.entry(r.domain.clone()).or_default();
        let key = (r.domain.clone(), r.message_id.clone());
        match index.get(&key) {
            Some(&i) => groups[i].recipients.push(r),
            None => {
                index.insert(key, groups.len());
                groups.push(MessageGroup {
                    recipients: vec![r],
                });
            }
        }
    }
    let mut chunks = Vec::new();
    for (domain, groups) in by_domain {
        let n = connections.clamp(1, groups.len());
        let mut split: Vec<Vec<MessageGroup>> = (0..n).map(|_| Vec::new()).collect();
        for (i, g) in groups.into_iter().enumerate() {
            split[i % n].push(g);
        }
        chunks.extend(split.into_iter().map(|c| (domain.clone(), c)));
    }
    chunks
}
