//! Domain newtypes that validate on construction: ids, email addresses, domain names, scopes.

mod address;
mod domain;
mod ids;
mod scope;

pub use address::{AddressError, EmailAddress, Mailbox};
pub use domain::{DomainError, DomainName};
pub use ids::{new_id, now_millis};
pub use scope::{Scope, ScopeError};
