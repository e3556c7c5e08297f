//! The router: one module per resource.

mod domains;
mod events;
mod health;
mod messages;
mod send;
mod suppressions;

use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// All routes. The body limit leaves room for base64 attachments of a maximum-size message.
pub fn router(state: AppState) -> Router {
    let max = state.acceptor.config().max_message_bytes;
    let body_limit = max / 3 * 4 + 1024 * 1024;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/v1/messages", post(send::send_message))
        .route("/v1/messages/{id}", get(messages::get_message))
        .route("/v1/events", get(events::list_events))
        .route("/v1/domains", post(domains::create))
        .route("/v1/domains/{name}", get(domains::get))
        .route("/v1/domains/{name}/verify", post(domains::verify))
        .route("/v1/suppressions/bounces", get(suppressions::bounces))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
