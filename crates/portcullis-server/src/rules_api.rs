//! Security-rule sites over HTTP: a tenant may hold named QSEoW rule sites (users, resources,
//! rules, as in a site file), load them, and ask decisions with explanations.
//!
//! `PUT /v1/rules/sites/{name}` takes a site file (YAML or JSON; a whole scenario file is
//! accepted and its `site:` taken), validates and compiles it, and answers 400 with every
//! problem (rule name, line and column) when it cannot; `GET` gives the text back as uploaded,
//! `DELETE` removes it, and `POST /v1/rules/sites/{name}/check` decides
//! `{user, action, resource, context}`.
//!
//! Sites are stored (`Store::put_rule_site`: the text as uploaded, its format, a per-site
//! revision, who wrote it and when), each write in one transaction with its audit event
//! (`com.qlik.v1.security-rule.updated`). A write answers the site's revision as its `ETag`,
//! and a replacement or deletion may send it back as `If-Match` (412 when the site moved on).
//! Every node keeps each of its tenants' sites compiled in memory ([`RuleSites`], in the
//! tenant's `TenantState`, so they go with the tenant): read from the store when the tenant is
//! loaded, swapped in after this node's own writes before they are answered, and, for other
//! nodes' writes, read again one site at a time when the tenant's rule-sites revision moves
//! (the change feed's `rule-sites` notice, or the poll). Writes and catch-ups of a tenant's
//! sites on a node run one at a time, and a site is never replaced by an older revision of
//! itself, so a node never answers from a site older than one it acknowledged.
//!
//! `PUT /v1/rules/sites/{name}/qrs` takes a whole QRS site instead (a `.tar.gz` of the
//! seven `/qrs/<kind>/full` JSON files, or one JSON object of the seven arrays), answers 400
//! with every problem at its file, object id and field, and stores the site as a JSON site
//! file; `GET …/qrs` writes a stored site back as that JSON object.
//!
//! Listing and reading a site back ask the store; checks read the compiled copy. A decision
//! on `export` or `exportdata` is always logged, and stored before it is answered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::FromRequest as _;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_model::Action as CloudAction;
use portcullis_model::source::LineIndex;
use portcullis_qlik_api::route_table::RouteTable;
use portcullis_rules::qrs_site::{self, QrsSiteFiles, QrsSiteProblem, Severity};
use portcullis_rules::site_file::{LoadedSite, from_yaml, site_to_json};
use portcullis_rules::{Action, RequestContext};
use serde::Deserialize;
use serde_json::json;

use portcullis_store::{EventDraft, EventType, NewRuleSite, ResourceRef, RuleSiteFormat, Store, StoreError, TenantId};

use crate::auth::Caller;
use crate::err::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// A site as this node holds it: compiled from the stored text of one revision.
#[derive(Debug)]
pub struct HeldSite {
    /// The site's revision (its `ETag`).
    pub revision: u64,
    /// The compiled site, or why the stored text does not compile on this node (a database
    /// written by another version): checks on it then answer 500 saying so.
    pub compiled: Result<LoadedSite, String>,
}

/// What a node holds of one tenant's sites.
#[derive(Debug, Default)]
struct Held {
    /// The tenant's rule-sites revision these sites are complete at: every write up to it is
    /// in `sites` (later writes of this node may be too).
    revision: u64,
    sites: HashMap<String, Arc<HeldSite>>,
}

/// One tenant's rule sites on this node, compiled, by site name.
#[derive(Debug, Default)]
pub struct RuleSites {
    held: RwLock<Held>,
    /// Taken by every write and catch-up of these sites on this node, so one never
    /// overtakes another: a catch-up's read comes after every write this node acknowledged.
    writing: tokio::sync::Mutex<()>,
}

impl RuleSites {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads a tenant's sites from the store and compiles them (when the tenant is loaded).
    pub async fn load(store: &dyn Store, tenant: TenantId) -> Result<RuleSites, StoreError> {
        let sites = RuleSites::default();
        let held = read_sites(store, tenant, &sites).await?;
        *sites.write() = held;
        Ok(sites)
    }

    /// A site by name.
    pub fn get(&self, name: &str) -> Option<Arc<HeldSite>> {
        self.read().sites.get(name).cloned()
    }

