//! The console's only way to data: the server's own API, called in-process.
//!
//! Every page is built from what an API route answers to the signed-in user's key, sent as a
//! bearer credential through the very router that serves scripts (`tower::ServiceExt::oneshot`,
//! no socket). So the console cannot show or do anything the API would refuse that user: the
//! API's authentication, tenant isolation, permission checks, rate limits and audit logging all
//! apply unchanged. It knows the API only as JSON, never the server's types.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

/// The largest answer the console reads from one API call (a page of 1,000 events is far less).
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// The server's API router, as the console calls it.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// An API call that did not answer 2xx: its status and the API's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP status the API answered.
    pub status: u16,
    /// The API's message (`message` of `{code, message}`, or `detail`/`title` of Qlik's envelope).
    pub message: String,
    /// What to do about it, when the API says.
    pub hint: Option<String>,
}

impl ApiFailure {
    fn new(status: u16, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            message: message.into(),
            hint: None,
        }
    }

    /// Reads the error out of either of the API's envelopes.
    fn from_answer(status: StatusCode, body: &Value) -> ApiFailure {
        let first = &body["errors"][0];
        let message = body["message"]
            .as_str()
            .or_else(|| first["detail"].as_str())
            .or_else(|| first["title"].as_str())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("the API refused the request"))
            .to_owned();
        ApiFailure {
            status: status.as_u16(),
            message,
            hint: body["hint"].as_str().map(str::to_owned),
        }
    }
}

impl Api {
    /// The console's client of `router` (the API without the console).
    pub fn new(router: Router) -> Api {
        Api { router }
    }

    /// `GET path_and_query` as the holder of `key`.
    pub async fn get(&self, key: &str, path_and_query: &str) -> Result<Value, ApiFailure> {
        self.send(key, Method::GET, path_and_query, None).await
    }

    /// `POST path` with a JSON body as the holder of `key`.
    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Result<Value, ApiFailure> {
        self.send(key, Method::POST, path, Some(body)).await
    }

    async fn send(&self, key: &str, method: Method, uri: &str, body: Option<&Value>) -> Result<Value, ApiFailure> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            // The API builds absolute links from the configured public URL or the Host; the
            // console reads only their query strings, so any host will do.
            .header(header::HOST, "localhost")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::ACCEPT, "application/json");
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(|_| ApiFailure::new(400, "the request cannot be built"))?;
        let answer = match self.router.clone().oneshot(request).await {
            Ok(answer) => answer,
            Err(never) => match never {},
        };
        let status = answer.status();
        let bytes = axum::body::to_bytes(answer.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|_| ApiFailure::new(502, "the API's answer could not be read"))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| ApiFailure::new(502, "the API's answer is not JSON"))?
        };
        if status.is_success() {
            Ok(value)
        } else {
            Err(ApiFailure::from_answer(status, &value))
        }
    }
}

/// The value of `name` in the query string of a link the API answered (`links.next.href`), so
/// a page can hand the cursor on without knowing how the API spells it.
pub fn link_param(link: &Value, name: &str) -> Option<String> {
    let href = link["href"].as_str().or_else(|| link.as_str())?;
    let query = href.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A query string of the pairs whose value is not empty, each encoded.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !value.is_empty() {
            serializer.append_pair(key, value);
        }
    }
    serializer.finish()
}
