//! Shared state handed to every handler (no process-wide globals).

use crate::auth::AuthCache;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use taube_delivery::{Acceptor, KeyRing};
use taube_smtp::Resolver;
use taube_store::Store;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub acceptor: Acceptor,
    pub keys: Arc<KeyRing>,
    pub resolver: Resolver,
    pub metrics: Option<PrometheusHandle>,
    pub auth_cache: Arc<AuthCache>,
}
