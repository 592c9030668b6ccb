//! The fixture tenant shared by the tests, and a `check` helper that runs a pure handler as a
//! given user.

use std::sync::Arc;

use portcullis_engine::Snapshot;
use portcullis_model::{Channel, Tenant};
use portcullis_qlik_api::err::Service;
use portcullis_qlik_api::patch::{PatchOperation, patch_of};
use portcullis_qlik_api::{ApiError, ApiIds, AuditNote, Caller, Ctx, Mutation, Reply};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub const BASE: &str = "http://127.0.0.1:8080/api/v1";

pub const TENANT_YAML: &str = r#"
name: acme
roles:
  - name: Exporters
    permissions: { in-app-content-download: allowed }
groups:
  - { name: crew, providerType: custom }
  - { name: analysts, providerType: idp, roles: [Exporters] }
users:
  - { id: admin, name: Ada Admin, email: ada@acme.example, roles: [TenantAdmin] }
  - { id: ann, name: Ann Lee, email: ann@acme.example, groups: [crew] }
  - { id: bob, name: Bob Stone, email: bob@acme.example, roles: [SharedSpaceCreator] }
  - { id: cid, name: Cid Moss, status: disabled, groups: [analysts] }
  - { id: dee, name: Dee Park }
oauthClients:
  - { id: etl, name: ETL, scopes: [user_default] }
spaces:
  - id: sales
    name: Sales
    type: shared
    owner: bob
    members:
      - { user: ann, roles: [consumer] }
  - id: secret
    name: Secret
    type: shared
    owner: admin
content:
  - { id: kpi, name: KPI, type: app, space: sales, owner: bob }
"#;

pub fn tenant() -> Tenant {
    portcullis_model::tenant_file::load_tenant_text("acme.yaml", TENANT_YAML).expect("fixture tenant loads")
}

/// A request body decoded as the router decodes it.
pub fn decoded<T: DeserializeOwned>(value: Value) -> T {
    portcullis_qlik_api::body::read(Service::Api, &value).unwrap_or_else(|e| panic!("{value} is a body of the route's shape: {e}"))
}

/// A patch decoded as the router decodes it, or its refusal.
pub fn try_ops(value: &Value) -> Result<Vec<PatchOperation>, ApiError> {
    patch_of(Service::Api, portcullis_qlik_api::body::read(Service::Api, value)?)
}

/// A patch decoded as the router decodes it.
pub fn ops(value: Value) -> Vec<PatchOperation> {
    try_ops(&value).unwrap_or_else(|e| panic!("{value} is a patch: {e}"))
}

pub fn caller(user: &str) -> Caller {
    Caller {
        tenant: "acme".into(),
        user_id: user.into(),
        channel: Channel::ApiKey,
    }
}

/// A tenant with its snapshot, as a host would hold it.
pub struct World {
    pub tenant: Arc<Tenant>,
    pub snapshot: Arc<Snapshot>,
}

impl World {
    pub fn new(tenant: Tenant) -> World {
        let snapshot = Arc::new(Snapshot::build(&tenant, 1));
        World {
            tenant: Arc::new(tenant),
            snapshot,
        }
    }

    /// Runs a handler as `user`.
    pub fn check<T>(&self, user: &str, handler: impl FnOnce(&Ctx<'_>) -> T) -> T {
        let caller = caller(user);
        let ids = ApiIds::build(&self.tenant);
        let ctx = Ctx {
            tenant: &self.tenant,
            snapshot: &self.snapshot,
            ids: &ids,
            caller: &caller,
            api_base: BASE,
            now: 1_700_000_000,
        };
        handler(&ctx)
    }

    /// Runs a write handler as the router does: its changes applied to a copy of the tenant
    /// (a refusal answered as the handler says), then the body.
    pub fn write<T>(&self, user: &str, handler: impl FnOnce(&Ctx<'_>) -> Result<Mutation<T>, ApiError>) -> Result<Written<T>, ApiError> {
        let mutation = self.check(user, handler)?;
        let mut tenant = (*self.tenant).clone();
        if let Err((_, error)) = tenant.apply_all(&mutation.changes) {
            return Err(mutation.refused(error));
        }
        let body = match mutation.body {
            Reply::Ready(body) => body,
            Reply::After(body) => World::new(tenant.clone()).check(user, |ctx| body(ctx))?,
        };
        Ok(Written {
            tenant,
            notes: mutation.notes,
            body,
        })
    }

    /// The world after a mutation.
    pub fn after(tenant: Tenant) -> World {
        World::new(tenant)
    }

    /// The engine's decision for a user on the current state.
    pub fn decide(&self, user: &str, action: &str, resource: Option<&str>) -> bool {
        self.decision(user, action, resource, false).allowed
    }

    /// The engine's decision with its explanation.
    pub fn explain(&self, user: &str, action: &str, resource: Option<&str>) -> portcullis_engine::Decision {
        self.decision(user, action, resource, true)
    }

    fn decision(&self, user: &str, action: &str, resource: Option<&str>, explain: bool) -> portcullis_engine::Decision {
        let raw = portcullis_engine::RawRequest {
            user,
            via: &Channel::ApiKey,
            action,
            resource,
        };
        let resolved = portcullis_engine::resolve(&self.snapshot, &raw).expect("request resolves");
        portcullis_engine::decide(&self.snapshot, &resolved.request(None, explain))
    }
}

/// A write as committed by [`World::write`].
#[derive(Debug)]
pub struct Written<T> {
    /// The tenant after it.
    pub tenant: Tenant,
    /// Its audit notes.
    pub notes: Vec<AuditNote>,
    /// The response body.
    pub body: T,
}
