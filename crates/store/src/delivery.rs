//! The delivery side of the queue: claiming due recipients under a lease, recording outcomes,
//! releasing leases, loading message content.

use crate::accept::insert_events;
use crate::connect::{Backend, Store};
use crate::error::StoreError;
use crate::model::{ClaimedRecipient, NewEvent, Outcome};
use sqlx::{AnyConnection, Row};

impl Store {
    /// Claims up to `limit` due recipients for `owner` until `lease_until`. On PostgreSQL
    /// concurrent nodes skip each other's rows (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedRecipient>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE recipients SET lease_owner = $1, lease_until = $2 WHERE id IN (
                SELECT id FROM recipients
                WHERE status IN ('queued', 'deferred') AND next_attempt_at <= $3
                  AND (lease_until IS NULL OR lease_until < $3)
                ORDER BY next_attempt_at LIMIT $4 {lock})
             RETURNING id, message_id, tenant_id, pseudonym, domain, address_sealed, data_key_wrapped, attempts, created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.write)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedRecipient {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    pseudonym: r.try_get("pseudonym")?,
                    domain: r.try_get("domain")?,
                    address_sealed: r.try_get("address_sealed")?,
                    data_key_wrapped: r.try_get("data_key_wrapped")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Releases leases so the rows can be claimed again at once: all of them (`None`, used by a
    /// single SQLite node at start) or those of one node.
    pub async fn release_leases(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        let done = match owner {
            None => sqlx::query("UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")
                .execute(&self.write)
                .await?,
            Some(owner) => sqlx::query("UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                .bind(owner)
                .execute(&self.write)
                .await?,
        };
        Ok(done.rows_affected())
    }

    /// Returns claimed recipients that were not attempted (e.g. at shutdown) to the queue at once.
    pub async fn release_recipients(&self, ids: &[String]) -> Result<(), StoreError> {
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE recipients SET lease_owner = NULL, lease_until = NULL WHERE id IN ({})",
                crate::tenants::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(&self.write).await?;
        }
        Ok(())
    }

    /// A message's sending domain and sealed content.
    pub async fn message_content(
        &self,
        message_id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT from_domain, content_sealed FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.try_get("from_domain")?, r.try_get("content_sealed")?)))
            .transpose()
    }

    /// Recipients waiting for delivery (queued or deferred).
    pub async fn queue_depth(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recipients WHERE status IN ('queued', 'deferred')",
        )
        .fetch_one(&self.read)
        .await?)
    }
}

/// Writes delivery outcomes: recipient states, their events, and suppressions for hard bounces.
pub(crate) async fn record_outcomes(
    conn: &mut AnyConnection,
    outcomes: &[&Outcome],
) -> Result<(), StoreError> {
    for o in outcomes {
        sqlx::query(
            "UPDATE recipients SET status = $1, attempts = attempts + 1, next_attempt_at = $2, lease_owner = NULL, lease_until = NULL, last_reply_sealed = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(&o.status)
        .bind(o.next_attempt_at)
        .bind(&o.reply_sealed)
        .bind(o.event.created_at)
        .bind(&o.recipient_id)
        .execute(&mut *conn)
        .await?;
    }
    let events: Vec<&NewEvent> = outcomes.iter().map(|o| &o.event).collect();
    insert_events(conn, &events).await?;
    for o in outcomes {
        let Some(s) = &o.suppression else { continue };
        sqlx::query(
            "INSERT INTO suppressions (tenant_id, pseudonym, reason, address_sealed, detail_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&s.tenant_id)
        .bind(&s.pseudonym)
        .bind(&s.reason)
        .bind(&s.address_sealed)
        .bind(&s.detail_sealed)
        .bind(o.event.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
