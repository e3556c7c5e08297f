//! Opening the database: backend detection from the URL, pools, SQLite durability pragmas.

use crate::error::StoreError;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::time::Duration;

/// Which database engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store: a write pool and a read pool over one database. On SQLite the write pool has a
/// single connection (SQLite has one writer anyway); on PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    /// `url` is `postgres://…`, `sqlite://PATH`, or a plain file path (SQLite).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("SET synchronous_commit = on").await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Store {
                write: pool.clone(),
                read: pool,
                backend: Backend::Postgres,
            }
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::InvalidUrl(format!("{path}: {e}")))?;
                }
            }
            let sqlite_url = format!("sqlite://{path}?mode=rwc");
            let write = sqlite_pool(&sqlite_url, 1).await?;
            let read = sqlite_pool(&sqlite_url, 4).await?;
            Store {
                write,
                read,
                backend: Backend::Sqlite,
            }
        };
        crate::migrate::run(&store.write, store.backend).await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pools, waiting for connections to be returned.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

async fn sqlite_pool(url: &str, size: u32) -> Result<AnyPool, StoreError> {
    Ok(AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL + synchronous=FULL: a commit is on disk when it returns.
                for pragma in [
                    "PRAGMA journal_mode=WAL",
                    "PRAGMA synchronous=FULL",
                    "PRAGMA busy_timeout=10000",
                    "PRAGMA foreign_keys=ON",
                ] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}
