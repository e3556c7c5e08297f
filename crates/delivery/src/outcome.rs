//! Turning an SMTP reply (or a session failure) for one recipient into the stored outcome:
//! delivered, deferred with backoff, or failed (and suppressed when the remote said 5xx).

use crate::retry::RetryPolicy;
use taube_crypto::SubjectKey;
use taube_smtp::{Reply, Severity};
use taube_store::{ClaimedRecipient, NewEvent, NewSuppression, Outcome};

/// Why a recipient got the reply it got.
pub(crate) enum Verdict {
    /// The remote server answered this.
    Remote(Reply),
    /// Delivery could not be attempted (DNS, connect, TLS); `permanent` for null MX and the like.
    Local { text: String, permanent: bool },
}

/// The outcome row for `r` at `now`.
pub(crate) fn outcome_for(
    r: &ClaimedRecipient,
    key: Option<&SubjectKey>,
    address: &str,
    verdict: Verdict,
    policy: &RetryPolicy,
    now: i64,
) -> Outcome {
    let (text, severity) = match &verdict {
        Verdict::Remote(reply) => (reply.to_string(), reply.severity()),
        Verdict::Local { text, permanent } => (
            text.clone(),
            if *permanent {
                Severity::Permanent
            } else {
                Severity::Transient
            },
        ),
    };
    let hard_bounce =
        matches!(&verdict, Verdict::Remote(reply) if reply.severity() == Severity::Permanent);
    let (status, next_attempt_at) = match severity {
        Severity::Positive => ("delivered", now),
        Severity::Permanent => ("failed", now),
        _ if policy.expired(r.created_at, now) => ("failed", now),
        _ => (
            "deferred",
            now + policy.delay(r.attempts).as_millis() as i64,
        ),
    };
    let seal = |context: &str, text: &str| key.map(|k| k.seal(context, text.as_bytes()));
    let suppression = (hard_bounce && key.is_some()).then(|| NewSuppression {
        tenant_id: r.tenant_id.clone(),
        pseudonym: r.pseudonym.clone(),
        reason: "bounce".into(),
        address_sealed: seal("recipient.address", address).unwrap_or_default(),
        detail_sealed: seal("suppression.detail", &text),
    });
    metrics::counter!("taube_deliveries_total", "outcome" => status).increment(1);
    if status == "delivered" {
        let latency = (now - r.created_at).max(0) as f64 / 1000.0;
        metrics::histogram!("taube_delivery_latency_seconds").record(latency);
    }
    Outcome {
        recipient_id: r.id.clone(),
        status: status.to_string(),
        next_attempt_at,
        reply_sealed: seal("recipient.reply", &text),
        event: NewEvent {
            tenant_id: r.tenant_id.clone(),
            message_id: r.message_id.clone(),
            recipient_id: r.id.clone(),
            pseudonym: r.pseudonym.clone(),
            event_type: status.to_string(),
            reply_sealed: seal("event.reply", &text),
            created_at: now,
        },
        suppression,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(attempts: i64, created_at: i64) -> ClaimedRecipient {
        ClaimedRecipient {
            id: "r".into(),
            message_id: "m".into(),
            tenant_id: "t".into(),
            pseudonym: "p".into(),
            domain: "example.org".into(),
            address_sealed: vec![],
            data_key_wrapped: vec![],
            attempts,
            created_at,
        }
    }

    #[test]
    fn classifies_replies() {
        let key = SubjectKey::generate();
        let p = RetryPolicy::default();
        let ok = outcome_for(
            &rcpt(0, 0),
            Some(&key),
            "a@x.org",
            Verdict::Remote(Reply::new(250, "ok")),
            &p,
            1000,
        );
        assert_eq!(ok.status, "delivered");
        assert!(ok.suppression.is_none());
        let soft = outcome_for(
            &rcpt(2, 0),
            Some(&key),
            "a@x.org",
            Verdict::Remote(Reply::new(451, "later")),
            &p,
            1000,
        );
        assert_eq!(soft.status, "deferred");
        assert_eq!(soft.next_attempt_at, 1000 + 1_200_000);
        let hard = outcome_for(
            &rcpt(0, 0),
            Some(&key),
            "a@x.org",
            Verdict::Remote(Reply::new(550, "5.1.1 unknown")),
            &p,
            1000,
        );
        assert_eq!(hard.status, "failed");
        assert_eq!(hard.suppression.as_ref().unwrap().reason, "bounce");
        let refused = outcome_for(
            &rcpt(0, 0),
            Some(&key),
            "a@x.org",
            Verdict::Local {
                text: "refused".into(),
                permanent: false,
            },
            &p,
            1000,
        );
        assert_eq!(refused.status, "deferred");
        let expired_at = p.give_up.as_millis() as i64;
        let old = outcome_for(
            &rcpt(9, 0),
            Some(&key),
            "a@x.org",
            Verdict::Local {
                text: "refused".into(),
                permanent: false,
            },
            &p,
            expired_at,
        );
        assert_eq!(old.status, "failed");
        assert!(old.suppression.is_none(), "giving up is not a bounce");
    }
}
