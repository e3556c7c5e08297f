//! Durable storage for Taube: one `Store` over SQLite (embedded) or PostgreSQL (several nodes),
//! schema migrations per backend, and the group-commit writer.

mod accept;
mod bulk;
mod committer;
mod connect;
mod delivery;
mod error;
mod migrate;
mod model;
mod queries;
mod tenants;

pub use committer::{Committer, CommitterHandle};
pub use connect::{Backend, Store};
pub use error::{AcceptError, StoreError};
pub use model::*;
