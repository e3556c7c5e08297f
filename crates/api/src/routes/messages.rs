//! `GET /v1/messages/{id}`: a message with each recipient's delivery status.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::subjects::Subjects;
use crate::time::rfc3339;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use taube_delivery::Content;
use taube_types::Scope;

pub async fn get_message(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::MessagesRead)?;
    let message = state
        .store
        .message(&auth.tenant_id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let recipients = state.store.recipients(&auth.tenant_id, &id).await?;
    let keys = Subjects::load(
        &state,
        &auth.tenant_id,
        recipients.iter().map(|r| &r.pseudonym),
    )
    .await?;
    let open = |p: &str, ctx: &str, sealed: &[u8]| keys.open(p, ctx, sealed);
    let list: Vec<Value> = recipients
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "address": open(&r.pseudonym, "recipient.address", &r.address_sealed),
                "type": r.rcpt_type,
                "status": r.status,
                "attempts": r.attempts,
                "last_reply": r.last_reply_sealed.as_deref().and_then(|s| open(&r.pseudonym, "recipient.reply", s)),
                "updated_at": rfc3339(r.updated_at),
            })
        })
        .collect();
    let metadata = recipients
        .iter()
        .find_map(|r| {
            let data_key = keys
                .key(&r.pseudonym)?
                .unwrap_data_key(&message.id, &r.data_key_wrapped)
                .ok()?;
            let plain = data_key.open(&message.id, &message.content_sealed).ok()?;
            Content::decode(&plain)
        })
        .map(|c| Value::Object(c.metadata))
        .unwrap_or(Value::Null);
    let tags: Value = serde_json::from_str(&message.tags).unwrap_or(Value::Array(vec![]));
    Ok(Json(json!({
        "id": message.id,
        "kind": message.kind,
        "test_mode": message.test_mode,
        "tags": tags,
        "metadata": metadata,
        "created_at": rfc3339(message.created_at),
        "recipients": list,
    })))
}
