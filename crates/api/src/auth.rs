//! API-key authentication: `Authorization: Bearer KEY` or HTTP Basic `api:KEY`. The tenant comes
//! from the key alone; scopes limit what it may do.

use crate::admin::hash_api_key;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::Engine;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use taube_types::Scope;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub tenant_id: String,
    pub scopes: Vec<Scope>,
}

impl Auth {
    /// Fails with 403 unless the key carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this API key lacks the `{scope}` scope"),
            ))
        }
    }
}

fn presented_key(parts: &Parts) -> Option<String> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, value) = header.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(value.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (_user, password) = text.split_once(':')?;
            Some(password.to_string())
        }
        _ => None,
    }
}

/// Recently authenticated keys (by hash), reused for a short time so that a busy client does not
/// cost a database read per request. Revoking a key takes effect within `AUTH_TTL`.
#[derive(Default)]
pub struct AuthCache(Mutex<HashMap<String, (Auth, Instant)>>);

const AUTH_TTL: Duration = Duration::from_secs(2);
const AUTH_CACHE_MAX: usize = 10_000;

impl AuthCache {
    fn get(&self, hash: &str) -> Option<Auth> {
        let cache = self.0.lock().expect("lock");
        let (auth, at) = cache.get(hash)?;
        (at.elapsed() < AUTH_TTL).then(|| auth.clone())
    }

    fn put(&self, hash: String, auth: Auth) {
        let mut cache = self.0.lock().expect("lock");
        if cache.len() >= AUTH_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (auth, Instant::now()));
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = presented_key(parts).ok_or_else(ApiError::unauthorized)?;
        let hash = hash_api_key(&key);
        if let Some(auth) = state.auth_cache.get(&hash) {
            return Ok(auth);
        }
        let stored = state
            .store
            .api_key_by_hash(&hash)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let scopes = Scope::parse_list(&stored.scopes).map_err(ApiError::internal)?;
        let auth = Auth {
            tenant_id: stored.tenant_id,
            scopes,
        };
        state.auth_cache.put(hash, auth.clone());
        Ok(auth)
    }
}