    /// The sites' names and revisions, by name.
    pub fn names(&self) -> Vec<(String, u64)> {
        let mut names: Vec<(String, u64)> = self.read().sites.iter().map(|(name, site)| (name.clone(), site.revision)).collect();
        names.sort();
        names
    }

    /// The tenant's rule-sites revision these sites are complete at.
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// Forgets every site (the tenant is gone).
    pub fn clear(&self) {
        let mut held = self.write();
        held.sites.clear();
    }

    /// Takes in this node's own write of a site (or its deletion, `None`) at `revision`;
    /// never replaces a newer revision of the site.
    fn written(&self, name: &str, revision: u64, site: Option<HeldSite>) {
        let mut held = self.write();
        if held.sites.get(name).is_some_and(|held| held.revision >= revision) {
            return;
        }
        match site {
            Some(site) => held.sites.insert(name.to_owned(), Arc::new(site)),
            None => held.sites.remove(name),
        };
        // Nobody else wrote in between: the sites are complete at this revision too.
        if held.revision + 1 == revision {
            held.revision = revision;
        }
    }

    /// Brings the sites up to the store's, reading only the sites written since the revision
    /// held (another node's writes): after the change feed's `rule-sites` notice or a poll.
    pub async fn follow(&self, store: &dyn Store, tenant: TenantId) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let held = read_sites(store, tenant, self).await?;
        *self.write() = held;
        Ok(())
    }
}

/// The tenant's sites as the store has them now, reusing the compiled sites of `current`
/// whose revision did not move and compiling the others (off the async threads).
async fn read_sites(store: &dyn Store, tenant: TenantId, current: &RuleSites) -> Result<Held, StoreError> {
    let after = current.revision();
    let read = store.rule_sites_after(tenant, after).await?;
    let mut changed: HashMap<String, portcullis_store::RuleSiteRecord> = read.changed.into_iter().map(|site| (site.name.clone(), site)).collect();
    let mut sites = HashMap::with_capacity(read.heads.len());
    for (name, revision) in read.heads {
        if let Some(held) = current.get(&name).filter(|held| held.revision == revision) {
            sites.insert(name, held);
            continue;
        }
        let record = match changed.remove(&name) {
            Some(record) => record,
            // Written at or before the revision held, but not held here: read it alone.
            None => match store.rule_site(tenant, &name).await? {
                Some(record) => record,
                None => continue,
            },
        };
        let compiled = tokio::task::spawn_blocking(move || compile(&record.source).map_err(|error| error.body.message))
            .await
            .map_err(|e| StoreError::Database(format!("compiling a rule site failed: {e}")))?;
        if let Err(problem) = &compiled {
            tracing::error!(%tenant, site = %name, revision, %problem, "a stored rule site does not compile on this node");
        }
        sites.insert(name, Arc::new(HeldSite { revision, compiled }));
    }
    Ok(Held {
        revision: read.revision,
        sites,
    })
}

/// What the rule-site routes share: the server's state.
#[derive(Clone)]
pub(crate) struct RulesState {
    app: AppState,
}

/// The routes; they carry their state, so they merge into any router.
pub fn routes<S: Clone + Send + Sync + 'static>(app: AppState) -> RouteTable<S> {
    RouteTable::new()
        .add(__path_list_sites, list_sites)
        .add(__path_put_site, put_site)
        .add(__path_get_site, get_site)
        .add(__path_delete_site, delete_site)
        .add(__path_check, check)
        .add(__path_put_qrs_site, put_qrs_site)
        .add(__path_get_qrs_site, get_qrs_site)
        .with_state(RulesState { app })
}

async fn caller(state: &RulesState, request: Request) -> Result<(Caller, Request), ApiError> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state.app).await?;
    Ok((caller, Request::from_parts(parts, body)))
}

/// Managing sites is managing access rules: the same right as creating roles.
fn may_manage(caller: &Caller) -> Result<(), ApiError> {
    if caller.may(&caller.tenant.view().snapshot, CloudAction::RoleCreate) {
        Ok(())
    } else {
        Err(ApiError::forbidden("managing rule sites needs the right to manage roles (TenantAdmin)"))
    }
}

