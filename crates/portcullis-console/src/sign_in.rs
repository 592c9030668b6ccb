//! Signing in with an API key, and out.
//!
//! A key is accepted when the API accepts it (`GET /v1/whoami` answers a user); it is then
//! kept in the session cookie ([`crate::session`]). A wrong key answers the sign-in page with
//! the API's reason next to the field.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::session::{self, CSRF_FIELD, SESSION_COOKIE, SIGN_IN_COOKIE, Session};
use crate::{Console, html, layout};

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(rename = "csrf", default)]
    token: String,
}

/// The sign-out form's fields.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(rename = "csrf", default)]
    token: String,
}

/// `GET /console/sign-in`: the form, with a fresh double-submit token.
pub async fn form(State(console): State<Console>, headers: HeaderMap) -> Response {
    if Session::of(&headers).is_some() {
        return Redirect::to("/console").into_response();
    }
    console.sign_in_form(StatusCode::OK, None)
}

/// `POST /console/sign-in`: checks the form's token against its cookie, then the key with
/// the API.
pub async fn submit(State(console): State<Console>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Response {
    let expected = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same(expected.as_bytes(), form.token.as_bytes()) {
        return console.sign_in_form(
            StatusCode::FORBIDDEN,
            Some("the sign-in form expired or came from another site; enter the key again"),
        );
    }
    let key = form.key.trim();
    if key.is_empty() {
        return console.sign_in_form(StatusCode::UNAUTHORIZED, Some("enter an API key"));
    }
    let who = match console.api.get(key, "/v1/whoami").await {
        Ok(who) => who,
        Err(failure) if failure.status == 401 => {
            return console.sign_in_form(StatusCode::UNAUTHORIZED, Some(&format!("this key was not accepted: {}", failure.message)));
        }
        Err(failure) => return console.sign_in_form(StatusCode::BAD_GATEWAY, Some(&format!("cannot check the key: {}", failure.message))),
    };
    if who["user"].as_str().is_none() {
        return console.sign_in_form(
            StatusCode::UNAUTHORIZED,
            Some("this credential acts for no user of a tenant (the operator token?); sign in with a user's API key"),
        );
    }
    let mut response = Redirect::to("/console").into_response();
    let secure = console.config.secure_cookies;
    for cookie in [
        session::set_cookie(SESSION_COOKIE, key, secure),
        session::clear_cookie(SIGN_IN_COOKIE, secure),
    ] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `POST /console/sign-out`: forgets the session (the key itself stays valid: it is the user's).
pub async fn sign_out(State(console): State<Console>, headers: HeaderMap, Form(form): Form<SignOutForm>) -> Response {
    let Some(session) = Session::of(&headers) else {
        return Redirect::to("/console/sign-in").into_response();
    };
    if !session.accepts(&form.token) {
        return csrf_refused(&session);
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::clear_cookie(SESSION_COOKIE, console.config.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A write whose form did not carry the session's token: refused, nothing done.
pub fn csrf_refused(session: &Session) -> Response {
    let body = maud::html! {
        div class="refusal" role="alert" {
            p { "This form did not carry this session's security token (field `" (CSRF_FIELD) "`), so nothing was done. Reload the page and try again." }
        }
    };
    html(
        StatusCode::FORBIDDEN,
        layout::page("Refused", layout::Section::Explorer, Some(session), body),
    )
}

impl Console {
    fn sign_in_form(&self, status: StatusCode, error: Option<&str>) -> Response {
        let Some(token) = session::random_token() else {
            return (StatusCode::SERVICE_UNAVAILABLE, "no randomness to make a sign-in form with").into_response();
        };
        let mut response = html(status, layout::sign_in_page(&token, error));
        if let Ok(value) = HeaderValue::from_str(&session::set_cookie(SIGN_IN_COOKIE, &token, self.config.secure_cookies)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }
}
