//! The node's live view after writes (applied to the live model and derived incrementally with
//! `Snapshot::apply`) decides exactly as a node that starts afresh from the store's rows — on
//! SQLite and on PostgreSQL. This is the store-and-server half of the engine's property test
//! (apply == build): it also proves the touched rows were written.

use std::sync::Arc;

use portcullis_engine::{RawRequest, decide, resolve};
use portcullis_model::tenant::{Assignee, Content, Group, ProviderType, RoleTarget, Share, Space, SpaceMember, Use, User};
use portcullis_model::tenant_file::load_tenant_text;
use portcullis_model::{
    Action, Change, ContentKind, Entitlement, Permission, PermissionValue, SpaceRole, SpaceRoleSet, SpaceType, TenantSetting, UserStatus,
};
use portcullis_server::{AppState, ServerConfig};
use portcullis_store::{Author, ImportMode, Store};

use crate::support::DEMO;

fn changes() -> Vec<Vec<Change>> {
    let user = |id: &str| User {
        meta: Default::default(),
        id: id.into(),
        name: id.into(),
        email: None,
        entitlement: Entitlement::Professional,
        status: UserStatus::Active,
        roles: vec![],
        groups: vec!["sales".into()],
    };
    let roles = |r: &[SpaceRole]| SpaceRoleSet::of(r);
    vec![
        vec![Change::JoinGroup {
            user: "carl".into(),
            group: "finance".into(),
        }],
        vec![Change::AssignRole {
            role: "Steward".into(),
            target: RoleTarget::Group("sales".into()),
        }],
        vec![
            Change::CreateUser { user: user("zoe") },
            Change::AssignRole {
                role: "Developer".into(),
                target: RoleTarget::User("zoe".into()),
            },
        ],
        vec![Change::CreateSpace {
            space: Space {
                meta: Default::default(),
                id: "lab".into(),
                name: "Lab".into(),
                space_type: SpaceType::Shared,
                owner: Some("zoe".into()),
                export_only_through: None,
                members: vec![SpaceMember {
                    assignee: Assignee::Group("sales".into()),
                    roles: roles(&[SpaceRole::Consumer]),
                }],
            },
        }],
        vec![
            Change::CreateContent {
                item: Content {
                    id: "lab-app".into(),
                    name: "Lab app".into(),
                    kind: ContentKind::App,
                    space: Some("lab".into()),
                    owner: Some("zoe".into()),
                },
            },
            Change::CreateContent {
                item: Content {
                    id: "lab-dc".into(),
                    name: "Lab DC".into(),
                    kind: ContentKind::DataConnection,
                    space: Some("lab".into()),
                    owner: Some("zoe".into()),
                },
            },
            Change::AddUse {
                reference: Use {
                    consumer: "lab-app".into(),
                    source: "lab-dc".into(),
                },
            },
        ],
        vec![Change::CreateShare {
            share: Share {
                resource: "lab-app".into(),
                assignee: Assignee::User("ann".into()),
                roles: roles(&[SpaceRole::Consumer]),
            },
        }],
        vec![Change::SetSpaceMember {
            space: "lab".into(),
            assignee: Assignee::User("bob".into()),
            roles: roles(&[SpaceRole::Facilitator]),
        }],
        vec![Change::SetSetting {
            setting: TenantSetting::AdminsCanOpenAppsWithoutSpaceRole,
            value: true,
        }],
        vec![Change::SetUserDefault {
            permission: Permission::parse("in-app-content-download").expect("a permission"),
            value: PermissionValue::NoData,
        }],
        vec![Change::LeaveGroup {
            user: "ann".into(),
            group: "sales".into(),
        }],
        vec![Change::UnassignRole {
            role: "Steward".into(),
            target: RoleTarget::Group("sales".into()),
        }],
        vec![Change::MoveContent {
            id: "lab-dc".into(),
            space: None,
        }],
        vec![Change::DeleteContent { id: "lab-dc".into() }],
        vec![Change::RecordLogin { user: "bob".into() }],
        // Users and groups come and go (the management API finds them by their ids).
        vec![
            Change::CreateUser { user: user("yan") },
            Change::CreateGroup {
                group: Group {
                    meta: Default::default(),
                    name: "lab-team".into(),
                    provider_type: ProviderType::Custom,
                    roles: vec![],
                },
            },
            Change::CreateGroup {
                group: Group {
                    meta: Default::default(),
                    name: "short-lived".into(),
                    provider_type: ProviderType::Custom,
                    roles: vec![],
                },
            },
        ],
        vec![Change::DeleteUser { id: "yan".into() }],
        vec![Change::DeleteGroup { name: "short-lived".into() }],
    ]
}