/// Parses and compiles a site file, or says every problem with its line and column.
pub fn compile(text: &str) -> Result<LoadedSite, ApiError> {
    let (file, base) = from_yaml(text).map_err(|e| {
        let at = e.location().map(|at| format!("line {at}: ")).unwrap_or_default();
        let hint = e.hint().unwrap_or_else(|| "send a site file: `users`, `resources`, `rules`".to_owned());
        ApiError::bad_request("invalid_site", format!("{at}{}", e.message())).hint(hint)
    })?;
    file.load(&base).map_err(|errors| {
        let lines = LineIndex::build(text);
        let problems: Vec<String> = errors
            .iter()
            .map(|error| match lines.locate(&error.path) {
                Some(at) => format!("line {at}: {}", error.with_hint()),
                None => error.with_hint(),
            })
            .collect();
        ApiError::bad_request("invalid_site", problems.join("; ")).hint("fix every problem listed; nothing was stored")
    })
}

/// The format of an uploaded site: its `Content-Type` when it says, else its first character.
pub fn format_of(content_type: Option<&str>, text: &str) -> RuleSiteFormat {
    match content_type.map(str::to_ascii_lowercase) {
        Some(kind) if kind.contains("json") => RuleSiteFormat::Json,
        Some(kind) if kind.contains("yaml") => RuleSiteFormat::Yaml,
        _ if text.trim_start().starts_with(['{', '[']) => RuleSiteFormat::Json,
        _ => RuleSiteFormat::Yaml,
    }
}

/// The `Content-Type` of a site's text.
fn content_type(format: RuleSiteFormat) -> &'static str {
    match format {
        RuleSiteFormat::Yaml => "application/yaml",
        RuleSiteFormat::Json => "application/json",
    }
}

/// The `ETag` of a site revision.
fn etag(revision: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{revision}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// What an `If-Match` header asks of the stored site (RFC 9110 §13.1.1).
enum IfMatch {
    /// No header: write whatever is stored.
    Absent,
    /// `*`: the site must exist.
    Exists,
    /// One or more revisions (`"3"`, `W/"3"`, `3`, or a list `"3", "4"`): the stored one must be among them.
    OneOf(Vec<u64>),
}

impl IfMatch {
    fn of(headers: &HeaderMap) -> Result<IfMatch, ApiError> {
        let Some(value) = headers.get(header::IF_MATCH) else {
            return Ok(IfMatch::Absent);
        };
        let bad = || {
            ApiError::bad_request("invalid_if_match", "`If-Match` must be `*` or site revisions, as their `ETag` gives them")
                .hint("send the `ETag` of the site's last read or write, e.g. `If-Match: \"3\"`")
                .field("If-Match")
        };
        let text = value.to_str().map_err(|_| bad())?.trim();
        if text == "*" {
            return Ok(IfMatch::Exists);
        }
        let revision = |tag: &str| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            let tag = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(tag);
            tag.parse::<u64>().map_err(|_| bad())
        };
        text.split(',').map(revision).collect::<Result<Vec<u64>, ApiError>>().map(IfMatch::OneOf)
    }

    /// The revision the store must find (its compare-and-swap), or 412 when the stored site
    /// already fails the condition. `*` and lists are checked against the stored revision,
    /// which then guards the write: a site that moves on meanwhile fails it too.
    async fn expected_revision(self, state: &RulesState, tenant: portcullis_store::TenantId, name: &str) -> Result<Option<u64>, ApiError> {
        let allowed = match self {
            IfMatch::Absent => return Ok(None),
            IfMatch::OneOf(revisions) if revisions.len() == 1 => return Ok(revisions.first().copied()),
            IfMatch::Exists => None,
            IfMatch::OneOf(revisions) => Some(revisions),
        };
        let stored = state.app.store().rule_site(tenant, name).await?.map(|site| site.revision);
        match stored {
            Some(revision) if allowed.as_ref().is_none_or(|allowed| allowed.contains(&revision)) => Ok(Some(revision)),
            Some(revision) => {
                Err(StoreError::PreconditionFailed(format!("rule site `{name}` is at revision {revision}, not one `If-Match` names")).into())
            }
            None => Err(StoreError::PreconditionFailed(format!("`If-Match` asks for rule site `{name}`, which does not exist")).into()),
        }
    }
}

/// A site name not found in this tenant.
fn unknown_site(name: &str) -> ApiError {
    ApiError::not_found("unknown_site", format!("no rule site `{name}` in this tenant"))
}

