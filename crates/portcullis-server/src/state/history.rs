//! Access history on a node: the tenant as it stood at an earlier revision, rebuilt from this
//! node's live model by putting back, newest first, the rows each change since replaced (the
//! undos the change log keeps beside the changes), and a view built from it. The last few
//! moments asked for are kept, so paging or explaining at one moment rebuilds nothing.
//!
//! The cost is a copy of the live model plus the changes since that revision, and a snapshot
//! build: it follows the distance back in the log and the tenant's size, never the age of the
//! tenant (BENCHMARKS.md, "Access history").

use std::sync::Arc;

use portcullis_engine::{AccessDiff, Sessions, Snapshot};
use portcullis_model::{Tenant, Touched};
use portcullis_qlik_api::ApiIds;
use portcullis_store::{LoggedChange, TenantId};

use super::{AppState, TenantState, View};
use crate::err::ApiError;

/// How many moments a node keeps built: each is a whole snapshot of its tenant (about 316 MB
/// at 100k users and 1M items), so two — enough for paging and explaining at one moment, or
/// comparing two.
pub const MOMENTS_KEPT: u64 = 2;

/// A cache of moments by tenant and revision.
pub(crate) type Moments = moka::sync::Cache<(TenantId, u64), Arc<Moment>>;

/// A cache for [`MOMENTS_KEPT`] moments.
pub(crate) fn moments() -> Moments {
    moka::sync::Cache::builder().max_capacity(MOMENTS_KEPT).build()
}

/// The tenant as it stood at one revision, and a view of it to decide on.
#[derive(Debug)]
pub struct Moment {
    /// The revision.
    pub revision: u64,
    /// A view built from it. It has no sessions: a check `via: session` at a past moment
    /// decides with the rights a login then would have frozen.
    pub view: Arc<View>,
}

/// The difference in effective permissions between two moments, and the changes between
/// them with what each touched (to name the changes behind each row).
#[derive(Debug)]
pub struct Between {
    /// The earlier revision.
    pub from: u64,
    /// The later revision.
    pub to: u64,
    /// Who gained and lost what from `from` to `to`.
    pub diff: AccessDiff,
    /// The changes committed after `from` up to `to`, in order, with the rows each touched.
    pub log: Vec<(LoggedChange, Touched)>,
    /// The model at `from`.
    pub before: Tenant,
    /// The model at `to`.
    pub after: Tenant,
}

/// A past moment a request names: a revision, or a time (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A revision of the tenant.
    Revision(u64),
    /// The last revision at or before this time.
    Time(i64),
}

impl AppState {
    /// The revision `as_of` (the request's `field`) names in `tenant`'s history.
    pub async fn revision_as_of(&self, tenant: &TenantState, as_of: AsOf, field: &'static str) -> Result<u64, ApiError> {
        match as_of {
            AsOf::Revision(revision) => Ok(revision),
            AsOf::Time(at) => self.0.store.revision_at(tenant.id, at).await?.ok_or_else(|| {
                ApiError::not_found(
                    "not_in_history",
                    format!("tenant `{}` has no retained revision at or before that time", tenant.name),
                )
                .hint("history starts at the tenant's import and keeps what its retention keeps; ask about a later time")
                .field(field)
            }),
        }
    }

    /// The moment `revision` of `tenant`: built once, then kept among the last few.
    pub async fn moment(&self, tenant: &TenantState, revision: u64) -> Result<Arc<Moment>, ApiError> {
        let current = tenant.view();
        if current.snapshot.revision == revision {
            // The present needs no rebuilding; only the sessions are left out, as at any moment.
            return Ok(Arc::new(Moment {
                revision,
                view: Arc::new(View {
                    snapshot: current.snapshot.clone(),
                    sessions: Sessions::default(),
                    api_ids: current.api_ids.clone(),
                }),
            }));
        }
        if let Some(moment) = self.0.moments.get(&(tenant.id, revision)) {
            return Ok(moment);
        }
        let (then, _) = self.rewound(tenant, revision, "asOf").await?;
        let moment = tokio::task::spawn_blocking(move || {
            let snapshot = Snapshot::build(&then, revision);
            let api_ids = ApiIds::build(&then);
            Moment {
                revision,
                view: Arc::new(View {
                    snapshot: Arc::new(snapshot),
                    sessions: Sessions::default(),
                    api_ids,
                }),
            }
        })
        .await
        .map_err(|e| ApiError::internal("access history", &e))?;
        let moment = Arc::new(moment);
        self.0.moments.insert((tenant.id, revision), moment.clone());
        Ok(moment)
    }

