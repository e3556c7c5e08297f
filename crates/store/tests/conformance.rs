//! One conformance suite for both backends: SQLite always, PostgreSQL when `TAUBE_TEST_DB`
//! names a server (each run gets its own fresh database there).

use sqlx::Connection;
use taube_store::*;

async fn backends() -> Vec<(String, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path().join("t.db").to_str().unwrap())
        .await
        .unwrap();
    let mut out = vec![("sqlite".to_string(), sqlite, Some(dir))];
    if let Ok(url) = std::env::var("TAUBE_TEST_DB") {
        let name = format!("taube_conf_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = url.rsplit_once('/').unwrap().0;
        let pg = Store::open(&format!("{base}/{name}")).await.unwrap();
        out.push(("postgres".to_string(), pg, None));
    }
    out
}

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: format!("name-{id}"),
        wrapped_key: vec![1, 2, 3],
        created_at: 1,
    }
}

fn message(id: &str, tenant_id: &str, rcpts: &[(&str, &str)], now: i64) -> NewMessage {
    NewMessage {
        id: id.into(),
        tenant_id: tenant_id.into(),
        kind: "transactional".into(),
        test_mode: false,
        from_domain: "example.com".into(),
        size_bytes: 10,
        tags: "[]".into(),
        content_sealed: vec![9; 10],
        created_at: now,
        new_subject_keys: rcpts
            .iter()
            .map(|(_, p)| NewSubjectKey {
                pseudonym: p.to_string(),
                wrapped_key: vec![7],
            })
            .collect(),
        recipients: rcpts
            .iter()
            .map(|(rid, p)| NewRecipient {
                id: rid.to_string(),
                pseudonym: p.to_string(),
                rcpt_type: "to".into(),
                domain: "example.org".into(),
                address_sealed: vec![1],
                data_key_wrapped: vec![2],
                status: "queued".into(),
            })
            .collect(),
        events: rcpts
            .iter()
            .map(|(rid, p)| NewEvent {
                tenant_id: tenant_id.into(),
                message_id: id.into(),
                recipient_id: rid.to_string(),
                pseudonym: p.to_string(),
                event_type: "accepted".into(),
                reply_sealed: None,
                created_at: now,
            })
            .collect(),
        idempotency: None,
    }
}

#[tokio::test]
async fn tenants_keys_and_domains() {
    for (name, store, _dir) in backends().await {
        store.create_tenant(&tenant("t1")).await.unwrap();
        assert!(
            matches!(
                store.create_tenant(&tenant("t1")).await,
                Err(StoreError::Conflict)
            ),
            "{name}"
        );
        assert_eq!(
            store.tenant("name-t1").await.unwrap().unwrap().id,
            "t1",
            "{name}"
        );
        assert_eq!(
            store.tenant("t1").await.unwrap().unwrap().wrapped_key,
            vec![1, 2, 3]
        );
        let key = ApiKey {
            id: "k1".into(),
            tenant_id: "t1".into(),
            key_hash: "h1".into(),
            scopes: "send:email".into(),
            created_at: 1,
        };
        store.create_api_key(&key).await.unwrap();
        assert_eq!(
            store
                .api_key_by_hash("h1")
                .await
                .unwrap()
                .unwrap()
                .tenant_id,
            "t1"
        );
        assert!(store.api_key_by_hash("nope").await.unwrap().is_none());
        let domain = Domain {
            tenant_id: "t1".into(),
            name: "example.com".into(),
            verified: false,
            dkim_selector: "s".into(),
            dkim_algorithm: "rsa".into(),
            dkim_private_sealed: vec![5],
            dkim_dns_value: "v=DKIM1".into(),
            created_at: 1,
        };
        store.create_domain(&domain).await.unwrap();
        assert!(
            !store
                .domain("t1", "example.com")
                .await
                .unwrap()
                .unwrap()
                .verified
        );
        store
            .set_domain_verified("t1", "example.com", true)
            .await
            .unwrap();
        assert!(
            store
                .domain("t1", "example.com")
                .await
                .unwrap()
                .unwrap()
                .verified,
            "{name}"
        );
        assert!(
            store.domain("t2", "example.com").await.unwrap().is_none(),
            "{name}: tenant scoping"
        );
    }
}

