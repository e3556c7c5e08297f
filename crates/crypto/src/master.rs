//! The master key: 32 random bytes in a file (mode 0600), created on first start; wraps tenant keys.

use crate::aead;
use crate::error::CryptoError;
use rand::RngCore;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// The root of the key hierarchy. Never logged, never stored in the database.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// Reads the key (hex) from `path`, creating it with mode 0600 if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let err =
            |e: std::io::Error| CryptoError::MasterKeyFile(format!("{}: {e}", path.display()));
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(err)?;
                file.write_all(hex::encode(bytes).as_bytes()).map_err(err)?;
                file.sync_all().map_err(err)?;
                Ok(MasterKey(Zeroizing::new(bytes)))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(text)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| CryptoError::MasterKeyFile("expected 64 hex characters".into()))?;
        Ok(MasterKey(Zeroizing::new(bytes)))
    }

    /// Wraps a tenant's root key for storage.
    pub fn wrap(&self, tenant_id: &str, key: &[u8; 32]) -> Vec<u8> {
        aead::seal(&self.0, tenant_context(tenant_id).as_bytes(), key)
    }

    /// Unwraps a tenant's root key.
    pub fn unwrap_key(&self, tenant_id: &str, wrapped: &[u8]) -> Result<[u8; 32], CryptoError> {
        let bytes = aead::open(&self.0, tenant_context(tenant_id).as_bytes(), wrapped)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::Malformed)
    }
}

fn tenant_context(tenant_id: &str) -> String {
    format!("taube/tenant-key/{tenant_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_file_with_0600_and_reloads_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let wrapped = first.wrap("t1", &[3u8; 32]);
        let second = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(second.unwrap_key("t1", &wrapped).unwrap(), [3u8; 32]);
        assert!(second.unwrap_key("t2", &wrapped).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
