//! Group commit: one writer task takes every pending write (accepts, delivery outcomes) and
//! commits them together in one transaction, each inside its own savepoint, then answers each
//! caller. Callers acknowledge only after that answer, so nothing is acknowledged early.

use crate::accept::insert_message;
use crate::connect::Store;
use crate::delivery::record_outcome;
use crate::error::{AcceptError, StoreError};
use crate::model::{NewMessage, Outcome};
use sqlx::{Acquire, AnyConnection};
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
    let results = apply_all(store, &batch).await;
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

async fn apply_all(store: &Store, batch: &[WriteOp]) -> Result<Vec<OpResult>, sqlx::Error> {
    let mut conn = store.write.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for op in batch {
        let mut savepoint = tx.begin().await?;
        let result = apply_one(&mut savepoint, op).await;
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

async fn apply_one(conn: &mut AnyConnection, op: &WriteOp) -> OpResult {
    match op {
        WriteOp::Accept(message, _) => OpResult::Accept(insert_message(conn, message).await),
        WriteOp::Outcomes(outcomes, _) => {
            let mut result = Ok(());
            for outcome in outcomes {
                if let Err(e) = record_outcome(conn, outcome).await {
                    result = Err(e);
                    break;
                }
            }
            OpResult::Outcomes(result)
        }
    }
}
