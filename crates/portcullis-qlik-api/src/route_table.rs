//! A router built from its routes' OpenAPI annotations, which keeps the list of what it serves.
//!
//! [`RouteTable::add`] takes a handler with the type `#[utoipa::path]` generated for it
//! (`__path_<handler>`): the route's path and methods come from the annotation, so the router
//! and the OpenAPI document cannot spell a route differently, and no route is served without an
//! annotation. [`RouteTable::routes`] lists what the router serves, so a test can check that
//! the OpenAPI document lists exactly those routes (a handler annotated but left out of the
//! document fails it). Routers are built only through this table: a tidy test refuses a bare
//! `.route(` anywhere else in the server's and this crate's sources.
//!
//! It does not build the document itself: the `#[derive(OpenApi)]` lists do, where the
//! schemas and security schemes are.

use std::fmt;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use utoipa::openapi::path::HttpMethod;

/// One route the router serves: an upper-case method and a path in the OpenAPI spelling
/// (`/users/{id}`, which is also axum's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// `GET`, `POST`, ...
    pub method: String,
    /// `/users/{id}`.
    pub path: String,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A router and the list of the routes it serves.
pub struct RouteTable<S> {
    router: Router<S>,
    routes: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        RouteTable::new()
    }
}

fn method_word(method: &HttpMethod) -> (&'static str, MethodFilter) {
    match method {
        HttpMethod::Get => ("GET", MethodFilter::GET),
        HttpMethod::Post => ("POST", MethodFilter::POST),
        HttpMethod::Put => ("PUT", MethodFilter::PUT),
        HttpMethod::Delete => ("DELETE", MethodFilter::DELETE),
        HttpMethod::Options => ("OPTIONS", MethodFilter::OPTIONS),
        HttpMethod::Head => ("HEAD", MethodFilter::HEAD),
        HttpMethod::Patch => ("PATCH", MethodFilter::PATCH),
        HttpMethod::Trace => ("TRACE", MethodFilter::TRACE),
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    /// An empty table.
    pub fn new() -> Self {
        RouteTable {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    /// Serves `handler` at the path and methods of its annotation `P` (the `__path_<handler>`
    /// type `#[utoipa::path]` generated; pass its unit value).
    ///
    /// Panics like axum's `Router::route` when the method is already served at that path,
    /// which is a programming error found by any test that builds the router.
    pub fn add<P: utoipa::Path, H: Handler<T, S>, T: 'static>(mut self, _annotation: P, handler: H) -> Self {
        let path = P::path();
        let mut method_router = MethodRouter::new();
        for method in P::methods() {
            let (word, filter) = method_word(&method);
            method_router = method_router.on(filter, handler.clone());
            self.routes.push(Route {
                method: word.to_owned(),
                path: path.clone(),
            });
        }
        self.router = self.router.route(&path, method_router);
        self
    }

    /// Serves another table's routes too.
    pub fn merge(mut self, other: RouteTable<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    /// Serves another table's routes under `prefix` (`/api/v1`).
    pub fn nest(mut self, prefix: &str, other: RouteTable<S>) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.routes.extend(other.routes.into_iter().map(|route| Route {
            method: route.method,
            path: format!("{}{}", prefix.trim_end_matches('/'), route.path),
        }));
        self
    }

    /// Changes the router without changing its routes: layers, fallbacks.
    pub fn map_router(mut self, change: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = change(self.router);
        self
    }

    /// Gives the router its state, as `Router::with_state` does.
    pub fn with_state<S2>(self, state: S) -> RouteTable<S2> {
        RouteTable {
            router: self.router.with_state(state),
            routes: self.routes,
        }
    }

    /// The routes served, in the order they were added.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The router.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}
