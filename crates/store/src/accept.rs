//! Writing one accepted message (subject keys, message, recipients, events, idempotency) inside
//! a group-commit transaction.

use crate::error::{is_unique_violation, AcceptError, StoreError};
use crate::model::{NewEvent, NewMessage};
use sqlx::AnyConnection;

const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Inserts everything of `msg`. Runs inside a savepoint so a failure leaves nothing behind.
pub(crate) async fn insert_message(
    conn: &mut AnyConnection,
    msg: &NewMessage,
) -> Result<(), AcceptError> {
    for key in &msg.new_subject_keys {
        let inserted = sqlx::query(
            "INSERT INTO subject_keys (tenant_id, pseudonym, wrapped_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&msg.tenant_id)
        .bind(&key.pseudonym)
        .bind(&key.wrapped_key)
        .bind(msg.created_at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
        if inserted.rows_affected() == 0 {
            return Err(AcceptError::SubjectKeyRace);
        }
    }
    if let Some(idem) = &msg.idempotency {
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND created_at < $3")
            .bind(&msg.tenant_id)
            .bind(&idem.key)
            .bind(msg.created_at - IDEMPOTENCY_TTL_MS)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        let result = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, idem_key, body_hash, response, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&msg.tenant_id)
        .bind(&idem.key)
        .bind(&idem.body_hash)
        .bind(&idem.response)
        .bind(msg.created_at)
        .execute(&mut *conn)
        .await;
        match result {
            Err(e) if is_unique_violation(&e) => return Err(AcceptError::IdempotencyRace),
            other => {
                other.map_err(StoreError::from)?;
            }
        }
    }
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, kind, test_mode, from_domain, size_bytes, tags, content_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&msg.id)
    .bind(&msg.tenant_id)
    .bind(&msg.kind)
    .bind(msg.test_mode as i64)
    .bind(&msg.from_domain)
    .bind(msg.size_bytes)
    .bind(&msg.tags)
    .bind(&msg.content_sealed)
    .bind(msg.created_at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::from)?;
    for r in &msg.recipients {
        sqlx::query(
            "INSERT INTO recipients (id, message_id, tenant_id, pseudonym, rcpt_type, domain, address_sealed, data_key_wrapped, status, attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10, $10)",
        )
        .bind(&r.id)
        .bind(&msg.id)
        .bind(&msg.tenant_id)
        .bind(&r.pseudonym)
        .bind(&r.rcpt_type)
        .bind(&r.domain)
        .bind(&r.address_sealed)
        .bind(&r.data_key_wrapped)
        .bind(&r.status)
        .bind(msg.created_at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    }
    for event in &msg.events {
        insert_event(conn, event).await?;
    }
    Ok(())
}

/// Appends one event.
pub(crate) async fn insert_event(conn: &mut AnyConnection, e: &NewEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (tenant_id, message_id, recipient_id, pseudonym, event_type, reply_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&e.tenant_id)
    .bind(&e.message_id)
    .bind(&e.recipient_id)
    .bind(&e.pseudonym)
    .bind(&e.event_type)
    .bind(&e.reply_sealed)
    .bind(e.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
