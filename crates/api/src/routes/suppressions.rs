//! `GET /v1/suppressions/bounces`: addresses that hard-bounced and are no longer sent to.

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::subjects::Subjects;
use crate::time::rfc3339;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use taube_types::Scope;

pub async fn bounces(State(state): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::EventsRead)?;
    let rows = state.store.suppressions(&auth.tenant_id, "bounce").await?;
    let keys = Subjects::load(&state, &auth.tenant_id, rows.iter().map(|r| &r.pseudonym)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let address = keys.open(&r.pseudonym, "recipient.address", &r.address_sealed);
            json!({"address": address, "reason": r.reason, "created_at": rfc3339(r.created_at)})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}
