//! Reading sealed per-subject fields (addresses, replies) for API answers.

use crate::error::ApiError;
use crate::state::AppState;
use std::collections::HashMap;
use taube_crypto::SubjectKey;

/// The subject keys of one answer's rows, to open their sealed fields.
pub struct Subjects(HashMap<String, SubjectKey>);

impl Subjects {
    /// Loads the keys of `pseudonyms` (of `tenant_id`).
    pub async fn load(
        state: &AppState,
        tenant_id: &str,
        pseudonyms: impl IntoIterator<Item = &String>,
    ) -> Result<Self, ApiError> {
        let list: Vec<String> = pseudonyms.into_iter().cloned().collect();
        let keys = state
            .keys
            .subject_keys(tenant_id, &list)
            .await
            .map_err(ApiError::internal)?;
        Ok(Subjects(keys))
    }

    /// The text sealed under `pseudonym`'s key with `context`; `None` once the subject is erased.
    pub fn open(&self, pseudonym: &str, context: &str, sealed: &[u8]) -> Option<String> {
        let bytes = self.0.get(pseudonym)?.open(context, sealed).ok()?;
        String::from_utf8(bytes).ok()
    }

    /// The subject key itself (to unwrap message data keys).
    pub fn key(&self, pseudonym: &str) -> Option<&SubjectKey> {
        self.0.get(pseudonym)
    }
}
