//! Errors of the store crate.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the writer has stopped")]
    WriterStopped,
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
}

/// Why one message in a group commit was not stored (the others may have been).
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// A new subject key raced with another accept; re-read the key and try again.
    #[error("subject key created concurrently")]
    SubjectKeyRace,
    /// Another request with the same idempotency key committed first.
    #[error("idempotency key used concurrently")]
    IdempotencyRace,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
