//! The key ring: unwraps tenant keys with the master key and subject keys with tenant keys,
//! caching both in memory (bounded) so the hot paths do not hit the database for every message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use taube_crypto::{CryptoError, MasterKey, SubjectKey, TenantKeys};
use taube_store::{Store, StoreError};

const MAX_CACHED_SUBJECTS: usize = 200_000;

/// Errors while getting a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("unknown tenant")]
    UnknownTenant,
}

/// Master key plus caches of unwrapped tenant and subject keys.
pub struct KeyRing {
    master: MasterKey,
    store: Store,
    tenants: RwLock<HashMap<String, Arc<TenantKeys>>>,
    subjects: Mutex<HashMap<(String, String), SubjectKey>>,
}

impl KeyRing {
    /// A key ring over `store`.
    pub fn new(master: MasterKey, store: Store) -> Self {
        KeyRing {
            master,
            store,
            tenants: RwLock::new(HashMap::new()),
            subjects: Mutex::new(HashMap::new()),
        }
    }

    /// The master key (for wrapping new tenant keys).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// A tenant's keys.
    pub async fn tenant(&self, tenant_id: &str) -> Result<Arc<TenantKeys>, KeyError> {
        if let Some(keys) = self.tenants.read().expect("lock").get(tenant_id) {
            return Ok(keys.clone());
        }
        let tenant = self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or(KeyError::UnknownTenant)?;
        let root = self.master.unwrap_key(&tenant.id, &tenant.wrapped_key)?;
        let keys = Arc::new(TenantKeys::from_root(root));
        self.tenants
            .write()
            .expect("lock")
            .insert(tenant.id, keys.clone());
        Ok(keys)
    }

    /// The existing subject keys among `pseudonyms`.
    pub async fn subject_keys(
        &self,
        tenant_id: &str,
        pseudonyms: &[String],
    ) -> Result<HashMap<String, SubjectKey>, KeyError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.subjects.lock().expect("lock");
            for p in pseudonyms {
                match cache.get(&(tenant_id.to_string(), p.clone())) {
                    Some(k) => {
                        found.insert(p.clone(), k.clone());
                    }
                    None => missing.push(p.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let tenant = self.tenant(tenant_id).await?;
        for (pseudonym, wrapped) in self.store.subject_keys(tenant_id, &missing).await? {
            let key = tenant.unwrap_subject_key(&pseudonym, &wrapped)?;
            self.remember(tenant_id, &pseudonym, key.clone());
            found.insert(pseudonym, key);
        }
        Ok(found)
    }

    /// Caches a key known to be stored.
    pub fn remember(&self, tenant_id: &str, pseudonym: &str, key: SubjectKey) {
        let mut cache = self.subjects.lock().expect("lock");
        if cache.len() >= MAX_CACHED_SUBJECTS {
            cache.clear();
        }
        cache.insert((tenant_id.to_string(), pseudonym.to_string()), key);
    }

    /// Drops every cached key of a tenant (after erasure or key changes).
    pub fn forget_tenant(&self, tenant_id: &str) {
        self.tenants.write().expect("lock").remove(tenant_id);
        self.subjects
            .lock()
            .expect("lock")
            .retain(|(t, _), _| t != tenant_id);
    }
}
