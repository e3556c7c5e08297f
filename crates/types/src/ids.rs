//! Identifiers (time-ordered UUIDv7 with a kind prefix) and the wall clock in milliseconds.

/// A new time-ordered identifier such as `msg_0193...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
