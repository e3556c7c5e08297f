//! `taube serve`: opens the store, starts the group-commit writer, the dispatcher and the HTTP
//! API, and on SIGTERM/SIGINT stops accepting, finishes transactions in flight, then exits.

use crate::config::Config;
use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use taube_api::AppState;
use taube_crypto::MasterKey;
use taube_delivery::{Acceptor, Dispatcher, KeyRing};
use taube_smtp::Resolver;
use taube_store::{Committer, Store};
use tokio::sync::{watch, Notify};
use tracing_subscriber::EnvFilter;

/// Runs the server until a termination signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let metrics = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("taube_delivery_latency_seconds".into()),
            &[
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Full("taube_group_commit_size".into()),
            &[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
            ],
        )?
        .install_recorder()
        .context("installing the metrics recorder")?;
    for outcome in ["delivered", "deferred", "failed"] {
        metrics::counter!("taube_deliveries_total", "outcome" => outcome).increment(0);
    }
    metrics::counter!("taube_messages_accepted_total").increment(0);

    let store = Store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let master = MasterKey::load_or_create(&config.master_key_file)?;
    let keys = Arc::new(KeyRing::new(master, store.clone()));
    let (committer, committer_task) = Committer::start(store.clone());
    let resolver = Resolver::new(config.dns_resolver)?;
    let delivery = Arc::new(config.delivery.clone());
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);

    let acceptor = Acceptor::new(
        store.clone(),
        committer.clone(),
        keys.clone(),
        delivery.clone(),
        wake.clone(),
    );
    let dispatcher = Dispatcher::new(
        store.clone(),
        committer,
        keys.clone(),
        delivery,
        resolver.clone(),
        wake,
        stop_rx.clone(),
    );
    let dispatcher_task = tokio::spawn(dispatcher.run());

    let state = AppState {
        store: store.clone(),
        acceptor,
        keys,
        resolver,
        metrics: Some(metrics),
        auth_cache: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding {}", config.http_addr))?;
    tracing::info!(addr = %listener.local_addr()?, backend = ?store.backend(), "http listening");
    let mut http_stop = stop_rx.clone();
    let http = axum::serve(listener, taube_api::router(state)).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    });
    let http_task = tokio::spawn(async move { http.await });

    wait_for_signal().await;
    tracing::info!("shutting down: finishing work in flight");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), http_task).await;
    let _ = dispatcher_task.await;
    // Every committer handle is gone now, so the writer drains and stops.
    let _ = tokio::time::timeout(Duration::from_secs(30), committer_task).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
