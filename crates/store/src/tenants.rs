//! Tenants, API keys, domains, subject keys, suppression and idempotency lookups.

use crate::connect::Store;
use crate::error::{is_unique_violation, StoreError};
use crate::model::{ApiKey, Domain, IdempotencyRecord, Tenant};
use sqlx::any::AnyRow;
use sqlx::Row;

/// `$first, $first+1, …` placeholders for an IN list of `count` values.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn conflict_or(err: sqlx::Error) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict
    } else {
        StoreError::Database(err)
    }
}

fn tenant_from(row: &AnyRow) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        wrapped_key: row.try_get("wrapped_key")?,
        created_at: row.try_get("created_at")?,
    })
}

fn domain_from(row: &AnyRow) -> Result<Domain, sqlx::Error> {
    Ok(Domain {
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        verified: row.try_get::<i64, _>("verified")? != 0,
        dkim_selector: row.try_get("dkim_selector")?,
        dkim_algorithm: row.try_get("dkim_algorithm")?,
        dkim_private_sealed: row.try_get("dkim_private_sealed")?,
        dkim_dns_value: row.try_get("dkim_dns_value")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Creates a tenant; `Conflict` if the name is taken.
    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, name, wrapped_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(&tenant.wrapped_key)
        .bind(tenant.created_at)
        .execute(&self.write)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// Looks a tenant up by name or id.
    pub async fn tenant(&self, name_or_id: &str) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, wrapped_key, created_at FROM tenants WHERE name = $1 OR id = $1",
        )
        .bind(name_or_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.as_ref().map(tenant_from).transpose()?)
    }

    /// Stores a new API key (hash only).
    pub async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(&key.tenant_id)
        .bind(&key.key_hash)
        .bind(&key.scopes)
        .bind(key.created_at)
        .execute(&self.write)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// The live (not revoked) key with this hash.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, key_hash, scopes, created_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| -> Result<ApiKey, StoreError> {
            Ok(ApiKey {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                key_hash: r.try_get("key_hash")?,
                scopes: r.try_get("scopes")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Creates a sending domain; `Conflict` if the tenant already has it.
    pub async fn create_domain(&self, d: &Domain) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO domains (tenant_id, name, verified, dkim_selector, dkim_algorithm, dkim_private_sealed, dkim_dns_value, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.tenant_id)
        .bind(&d.name)
        .bind(d.verified as i64)
        .bind(&d.dkim_selector)
        .bind(&d.dkim_algorithm)
        .bind(&d.dkim_private_sealed)
        .bind(&d.dkim_dns_value)
        .bind(d.created_at)
        .execute(&self.write)
        .await
        .map_err(conflict_or)?;
        Ok(())
    }

    /// One domain of a tenant.
    pub async fn domain(&self, tenant_id: &str, name: &str) -> Result<Option<Domain>, StoreError> {
        let row = sqlx::query("SELECT * FROM domains WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.as_ref().map(domain_from).transpose()?)
    }

    /// Marks a domain verified (or not).
    pub async fn set_domain_verified(
        &self,
        tenant_id: &str,
        name: &str,
        verified: bool,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE domains SET verified = $1 WHERE tenant_id = $2 AND name = $3")
                .bind(verified as i64)
                .bind(tenant_id)
                .bind(name)
                .execute(&self.write)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Wrapped subject keys for the given pseudonyms (those that exist).
    pub async fn subject_keys(
        &self,
        tenant_id: &str,
        pseudonyms: &[String],
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        if pseudonyms.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT pseudonym, wrapped_key FROM subject_keys WHERE tenant_id = $1 AND pseudonym IN ({})",
            placeholders(2, pseudonyms.len())
        );
        let mut query = sqlx::query(&sql).bind(tenant_id);
        for p in pseudonyms {
            query = query.bind(p);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("pseudonym")?, r.try_get("wrapped_key")?)))
            .collect()
    }

    /// For each pseudonym that has a subject key: the wrapped key and whether it is suppressed
    /// (a suppression always belongs to a subject with a key). One query for the accept path.
    pub async fn recipient_keys(
        &self,
        tenant_id: &str,
        pseudonyms: &[String],
    ) -> Result<Vec<(String, Vec<u8>, bool)>, StoreError> {
        if pseudonyms.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT sk.pseudonym, sk.wrapped_key,
                    (SELECT COUNT(*) FROM suppressions s WHERE s.tenant_id = sk.tenant_id AND s.pseudonym = sk.pseudonym) AS suppressed
             FROM subject_keys sk WHERE sk.tenant_id = $1 AND sk.pseudonym IN ({})",
            placeholders(2, pseudonyms.len())
        );
        let mut query = sqlx::query(&sql).bind(tenant_id);
        for p in pseudonyms {
            query = query.bind(p);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("pseudonym")?,
                    r.try_get("wrapped_key")?,
                    r.try_get::<i64, _>("suppressed")? > 0,
                ))
            })
            .collect()
    }

    /// A stored idempotency record younger than `not_before`.
    pub async fn idempotency(
        &self,
        tenant_id: &str,
        key: &str,
        not_before: i64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT idem_key, body_hash, response FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND created_at >= $3",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(not_before)
        .fetch_optional(&self.write)
        .await?;
        row.map(|r| -> Result<IdempotencyRecord, StoreError> {
            Ok(IdempotencyRecord {
                key: r.try_get("idem_key")?,
                body_hash: r.try_get("body_hash")?,
                response: r.try_get("response")?,
            })
        })
        .transpose()
    }
}
