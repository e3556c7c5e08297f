//! Idle SMTP connections kept per destination domain for a few seconds, so that bursts of
//! small claims reuse sessions instead of opening one each (as Postfix's connection cache does).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use taube_smtp::SmtpClient;

/// The idle connections of one node.
pub(crate) struct ConnectionPool {
    idle: Mutex<HashMap<String, Vec<(SmtpClient, Instant)>>>,
    max_per_domain: usize,
    idle_timeout: Duration,
}

impl ConnectionPool {
    pub fn new(max_per_domain: usize, idle_timeout: Duration) -> Self {
        ConnectionPool {
            idle: Mutex::new(HashMap::new()),
            max_per_domain,
            idle_timeout,
        }
    }

    /// A live idle connection to `domain`, checked with RSET; stale or dead ones are dropped.
    pub async fn take(&self, domain: &str) -> Option<SmtpClient> {
        loop {
            let candidate = {
                let mut idle = self.idle.lock().expect("lock");
                let list = idle.get_mut(domain)?;
                let found = list.pop();
                if list.is_empty() {
                    idle.remove(domain);
                }
                found
            };
            let (mut client, since) = candidate?;
            if since.elapsed() >= self.idle_timeout {
                tokio::spawn(client.quit());
                continue;
            }
            if client.reset().await.is_ok() {
                return Some(client);
            }
        }
    }

    /// Returns a connection after a successful chunk.
    pub fn put(&self, domain: &str, client: SmtpClient) {
        let mut idle = self.idle.lock().expect("lock");
        let list = idle.entry(domain.to_string()).or_default();
        if list.len() < self.max_per_domain {
            list.push((client, Instant::now()));
        } else {
            tokio::spawn(client.quit());
        }
    }

    /// Closes connections idle for longer than the timeout (or all of them when `all`).
    pub fn sweep(&self, all: bool) {
        let mut idle = self.idle.lock().expect("lock");
        for list in idle.values_mut() {
            let (keep, close): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|(_, since)| !all && since.elapsed() < self.idle_timeout);
            *list = keep;
            for (client, _) in close {
                tokio::spawn(client.quit());
            }
        }
        idle.retain(|_, list| !list.is_empty());
    }
}
