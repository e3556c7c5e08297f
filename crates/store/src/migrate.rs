//! Schema migrations: numbered SQL files per backend, applied once each, recorded in `schema_migrations`.

use crate::connect::Backend;
use crate::error::StoreError;
use sqlx::{AnyPool, Executor};

const SQLITE: &[(i64, &str)] = &[(1, include_str!("../migrations/sqlite/0001_init.sql"))];
const POSTGRES: &[(i64, &str)] = &[(1, include_str!("../migrations/postgres/0001_init.sql"))];

/// Applies every migration not yet recorded. Safe to run from several nodes at once on
/// PostgreSQL (an advisory lock serialises them).
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_lock(7262)").await?;
    }
    let result = apply(&mut conn, backend).await;
    if backend == Backend::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7262)").await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let files = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    for (version, sql) in files {
        if applied.contains(version) {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(taube_types::now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