/// The tenant's rule sites.
#[utoipa::path(get, path = "/v1/rules/sites", tag = "rules", responses((status = 200, description = "The sites' names and revisions", body = SiteList), (status = 401, description = "No credentials"), (status = 403, description = "Needs TenantAdmin")), security(("bearer" = [])))]
pub(crate) async fn list_sites(State(state): State<RulesState>, request: Request) -> Result<Response, ApiError> {
    let (caller, _) = caller(&state, request).await?;
    may_manage(&caller)?;
    // The heads only (no text): `u64::MAX` asks for no site whole.
    let read = state.app.store().rule_sites_after(caller.tenant.id, u64::MAX).await?;
    let names: Vec<&str> = read.heads.iter().map(|(name, _)| name.as_str()).collect();
    let items: Vec<serde_json::Value> = read
        .heads
        .iter()
        .map(|(name, revision)| json!({ "name": name, "revision": revision }))
        .collect();
    Ok(Json(json!({ "sites": names, "items": items })).into_response())
}

/// Loads (or replaces) a rule site from a site file; refused whole with every problem located.
#[utoipa::path(put, path = "/v1/rules/sites/{name}", tag = "rules",
    params(("name" = String, Path, description = "Site name (at most 200 bytes)"), ("If-Match" = Option<String>, Header, description = "Replace only the site at this revision (its `ETag`), one of a list of them, or `*`: only if it exists")),
    request_body(content = String, content_type = "application/yaml", description = "A site file: users, resources, rules (YAML, or JSON with `Content-Type: application/json`)"),
    responses(
        (status = 200, description = "Stored and loaded: its revision and counts of users, resources, rules", body = SiteLoaded, headers(("ETag" = String, description = "The site's revision"))),
        (status = 400, description = "Every problem, with line:column"),
        (status = 403, description = "Needs TenantAdmin"),
        (status = 409, description = "The tenant holds as many sites as it may (`limit_reached`)"),
        (status = 412, description = "`If-Match` names another revision than the stored one")),
    security(("bearer" = [])))]
pub(crate) async fn put_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let Upload {
        caller,
        expected_revision,
        kind,
        bytes,
    } = upload(&state, &name, request).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("not_utf8", "the site file is not UTF-8 text"))?;
    let loaded = compile(&text)?;
    let format = format_of(kind.as_deref(), &text);
    store_site(&state, &caller, &name, expected_revision, (format, &text), loaded, serde_json::Map::new()).await
}

/// What a site's `PUT` (site file or QRS site) reads before its body is looked at: a caller who
/// may manage sites, the `If-Match` revision, the content type and the body.
struct Upload {
    caller: Caller,
    expected_revision: Option<u64>,
    kind: Option<String>,
    bytes: axum::body::Bytes,
}

async fn upload(state: &RulesState, name: &str, request: Request) -> Result<Upload, ApiError> {
    let (caller, request) = caller(state, request).await?;
    may_manage(&caller)?;
    let expected_revision = IfMatch::of(request.headers())?.expected_revision(state, caller.tenant.id, name).await?;
    let kind = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(request.into_body(), crate::MAX_BODY_BYTES)
        .await
        .map_err(|e| ApiError::unreadable_body(StatusCode::BAD_REQUEST, &e.to_string()))?;
    Ok(Upload {
        caller,
        expected_revision,
        kind,
        bytes,
    })
}

