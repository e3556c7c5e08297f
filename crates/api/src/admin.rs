//! Operator and account actions shared by the CLI and the API: tenants, API keys, domains.

use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use taube_crypto::{generate_dkim_key, DkimAlgorithm, MasterKey, TenantKeys};
use taube_delivery::KeyRing;
use taube_smtp::{Resolver, RouteError};
use taube_store::{ApiKey, Domain, Store, StoreError, Tenant};
use taube_types::{new_id, now_millis, DomainName, Scope};

/// The DKIM selector of new domains.
pub const DKIM_SELECTOR: &str = "taube";

/// Errors of admin actions.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("`{0}` already exists")]
    Exists(String),
    #[error("no tenant `{0}`")]
    NoTenant(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("crypto: {0}")]
    Crypto(#[from] taube_crypto::CryptoError),
}

/// SHA-256 of an API key. Keys are 256-bit random secrets, so a fast hash is the right tool
/// (argon2 is for low-entropy passwords).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a tenant with a fresh root key wrapped by the master key.
pub async fn create_tenant(
    store: &Store,
    master: &MasterKey,
    name: &str,
) -> Result<Tenant, AdminError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !valid {
        return Err(AdminError::Invalid(
            "tenant names use letters, digits, '-', '_' and '.' (at most 64)".into(),
        ));
    }
    let id = new_id("tnt");
    let keys = TenantKeys::generate();
    let tenant = Tenant {
        wrapped_key: master.wrap(&id, keys.root()),
        id,
        name: name.to_string(),
        created_at: now_millis(),
    };
    store.create_tenant(&tenant).await.map_err(|e| match e {
        StoreError::Conflict => AdminError::Exists(name.to_string()),
        e => e.into(),
    })?;
    Ok(tenant)
}

/// Creates an API key for `tenant` (name or id) and returns the secret, shown only once.
pub async fn create_api_key(
    store: &Store,
    tenant: &str,
    scopes: &[Scope],
) -> Result<String, AdminError> {
    let tenant = store
        .tenant(tenant)
        .await?
        .ok_or_else(|| AdminError::NoTenant(tenant.to_string()))?;
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let key = format!(
        "tk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    store
        .create_api_key(&ApiKey {
            id: new_id("key"),
            tenant_id: tenant.id,
            key_hash: hash_api_key(&key),
            scopes: scopes.join(","),
            created_at: now_millis(),
        })
        .await?;
    Ok(key)
}

/// Creates a sending domain with a new DKIM key (private key sealed under the tenant key).
pub async fn create_domain(
    store: &Store,
    keys: &KeyRing,
    tenant_id: &str,
    name: &DomainName,
    algorithm: DkimAlgorithm,
) -> Result<Domain, AdminError> {
    let tenant_keys = keys
        .tenant(tenant_id)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let pair = generate_dkim_key(algorithm)?;
    let domain = Domain {
        tenant_id: tenant_id.to_string(),
        name: name.to_string(),
        verified: false,
        dkim_selector: DKIM_SELECTOR.to_string(),
        dkim_algorithm: algorithm.as_str().to_string(),
        dkim_private_sealed: tenant_keys.seal("domain.dkim", &pair.private_pkcs8),
        dkim_dns_value: pair.dns_value,
        created_at: now_millis(),
    };
    store.create_domain(&domain).await.map_err(|e| match e {
        StoreError::Conflict => AdminError::Exists(name.to_string()),
        e => e.into(),
    })?;
    Ok(domain)
}

/// A DNS record the customer should publish.
#[derive(Debug, Clone, Serialize)]
pub struct DnsRecord {
    #[serde(rename = "type")]
    pub record_type: &'static str,
    pub name: String,
    pub value: String,
    pub purpose: &'static str,
}

/// The records for `domain`: DKIM key, SPF, and a DMARC suggestion.
pub fn dns_records(domain: &Domain) -> Vec<DnsRecord> {
    vec![
        DnsRecord {
            record_type: "TXT",
            name: format!("{}._domainkey.{}", domain.dkim_selector, domain.name),
            value: domain.dkim_dns_value.clone(),
            purpose: "dkim",
        },
        DnsRecord {
            record_type: "TXT",
            name: domain.name.clone(),
            value: "v=spf1 a mx ~all".into(),
            purpose: "spf",
        },
        DnsRecord {
            record_type: "TXT",
            name: format!("_dmarc.{}", domain.name),
            value: "v=DMARC1; p=none".into(),
            purpose: "dmarc",
        },
    ]
}

/// What the DNS check found.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DnsChecks {
    pub dkim: bool,
    pub spf: bool,
}

/// Looks up the domain's DKIM and SPF records through `resolver`.
pub async fn check_dns(resolver: &Resolver, domain: &Domain) -> Result<DnsChecks, RouteError> {
    let dkim_name = format!("{}._domainkey.{}", domain.dkim_selector, domain.name);
    let dkim = resolver
        .txt(&dkim_name)
        .await?
        .iter()
        .any(|v| same_key(v, &domain.dkim_dns_value));
    let spf = resolver
        .txt(&domain.name)
        .await?
        .iter()
        .any(|v| v.trim_start().to_ascii_lowercase().starts_with("v=spf1"));
    Ok(DnsChecks { dkim, spf })
}

/// Compares DKIM TXT values by their `p=` key, ignoring whitespace and tag order.
fn same_key(published: &str, expected: &str) -> bool {
    let key = |v: &str| {
        v.split(';')
            .map(|t| t.split_whitespace().collect::<String>())
            .find_map(|t| t.strip_prefix("p=").map(str::to_string))
    };
    key(published).is_some() && key(published) == key(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_values_compare_by_key() {
        assert!(same_key("v=DKIM1;k=rsa; p=AB CD", "v=DKIM1; k=rsa; p=ABCD"));
        assert!(!same_key("v=DKIM1; p=XYZ", "v=DKIM1; p=ABCD"));
        assert!(!same_key("v=DKIM1", "v=DKIM1"));
    }

    #[test]
    fn api_key_hash_is_stable_and_not_the_key() {
        let h = hash_api_key("tk_secret");
        assert_eq!(h, hash_api_key("tk_secret"));
        assert_ne!(h, hash_api_key("tk_other"));
        assert!(!h.contains("secret"));
    }
}
