//! The cost of keeping the live view after a write: `Snapshot::apply` for typical writes on
//! synthetic tenants of 10,000 and 100,000 users (ten items per user), next to rebuilding the
//! snapshot from scratch. The proof that a write costs what it touches is the ratio between the
//! two sizes. Run with `cargo bench -p portcullis-engine --bench apply`.
//!
//! Each write is applied to the tenant once; the bench then times deriving the next snapshot
//! from the one before it (and dropping it), and the write is undone before the next one.

#[path = "../tests/common/synthetic.rs"]
#[expect(dead_code, reason = "shared with the tests; not every helper is used here")]
mod synthetic;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_engine::Snapshot;
use portcullis_model::change::Change;
use portcullis_model::tenant::{Assignee, Content, ContentKind, Group, ProviderType, RoleTarget, Share, Tenant};
use portcullis_model::{Permission, PermissionValue, SpaceType};

/// The group of 5,000 members the bench gives a role to.
const BIG_GROUP: &str = "bench-5k";

fn tenant(n_users: usize) -> Tenant {
    let mut tenant = synthetic::tenant_sized(n_users, n_users * 10, 1);
    let group = Group {
        meta: Default::default(),
        name: BIG_GROUP.into(),
        provider_type: ProviderType::Idp,
        roles: Vec::new(),
    };
    tenant.apply(&Change::CreateGroup { group }).expect("a new group");
    for i in 0..5_000 {
        let user = synthetic::user_id(i * n_users / 5_000);
        tenant
            .apply(&Change::JoinGroup {
                user,
                group: BIG_GROUP.into(),
            })
            .expect("a new member");
    }
    tenant
}

/// A write and the write that undoes it.
fn writes(tenant: &Tenant) -> Vec<(&'static str, Change, Change)> {
    let user = tenant.user(&synthetic::user_id(12)).expect("user");
    let group = (0..)
        .map(|g| format!("g{g}"))
        .find(|g| !user.groups.contains(g))
        .expect("a group the user is not in");
    let space = tenant
        .spaces
        .iter()
        .find(|s| {
            s.space_type != SpaceType::Data
                && !s.members.iter().any(|m| m.assignee == Assignee::User(user.id.clone()))
                && s.owner.as_deref() != Some(user.id.as_str())
        })
        .expect("a space");
    let member_role = space.space_type.assignable_roles().iter().next().expect("a role");
    let app = tenant
        .content
        .iter()
        .find(|c| {
            c.kind == ContentKind::App
                && c.space.as_deref() == Some(space.id.as_str())
                && !tenant
                    .shares
                    .iter()
                    .any(|s| s.resource == c.id && s.assignee == Assignee::User(user.id.clone()))
        })
        .expect("an app to share");
    let share_role = space.space_type.shareable_roles().iter().next().expect("a share role");
    let download = Permission::parse("in-app-content-download").expect("catalogue");
    let before = tenant.user_default_value(download).expect("a value");
    let new_app = Content {
        id: "bench-app".into(),
        name: "bench app".into(),
        kind: ContentKind::App,
        space: Some(space.id.clone()),
        owner: Some(user.id.clone()),
    };
    let member = Assignee::User(user.id.clone());
    vec![
        (
            "join_group",
            Change::JoinGroup {
                user: user.id.clone(),
                group: group.clone(),
            },
            Change::LeaveGroup {
                user: user.id.clone(),
                group,
            },
        ),
        (
            "assign_role_to_user",
            Change::AssignRole {
                role: "DataAdmin".into(),
                target: RoleTarget::User(user.id.clone()),
            },
            Change::UnassignRole {
                role: "DataAdmin".into(),
                target: RoleTarget::User(user.id.clone()),
            },
        ),
        (
            "create_app",
            Change::CreateContent { item: new_app },
            Change::DeleteContent { id: "bench-app".into() },
        ),
        (
            "assign_role_to_5000_member_group",
            Change::AssignRole {
                role: "Developer".into(),
                target: RoleTarget::Group(BIG_GROUP.into()),
            },
            Change::UnassignRole {
                role: "Developer".into(),
                target: RoleTarget::Group(BIG_GROUP.into()),
            },
        ),
        (
            "add_space_member",
            Change::SetSpaceMember {
                space: space.id.clone(),
                assignee: member.clone(),
                roles: portcullis_model::SpaceRoleSet::of(&[member_role]),
            },
            Change::RemoveSpaceMember {
                space: space.id.clone(),
                assignee: member.clone(),
            },
        ),
        (
            "share_existing_app",
            Change::CreateShare {
                share: Share {
                    resource: app.id.clone(),
                    assignee: member.clone(),
                    roles: portcullis_model::SpaceRoleSet::of(&[share_role]),
                },
            },
            Change::DeleteShare {
                resource: app.id.clone(),
                assignee: member,
            },
        ),
        (
            "set_user_default",
            Change::SetUserDefault {
                permission: download,
                value: PermissionValue::Allowed,
            },
            Change::SetUserDefault {
                permission: download,
                value: before,
            },
        ),
    ]
}

fn bench(c: &mut Criterion) {
    for n_users in [10_000, 100_000] {
        let mut tenant = tenant(n_users);
        let snapshot = Snapshot::build(&tenant, 1);
        let mut group = c.benchmark_group(format!("apply_{}k_users", n_users / 1000));
        group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        for (name, write, undo) in writes(&tenant) {
            let touched = tenant.apply(&write).unwrap_or_else(|e| panic!("{name}: {e}")).touched;
            assert!(!touched.is_empty(), "{name} touched nothing");
            if name == "set_user_default" {
                group.sample_size(10);
            }
            group.bench_function(name, |b| b.iter(|| black_box(snapshot.apply(&tenant, &touched, 2))));
            tenant.apply(&undo).unwrap_or_else(|e| panic!("undoing {name}: {e}"));
        }
        group.sample_size(10);
        group.bench_function("build_from_scratch", |b| {
            b.iter_batched(|| (), |()| black_box(Snapshot::build(&tenant, 2)), BatchSize::LargeInput)
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
