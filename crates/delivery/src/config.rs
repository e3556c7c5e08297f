//! Settings of the delivery side: routing, retries, leases, limits.

use crate::retry::RetryPolicy;
use std::collections::HashMap;
use std::time::Duration;
use taube_smtp::Timeouts;

/// Everything the dispatcher and the accept path need to know.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Send everything to this `host:port` instead of looking up MX.
    pub relay: Option<String>,
    /// Per recipient domain `host:port` overrides (take precedence over relay and MX).
    pub routes: HashMap<String, String>,
    /// Port used for MX hosts.
    pub mx_port: u16,
    /// Name sent in EHLO.
    pub helo_name: String,
    pub retry: RetryPolicy,
    /// How long a claim holds a recipient before another node may take it.
    pub lease: Duration,
    /// This node's identity in leases.
    pub node_id: String,
    /// Largest accepted message (built MIME), bytes.
    pub max_message_bytes: usize,
    /// Most recipients (to + cc + bcc) per message.
    pub max_recipients: usize,
    pub timeouts: Timeouts,
    /// Recipients in flight at once on this node.
    pub max_in_flight: usize,
    /// Parallel connections opened for one destination domain per claimed batch.
    pub connections_per_domain: usize,
    /// Most RCPTs in one SMTP transaction.
    pub max_rcpts_per_transaction: usize,
    /// How often the dispatcher looks for due work when not woken.
    pub poll_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            relay: None,
            routes: HashMap::new(),
            mx_port: 25,
            helo_name: "localhost".into(),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(300),
            node_id: taube_types::new_id("node"),
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 1000,
            timeouts: Timeouts::default(),
            max_in_flight: 4000,
            connections_per_domain: 16,
            max_rcpts_per_transaction: 100,
            poll_interval: Duration::from_millis(500),
        }
    }
}
