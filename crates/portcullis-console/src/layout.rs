//! The page frame every console page shares (landmarks, navigation, sign-out form) and the
//! small pieces pages repeat: allow/deny badges, explanations, pagers, API refusals.
//!
//! Plain HTML that works without script: every control is a link, a form or a `<details>`, so
//! the keyboard reaches everything in document order.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::api::ApiFailure;
use crate::session::{CSRF_FIELD, Session};

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The effective access explorer.
    Explorer,
    /// The download log.
    Downloads,
    /// The change history.
    History,
    /// Signing in.
    SignIn,
}

/// A whole page: `title` in the tab and as the `<h1>`, `body` in `<main>`.
pub fn page(title: &str, section: Section, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Portcullis console" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    span class="brand" { "Portcullis" }
                    @if let Some(session) = session {
                        nav aria-label="Console" {
                            ul {
                                (nav_link("/console", "Access explorer", section == Section::Explorer))
                                (nav_link("/console/downloads", "Download log", section == Section::Downloads))
                                (nav_link("/console/history", "Change history", section == Section::History))
                            }
                        }
                        form class="sign-out" method="post" action="/console/sign-out" {
                            input type="hidden" name=(CSRF_FIELD) value=(session.csrf_token());
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        li {
            @if current {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    }
}

/// "Allowed" or "Denied", in words and colour.
pub fn verdict(allowed: bool) -> Markup {
    html! {
        @if allowed {
            span class="badge allow" { "Allowed" }
        } @else {
            span class="badge deny" { "Denied" }
        }
    }
}

/// An explanation as the API gives it (`{tokens, reasons: [{kind, tokens, text}]}`): each
/// reason in words, its path tokens beside it.
pub fn explanation(explanation: &Value) -> Markup {
    let reasons = explanation["reasons"].as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @if reasons.is_empty() {
            span class="muted" { "no explanation given" }
        } @else {
            ul class="reasons" {
                @for reason in reasons {
                    li {
                        span class="kind" { (reason["kind"].as_str().unwrap_or("reason")) }
                        " "
                        (reason["text"].as_str().unwrap_or_default())
                        @let tokens = token_list(&reason["tokens"]);
                        @if !tokens.is_empty() {
                            " " code class="tokens" { (tokens) }
                        }
                    }
                }
            }
        }
    }
}

/// Tokens as one line (`role:Exporters group:finance`).
pub fn token_list(tokens: &Value) -> String {
    tokens
        .as_array()
        .map(|tokens| tokens.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// What the API answered instead of data, with its status, so the user sees the API's own
/// refusal (a 403 is the API saying no, not the console).
pub fn refusal(failure: &ApiFailure) -> Markup {
    html! {
        div class="refusal" role="alert" {
            p {
                strong { "The API refused this (" (failure.status) "): " }
                (failure.message)
            }
            @if let Some(hint) = &failure.hint {
                p class="muted" { (hint) }
            }
        }
    }
}

/// A "Next page" link, when there is one.
pub fn next_link(href: Option<String>) -> Markup {
    html! {
        @if let Some(href) = href {
            nav class="pager" aria-label="Pages" {
                a href=(href) rel="next" { "Next page" }
            }
        }
    }
}

/// The sign-in form's page (also what a wrong key is answered with).
pub fn sign_in_page(token: &str, error: Option<&str>) -> Markup {
    let body = html! {
        p { "Sign in with an API key of your tenant. The console shows what the API answers to that key, nothing more." }
        form class="sign-in" method="post" action="/console/sign-in" {
            input type="hidden" name=(CSRF_FIELD) value=(token);
            div class="field" {
                label for="api-key" { "API key" }
                @if let Some(error) = error {
                    input id="api-key" name="key" type="password" autocomplete="current-password" required autofocus aria-invalid="true" aria-describedby="api-key-error";
                    p id="api-key-error" class="field-error" { (error) }
                } @else {
                    input id="api-key" name="key" type="password" autocomplete="current-password" required autofocus;
                }
            }
            button type="submit" { "Sign in" }
        }
    };
    page("Sign in", Section::SignIn, None, body)
}
