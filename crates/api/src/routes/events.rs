//! `GET /v1/events`: the event log, filtered by message, recipient, type and time, paginated by
//! an opaque cursor, oldest first.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::subjects::Subjects;
use crate::time::{parse, rfc3339};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use taube_store::EventQuery;
use taube_types::{EmailAddress, Scope};

const EVENT_TYPES: [&str; 5] = ["accepted", "delivered", "deferred", "failed", "suppressed"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    message_id: Option<String>,
    recipient: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_field", message).field(field)
}

pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::EventsRead)?;
    let Query(p) = params
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit", "limit is 1-1000"));
    }
    if let Some(t) = &p.event_type {
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(bad("type", "unknown event type"));
        }
    }
    let time = |field: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|s| parse(s).ok_or_else(|| bad(field, "use RFC 3339 or Unix seconds")))
            .transpose()
    };
    let pseudonym = match &p.recipient {
        Some(r) => {
            let address =
                EmailAddress::parse(r).map_err(|_| bad("recipient", "not a valid address"))?;
            let tenant = state
                .keys
                .tenant(&auth.tenant_id)
                .await
                .map_err(ApiError::internal)?;
            Some(tenant.pseudonym("email", &address.canonical()))
        }
        None => None,
    };
    let after_id = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad("cursor", "invalid cursor"))
        })
        .transpose()?;
    let query = EventQuery {
        tenant_id: auth.tenant_id.clone(),
        message_id: p.message_id.clone(),
        pseudonym,
        event_type: p.event_type.clone(),
        since: time("since", &p.since)?,
        until: time("until", &p.until)?,
        after_id,
        limit,
    };
    let rows = state.store.events(&query).await?;
    let keys = Subjects::load(&state, &auth.tenant_id, rows.iter().map(|r| &r.pseudonym)).await?;
    let open = |p: &str, ctx: &str, sealed: &[u8]| keys.open(p, ctx, sealed);
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    let events: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id.to_string(),
                "type": r.event_type,
                "message_id": r.message_id,
                "recipient_id": r.recipient_id,
                "recipient": open(&r.pseudonym, "recipient.address", &r.address_sealed),
                "timestamp": rfc3339(r.created_at),
                "reply": r.reply_sealed.as_deref().and_then(|s| open(&r.pseudonym, "event.reply", s)),
            })
        })
        .collect();
    Ok(Json(json!({"events": events, "next_cursor": next_cursor})))
}
