//! Who is signed in, and the CSRF tokens that guard every form that writes.
//!
//! The session cookie holds the API key the user signed in with: `HttpOnly` (no script
//! reads it), `SameSite=Strict` (no other site's page sends it), `Path=/`, and `Secure` when the
//! server's public URL is https. Nothing is kept on the server, so every node of a cluster
//! serves a signed-in user, and a revoked key signs its holder out at the next page (the API
//! refuses it).
//!
//! CSRF: a signed-in form carries HMAC-SHA256(key = the session's API key, "portcullis console
//! csrf"): another site can neither read the cookie nor compute the token. The sign-in form,
//! before any session, uses a double-submit token: a random value in a `SameSite=Strict`
//! cookie of its own that the form must repeat. Both are compared in constant time.

use axum::http::HeaderMap;
use axum::http::header;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "portcullis_console";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "portcullis_console_signin";
/// The hidden field every form that writes carries.
pub const CSRF_FIELD: &str = "csrf";

/// What a cookie value may hold unencoded.
const COOKIE_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A signed-in user: the API key the console sends as theirs.
#[derive(Clone)]
pub struct Session {
    /// The API key.
    pub key: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // INVARIANT: the key is never written to a log.
        f.write_str("Session { key: <hidden> }")
    }
}

impl Session {
    /// The session of a request, from its cookie.
    pub fn of(headers: &HeaderMap) -> Option<Session> {
        cookie(headers, SESSION_COOKIE).filter(|key| !key.is_empty()).map(|key| Session { key })
    }

    /// The CSRF token of this session's forms.
    pub fn csrf_token(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(b"portcullis console csrf");
        hex(&mac.finalize().into_bytes())
    }

    /// Whether `token` (from a form) is this session's.
    pub fn accepts(&self, token: &str) -> bool {
        same(token.as_bytes(), self.csrf_token().as_bytes())
    }
}

/// The value of cookie `name`, decoded.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| percent_decode_str(value).decode_utf8().ok().map(|v| v.into_owned()))
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` when asked.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let value = utf8_percent_encode(value, COOKIE_VALUE);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// A fresh random token (the sign-in form's double-submit value).
/// None when the system has no randomness to give: then no sign-in form can be served safely.
pub fn random_token() -> Option<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// Equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
