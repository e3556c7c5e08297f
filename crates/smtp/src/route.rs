//! Where to deliver: MX lookup in preference order with A/AAAA fallback (RFC 5321 §5.1),
//! null MX (RFC 7505), TXT lookups for domain verification. DNS through hickory-resolver.

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;

/// Why no destination could be found.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The domain publishes a null MX or does not exist: mail can never be delivered.
    #[error("domain does not accept mail: {0}")]
    Permanent(String),
    /// DNS failed for now; try again later.
    #[error("DNS lookup failed: {0}")]
    Transient(String),
}

/// One host to try, with its addresses.
#[derive(Debug, Clone)]
pub struct Destination {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// DNS resolver for delivery and verification.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl Resolver {
    /// Uses `nameserver` (ip:port) when given, else the system configuration.
    pub fn new(nameserver: Option<SocketAddr>) -> Result<Self, RouteError> {
        let provider = TokioRuntimeProvider::default();
        let builder = match nameserver {
            Some(ns) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = ns.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = ns.port();
                let server = NameServerConfig::new(ns.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    provider,
                )
            }
            None => TokioResolver::builder(provider)
                .map_err(|e| RouteError::Transient(e.to_string()))?,
        };
        let inner = builder
            .build()
            .map_err(|e| RouteError::Transient(e.to_string()))?;
        Ok(Resolver { inner })
    }

    /// The hosts to try for `domain`, best first, each with `port`.
    pub async fn mx_destinations(
        &self,
        domain: &str,
        port: u16,
    ) -> Result<Vec<Destination>, RouteError> {
        let fqdn = format!("{domain}.");
        let mut exchanges: Vec<(u16, String)> = match self.inner.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_nx_domain() => {
                return Err(RouteError::Permanent(format!("{domain}: no such domain")))
            }
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => return Err(RouteError::Transient(e.to_string())),
        };
        if exchanges.len() == 1 && exchanges[0].1 == "." {
            return Err(RouteError::Permanent(format!("{domain}: null MX")));
        }
        if exchanges.is_empty() {
            // RFC 5321 §5.1: no MX means the domain itself is the implicit MX.
            exchanges.push((0, fqdn));
        }
        exchanges.sort_by_key(|(preference, _)| *preference);
        let mut destinations = Vec::new();
        for (_, host) in exchanges {
            let addrs = self.host_addrs(&host, port).await;
            if !addrs.is_empty() {
                destinations.push(Destination {
                    host: host.trim_end_matches('.').to_string(),
                    addrs,
                });
            }
        }
        if destinations.is_empty() {
            return Err(RouteError::Transient(format!(
                "{domain}: no address for any MX"
            )));
        }
        Ok(destinations)
    }

    /// A and AAAA addresses of `host` (IPv4 first); empty when none resolve.
    pub async fn host_addrs(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        match self.inner.lookup_ip(host).await {
            Ok(ips) => {
                let mut addrs: Vec<SocketAddr> =
                    ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                addrs.sort_by_key(|a| a.is_ipv6());
                addrs
            }
            Err(_) => Vec::new(),
        }
    }

    /// The TXT strings at `name` (each record's character-strings concatenated).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, RouteError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.inner.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(RouteError::Transient(e.to_string())),
        }
    }
}
