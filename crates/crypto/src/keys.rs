//! Tenant keys (encryption + pseudonym keys derived from one root) and per-subject data keys.

use crate::aead;
use crate::error::CryptoError;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

fn random_key() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn derive(root: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(root).expect("HMAC takes any key length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A tenant's keys, derived from its random root key (which the master key wraps).
pub struct TenantKeys {
    root: Zeroizing<[u8; 32]>,
    encryption: Zeroizing<[u8; 32]>,
    pseudonym: Zeroizing<[u8; 32]>,
}

impl TenantKeys {
    /// A fresh random tenant root key.
    pub fn generate() -> Self {
        Self::from_root(random_key())
    }

    /// Rebuilds the derived keys from a stored root.
    pub fn from_root(root: [u8; 32]) -> Self {
        TenantKeys {
            encryption: Zeroizing::new(derive(&root, "taube/tenant/encryption")),
            pseudonym: Zeroizing::new(derive(&root, "taube/tenant/pseudonym")),
            root: Zeroizing::new(root),
        }
    }

    /// The root key, for wrapping by the master key.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// Keyed pseudonym of an identifier (e.g. `email:ada@example.com`), hex; stable per tenant.
    pub fn pseudonym(&self, kind: &str, identifier: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&*self.pseudonym).expect("any key length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(identifier.to_lowercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Wraps a subject key for storage.
    pub fn wrap_subject_key(&self, pseudonym: &str, key: &SubjectKey) -> Vec<u8> {
        aead::seal(&self.encryption, pseudonym.as_bytes(), &*key.0)
    }

    /// Unwraps a stored subject key.
    pub fn unwrap_subject_key(
        &self,
        pseudonym: &str,
        wrapped: &[u8],
    ) -> Result<SubjectKey, CryptoError> {
        let bytes = aead::open(&self.encryption, pseudonym.as_bytes(), wrapped)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::Malformed)?;
        Ok(SubjectKey(Zeroizing::new(key)))
    }

    /// Encrypts tenant-level data that belongs to no single subject (e.g. DKIM private keys).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        aead::seal(&self.encryption, context.as_bytes(), plaintext)
    }

    /// Decrypts what [`TenantKeys::seal`] produced.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::open(&self.encryption, context.as_bytes(), sealed)
    }
}

/// One data subject's key (an address or phone number within a tenant). Destroying its stored,
/// wrapped copy makes everything sealed under it unreadable, backups included (crypto-shredding).
#[derive(Clone)]
pub struct SubjectKey(Zeroizing<[u8; 32]>);

impl SubjectKey {
    /// A fresh random subject key.
    pub fn generate() -> Self {
        SubjectKey(Zeroizing::new(random_key()))
    }

    /// Encrypts a field of this subject.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        aead::seal(&self.0, context.as_bytes(), plaintext)
    }

    /// Decrypts a field of this subject.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::open(&self.0, context.as_bytes(), sealed)
    }

    /// Wraps a message data key so that this subject's key is needed to read the content.
    pub fn wrap_data_key(&self, message_id: &str, key: &DataKey) -> Vec<u8> {
        aead::seal(&self.0, message_id.as_bytes(), &*key.0)
    }

    /// Unwraps a message data key.
    pub fn unwrap_data_key(
        &self,
        message_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let bytes = aead::open(&self.0, message_id.as_bytes(), wrapped)?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::Malformed)?;
        Ok(DataKey(Zeroizing::new(key)))
    }
}

/// A random key for one message's content, wrapped once per recipient subject key.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        DataKey(Zeroizing::new(random_key()))
    }

    /// Encrypts message content.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        aead::seal(&self.0, context.as_bytes(), plaintext)
    }

    /// Decrypts message content.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::open(&self.0, context.as_bytes(), sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_case_insensitive() {
        let a = TenantKeys::generate();
        let b = TenantKeys::generate();
        assert_eq!(
            a.pseudonym("email", "Ada@X.org"),
            a.pseudonym("email", "ada@x.org")
        );
        assert_ne!(
            a.pseudonym("email", "ada@x.org"),
            b.pseudonym("email", "ada@x.org")
        );
        assert_ne!(
            a.pseudonym("email", "ada@x.org"),
            a.pseudonym("phone", "ada@x.org")
        );
    }

    #[test]
    fn subject_key_chain_roundtrips_and_shreds() {
        let tenant = TenantKeys::from_root([1u8; 32]);
        let subject = SubjectKey::generate();
        let wrapped = tenant.wrap_subject_key("p1", &subject);
        let data = DataKey::generate();
        let wrapped_data = subject.wrap_data_key("msg1", &data);
        let body = data.seal("body", b"secret body");
        let again = TenantKeys::from_root([1u8; 32]);
        let subject2 = again.unwrap_subject_key("p1", &wrapped).unwrap();
        let data2 = subject2.unwrap_data_key("msg1", &wrapped_data).unwrap();
        assert_eq!(data2.open("body", &body).unwrap(), b"secret body");
        // Another subject's key cannot unwrap the data key: shredding `subject` loses access.
        assert!(SubjectKey::generate()
            .unwrap_data_key("msg1", &wrapped_data)
            .is_err());
    }
}