/// Stores a compiled site's text under `name`, swaps it in on this node, and answers its
/// revision and counts (with `extra` fields in the body).
async fn store_site(
    state: &RulesState,
    caller: &Caller,
    name: &str,
    expected_revision: Option<u64>,
    (format, text): (RuleSiteFormat, &str),
    loaded: LoadedSite,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<Response, ApiError> {
    let (n_users, n_resources, n_rules) = (loaded.site.users.len(), loaded.site.resources.len(), loaded.site.rules.len());
    let rule_names: Vec<&str> = loaded.site.rules.iter().map(|r| r.name.as_str()).collect();
    let site = NewRuleSite {
        tenant: caller.tenant.id,
        name,
        format,
        source: text,
        expected_revision,
        summary: json!({ "users": n_users, "resources": n_resources, "rules": rule_names }),
    };
    let sites = &caller.tenant.rule_sites;
    let stored = {
        let _writing = sites.writing.lock().await;
        let stored = state.app.store().put_rule_site(&site, &caller.author()).await?;
        sites.written(
            name,
            stored.revision,
            Some(HeldSite {
                revision: stored.revision,
                compiled: Ok(loaded),
            }),
        );
        stored
    };
    let mut body = json!({ "site": name, "revision": stored.revision, "users": n_users, "resources": n_resources, "rules": n_rules });
    if let Some(object) = body.as_object_mut() {
        object.extend(extra);
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(stored.revision));
    Ok(response)
}

/// The most a QRS site archive may unpack to on the server: its site file is stored whole, so
/// no more than a few times what a site may hold.
const MAX_QRS_ARCHIVE_BYTES: u64 = 4 * crate::MAX_BODY_BYTES as u64;

/// Whether a body is a gzip archive: its `Content-Type` says so, or its first two bytes do.
fn is_archive(content_type: Option<&str>, bytes: &[u8]) -> bool {
    match content_type.map(str::to_ascii_lowercase) {
        Some(kind) if kind.contains("json") => false,
        Some(kind) if kind.contains("gzip") || kind.contains("tar") => true,
        _ => bytes.starts_with(&[0x1f, 0x8b]),
    }
}

/// The 400 of a QRS site that does not import: every problem, located, in the message; the
/// first error's place in `field` (`apps.json[<id>].owner`).
fn qrs_problems(problems: &[QrsSiteProblem]) -> ApiError {
    let lines: Vec<String> = problems.iter().map(QrsSiteProblem::located).collect();
    let mut error = ApiError::bad_request("invalid_qrs_site", lines.join("; ")).hint("fix every problem listed; nothing was stored");
    if let Some(first) = problems.iter().find(|p| p.severity == Severity::Error) {
        let mut field = first.file.clone();
        if let Some(object) = &first.object {
            field.push_str(&format!("[{object}]"));
        }
        if let Some(name) = &first.field {
            field.push('.');
            field.push_str(name);
        }
        error = error.field(field);
    }
    error
}

/// Loads (or replaces) a rule site from a whole QRS site; refused whole with every problem at
/// its file, object id and field.
#[utoipa::path(put, path = "/v1/rules/sites/{name}/qrs", tag = "rules",
    params(("name" = String, Path, description = "Site name (at most 200 bytes)"), ("If-Match" = Option<String>, Header, description = "Replace only the site at this revision (its `ETag`), one of a list of them, or `*`: only if it exists")),
    request_body(content((QrsSiteBody = "application/json"), (Vec<u8> = "application/gzip")), description = "A QRS site: one JSON object of the seven `/qrs/<kind>/full` arrays (`users` and `systemrules` required), or a `.tar.gz` of `users.json`, `userdirectories.json`, `streams.json`, `apps.json`, `custompropertydefinitions.json`, `dataconnections.json`, `systemrules.json`"),
    responses(
        (status = 200, description = "Stored and loaded: its revision, counts of users, resources, rules, of each QRS kind, and warnings", body = QrsSiteLoaded, headers(("ETag" = String, description = "The site's revision"))),
        (status = 400, description = "Every problem, as `file: object id: field: message`", body = crate::err::ErrorBody),
        (status = 403, description = "Needs TenantAdmin"),
        (status = 409, description = "The tenant holds as many sites as it may, or the site is too large (`limit_reached`)"),
        (status = 412, description = "`If-Match` names another revision than the stored one")),
    security(("bearer" = [])))]
pub(crate) async fn put_qrs_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let Upload {
        caller,
        expected_revision,
        kind,
        bytes,
    } = upload(&state, &name, request).await?;
    let archive = is_archive(kind.as_deref(), &bytes);
    // Unpacking, checking and compiling a large site is CPU work: off the async threads.
    let (imported, text, loaded) = tokio::task::spawn_blocking(move || {
        let imported = if archive {
            QrsSiteFiles::from_tar_gz_within("the archive", &bytes, MAX_QRS_ARCHIVE_BYTES).and_then(|files| qrs_site::import_files(&files))
        } else {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                ApiError::bad_request("not_utf8", "the site object is not UTF-8 text")
                    .hint("send JSON with `Content-Type: application/json`, or a .tar.gz with `Content-Type: application/gzip`")
            })?;
            qrs_site::import_object(text)
        };
        let imported = imported.map_err(|problems| qrs_problems(&problems))?;
        let text = site_to_json(&imported.site);
        let loaded = compile(&text)?;
        Ok::<_, ApiError>((imported, text, loaded))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("importing the site failed: {e}")))??;
    let counts: serde_json::Map<String, serde_json::Value> = imported.counts.iter().map(|(kind, n)| (kind.key().to_owned(), json!(n))).collect();
    let warnings: Vec<String> = imported.warnings.iter().map(QrsSiteProblem::located).collect();
    let extra = serde_json::Map::from_iter([("qrs".to_owned(), json!(counts)), ("warnings".to_owned(), json!(warnings))]);
    store_site(&state, &caller, &name, expected_revision, (RuleSiteFormat::Json, &text), loaded, extra).await
}

