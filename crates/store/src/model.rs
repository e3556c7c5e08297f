//! Plain rows that go into and come out of the store. `*_sealed` fields are AEAD ciphertext.

/// A tenant; its root key is wrapped by the master key.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
}

/// An API key as stored: only the SHA-256 of the secret.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub key_hash: String,
    pub scopes: String,
    pub created_at: i64,
}

/// A sending domain with its DKIM key (private key sealed under the tenant key).
#[derive(Debug, Clone)]
pub struct Domain {
    pub tenant_id: String,
    pub name: String,
    pub verified: bool,
    pub dkim_selector: String,
    pub dkim_algorithm: String,
    pub dkim_private_sealed: Vec<u8>,
    pub dkim_dns_value: String,
    pub created_at: i64,
}

/// A subject key created by this accept, wrapped by the tenant key.
#[derive(Debug, Clone)]
pub struct NewSubjectKey {
    pub pseudonym: String,
    pub wrapped_key: Vec<u8>,
}

/// One recipient of a new message.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub id: String,
    pub pseudonym: String,
    pub rcpt_type: String,
    pub domain: String,
    pub address_sealed: Vec<u8>,
    pub data_key_wrapped: Vec<u8>,
    /// `queued`, `suppressed` or `test_mode`.
    pub status: String,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: String,
    pub message_id: String,
    pub recipient_id: String,
    pub pseudonym: String,
    pub event_type: String,
    pub reply_sealed: Option<Vec<u8>>,
    pub created_at: i64,
}

/// An idempotency record stored with the message it produced.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub key: String,
    pub body_hash: String,
    pub response: String,
}

/// Everything one accepted message writes, committed together.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub test_mode: bool,
    pub from_domain: String,
    pub size_bytes: i64,
    pub tags: String,
    pub content_sealed: Vec<u8>,
    pub created_at: i64,
    pub new_subject_keys: Vec<NewSubjectKey>,
    pub recipients: Vec<NewRecipient>,
    pub events: Vec<NewEvent>,
    pub idempotency: Option<IdempotencyRecord>,
}

/// A recipient claimed for delivery by one node until `lease_until`.
#[derive(Debug, Clone)]
pub struct ClaimedRecipient {
    pub id: String,
    pub message_id: String,
    pub tenant_id: String,
    pub pseudonym: String,
    pub domain: String,
    pub address_sealed: Vec<u8>,
    pub data_key_wrapped: Vec<u8>,
    pub attempts: i64,
    pub created_at: i64,
}

/// A suppression entry to add.
#[derive(Debug, Clone)]
pub struct NewSuppression {
    pub tenant_id: String,
    pub pseudonym: String,
    pub reason: String,
    pub address_sealed: Vec<u8>,
    pub detail_sealed: Option<Vec<u8>>,
}

/// The result of one delivery attempt for one recipient.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub recipient_id: String,
    /// `delivered`, `deferred` or `failed`.
    pub status: String,
    pub next_attempt_at: i64,
    pub reply_sealed: Option<Vec<u8>>,
    pub event: NewEvent,
    pub suppression: Option<NewSuppression>,
}

/// A stored message's metadata and sealed content.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub test_mode: bool,
    pub tags: String,
    pub content_sealed: Vec<u8>,
    pub created_at: i64,
}

/// A stored recipient with its delivery state.
#[derive(Debug, Clone)]
pub struct RecipientRow {
    pub id: String,
    pub message_id: String,
    pub pseudonym: String,
    pub rcpt_type: String,
    pub address_sealed: Vec<u8>,
    pub data_key_wrapped: Vec<u8>,
    pub status: String,
    pub attempts: i64,
    pub last_reply_sealed: Option<Vec<u8>>,
    pub updated_at: i64,
}

/// Filters for listing events; all optional except the tenant.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub tenant_id: String,
    pub message_id: Option<String>,
    pub pseudonym: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// A stored event, with the recipient's sealed address for display.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub message_id: String,
    pub recipient_id: String,
    pub pseudonym: String,
    pub event_type: String,
    pub reply_sealed: Option<Vec<u8>>,
    pub address_sealed: Vec<u8>,
    pub created_at: i64,
}

/// A suppression list entry.
#[derive(Debug, Clone)]
pub struct SuppressionRow {
    pub pseudonym: String,
    pub reason: String,
    pub address_sealed: Vec<u8>,
    pub created_at: i64,
}