/// Every user × action × resource × channel, with the explanation, as text.
pub(crate) fn decisions(tenant: &portcullis_server::state::TenantState, clients: &[String]) -> Vec<String> {
    let view = tenant.view();
    let snapshot = &view.snapshot;
    let mut out = Vec::new();
    let users: Vec<String> = (0..snapshot.users.len())
        .filter_map(|i| snapshot.users.get(i).map(|u| u.id.to_string()))
        .collect();
    let spaces: Vec<String> = (0..snapshot.spaces.len())
        .filter_map(|i| snapshot.spaces.get(i).map(|s| s.id.to_string()))
        .collect();
    let content: Vec<String> = (0..snapshot.content.len())
        .filter_map(|i| snapshot.content.get(i).map(|c| c.id.to_string()))
        .collect();
    // Sessions too: they are stored, so a fresh start opens the same ones.
    let mut vias = vec![portcullis_model::Channel::Session, portcullis_model::Channel::ApiKey];
    vias.extend(clients.iter().map(|c| portcullis_model::Channel::oauth(c.as_str())));
    for user in &users {
        for via in &vias {
            for action in Action::ALL {
                let resources: Vec<Option<&str>> = match action.resource_kind() {
                    portcullis_model::ResourceKind::Tenant => vec![None],
                    portcullis_model::ResourceKind::Space => spaces.iter().map(|s| Some(s.as_str())).collect(),
                    _ => content.iter().map(|c| Some(c.as_str())).collect(),
                };
                for resource in resources {
                    let raw = RawRequest {
                        user,
                        via,
                        action: action.as_str(),
                        resource,
                    };
                    let line = match resolve(snapshot, &raw) {
                        Ok(resolved) => {
                            let session = match via {
                                portcullis_model::Channel::Session => view.sessions.rights(user, portcullis_store::now()),
                                _ => None,
                            };
                            let decision = decide(snapshot, &resolved.request(session, true));
                            format!("{user} {via} {action} {resource:?}: {} {}", decision.allowed, decision.explanation)
                        }
                        Err(error) => format!("{user} {via} {action} {resource:?}: {error}"),
                    };
                    out.push(line);
                }
            }
        }
    }
    out.sort();
    out
}

async fn the_live_view_equals_a_fresh_start(store: Arc<dyn Store>, name: &str) {
    let mut demo = load_tenant_text("demo", DEMO).expect("the demo tenant loads");
    demo.name = name.to_owned();
    let clients: Vec<String> = demo.oauth_clients.iter().map(|c| c.id.clone()).collect();
    store.import_tenant(&demo, ImportMode::Replace, &Author::cli()).await.expect("import");
    let state = AppState::new(store.clone(), ServerConfig::default()).await.expect("the state loads");
    let tenant = state.tenant_by_name(name).await.expect("the store answers").expect("the tenant is live");
    for batch in changes() {
        state
            .write(&tenant, &batch, &Author::cli())
            .await
            .unwrap_or_else(|e| panic!("{batch:?}: {e}"));
    }
    let fresh = AppState::new(store.clone(), ServerConfig::default()).await.expect("a fresh state loads");
    let fresh_tenant = fresh.tenant_by_name(name).await.expect("the store answers").expect("the tenant is there");
    assert_eq!(tenant.view().snapshot.revision, fresh_tenant.view().snapshot.revision);
    assert_eq!(tenant.view().api_ids, fresh_tenant.view().api_ids, "the API ids follow the writes");
    assert!(tenant.view().api_ids.group(&portcullis_qlik_api::ids::group_id("lab-team")).is_some());
    assert!(tenant.view().api_ids.user(&portcullis_qlik_api::ids::user_id("yan")).is_none());
    let live = decisions(&tenant, &clients);
    let rebuilt = decisions(&fresh_tenant, &clients);
    assert_eq!(live.len(), rebuilt.len());
    for (a, b) in live.iter().zip(&rebuilt) {
        assert_eq!(a, b, "the live view and a fresh start disagree");
    }
    assert!(
        live.iter().any(|l| l.contains("lab-app") && l.contains(": true")),
        "the new content is decided on"
    );
    let record = store.tenant_by_name(name).await.expect("the store answers").expect("the tenant");
    store.delete_tenant(record.id).await.expect("clean up");
}

#[tokio::test]
async fn on_sqlite_the_live_view_equals_a_fresh_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = portcullis_store::open(&format!("sqlite://{}", dir.path().join("live.db").display()))
        .await
        .expect("the store opens");
    the_live_view_equals_a_fresh_start(store, "live-sqlite").await;
}

#[tokio::test]
async fn on_postgres_the_live_view_equals_a_fresh_start() {
    let url = std::env::var("PORTCULLIS_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let store = match tokio::time::timeout(std::time::Duration::from_secs(5), portcullis_store::open(&url)).await {
        Ok(Ok(store)) => store,
        outcome => {
            if std::env::var("PORTCULLIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required but {url} did not open: {:?}", outcome.map(|r| r.err()));
            }
            eprintln!("skipped (no PostgreSQL): on_postgres_the_live_view_equals_a_fresh_start");
            return;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    the_live_view_equals_a_fresh_start(store, &format!("live-pg-{}-{nanos}", std::process::id())).await;
}
