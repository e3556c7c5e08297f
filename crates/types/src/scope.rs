//! API key scopes: what a key may do.

use std::fmt;
use std::str::FromStr;

/// One permission an API key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    SendEmail,
    EventsRead,
    MessagesRead,
    DomainsManage,
}

/// An unknown scope name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct ScopeError(pub String);

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 4] = [
        Scope::SendEmail,
        Scope::EventsRead,
        Scope::MessagesRead,
        Scope::DomainsManage,
    ];

    /// The stable name used in the CLI and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SendEmail => "send:email",
            Scope::EventsRead => "events:read",
            Scope::MessagesRead => "messages:read",
            Scope::DomainsManage => "domains:manage",
        }
    }

    /// Parses a comma-separated list such as `send:email,events:read`.
    pub fn parse_list(list: &str) -> Result<Vec<Scope>, ScopeError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Scope::from_str)
            .collect()
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| ScopeError(s.to_string()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_rejects_unknown() {
        assert_eq!(
            Scope::parse_list("send:email, events:read").unwrap(),
            vec![Scope::SendEmail, Scope::EventsRead]
        );
        assert!(Scope::parse_list("send:email,root").is_err());
    }
}
