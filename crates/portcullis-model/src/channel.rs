//! The channel a user reaches the tenant through: an interactive session, an API key, or an
//! OAuth client (whose scopes then filter the user's rights). Callers name it as text
//! (`session`, `api-key`, `oauth:<client id>`); it is parsed once, where the text comes in, and
//! carried as this type from there on.

use std::fmt;
use std::str::FromStr;

/// How a user reaches the tenant. `C` names the OAuth client: its id as text at the edges, a
/// dense index once resolved against a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel<C = String> {
    /// An interactive session: tenant-level rights fixed at login.
    Session,
    /// An API key: the user's full current rights.
    ApiKey,
    /// An OAuth client: the user's current rights filtered by the client's scopes.
    OAuth(C),
}

/// Text that names no channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel `{0}`; use `session`, `api-key` or `oauth:<client id>`")]
pub struct UnknownChannel(pub String);

impl<C> Channel<C> {
    /// The OAuth client, when the channel is one.
    pub fn client(&self) -> Option<&C> {
        match self {
            Channel::OAuth(client) => Some(client),
            Channel::Session | Channel::ApiKey => None,
        }
    }

    /// The same channel with its client named another way.
    pub fn map_client<D>(&self, name: impl FnOnce(&C) -> D) -> Channel<D> {
        match self {
            Channel::Session => Channel::Session,
            Channel::ApiKey => Channel::ApiKey,
            Channel::OAuth(client) => Channel::OAuth(name(client)),
        }
    }

    /// The same channel with its client looked up (`find` may fail: an unknown client).
    pub fn try_map_client<D, E>(&self, find: impl FnOnce(&C) -> Result<D, E>) -> Result<Channel<D>, E> {
        Ok(match self {
            Channel::Session => Channel::Session,
            Channel::ApiKey => Channel::ApiKey,
            Channel::OAuth(client) => Channel::OAuth(find(client)?),
        })
    }
}

impl Channel {
    /// The channel of an OAuth client's access token.
    pub fn oauth(client: impl Into<String>) -> Channel {
        Channel::OAuth(client.into())
    }
}

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(text: &str) -> Result<Channel, UnknownChannel> {
        match text {
            "session" => Ok(Channel::Session),
            "api-key" => Ok(Channel::ApiKey),
            other => match other.strip_prefix("oauth:") {
                Some(client) if !client.is_empty() => Ok(Channel::oauth(client)),
                _ => Err(UnknownChannel(other.to_owned())),
            },
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Session => f.write_str("session"),
            Channel::ApiKey => f.write_str("api-key"),
            Channel::OAuth(client) => write!(f, "oauth:{client}"),
        }
    }
}

impl serde::Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Channel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Channel, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_unknown_text_is_named() {
        for text in ["session", "api-key", "oauth:reporting"] {
            let channel: Channel = text.parse().unwrap();
            assert_eq!(channel.to_string(), text);
            assert_eq!(serde_json::to_string(&channel).unwrap(), format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Channel>(&format!("\"{text}\"")).unwrap(), channel);
        }
        assert_eq!(
            "oauth:reporting".parse::<Channel>().unwrap().client().map(String::as_str),
            Some("reporting")
        );
        for bad in ["", "Session", "oauth:", "apikey"] {
            assert_eq!(bad.parse::<Channel>(), Err(UnknownChannel(bad.to_owned())));
        }
        let error = serde_json::from_str::<Channel>("\"token\"").unwrap_err().to_string();
        assert!(error.contains("unknown channel `token`"), "{error}");
    }
}
