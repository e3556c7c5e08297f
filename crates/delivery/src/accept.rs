//! The accept path shared by every entry point: check the sender's domain, suppression and
//! idempotency, encrypt per subject, and return only after the group commit made it durable.

use crate::config::DeliveryConfig;
use crate::content::Content;
use crate::error::{AcceptFailure, ValidationError};
use crate::keyring::{KeyError, KeyRing};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use taube_crypto::{DataKey, SubjectKey};
use taube_store::{
    AcceptError, CommitterHandle, IdempotencyRecord, NewEvent, NewMessage, NewRecipient,
    NewSubjectKey, Store,
};
use taube_types::{new_id, now_millis, DomainName, EmailAddress};
use tokio::sync::Notify;

const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;
const ACCEPT_ATTEMPTS: usize = 3;

/// How a recipient was addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientType {
    To,
    Cc,
    Bcc,
}

impl RecipientType {
    /// Stable name: `to`, `cc`, `bcc`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientType::To => "to",
            RecipientType::Cc => "cc",
            RecipientType::Bcc => "bcc",
        }
    }
}

/// One envelope recipient.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub address: EmailAddress,
    pub rcpt_type: RecipientType,
}

/// A recipient in the accept answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptedRecipient {
    pub address: String,
    pub id: String,
    pub status: String,
}

/// The accept answer (HTTP 202 body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub id: String,
    pub recipients: Vec<AcceptedRecipient>,
}

/// A message ready to be accepted: already composed into MIME.
#[derive(Debug, Clone)]
pub struct Submission {
    pub tenant_id: String,
    pub envelope_from: EmailAddress,
    /// The domain of the header From; must be the tenant's and verified.
    pub from_domain: DomainName,
    pub recipients: Vec<Recipient>,
    pub mime: Vec<u8>,
    pub message_id: String,
    pub kind: String,
    pub test_mode: bool,
    pub require_tls: bool,
    pub tags: Vec<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `(key, hash of the request body)`.
    pub idempotency: Option<(String, String)>,
}

/// Accepts messages into the durable queue.
#[derive(Clone)]
pub struct Acceptor {
    store: Store,
    committer: CommitterHandle,
    keys: Arc<KeyRing>,
    config: Arc<DeliveryConfig>,
    wake: Arc<Notify>,
    /// Domains seen verified recently; only positive answers are cached.
    verified: Arc<Mutex<HashMap<(String, String), Instant>>>,
}

/// How long a positive "domain is verified" answer is reused.
const VERIFIED_TTL: Duration = Duration::from_secs(5);

impl From<KeyError> for AcceptFailure {
    fn from(e: KeyError) -> Self {
        AcceptFailure::Storage(e.to_string())
    }
}

