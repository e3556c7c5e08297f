//! The HTTP API: routes per resource, API-key authentication, stable JSON errors, health and
//! Prometheus metrics; plus the operator actions (tenants, keys, domains) the CLI shares.

pub mod admin;
mod auth;
mod body;
mod error;
mod routes;
mod state;
mod subjects;
mod time;

pub use auth::AuthCache;
pub use error::ApiError;
pub use routes::router;
pub use state::AppState;