    /// The model at `revision`, and the changes logged after it up to the revision this node's
    /// live model is at (oldest first). A revision this node has not reached yet is waited
    /// for as `minRevision` is; one the log cannot take the tenant back to is a 404 naming the
    /// request's `field`.
    pub async fn rewound(&self, tenant: &TenantState, revision: u64, field: &'static str) -> Result<(Tenant, Vec<LoggedChange>), ApiError> {
        if tenant.live.read().await.revision < revision {
            self.view_at_least(tenant, Some(revision)).await?;
        }
        // The log is read without holding the live model, so writes go on meanwhile; what they
        // added is read under the lock, which is then held only to copy the model.
        let seen = tenant.live.read().await.revision;
        if revision > seen {
            return Err(super::follow::revision_not_reached(seen, revision));
        }
        let not_retained = || {
            ApiError::not_found(
                "not_in_history",
                format!(
                    "revision {revision} of tenant `{}` is not in its retained history (it is at revision {seen})",
                    tenant.name
                ),
            )
            .hint("history reaches back to the tenant's last import and no further than its retention; ask about a later moment")
            .field(field)
        };
        let mut logged = self.0.store.history(tenant.id, revision, seen).await?.ok_or_else(not_retained)?;
        let live = tenant.live.clone().read_owned().await;
        if live.revision > seen {
            logged.extend(self.0.store.history(tenant.id, seen, live.revision).await?.ok_or_else(not_retained)?);
        }
        let tenant = tokio::task::spawn_blocking(move || {
            let mut then = live.tenant.clone();
            drop(live);
            portcullis_store::rewind(&mut then, &logged);
            (then, logged)
        })
        .await
        .map_err(|e| ApiError::internal("access history", &e))?;
        Ok(tenant)
    }

    /// The difference between the moments `from` and `to` (`from <= to`): the model at
    /// `from` is rewound from the live one, then the logged changes up to `to` are applied to
    /// it again through the one write path, and the engine's what-if diff compares a snapshot
    /// of `from` with the one derived from it by what they touched (so the diff's cost follows
    /// the changes between, as for what-if).
    pub async fn access_diff(&self, tenant: &TenantState, from: u64, to: u64) -> Result<Between, ApiError> {
        if tenant.live.read().await.revision < to {
            self.view_at_least(tenant, Some(to)).await?;
        }
        let (then, logged) = self.rewound(tenant, from, "from").await?;
        let name = tenant.name.clone();
        tokio::task::spawn_blocking(move || {
            let before = Snapshot::build(&then, from);
            let mut after = then.clone();
            let mut touched = Touched::default();
            let mut log = Vec::new();
            for one in logged.into_iter().take_while(|c| c.revision <= to) {
                let applied = after.apply(&one.change).map_err(|e| {
                    ApiError::internal(
                        "access history",
                        &format!(
                            "tenant `{name}`: the change logged at revision {} does not apply again: {e}",
                            one.revision
                        ),
                    )
                })?;
                touched.merge(applied.touched.clone());
                log.push((one, applied.touched));
            }
            let derived = before.apply(&after, &touched, to);
            let diff = portcullis_engine::diff(&then, &before, &derived);
            Ok(Between {
                from,
                to,
                diff,
                log,
                before: then,
                after,
            })
        })
        .await
        .map_err(|e| ApiError::internal("access history", &e))?
    }
}
