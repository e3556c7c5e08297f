//! `/v1/domains`: create a sending domain (DKIM key + DNS records), show it, verify it over DNS.

use crate::admin::{check_dns, create_domain, dns_records, AdminError};
use crate::auth::Auth;
use crate::body::parse_json;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use taube_crypto::DkimAlgorithm;
use taube_store::Domain;
use taube_types::{DomainName, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    dkim_algorithm: Option<String>,
}

fn view(d: &Domain) -> Value {
    json!({
        "name": d.name,
        "verified": d.verified,
        "dkim_selector": d.dkim_selector,
        "dkim_algorithm": d.dkim_algorithm,
        "records": dns_records(d),
    })
}

fn domain_name(text: &str) -> Result<DomainName, ApiError> {
    DomainName::parse(text).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_domain", e.to_string()).field("name")
    })
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require(Scope::DomainsManage)?;
    let req: CreateBody = parse_json(&body)?;
    let name = domain_name(&req.name)?;
    let algorithm = match req.dkim_algorithm.as_deref() {
        None => DkimAlgorithm::Rsa,
        Some(a) => DkimAlgorithm::parse(a).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                "dkim_algorithm is `rsa` or `ed25519`",
            )
            .field("dkim_algorithm")
        })?,
    };
    let domain = create_domain(&state.store, &state.keys, &auth.tenant_id, &name, algorithm)
        .await
        .map_err(|e| match e {
            AdminError::Exists(_) => ApiError::new(
                StatusCode::CONFLICT,
                "domain_exists",
                "this domain already exists",
            )
            .field("name"),
            e => ApiError::internal(e),
        })?;
    Ok((StatusCode::CREATED, Json(view(&domain))))
}

async fn load(state: &AppState, auth: &Auth, name: &str) -> Result<Domain, ApiError> {
    let name = DomainName::parse(name).map_err(|_| ApiError::not_found())?;
    state
        .store
        .domain(&auth.tenant_id, name.as_str())
        .await?
        .ok_or_else(ApiError::not_found)
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::DomainsManage)?;
    Ok(Json(view(&load(&state, &auth, &name).await?)))
}

pub async fn verify(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::DomainsManage)?;
    let domain = load(&state, &auth, &name).await?;
    let checks = check_dns(&state.resolver, &domain)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "dns_unavailable", e.to_string()))?;
    let (dkim, spf) = (checks.dkim, checks.spf);
    // A failed check never un-verifies: DNS hiccups must not stop a working domain's mail.
    let verified = domain.verified || (dkim && spf);
    if verified != domain.verified {
        state
            .store
            .set_domain_verified(&auth.tenant_id, &domain.name, verified)
            .await?;
    }
    Ok(Json(
        json!({"name": domain.name, "verified": verified, "checks": {"dkim": dkim, "spf": spf}}),
    ))
}
