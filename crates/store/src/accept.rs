//! Writing accepted messages (subject keys, messages, recipients, events, idempotency records)
//! inside a group-commit transaction, as multi-row INSERTs across all messages of the batch.

use crate::bulk::{insert_many, Val};
use crate::error::{is_unique_violation, AcceptError, StoreError};
use crate::model::{NewEvent, NewMessage};
use sqlx::AnyConnection;

const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Inserts everything of `messages` together. Any failure (including a subject key that another
/// accept created first) fails the whole call; the caller then retries message by message.
pub(crate) async fn insert_messages(
    conn: &mut AnyConnection,
    messages: &[&NewMessage],
) -> Result<(), AcceptError> {
    let keys: Vec<Vec<Val>> = messages
        .iter()
        .flat_map(|m| {
            m.new_subject_keys.iter().map(|k| {
                vec![
                    Val::Text(&m.tenant_id),
                    Val::Text(&k.pseudonym),
                    Val::Bytes(&k.wrapped_key),
                    Val::Int(m.created_at),
                ]
            })
        })
        .collect();
    if !keys.is_empty() {
        let inserted = insert_many(
            conn,
            "INSERT INTO subject_keys (tenant_id, pseudonym, wrapped_key, created_at)",
            " ON CONFLICT DO NOTHING",
            4,
            &keys,
        )
        .await
        .map_err(StoreError::from)?;
        if inserted != keys.len() as u64 {
            return Err(AcceptError::SubjectKeyRace);
        }
    }
    for m in messages {
        if let Some(idem) = &m.idempotency {
            insert_idempotency(conn, m, idem).await?;
        }
    }
    let rows: Vec<Vec<Val>> = messages
        .iter()
        .map(|m| {
            vec![
                Val::Text(&m.id),
                Val::Text(&m.tenant_id),
                Val::Text(&m.kind),
                Val::Int(m.test_mode as i64),
                Val::Text(&m.from_domain),
                Val::Int(m.size_bytes),
                Val::Text(&m.tags),
                Val::Bytes(&m.content_sealed),
                Val::Int(m.created_at),
            ]
        })
        .collect();
    insert_many(
        conn,
        "INSERT INTO messages (id, tenant_id, kind, test_mode, from_domain, size_bytes, tags, content_sealed, created_at)",
        "",
        9,
        &rows,
    )
    .await
    .map_err(StoreError::from)?;
    let rows: Vec<Vec<Val>> = messages
        .iter()
        .flat_map(|m| {
            m.recipients.iter().map(|r| {
                vec![
                    Val::Text(&r.id),
                    Val::Text(&m.id),
                    Val::Text(&m.tenant_id),
                    Val::Text(&r.pseudonym),
                    Val::Text(&r.rcpt_type),
                    Val::Text(&r.domain),
                    Val::Bytes(&r.address_sealed),
                    Val::Bytes(&r.data_key_wrapped),
                    Val::Text(&r.status),
                    Val::Int(0),
                    Val::Int(m.created_at),
                    Val::Int(m.created_at),
                    Val::Int(m.created_at),
                ]
            })
        })
        .collect();
    insert_many(
        conn,
        "INSERT INTO recipients (id, message_id, tenant_id, pseudonym, rcpt_type, domain, address_sealed, data_key_wrapped, status, attempts, next_attempt_at, created_at, updated_at)",
        "",
        13,
        &rows,
    )
    .await
    .map_err(StoreError::from)?;
    let events: Vec<&NewEvent> = messages.iter().flat_map(|m| &m.events).collect();
    insert_events(conn, &events).await?;
    Ok(())
}

async fn insert_idempotency(
    conn: &mut AnyConnection,
    m: &NewMessage,
    idem: &crate::model::IdempotencyRecord,
) -> Result<(), AcceptError> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2 AND created_at < $3",
    )
    .bind(&m.tenant_id)
    .bind(&idem.key)
    .bind(m.created_at - IDEMPOTENCY_TTL_MS)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::from)?;
    let result = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, idem_key, body_hash, response, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&m.tenant_id)
    .bind(&idem.key)
    .bind(&idem.body_hash)
    .bind(&idem.response)
    .bind(m.created_at)
    .execute(&mut *conn)
    .await;
    match result {
        Err(e) if is_unique_violation(&e) => Err(AcceptError::IdempotencyRace),
        Err(e) => Err(StoreError::from(e).into()),
        Ok(_) => Ok(()),
    }
}

/// Appends events.
pub(crate) async fn insert_events(
    conn: &mut AnyConnection,
    events: &[&NewEvent],
) -> Result<(), StoreError> {
    let rows: Vec<Vec<Val>> = events
        .iter()
        .map(|e| {
            vec![
                Val::Text(&e.tenant_id),
                Val::Text(&e.message_id),
                Val::Text(&e.recipient_id),
                Val::Text(&e.pseudonym),
                Val::Text(&e.event_type),
                Val::OptBytes(e.reply_sealed.as_deref()),
                Val::Int(e.created_at),
            ]
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    insert_many(
        conn,
        "INSERT INTO events (tenant_id, message_id, recipient_id, pseudonym, event_type, reply_sealed, created_at)",
        "",
        7,
        &rows,
    )
    .await?;
    Ok(())
}