/// A stored rule site as a QRS site: one JSON object of the seven `/qrs/<kind>/full` arrays.
#[utoipa::path(get, path = "/v1/rules/sites/{name}/qrs", tag = "rules", params(("name" = String, Path, description = "Site name")),
    responses(
        (status = 200, description = "The seven arrays; resources of other types (app objects, tasks) are left out", body = QrsSiteBody, headers(("ETag" = String, description = "The site's revision"))),
        (status = 403, description = "Needs TenantAdmin"),
        (status = 404, description = "No such site"),
        (status = 500, description = "The stored site does not compile on this node")),
    security(("bearer" = [])))]
pub(crate) async fn get_qrs_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, _) = caller(&state, request).await?;
    may_manage(&caller)?;
    let record = state
        .app
        .store()
        .rule_site(caller.tenant.id, &name)
        .await?
        .ok_or_else(|| unknown_site(&name))?;
    let loaded = compile(&record.source).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "site_unavailable",
            format!("rule site `{name}` does not load: {}", error.body.message),
        )
    })?;
    let mut response = Json(qrs_site::export(&loaded.site)).into_response();
    response.headers_mut().insert(header::ETAG, etag(record.revision));
    Ok(response)
}

/// A rule site's text as it was uploaded, with its revision as `ETag`.
#[utoipa::path(get, path = "/v1/rules/sites/{name}", tag = "rules", params(("name" = String, Path, description = "Site name")),
    responses(
        (status = 200, description = "The site file as uploaded (a YAML or JSON document of `users`, `resources`, `rules`)", content((Object = "application/yaml"), (Object = "application/json")), headers(("ETag" = String, description = "The site's revision"))),
        (status = 403, description = "Needs TenantAdmin"),
        (status = 404, description = "No such site")),
    security(("bearer" = [])))]
pub(crate) async fn get_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, _) = caller(&state, request).await?;
    may_manage(&caller)?;
    let site = state
        .app
        .store()
        .rule_site(caller.tenant.id, &name)
        .await?
        .ok_or_else(|| unknown_site(&name))?;
    let mut response = site.source.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(site.format)));
    headers.insert(header::ETAG, etag(site.revision));
    Ok(response)
}

/// Deletes a rule site.
#[utoipa::path(delete, path = "/v1/rules/sites/{name}", tag = "rules",
    params(("name" = String, Path, description = "Site name"), ("If-Match" = Option<String>, Header, description = "Delete only the site at this revision (its `ETag`), one of a list of them, or `*`: only if it exists")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Needs TenantAdmin"), (status = 404, description = "No such site"), (status = 412, description = "`If-Match` names another revision than the stored one")),
    security(("bearer" = [])))]
pub(crate) async fn delete_site(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, request) = caller(&state, request).await?;
    may_manage(&caller)?;
    let expected_revision = IfMatch::of(request.headers())?.expected_revision(&state, caller.tenant.id, &name).await?;
    let sites = &caller.tenant.rule_sites;
    let _writing = sites.writing.lock().await;
    match state
        .app
        .store()
        .delete_rule_site(caller.tenant.id, &name, expected_revision, &caller.author())
        .await
    {
        Ok(revision) => {
            sites.written(&name, revision, None);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(StoreError::NotFound(_)) => Err(unknown_site(&name)),
        Err(error) => Err(error.into()),
    }
}

/// A rule decision to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckBody {
    /// `DIRECTORY\userId`.
    user: String,
    /// `read`, `update`, `export`, ...
    action: String,
    /// A resource id of the site.
    resource: String,
    /// `hub` or `qmc`.
    context: String,
    /// Decide with the tenant's rule sites at this revision or later (a site write's `ETag` or
    /// `revision`, or a decision's `siteRevision`); also the `Portcullis-Min-Site-Revision` header.
    #[serde(default, rename = "minSiteRevision")]
    min_site_revision: Option<u64>,
}

