//! `GET /v1/suppressions/bounces`: addresses that hard-bounced and are no longer sent to.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::rfc3339;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use taube_types::Scope;

pub async fn bounces(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::EventsRead)?;
    let rows = state.store.suppressions(&auth.tenant_id, "bounce").await?;
    let pseudonyms: Vec<String> = rows.iter().map(|r| r.pseudonym.clone()).collect();
    let keys = state
        .keys
        .subject_keys(&auth.tenant_id, &pseudonyms)
        .await
        .map_err(ApiError::internal)?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let address = keys
                .get(&r.pseudonym)
                .and_then(|k| k.open("recipient.address", &r.address_sealed).ok())
                .and_then(|b| String::from_utf8(b).ok());
            json!({"address": address, "reason": r.reason, "created_at": rfc3339(r.created_at)})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}