#[tokio::test]
async fn accept_claim_lease_and_outcomes() {
    for (name, store, _dir) in backends().await {
        store.create_tenant(&tenant("t1")).await.unwrap();
        let (committer, _task) = Committer::start(store.clone());
        let now = 1_000;
        committer
            .accept(message("m1", "t1", &[("r1", "p1"), ("r2", "p2")], now))
            .await
            .unwrap();
        // A second message with a subject key already stored races and changes nothing.
        let racing = committer
            .accept(message("m2", "t1", &[("r3", "p1")], now))
            .await;
        assert!(matches!(racing, Err(AcceptError::SubjectKeyRace)), "{name}");
        assert!(
            store.message("t1", "m2").await.unwrap().is_none(),
            "{name}: half-written"
        );
        assert_eq!(store.queue_depth().await.unwrap(), 2, "{name}");

        let first = store.claim_due("a", now, now + 300_000, 10).await.unwrap();
        assert_eq!(first.len(), 2, "{name}");
        let second = store.claim_due("b", now, now + 300_000, 10).await.unwrap();
        assert!(
            second.is_empty(),
            "{name}: leased rows must not be claimed twice"
        );
        // After the lease expires another node may take them.
        let later = store
            .claim_due("b", now + 300_001, now + 600_000, 10)
            .await
            .unwrap();
        assert_eq!(later.len(), 2, "{name}");
        assert_eq!(store.release_leases(Some("b")).await.unwrap(), 2, "{name}");

        let claimed = store.claim_due("a", now, now + 300_000, 1).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let outcome = |rid: &str, p: &str, status: &str, next: i64, suppress: bool| Outcome {
            recipient_id: rid.into(),
            status: status.into(),
            next_attempt_at: next,
            reply_sealed: Some(vec![3]),
            event: NewEvent {
                tenant_id: "t1".into(),
                message_id: "m1".into(),
                recipient_id: rid.into(),
                pseudonym: p.into(),
                event_type: status.into(),
                reply_sealed: Some(vec![4]),
                created_at: now + 10,
            },
            suppression: suppress.then(|| NewSuppression {
                tenant_id: "t1".into(),
                pseudonym: p.into(),
                reason: "bounce".into(),
                address_sealed: vec![1],
                detail_sealed: None,
            }),
        };
        committer
            .record(vec![
                outcome("r1", "p1", "deferred", now + 5_000, false),
                outcome("r2", "p2", "failed", now, true),
            ])
            .await
            .unwrap();
        assert_eq!(
            store.queue_depth().await.unwrap(),
            1,
            "{name}: deferred stays queued"
        );
        assert!(
            store
                .claim_due("a", now + 10, now + 300_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}: not due yet"
        );
        let due = store
            .claim_due("a", now + 5_000, now + 300_000, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{name}");
        assert_eq!(due[0].attempts, 1, "{name}");
        let mut state = store
            .recipient_keys("t1", &["p1".into(), "p2".into(), "p9".into()])
            .await
            .unwrap();
        state.sort();
        assert_eq!(
            state,
            vec![
                ("p1".to_string(), vec![7], false),
                ("p2".to_string(), vec![7], true)
            ],
            "{name}: keys with suppression state; unknown subjects absent"
        );
        assert_eq!(store.suppressions("t1", "bounce").await.unwrap().len(), 1);
        assert!(
            store
                .recipient_keys("t2", &["p2".into()])
                .await
                .unwrap()
                .is_empty(),
            "{name}: tenant scoping"
        );

        let rows = store.recipients("t1", "m1").await.unwrap();
        let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(statuses, vec!["deferred", "failed"], "{name}");
        assert!(
            store.recipients("t2", "m1").await.unwrap().is_empty(),
            "{name}: tenant scoping"
        );
    }
}

#[tokio::test]
async fn events_filter_and_paginate() {
    for (name, store, _dir) in backends().await {
        store.create_tenant(&tenant("t1")).await.unwrap();
        store.create_tenant(&tenant("t2")).await.unwrap();
        let (committer, _task) = Committer::start(store.clone());
        committer
            .accept(message("m1", "t1", &[("r1", "p1")], 100))
            .await
            .unwrap();
        committer
            .accept(message("m2", "t1", &[("r2", "p2")], 200))
            .await
            .unwrap();
        committer
            .accept(message("m3", "t2", &[("r3", "p3")], 300))
            .await
            .unwrap();
        let q = |f: &dyn Fn(&mut EventQuery)| {
            let mut q = EventQuery {
                tenant_id: "t1".into(),
                limit: 10,
                ..Default::default()
            };
            f(&mut q);
            q
        };
        assert_eq!(store.events(&q(&|_| {})).await.unwrap().len(), 2, "{name}");
        let by_msg = store
            .events(&q(&|q| q.message_id = Some("m2".into())))
            .await
            .unwrap();
        assert_eq!(by_msg.len(), 1);
        assert_eq!(by_msg[0].recipient_id, "r2");
        assert_eq!(
            store
                .events(&q(&|q| q.pseudonym = Some("p1".into())))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .events(&q(&|q| q.since = Some(150)))
                .await
                .unwrap()
                .len(),
            1,
            "{name}"
        );
        assert_eq!(
            store
                .events(&q(&|q| q.until = Some(150)))
                .await
                .unwrap()
                .len(),
            1,
            "{name}"
        );
        assert!(store
            .events(&q(&|q| q.event_type = Some("delivered".into())))
            .await
            .unwrap()
            .is_empty());
        let page1 = store.events(&q(&|q| q.limit = 1)).await.unwrap();
        let after = page1[0].id;
        let page2 = store
            .events(&q(&|q| {
                q.limit = 1;
                q.after_id = Some(after);
            }))
            .await
            .unwrap();
        assert_eq!(page2.len(), 1);
        assert_ne!(page2[0].id, page1[0].id, "{name}");
    }
}

#[tokio::test]
async fn idempotency_records_are_unique() {
    for (name, store, _dir) in backends().await {
        store.create_tenant(&tenant("t1")).await.unwrap();
        let (committer, _task) = Committer::start(store.clone());
        let mut m = message("m1", "t1", &[("r1", "p1")], 1_000);
        m.idempotency = Some(IdempotencyRecord {
            key: "k".into(),
            body_hash: "h".into(),
            response: "{}".into(),
        });
        committer.accept(m).await.unwrap();
        let mut again = message("m2", "t1", &[("r2", "p2")], 1_000);
        again.idempotency = Some(IdempotencyRecord {
            key: "k".into(),
            body_hash: "h".into(),
            response: "{}".into(),
        });
        assert!(
            matches!(
                committer.accept(again).await,
                Err(AcceptError::IdempotencyRace)
            ),
            "{name}"
        );
        assert!(store.message("t1", "m2").await.unwrap().is_none(), "{name}");
        assert_eq!(
            store
                .idempotency("t1", "k", 0)
                .await
                .unwrap()
                .unwrap()
                .body_hash,
            "h"
        );
        assert!(
            store.idempotency("t1", "k", 2_000).await.unwrap().is_none(),
            "{name}: expired"
        );
    }
}