impl Acceptor {
    /// An acceptor writing through `committer` and waking the dispatcher through `wake`.
    pub fn new(
        store: Store,
        committer: CommitterHandle,
        keys: Arc<KeyRing>,
        config: Arc<DeliveryConfig>,
        wake: Arc<Notify>,
    ) -> Self {
        Acceptor {
            store,
            committer,
            keys,
            config,
            wake,
            verified: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// A previous answer for this idempotency key, or a conflict when the body differs.
    pub async fn replay(
        &self,
        tenant_id: &str,
        key: &str,
        body_hash: &str,
    ) -> Result<Option<Accepted>, AcceptFailure> {
        let since = now_millis() - IDEMPOTENCY_WINDOW_MS;
        let Some(record) = self.store.idempotency(tenant_id, key, since).await? else {
            return Ok(None);
        };
        if record.body_hash != body_hash {
            return Err(AcceptFailure::IdempotencyConflict);
        }
        serde_json::from_str(&record.response)
            .map(Some)
            .map_err(|e| AcceptFailure::Storage(e.to_string()))
    }

    /// Validates, encrypts and durably stores `s`; returns once committed.
    pub async fn submit(&self, s: Submission) -> Result<Accepted, AcceptFailure> {
        if let Some((key, hash)) = &s.idempotency {
            if let Some(previous) = self.replay(&s.tenant_id, key, hash).await? {
                return Ok(previous);
            }
        }
        self.check(&s).await?;
        for _ in 0..ACCEPT_ATTEMPTS {
            let (message, accepted, new_keys) = self.prepare(&s).await?;
            match self.committer.accept(message).await {
                Ok(()) => {
                    for (pseudonym, key) in new_keys {
                        self.keys.remember(&s.tenant_id, &pseudonym, key);
                    }
                    metrics::counter!("taube_messages_accepted_total").increment(1);
                    metrics::counter!("taube_recipients_accepted_total")
                        .increment(accepted.recipients.len() as u64);
                    self.wake.notify_one();
                    return Ok(accepted);
                }
                Err(AcceptError::SubjectKeyRace) => continue,
                Err(AcceptError::IdempotencyRace) => {
                    let (key, hash) = s.idempotency.as_ref().expect("race implies a key");
                    return self.replay(&s.tenant_id, key, hash).await?.ok_or_else(|| {
                        AcceptFailure::Storage("idempotency record vanished".into())
                    });
                }
                Err(AcceptError::Store(e)) => return Err(e.into()),
            }
        }
        Err(AcceptFailure::Storage("subject keys kept racing".into()))
    }

    async fn check(&self, s: &Submission) -> Result<(), AcceptFailure> {
        if s.recipients.is_empty() {
            return Err(ValidationError::new(
                "missing_field",
                "to".to_string(),
                "at least one recipient is required",
            )
            .into());
        }
        if s.recipients.len() > self.config.max_recipients {
            return Err(ValidationError::new(
                "too_many_recipients",
                "to".to_string(),
                format!(
                    "at most {} recipients per message",
                    self.config.max_recipients
                ),
            )
            .into());
        }
        if s.mime.len() > self.config.max_message_bytes {
            return Err(ValidationError::new(
                "message_too_large",
                None,
                format!(
                    "message is larger than {} bytes",
                    self.config.max_message_bytes
                ),
            )
            .into());
        }
        if !self
            .domain_verified(&s.tenant_id, s.from_domain.as_str())
            .await?
        {
            return Err(ValidationError::new(
                "domain_not_verified",
                "from".to_string(),
                format!(
                    "`{}` is not a verified domain of this account",
                    s.from_domain
                ),
            )
            .into());
        }
        Ok(())
    }

    async fn domain_verified(&self, tenant_id: &str, domain: &str) -> Result<bool, AcceptFailure> {
        let key = (tenant_id.to_string(), domain.to_string());
        if let Some(seen) = self.verified.lock().expect("lock").get(&key) {
            if seen.elapsed() < VERIFIED_TTL {
                return Ok(true);
            }
        }
        let verified = self
            .store
            .domain(tenant_id, domain)
            .await?
            .is_some_and(|d| d.verified);
        if verified {
            let mut cache = self.verified.lock().expect("lock");
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, Instant::now());
        }
        Ok(verified)
    }

    async fn prepare(
        &self,
        s: &Submission,
    ) -> Result<(NewMessage, Accepted, Vec<(String, SubjectKey)>), AcceptFailure> {
        let tenant = self.keys.tenant(&s.tenant_id).await?;
        let now = now_millis();
        let mut seen = HashSet::new();
        let recipients: Vec<(&Recipient, String)> = s
            .recipients
            .iter()
            .filter(|r| seen.insert(r.address.canonical().to_lowercase()))
            .map(|r| (r, tenant.pseudonym("email", &r.address.canonical())))
            .collect();
        let pseudonyms: Vec<String> = recipients.iter().map(|(_, p)| p.clone()).collect();
        let mut subject_keys = HashMap::new();
        let mut suppressed = HashSet::new();
        for (pseudonym, wrapped, is_suppressed) in
            self.store.recipient_keys(&s.tenant_id, &pseudonyms).await?
        {
            let key = tenant.unwrap_subject_key(&pseudonym, &wrapped)?;
            if is_suppressed {
                suppressed.insert(pseudonym.clone());
            }
            subject_keys.insert(pseudonym, key);
        }
        let mut new_keys = Vec::new();
        let mut new_subject_keys = Vec::new();
        for p in &pseudonyms {
            if !subject_keys.contains_key(p) {
                let key = SubjectKey::generate();
                new_subject_keys.push(NewSubjectKey {
                    pseudonym: p.clone(),
                    wrapped_key: tenant.wrap_subject_key(p, &key),
                });
                new_keys.push((p.clone(), key.clone()));
                subject_keys.insert(p.clone(), key);
            }
        }

        let id = s.message_id.clone();
        let data_key = DataKey::generate();
        let content = Content {
            envelope_from: s.envelope_from.to_string(),
            require_tls: s.require_tls,
            metadata: s.metadata.clone(),
            mime: s.mime.clone(),
        };
        let content_sealed = data_key.seal(&id, &content.encode());

        let mut rows = Vec::with_capacity(recipients.len());
        let mut events = Vec::with_capacity(recipients.len());
        let mut answer = Vec::with_capacity(recipients.len());
        for (r, pseudonym) in &recipients {
            let key = &subject_keys[pseudonym];
            let rcpt_id = new_id("rcpt");
            let status = if s.test_mode {
                "test_mode"
            } else if suppressed.contains(pseudonym) {
                "suppressed"
            } else {
                "queued"
            };
            let event = |event_type: &str| NewEvent {
                tenant_id: s.tenant_id.clone(),
                message_id: id.clone(),
                recipient_id: rcpt_id.clone(),
                pseudonym: pseudonym.clone(),
                event_type: event_type.to_string(),
                reply_sealed: None,
                created_at: now,
            };
            events.push(event("accepted"));
            if status == "suppressed" {
                events.push(event("suppressed"));
            }
            rows.push(NewRecipient {
                id: rcpt_id.clone(),
                pseudonym: pseudonym.clone(),
                rcpt_type: r.rcpt_type.as_str().to_string(),
                domain: r.address.domain().to_string(),
                address_sealed: key.seal("recipient.address", r.address.to_string().as_bytes()),
                data_key_wrapped: key.wrap_data_key(&id, &data_key),
                status: status.to_string(),
            });
            answer.push(AcceptedRecipient {
                address: r.address.to_string(),
                id: rcpt_id,
                status: status.to_string(),
            });
        }
        let accepted = Accepted {
            id: id.clone(),
            recipients: answer,
        };
        let idempotency = s.idempotency.as_ref().map(|(key, hash)| IdempotencyRecord {
            key: key.clone(),
            body_hash: hash.clone(),
            response: serde_json::to_string(&accepted).expect("serialisable"),
        });
        let message = NewMessage {
            id,
            tenant_id: s.tenant_id.clone(),
            kind: s.kind.clone(),
            test_mode: s.test_mode,
            from_domain: s.from_domain.to_string(),
            size_bytes: s.mime.len() as i64,
            tags: serde_json::to_string(&s.tags).expect("serialisable"),
            content_sealed,
            created_at: now,
            new_subject_keys,
            recipients: rows,
            events,
            idempotency,
        };
        Ok((message, accepted, new_keys))
    }
}