/// The header form of [`CheckBody::min_site_revision`].
pub const MIN_SITE_REVISION_HEADER: &str = "portcullis-min-site-revision";

/// The [`MIN_SITE_REVISION_HEADER`] of a request, if sent; anything but a number is a 400.
pub(crate) fn min_site_revision(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(MIN_SITE_REVISION_HEADER) else {
        return Ok(None);
    };
    value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "bad_min_site_revision",
            format!("the `{MIN_SITE_REVISION_HEADER}` header is not a revision number"),
        )
        .field(MIN_SITE_REVISION_HEADER)
    })
}

/// The site a request decides with: compiled, or 500 saying why the stored text does not
/// compile on this node.
pub(crate) fn loaded<'a>(name: &str, site: &'a HeldSite) -> Result<&'a LoadedSite, ApiError> {
    site.compiled.as_ref().map_err(|problem| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "site_unavailable",
            format!("rule site `{name}` (revision {}) does not compile on this node: {problem}", site.revision),
        )
        .hint("store the site again (`PUT`), or run the version of portcullis that stored it")
    })
}

/// The audit event of an `export` or `exportdata` decision on a site, which is always logged
/// (data leaves), allowed or denied, with the reasons of this moment.
pub(crate) fn export_event(
    caller: &Caller,
    site: (&str, u64),
    user: &str,
    action: Action,
    resource: &str,
    decision: &portcullis_rules::Decision,
) -> EventDraft {
    let (name, revision) = site;
    let resource_ref = ResourceRef {
        kind: format!("rule-site:{name}"),
        id: resource.to_owned(),
        space: None,
        owner: None,
    };
    let mut draft = EventDraft::change(
        EventType::RuleExportDecided,
        &caller.author(),
        action.name().to_owned(),
        Some(resource_ref),
        json!({ "user": user, "context": decision.context.name(), "siteRevision": revision }),
    );
    draft.decision = Some(decision.verdict().to_owned());
    draft.explanation = Some(json!({ "tokens": decision.tokens(), "text": decision.to_string() }));
    draft
}

/// Brings this node's sites of the caller's tenant to `min` (a revision some node answered):
/// read from the store at once when it is behind; 409 naming the revision held when the store
/// has not reached it either.
pub(crate) async fn sites_at_least(app: &AppState, caller: &Caller, min: Option<u64>) -> Result<(), ApiError> {
    let Some(min) = min else { return Ok(()) };
    let sites = &caller.tenant.rule_sites;
    if sites.revision() < min {
        sites.follow(app.store().as_ref(), caller.tenant.id).await?;
    }
    let held = sites.revision();
    if held < min {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "site_revision_not_reached",
            format!("the rule sites are at revision {held}, not {min}"),
        )
        .hint("pass a revision this deployment answered (a site write's `ETag`, or `siteRevision`)"));
    }
    Ok(())
}

/// `GET /v1/rules/sites`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct SiteList {
    /// The site names, sorted.
    sites: Vec<String>,
    /// Each site's name and revision, by name.
    items: Vec<SiteHead>,
}

/// A site's name and revision.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct SiteHead {
    /// The site's name.
    name: String,
    /// Its revision (its `ETag`).
    revision: u64,
}

/// `PUT /v1/rules/sites/{name}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct SiteLoaded {
    /// The site's name.
    site: String,
    /// Its new revision (also the `ETag`).
    revision: u64,
    /// How many users it holds.
    users: u64,
    /// How many resources.
    resources: u64,
    /// How many rules.
    rules: u64,
}

/// A rule decision's explanation.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct RuleExplanation {
    /// `rule:<name>` for each granting rule, or `no-grant`.
    tokens: Vec<String>,
    /// The same in words.
    text: String,
}

/// `POST /v1/rules/sites/{name}/check`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct RuleDecision {
    /// `allow` or `deny`.
    decision: String,
    /// The same as a boolean.
    allowed: bool,
    /// Why.
    explanation: RuleExplanation,
    /// The revision of the site that decided.
    site_revision: u64,
}

