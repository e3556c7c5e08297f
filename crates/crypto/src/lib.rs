//! Key hierarchy (master key -> tenant key -> subject key), AEAD field encryption,
//! keyed pseudonyms and DKIM key generation.

mod aead;
mod dkim_keys;
mod error;
mod keys;
mod master;

pub use aead::{open, seal};
pub use dkim_keys::{generate_dkim_key, DkimAlgorithm, DkimKeyPair};
pub use error::CryptoError;
pub use keys::{DataKey, SubjectKey, TenantKeys};
pub use master::MasterKey;
