-- Taube schema v1 (PostgreSQL). Personal data lives only in *_sealed columns (AEAD ciphertext);
-- lookups use keyed pseudonyms. Times are milliseconds since the Unix epoch, UTC.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    wrapped_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE domains (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    verified BIGINT NOT NULL DEFAULT 0,
    dkim_selector TEXT NOT NULL,
    dkim_algorithm TEXT NOT NULL,
    dkim_private_sealed BYTEA NOT NULL,
    dkim_dns_value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE subject_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    pseudonym TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pseudonym)
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    test_mode BIGINT NOT NULL,
    from_domain TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    tags TEXT NOT NULL,
    content_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_tenant ON messages (tenant_id, created_at);
CREATE TABLE recipients (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id),
    tenant_id TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    rcpt_type TEXT NOT NULL,
    domain TEXT NOT NULL,
    address_sealed BYTEA NOT NULL,
    data_key_wrapped BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_reply_sealed BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX recipients_due ON recipients (next_attempt_at) WHERE status IN ('queued', 'deferred');
CREATE INDEX recipients_message ON recipients (message_id);
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    event_type TEXT NOT NULL,
    reply_sealed BYTEA,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE INDEX events_message ON events (message_id);
CREATE TABLE suppressions (
    tenant_id TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    reason TEXT NOT NULL,
    address_sealed BYTEA NOT NULL,
    detail_sealed BYTEA,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pseudonym, reason)
);
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
