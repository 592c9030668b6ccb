//! The audit key: a secret kept outside the database (a key file or an environment variable)
//! that keys the chain's hashes with HMAC-SHA256 and signs checkpoints, so that someone who can
//! write to the database but does not hold the key cannot rewrite the chain and recompute it.
//!
//! A key is named by its *key id*, the first 8 bytes of HMAC(key, "portcullis audit key id")
//! in hex: stored beside every event it sealed, so a verifier knows which key to use and a
//! wrong key is a clear error rather than "altered". The key itself is never stored, logged or
//! printed (`Debug` shows the id). This module does no IO: callers read the key's text.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest key accepted, in bytes (HMAC-SHA256's own block of security).
pub const MIN_KEY_BYTES: usize = 32;

/// What each use of the key is prefixed with, so an event hash can never be replayed as a
/// checkpoint signature or the other way round.
pub(crate) mod domain {
    pub const KEY_ID: &[u8] = b"portcullis audit key id";
    pub const EVENT: &[u8] = b"portcullis audit event\n";
    pub const CHECKPOINT: &[u8] = b"portcullis audit checkpoint\n";
    pub const ARCHIVE: &[u8] = b"portcullis audit archive\n";
}

/// Why a key's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Neither hex nor base64.
    #[error("the audit key is neither hex nor base64; hint: generate one with `openssl rand -hex 32`")]
    Encoding,
    /// Shorter than [`MIN_KEY_BYTES`].
    #[error("the audit key has {0} bytes, fewer than {MIN_KEY_BYTES}; hint: generate one with `openssl rand -hex 32`")]
    TooShort(usize),
}

/// An audit key. Cheap to clone; never printed.
#[derive(Clone)]
pub struct AuditKey {
    secret: std::sync::Arc<[u8]>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl PartialEq for AuditKey {
    /// Keys are equal when their ids are (the id is derived from the secret).
    fn eq(&self, other: &AuditKey) -> bool {
        self.id == other.id
    }
}

impl Eq for AuditKey {}

impl AuditKey {
    /// A key from its raw bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(secret: &[u8]) -> Result<AuditKey, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        let secret: std::sync::Arc<[u8]> = secret.into();
        let mut key = AuditKey { secret, id: String::new() };
        key.id = crate::chain::hex(&key.mac(domain::KEY_ID, &[])[..8]);
        Ok(key)
    }

    /// A key from its text: hex (only hex digits, an even number of them) or else base64 (standard or URL-safe alphabet,
    /// padded or not); surrounding whitespace, such as a key file's final newline, is ignored.
    pub fn from_text(text: &str) -> Result<AuditKey, KeyError> {
        let text = text.trim();
        let bytes = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text).ok_or(KeyError::Encoding)?
        } else {
            decode_base64(text).ok_or(KeyError::Encoding)?
        };
        AuditKey::from_bytes(&bytes)
    }

    /// The key id: 16 hex digits naming the key, never revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `domain` followed by `parts`.
    pub(crate) fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(domain);
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `hex_mac` is the HMAC of `domain` and `parts`, compared in constant time.
    pub(crate) fn verify_mac(&self, domain: &[u8], parts: &[&[u8]], hex_mac: &str) -> bool {
        let Some(given) = decode_hex(hex_mac) else { return false };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(domain);
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(&given).is_ok()
    }
}

/// The keys a process holds: the first seals new events and signs checkpoints; the others
/// (older keys, after a rotation) only verify what they sealed. Empty: events are sealed with
/// plain SHA-256, as before keys existed. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: std::sync::Arc<[AuditKey]>,
}

impl Keyring {
    /// No key: plain SHA-256 chains, and keyed events cannot be checked.
    pub fn none() -> Keyring {
        Keyring::default()
    }

    /// These keys, the first one sealing. Repeated keys are kept once.
    pub fn new(keys: impl IntoIterator<Item = AuditKey>) -> Keyring {
        let mut unique: Vec<AuditKey> = Vec::new();
        for key in keys {
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        Keyring { keys: unique.into() }
    }

    /// The key that seals new events and signs checkpoints.
    pub fn sealing(&self) -> Option<&AuditKey> {
        self.keys.first()
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the keys held, the sealing one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let text = text.trim_end_matches('=');
    STANDARD_NO_PAD.decode(text).or_else(|_| URL_SAFE_NO_PAD.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_and_base64_give_the_same_key() {
        let from_hex = AuditKey::from_text(&format!("  {HEX}\n")).unwrap();
        let from_base64 = AuditKey::from_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert_eq!(from_hex, from_base64);
        assert_eq!(from_hex.id().len(), 16);
        assert!(from_hex.id().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn short_or_garbled_keys_are_refused() {
        assert_eq!(AuditKey::from_text("00ff").unwrap_err(), KeyError::TooShort(2));
        assert_eq!(AuditKey::from_text("not a key!").unwrap_err(), KeyError::Encoding);
        assert_eq!(
            AuditKey::from_text(&format!("{HEX}0")).unwrap_err(),
            KeyError::Encoding,
            "odd hex is not base64"
        );
        assert_eq!(AuditKey::from_text("").unwrap_err(), KeyError::TooShort(0));
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = AuditKey::from_text(HEX).unwrap();
        let shown = format!("{key:?} {:?}", Keyring::new([key.clone()]));
        assert!(
            shown.contains(key.id()) && !shown.contains("0, 1, 2") && !shown.contains("1e1f"),
            "{shown}"
        );
    }

    #[test]
    fn different_keys_have_different_ids_and_macs() {
        let a = AuditKey::from_bytes(&[1; 32]).unwrap();
        let b = AuditKey::from_bytes(&[2; 32]).unwrap();
        assert_ne!(a.id(), b.id());
        let mac = crate::chain::hex(&a.mac(domain::EVENT, &[b"x"]));
        assert!(a.verify_mac(domain::EVENT, &[b"x"], &mac));
        assert!(!b.verify_mac(domain::EVENT, &[b"x"], &mac));
        assert!(!a.verify_mac(domain::CHECKPOINT, &[b"x"], &mac), "domains are separate");
        assert!(!a.verify_mac(domain::EVENT, &[b"x"], "zz"));
    }
}
