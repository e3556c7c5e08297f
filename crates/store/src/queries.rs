//! Read queries for the API: messages with their recipients, events, suppression lists.

use crate::connect::Store;
use crate::error::StoreError;
use crate::model::{EventQuery, EventRow, MessageRow, RecipientRow, SuppressionRow};
use sqlx::Row;

impl Store {
    /// A message of `tenant_id`, or `None` (also when it belongs to another tenant).
    pub async fn message(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, kind, test_mode, tags, content_sealed, created_at FROM messages WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(MessageRow {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                kind: r.try_get("kind")?,
                test_mode: r.try_get::<i64, _>("test_mode")? != 0,
                tags: r.try_get("tags")?,
                content_sealed: r.try_get("content_sealed")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// The recipients of a message, in insertion order.
    pub async fn recipients(
        &self,
        tenant_id: &str,
        message_id: &str,
    ) -> Result<Vec<RecipientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message_id, pseudonym, rcpt_type, address_sealed, data_key_wrapped, status, attempts, last_reply_sealed, updated_at FROM recipients WHERE message_id = $1 AND tenant_id = $2 ORDER BY id",
        )
        .bind(message_id)
        .bind(tenant_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecipientRow {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    pseudonym: r.try_get("pseudonym")?,
                    rcpt_type: r.try_get("rcpt_type")?,
                    address_sealed: r.try_get("address_sealed")?,
                    data_key_wrapped: r.try_get("data_key_wrapped")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_reply_sealed: r.try_get("last_reply_sealed")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Events matching `q`, oldest first, at most `q.limit`.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<EventRow>, StoreError> {
        let mut sql = String::from(
            "SELECT e.id, e.message_id, e.recipient_id, e.pseudonym, e.event_type, e.reply_sealed, e.created_at, r.address_sealed
             FROM events e JOIN recipients r ON r.id = e.recipient_id WHERE e.tenant_id = $1",
        );
        let mut n = 1;
        let mut next = |clause: &str| {
            n += 1;
            format!(" AND {clause} ${n}")
        };
        let mut text_args: Vec<&str> = Vec::new();
        let mut int_args: Vec<i64> = Vec::new();
        // Text filters first, then integer filters, so binding order matches placeholders.
        if let Some(m) = &q.message_id {
            sql += &next("e.message_id =");
            text_args.push(m);
        }
        if let Some(p) = &q.pseudonym {
            sql += &next("e.pseudonym =");
            text_args.push(p);
        }
        if let Some(t) = &q.event_type {
            sql += &next("e.event_type =");
            text_args.push(t);
        }
        if let Some(s) = q.since {
            sql += &next("e.created_at >=");
            int_args.push(s);
        }
        if let Some(u) = q.until {
            sql += &next("e.created_at <");
            int_args.push(u);
        }
        if let Some(a) = q.after_id {
            sql += &next("e.id >");
            int_args.push(a);
        }
        n += 1;
        sql += &format!(" ORDER BY e.id LIMIT ${n}");
        let mut query = sqlx::query(&sql).bind(&q.tenant_id);
        for t in text_args {
            query = query.bind(t);
        }
        for i in int_args {
            query = query.bind(i);
        }
        let rows = query.bind(q.limit).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    recipient_id: r.try_get("recipient_id")?,
                    pseudonym: r.try_get("pseudonym")?,
                    event_type: r.try_get("event_type")?,
                    reply_sealed: r.try_get("reply_sealed")?,
                    address_sealed: r.try_get("address_sealed")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// A tenant's suppression list for `reason` (e.g. `bounce`), newest first.
    pub async fn suppressions(
        &self,
        tenant_id: &str,
        reason: &str,
    ) -> Result<Vec<SuppressionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT pseudonym, reason, address_sealed, created_at FROM suppressions WHERE tenant_id = $1 AND reason = $2 ORDER BY created_at DESC",
        )
        .bind(tenant_id)
        .bind(reason)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SuppressionRow {
                    pseudonym: r.try_get("pseudonym")?,
                    reason: r.try_get("reason")?,
                    address_sealed: r.try_get("address_sealed")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