/// A rule decision with its explanation: `{user: "DIR\\id", action, resource, context: hub|qmc}`.
#[utoipa::path(post, path = "/v1/rules/sites/{name}/check", tag = "rules", params(("name" = String, Path, description = "Site name"), ("Portcullis-Min-Site-Revision" = Option<u64>, Header, description = "Decide with the rule sites at this revision or later (as `minSiteRevision`)")), request_body = CheckBody, responses((status = 200, description = "The decision and why", body = RuleDecision), (status = 400, description = "Unknown action or context"), (status = 403, description = "Needs decision:ask-others"), (status = 404, description = "Unknown site, user or resource"), (status = 409, description = "`minSiteRevision` is not reached, not even by the store"), (status = 500, description = "The stored site does not compile on this node")), security(("bearer" = [])))]
pub(crate) async fn check(State(state): State<RulesState>, ApiPath(name): ApiPath<String>, request: Request) -> Result<Response, ApiError> {
    let (caller, request) = caller(&state, request).await?;
    if !caller.may(&caller.tenant.view().snapshot, CloudAction::DecisionAskOthers) {
        return Err(ApiError::forbidden(
            "asking rule decisions needs `decision:ask-others` (TenantAdmin or the `evaluate-decisions-for-others` permission)",
        ));
    }
    let header = min_site_revision(request.headers())?;
    let Json(body): Json<CheckBody> = Json::from_request(request, &()).await?;
    sites_at_least(&state.app, &caller, body.min_site_revision.or(header)).await?;
    let site = caller.tenant.rule_sites.get(&name).ok_or_else(|| unknown_site(&name))?;
    let compiled = &loaded(&name, &site)?.compiled;
    let user = compiled.user(&body.user).ok_or_else(|| {
        ApiError::not_found("unknown_user", format!("unknown user `{}`", body.user))
            .hint("write users as DIRECTORY\\userId")
            .field("user")
    })?;
    let resource = compiled
        .resource(&body.resource)
        .ok_or_else(|| ApiError::not_found("unknown_resource", format!("unknown resource `{}`", body.resource)).field("resource"))?;
    let action = Action::parse(&body.action).map_err(|e| ApiError::bad_request("unknown_action", e.to_string()).hint(e.hint()).field("action"))?;
    let context = RequestContext::parse(&body.context).ok_or_else(|| {
        ApiError::bad_request("unknown_context", format!("unknown context `{}`", body.context))
            .hint("use `hub` or `qmc`")
            .field("context")
    })?;
    let decision = compiled.decide(user, resource, action, context);
    if matches!(action, Action::Export | Action::ExportData) {
        let draft = export_event(&caller, (&name, site.revision), &body.user, action, &body.resource, &decision);
        state.app.decision_log().store(caller.tenant.id, vec![draft]).await?;
    }
    Ok(Json(json!({
        "decision": decision.verdict(),
        "allowed": decision.allowed,
        "explanation": { "tokens": decision.tokens(), "text": decision.to_string() },
        "siteRevision": site.revision,
    }))
    .into_response())
}

/// `PUT /v1/rules/sites/{name}/qrs`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handler writes it with json!")]
pub(crate) struct QrsSiteLoaded {
    /// The site's name.
    site: String,
    /// Its new revision (also the `ETag`).
    revision: u64,
    /// How many users it holds.
    users: u64,
    /// How many resources (user directories, custom property definitions, streams, apps, data connections).
    resources: u64,
    /// How many rules.
    rules: u64,
    /// How many objects of each QRS kind were read, by kind (`users`, `apps`, ...).
    qrs: HashMap<String, u64>,
    /// Problems that did not stop the import, located.
    warnings: Vec<String>,
}

/// A QRS site: the seven arrays of the `/qrs/<kind>/full` endpoints (objects as QRS writes
/// them; fields Portcullis does not use are accepted and dropped).
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "describes a request and response for the OpenAPI document; the handlers read and write it with serde_json"
)]
pub(crate) struct QrsSiteBody {
    /// `/qrs/user/full` (required).
    users: Vec<serde_json::Value>,
    /// `/qrs/userdirectory/full`.
    userdirectories: Vec<serde_json::Value>,
    /// `/qrs/stream/full`.
    streams: Vec<serde_json::Value>,
    /// `/qrs/app/full`.
    apps: Vec<serde_json::Value>,
    /// `/qrs/custompropertydefinition/full`.
    custompropertydefinitions: Vec<serde_json::Value>,
    /// `/qrs/dataconnection/full`.
    dataconnections: Vec<serde_json::Value>,
    /// `/qrs/systemrule/full` (required).
    systemrules: Vec<serde_json::Value>,
}
