//! SMTP for outbound delivery: the client (EHLO, STARTTLS, PIPELINING, per-recipient replies),
//! reply parsing, dot-stuffing, MX routing and DKIM signing.

mod body_hash;
mod client;
mod dkim;
mod dotstuff;
mod error;
mod reply;
mod route;
mod tls;

pub use client::{Capabilities, SmtpClient, Timeouts, TransactionResult};
pub use dkim::{DkimError, DkimKey};
pub use dotstuff::dot_stuff;
pub use error::SmtpError;
pub use reply::{Reply, Severity};
pub use route::{Destination, Resolver, RouteError};
