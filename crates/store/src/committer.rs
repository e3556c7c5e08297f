//! Group commit: one writer task takes every pending write (accepts, delivery outcomes) and
//! commits them together in one transaction, each inside its own savepoint, then answers each
//! caller. Callers acknowledge only after that answer, so nothing is acknowledged early.

use crate::accept::insert_messages;
use crate::connect::Store;
use crate::delivery::record_outcomes;
use crate::error::{AcceptError, StoreError};
use crate::model::{NewMessage, Outcome};
use sqlx::Acquire;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 2048;

enum WriteOp {
    Accept(Box<NewMessage>, oneshot::Sender<Result<(), AcceptError>>),
    Outcomes(Vec<Outcome>, oneshot::Sender<Result<(), StoreError>>),
}

/// The writer task.
pub struct Committer;

/// A cheap handle for submitting writes to the committer.
#[derive(Clone)]
pub struct CommitterHandle {
    tx: mpsc::Sender<WriteOp>,
}

impl Committer {
    /// Starts the writer; it stops when every handle is dropped.
    pub fn start(store: Store) -> (CommitterHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16 * 1024);
        let task = tokio::spawn(run(store, rx));
        (CommitterHandle { tx }, task)
    }
}

impl CommitterHandle {
    /// Durably stores one message; returns once it is committed.
    pub async fn accept(&self, message: NewMessage) -> Result<(), AcceptError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(WriteOp::Accept(Box::new(message), done))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        wait.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Durably records delivery outcomes.
    pub async fn record(&self, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(WriteOp::Outcomes(outcomes, done))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        wait.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<WriteOp>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        metrics::histogram!("taube_group_commit_size").record(batch.len() as f64);
        commit_batch(&store, batch).await;
    }
}

enum OpResult {
    Accept(Result<(), AcceptError>),
    Outcomes(Result<(), StoreError>),
}

async fn commit_batch(store: &Store, batch: Vec<WriteOp>) {
    // Fast path: everything in multi-row statements, one transaction. If anything fails, the
    // transaction is rolled back and each write is retried alone, so one bad write fails alone.
    let results = match apply_bulk(store, &batch).await {
        Ok(()) => Ok(batch
            .iter()
            .map(|op| match op {
                WriteOp::Accept(..) => OpResult::Accept(Ok(())),
                WriteOp::Outcomes(..) => OpResult::Outcomes(Ok(())),
            })
            .collect()),
        Err(_) => apply_one_by_one(store, &batch).await,
    };
    match results {
        Ok(results) => {
            for (op, result) in batch.into_iter().zip(results) {
                match (op, result) {
                    (WriteOp::Accept(_, done), OpResult::Accept(r)) => {
                        let _ = done.send(r);
                    }
                    (WriteOp::Outcomes(_, done), OpResult::Outcomes(r)) => {
                        let _ = done.send(r);
                    }
                    _ => unreachable!("results are produced in batch order"),
                }
            }
        }
        Err(err) => {
            tracing::error!(error = %err, ops = batch.len(), "group commit failed");
            for op in batch {
                match op {
                    WriteOp::Accept(_, done) => {
                        let _ = done.send(Err(StoreError::WriterStopped.into()));
                    }
                    WriteOp::Outcomes(_, done) => {
                        let _ = done.send(Err(StoreError::WriterStopped));
                    }
                }
            }
        }
    }
}

async fn apply_bulk(store: &Store, batch: &[WriteOp]) -> Result<(), AcceptError> {
    let mut conn = store.write.acquire().await.map_err(StoreError::from)?;
    let mut tx = conn.begin().await.map_err(StoreError::from)?;
    let messages: Vec<&NewMessage> = batch
        .iter()
        .filter_map(|op| match op {
            WriteOp::Accept(m, _) => Some(m.as_ref()),
            WriteOp::Outcomes(..) => None,
        })
        .collect();
    let outcomes: Vec<&Outcome> = batch
        .iter()
        .filter_map(|op| match op {
            WriteOp::Outcomes(o, _) => Some(o.iter()),
            WriteOp::Accept(..) => None,
        })
        .flatten()
        .collect();
    if !messages.is_empty() {
        insert_messages(&mut tx, &messages).await?;
    }
    if !outcomes.is_empty() {
        record_outcomes(&mut tx, &outcomes).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

async fn apply_one_by_one(store: &Store, batch: &[WriteOp]) -> Result<Vec<OpResult>, sqlx::Error> {
    let mut conn = store.write.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for op in batch {
        let mut savepoint = tx.begin().await?;
        let result = match op {
            WriteOp::Accept(message, _) => {
                OpResult::Accept(insert_messages(&mut savepoint, &[message.as_ref()]).await)
            }
            WriteOp::Outcomes(outcomes, _) => {
                let refs: Vec<&Outcome> = outcomes.iter().collect();
                OpResult::Outcomes(record_outcomes(&mut savepoint, &refs).await)
            }
        };
        let ok = match &result {
            OpResult::Accept(r) => r.is_ok(),
            OpResult::Outcomes(r) => r.is_ok(),
        };
        if ok {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}
