//! The message pipeline: accept (validate, encrypt, group commit), the delivery queue's
//! dispatcher, retry policy, and the email channel over SMTP.

mod accept;
mod build;
mod config;
mod content;
mod deliver;
mod dispatcher;
mod error;
mod keyring;
mod outcome;
mod pool;
mod retry;
mod validate;

pub use accept::{Accepted, AcceptedRecipient, Acceptor, Recipient, RecipientType, Submission};
pub use build::{build_mime, Attachment, Composed};
pub use config::DeliveryConfig;
pub use content::Content;
pub use dispatcher::Dispatcher;
pub use error::{AcceptFailure, ValidationError};
pub use keyring::KeyRing;
pub use retry::RetryPolicy;
pub use validate::{check_header_text, parse_mailbox};
