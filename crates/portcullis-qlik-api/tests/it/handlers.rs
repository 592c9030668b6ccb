//! The pure handlers: filters, sort, paging with absolute links, patch ops, and the
//! 400/403/404/409/412 paths; each change is then visible to the engine's next decision.

use portcullis_qlik_api::ids::{self, EVERYONE_ID};
use portcullis_qlik_api::paging::Query;
use portcullis_qlik_api::{apps, groups, oauth_clients, roles, spaces, tenants, users};
use serde_json::json;

use crate::fixture::{BASE, World, decoded, ops, tenant, try_ops};

/// The ids the router would draw for a group or role created in a test.
const NEW_ID: &str = "a1a1a1a1a1a1a1a1a1a1a1a1";
const OTHER_ID: &str = "b2b2b2b2b2b2b2b2b2b2b2b2";

fn world() -> World {
    World::new(tenant())
}

fn cursor(href: &str, name: &str) -> String {
    href.split(&format!("{name}="))
        .nth(1)
        .expect("cursor in link")
        .split('&')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn users_filter_sort_and_page_with_absolute_links() {
    let w = world();
    let q = Query::new(&[("limit", "2"), ("sort", "-name"), ("totalResults", "true")]);
    let page = w.check("admin", |ctx| users::list(ctx, &q)).unwrap();
    let names: Vec<&str> = page.data.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Dee Park", "Cid Moss"]);
    assert_eq!(page.total_results, Some(5));
    let next = page.links.next.as_ref().unwrap().href.clone();
    assert!(
        next.starts_with(&format!("{BASE}/users?limit=2&sort=-name&totalResults=true&next=")),
        "{next}"
    );
    let q2 = Query::new(&[("limit", "2"), ("sort", "-name"), ("next", &cursor(&next, "next"))]);
    let second = w.check("admin", |ctx| users::list(ctx, &q2)).unwrap();
    assert_eq!(second.data.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["Bob Stone", "Ann Lee"]);
    let prev = second.links.prev.unwrap().href;
    let q3 = Query::new(&[("limit", "2"), ("sort", "-name"), ("prev", &cursor(&prev, "prev"))]);
    assert_eq!(w.check("admin", |ctx| users::list(ctx, &q3)).unwrap().data[0].name, "Dee Park");

    let filtered = Query::new(&[
        ("filter", r#"status eq "active" and (name co "LEE" or email co "ada")"#),
        ("sort", "name"),
    ]);
    let page = w.check("admin", |ctx| users::list(ctx, &filtered)).unwrap();
    assert_eq!(page.data.iter().map(|u| u.subject.as_str()).collect::<Vec<_>>(), ["admin", "ann"]);
    let by_role = Query::new(&[("filter", "assignedRoles.name eq 'tenantadmin'")]);
    assert_eq!(w.check("admin", |ctx| users::list(ctx, &by_role)).unwrap().data[0].subject, "admin");
    let by_group_role = Query::new(&[("filter", r#"assignedGroupsAssignedRoles.name eq "Exporters""#)]);
    assert_eq!(w.check("admin", |ctx| users::list(ctx, &by_group_role)).unwrap().data[0].subject, "cid");

    for bad in [
        vec![("filter", "color eq 'red'")],
        vec![("filter", "name eq")],
        vec![("sort", "+shoeSize")],
        vec![("limit", "500")],
    ] {
        let error = w.check("admin", |ctx| users::list(ctx, &Query::new(&bad))).unwrap_err();
        assert_eq!(error.status, 400, "{bad:?}: {error}");
    }
}

#[test]
fn other_users_roles_are_hidden_from_callers_who_cannot_read_roles() {
    let w = world();
    let page = w.check("dee", |ctx| users::list(ctx, &Query::default())).unwrap();
    let admin = page.data.iter().find(|u| u.subject == "admin").unwrap();
    assert!(admin.assigned_roles.is_none());
    let me = w.check("dee", users::me).unwrap();
    assert!(me.assigned_scopes.as_ref().unwrap().contains(&"apps.data:export".to_owned()));
    let seen = w.check("admin", |ctx| users::get(ctx, &ids::user_id("admin"))).unwrap();
    assert_eq!(seen.assigned_roles.unwrap()[0].name, "TenantAdmin");
    assert_eq!(seen.id, ids::user_id("admin"));
    assert_eq!(w.check("admin", |ctx| users::get(ctx, "nope")).unwrap_err().status, 404);
}

#[test]
fn users_are_created_patched_and_deleted_by_user_managers_only() {
    let w = world();
    let body = decoded(json!({ "subject": "eve", "name": "Eve", "assignedRoles": [{ "name": "Exporters" }] }));
    assert_eq!(w.write("dee", |ctx| users::create(ctx, &body)).unwrap_err().status, 403);
    let created = w.write("admin", |ctx| users::create(ctx, &body)).unwrap();
    assert_eq!(created.body.subject, "eve");
    assert_eq!(created.notes[0].event, portcullis_audit::EventType::UserCreated);
    assert_eq!(
        w.write("admin", |ctx| users::create(ctx, &decoded(json!({ "subject": "ann" }))))
            .unwrap_err()
            .status,
        409
    );
    assert_eq!(
        w.write("admin", |ctx| users::create(ctx, &decoded(json!({ "name": "x" }))))
            .unwrap_err()
            .status,
        400
    );

    let ann = ids::user_id("ann");
    let crew = ids::group_id("crew");
    let analysts = ids::group_id("analysts");
    let patch = ops(json!([
        { "op": "replace", "path": "/name", "value": "Ann L." },
        { "op": "replace", "path": "/assignedRoles", "value": [{ "name": "SharedSpaceCreator" }, { "id": ids::role_id("Exporters") }] },
        { "op": "remove-value", "path": "/assignedRoles", "value": { "name": "Exporters" } },
        { "op": "remove-value", "path": "/assignedGroups", "value": crew },
        { "op": "add", "path": "/assignedGroups/-", "value": crew },
    ]));
    let changed = World::after(w.write("admin", |ctx| users::patch(ctx, &ann, &patch)).unwrap().tenant);
    let user = changed.tenant.user("ann").unwrap();
    assert_eq!(user.name, "Ann L.");
    assert_eq!(user.roles.iter().map(|r| r.role.as_str()).collect::<Vec<_>>(), ["SharedSpaceCreator"]);
    assert_eq!(user.groups, ["crew"]);
    assert!(
        changed.decide("ann", "space:create-shared", None),
        "the new role is visible to the next decision"
    );
    assert!(!w.decide("ann", "space:create-shared", None));

    let refusals = [
        (json!([{ "op": "add", "path": "/assignedGroups/-", "value": crew }]), 400),
        (json!([{ "op": "add", "path": "/assignedGroups/-", "value": analysts }]), 400),
        (json!([{ "op": "add", "path": "/assignedGroups/-", "value": EVERYONE_ID }]), 400),
        (
            json!([{ "op": "replace", "path": "/assignedRoles", "value": [{ "name": "UserDefault" }] }]),
            400,
        ),
        (
            json!([{ "op": "replace", "path": "/assignedRoles", "value": [{ "name": "Astronaut" }] }]),
            400,
        ),
        (json!([{ "op": "replace", "path": "/status", "value": "deleted" }]), 400),
        (json!([{ "op": "replace", "path": "/preferredLocale", "value": "no locale" }]), 400),
        (json!([{ "op": "replace", "path": "/email", "value": "x@acme.example" }]), 400),
        (json!({ "op": "replace" }), 400),
    ];
    for (patch, status) in refusals {
        // Decoded as the router does: a body that is no patch is refused before the handler.
        let error = try_ops(&patch)
            .and_then(|patch| w.write("admin", |ctx| users::patch(ctx, &ann, &patch)))
            .unwrap_err();
        assert_eq!(error.status, status, "{patch}: {error}");
    }
    assert_eq!(
        w.write("ann", |ctx| users::patch(
            ctx,
            &ann,
            &ops(json!([{ "op": "replace", "path": "/name", "value": "x" }]))
        ))
        .unwrap_err()
        .status,
        403
    );

    let disabled = World::after(
        w.write("admin", |ctx| {
            users::patch(ctx, &ann, &ops(json!([{ "op": "replace", "path": "/status", "value": "disabled" }])))
        })
        .unwrap()
        .tenant,
    );
    assert!(!disabled.decide("ann", "space:read", Some("sales")));

    let gone = World::after(w.write("admin", |ctx| users::delete(ctx, &ids::user_id("dee"))).unwrap().tenant);
    assert!(gone.tenant.user("dee").is_none());
}

#[test]
fn a_deleted_owners_space_and_apps_stay_without_an_owner_until_an_admin_hands_them_on() {
    let w = world();
    let bob = ids::user_id("bob");
    assert_eq!(w.write("ann", |ctx| users::delete(ctx, &bob)).unwrap_err().status, 403);
    let gone = World::after(w.write("admin", |ctx| users::delete(ctx, &bob)).unwrap().tenant);
    assert!(gone.tenant.user("bob").is_none(), "deleted, though bob owned a space and an app");
    let sales = ids::space_id("sales");
    let space = gone.check("admin", |ctx| spaces::get(ctx, &sales)).unwrap();
    assert_eq!(space.owner_id, "", "the space stays, without an owner");
    assert_eq!(gone.tenant.content_item("kpi").unwrap().owner, None);
    assert!(gone.decide("ann", "app:read", Some("kpi")), "its members keep what their roles give");
    assert!(!gone.decide("ann", "space:change_owner", Some("sales")));

    // An admin names a new owner of the space (Qlik's PATCH `/ownerId`) and of the app.
    let patch = ops(json!([{ "op": "replace", "path": "/ownerId", "value": ids::user_id("ann") }]));
    assert_eq!(gone.write("ann", |ctx| spaces::patch(ctx, &sales, &patch)).unwrap_err().status, 403);
    let w2 = World::after(gone.write("admin", |ctx| spaces::patch(ctx, &sales, &patch)).unwrap().tenant);
    assert_eq!(w2.check("admin", |ctx| spaces::get(ctx, &sales)).unwrap().owner_id, ids::user_id("ann"));
    assert_eq!(
        w2.check("ann", |ctx| spaces::get(ctx, &sales)).unwrap().meta.roles.len(),
        5,
        "ann owns the space now: the owner holds every assignable role"
    );

    let kpi = ids::content_id("kpi");
    let to_ann = decoded(json!({ "ownerId": ids::user_id("ann") }));
    assert_eq!(
        gone.write("dee", |ctx| apps::change_owner(ctx, &kpi, &to_ann)).unwrap_err().status,
        404,
        "dee may not read it"
    );
    assert_eq!(
        gone.write("ann", |ctx| apps::change_owner(ctx, &kpi, &to_ann)).unwrap_err().status,
        403,
        "ann may read it only"
    );
    let unknown = decoded(json!({ "ownerId": bob }));
    assert_eq!(
        gone.write("admin", |ctx| apps::change_owner(ctx, &kpi, &unknown)).unwrap_err().status,
        400,
        "bob is gone"
    );
    let handed = gone.write("admin", |ctx| apps::change_owner(ctx, &kpi, &to_ann)).unwrap();
    assert_eq!(handed.body.attributes.owner_id, ids::user_id("ann"));
    assert_eq!(handed.body.attributes.space_id, Some(sales.clone()));
    let w3 = World::after(handed.tenant);
    assert_eq!(w3.tenant.content_item("kpi").unwrap().owner.as_deref(), Some("ann"));
    // From now on the engine's `app:change_owner` decides who may hand it on.
    let to_dee = decoded(json!({ "ownerId": ids::user_id("dee") }));
    assert_eq!(
        w3.write("ann", |ctx| apps::change_owner(ctx, &kpi, &to_dee)).is_ok(),
        w3.decide("ann", "app:change_owner", Some("kpi"))
    );
    assert_eq!(w3.write("dee", |ctx| apps::change_owner(ctx, &kpi, &to_dee)).unwrap_err().status, 404);
}

#[test]
fn groups_list_settings_create_patch_and_delete() {
    let w = world();
    let system = w.check("dee", |ctx| groups::list(ctx, &Query::new(&[("systemGroups", "true")]))).unwrap();
    assert_eq!(system.data.len(), 1);
    assert_eq!(system.data[0].id, EVERYONE_ID);
    let mixed = Query::new(&[("systemGroups", "true"), ("limit", "5")]);
    assert_eq!(w.check("dee", |ctx| groups::list(ctx, &mixed)).unwrap_err().status, 400);
    let custom = w
        .check("dee", |ctx| groups::list(ctx, &Query::new(&[("filter", r#"providerType eq "custom""#)])))
        .unwrap();
    assert_eq!(custom.data.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["crew"]);

    let body = decoded(json!({ "name": "auditors", "providerType": "custom", "assignedRoles": [{ "name": "AuditAdmin" }] }));
    assert_eq!(w.write("dee", |ctx| groups::create(ctx, &body, NEW_ID)).unwrap_err().status, 403);
    let created = w.write("admin", |ctx| groups::create(ctx, &body, NEW_ID)).unwrap();
    assert_eq!(created.body.assigned_roles[0].level, "admin");
    assert_eq!(created.body.id, NEW_ID, "a group created here is known by the id the router drew");
    let w2 = World::after(created.tenant);
    assert_eq!(w2.write("admin", |ctx| groups::create(ctx, &body, OTHER_ID)).unwrap_err().status, 409);

    let patch = ops(json!([{ "op": "replace", "path": "assignedRoles", "value": [{ "name": "Steward" }] }]));
    let id = NEW_ID.to_owned();
    let w3 = World::after(w2.write("admin", |ctx| groups::patch(ctx, &id, &patch)).unwrap().tenant);
    assert_eq!(w3.tenant.group("auditors").unwrap().roles, ["Steward"]);

    let error = w.write("admin", |ctx| groups::delete(ctx, &ids::group_id("crew"))).unwrap_err();
    assert_eq!(error.status, 409, "{error}");
    assert!(error.detail.unwrap().contains("members"));
    assert_eq!(w3.write("admin", |ctx| groups::delete(ctx, &id)).map(|m| m.notes.len()).unwrap(), 1);
    assert_eq!(
        w.check("admin", |ctx| groups::get(ctx, "ffffffffffffffffffffffff")).unwrap_err().status,
        404
    );

    let settings_patch =
        ops(json!([{ "op": "replace", "path": format!("/systemGroups/{EVERYONE_ID}/assignedRoles"), "value": [{ "name": "SharedSpaceCreator" }] }]));
    assert_eq!(
        w.write("dee", |ctx| groups::patch_settings(ctx, &settings_patch)).unwrap_err().status,
        403
    );
    let w4 = World::after(w.write("admin", |ctx| groups::patch_settings(ctx, &settings_patch)).unwrap().tenant);
    assert!(w4.decide("dee", "space:create-shared", None), "a role on Everyone reaches every user");
    let settings = serde_json::to_value(w4.check("admin", groups::settings).unwrap()).unwrap();
    assert_eq!(settings["systemGroups"][EVERYONE_ID]["assignedRoles"][0]["name"], "SharedSpaceCreator");
}

#[test]
fn roles_are_listed_by_tenant_admins_and_custom_roles_follow_their_scopes() {
    let w = world();
    assert_eq!(w.check("dee", |ctx| roles::list(ctx, &Query::default())).unwrap_err().status, 403);
    let all = w
        .check("admin", |ctx| {
            roles::list(ctx, &Query::new(&[("limit", "100"), ("filter", "type eq 'custom'")]))
        })
        .unwrap();
    assert_eq!(all.data.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Exporters"]);
    assert_eq!(all.data[0].assigned_scopes, ["apps.data:export", "apps.image:export"]);

    let body = decoded(json!({ "name": "KeyMakers", "description": "may make API keys", "assignedScopes": ["api-keys"] }));
    assert_eq!(w.write("dee", |ctx| roles::create(ctx, &body, NEW_ID)).unwrap_err().status, 403);
    let created = w.write("admin", |ctx| roles::create(ctx, &body, NEW_ID)).unwrap();
    assert!(created.body.can_delete && created.body.can_edit);
    assert_eq!(created.body.role_type, "custom");
    let w2 = World::after(created.tenant);
    assert_eq!(w2.write("admin", |ctx| roles::create(ctx, &body, OTHER_ID)).unwrap_err().status, 409);
    let bad_scope = decoded(json!({ "name": "X", "assignedScopes": ["admin_classic"] }));
    assert_eq!(w.write("admin", |ctx| roles::create(ctx, &bad_scope, OTHER_ID)).unwrap_err().status, 400);

    // Assign it to dee, who may then create API keys.
    let dee = ids::user_id("dee");
    let assign = ops(json!([{ "op": "replace", "path": "/assignedRoles", "value": [{ "name": "KeyMakers" }] }]));
    let w3 = World::after(w2.write("admin", |ctx| users::patch(ctx, &dee, &assign)).unwrap().tenant);
    assert!(w3.decide("dee", "api-key:create", None));
    assert!(!w.decide("dee", "api-key:create", None));

    let id = NEW_ID.to_owned();
    let patch = ops(json!([
        { "op": "add", "path": "/assignedScopes/-", "value": "apps.image:export" },
        { "op": "remove-value", "path": "/assignedScopes", "value": "api-keys" },
    ]));
    let w4 = World::after(w3.write("admin", |ctx| roles::patch(ctx, &id, &patch)).unwrap().tenant);
    assert_eq!(
        w4.check("admin", |ctx| roles::get(ctx, &id)).unwrap().assigned_scopes,
        ["apps.image:export"]
    );
    assert!(
        !w4.decide("dee", "api-key:create", None),
        "the narrowed role is visible to the next decision"
    );

    let error = w4.write("admin", |ctx| roles::delete(ctx, &id)).unwrap_err();
    assert_eq!(error.status, 403);
    assert!(error.detail.unwrap().contains("user `dee`"));
    let admin_id = ids::role_id("TenantAdmin");
    assert_eq!(w.write("admin", |ctx| roles::patch(ctx, &admin_id, &patch)).unwrap_err().status, 403);
    assert_eq!(w.write("admin", |ctx| roles::delete(ctx, &admin_id)).unwrap_err().status, 403);
    assert_eq!(
        w.check("admin", |ctx| roles::get(ctx, "000000000000000000000bad")).unwrap_err().status,
        404
    );

    // UserDefault's scopes can be changed: withholding exports from everyone.
    let user_default = ids::role_id("UserDefault");
    // A custom role holds any set of the scopes custom roles can hold: data export alone is
    // data export without images, though no value of the download permission says so.
    let half = decoded(json!({ "name": "Half", "assignedScopes": ["apps.data:export"] }));
    let w_half = World::after(w.write("admin", |ctx| roles::create(ctx, &half, OTHER_ID)).unwrap().tenant);
    assert_eq!(
        w_half.check("admin", |ctx| roles::get(ctx, OTHER_ID)).unwrap().assigned_scopes,
        ["apps.data:export"]
    );
    let withhold = ops(json!([{ "op": "replace", "path": "/assignedScopes", "value": ["notes"] }]));
    let w_none = World::after(w_half.write("admin", |ctx| roles::patch(ctx, &user_default, &withhold)).unwrap().tenant);
    assert!(!w_none.decide("ann", "app:exportdata", Some("kpi")) && !w_none.decide("ann", "app:exportimage", Some("kpi")));
    let ann = ids::user_id("ann");
    let give_half = ops(json!([{ "op": "replace", "path": "/assignedRoles", "value": [{ "name": "Half" }] }]));
    let w_ann = World::after(w_none.write("admin", |ctx| users::patch(ctx, &ann, &give_half)).unwrap().tenant);
    let decision = w_ann.explain("ann", "app:exportdata", Some("kpi"));
    assert!(decision.allowed, "{:?}", decision.explanation.tokens());
    assert!(decision.explanation.reasons.iter().any(|reason| matches!(
        reason,
        portcullis_engine::Reason::Role { role, capability: portcullis_model::Capability::ExportData, .. } if &**role == "Half"
    )));
    assert!(
        !w_ann.decide("ann", "app:exportimage", Some("kpi")),
        "the role does not hold apps.image:export"
    );
    // Adding the image scope makes it the value `allowed`; removing the data scope leaves images alone.
    let add_image = ops(json!([{ "op": "add", "path": "/assignedScopes/-", "value": "apps.image:export" }]));
    let w_both = World::after(w_ann.write("admin", |ctx| roles::patch(ctx, OTHER_ID, &add_image)).unwrap().tenant);
    assert!(w_both.decide("ann", "app:exportimage", Some("kpi")) && w_both.decide("ann", "app:exportdata", Some("kpi")));
    let drop_data = ops(json!([{ "op": "remove-value", "path": "/assignedScopes", "value": "apps.data:export" }]));
    let w_image = World::after(w_both.write("admin", |ctx| roles::patch(ctx, OTHER_ID, &drop_data)).unwrap().tenant);
    assert!(w_image.decide("ann", "app:exportimage", Some("kpi")) && !w_image.decide("ann", "app:exportdata", Some("kpi")));
    assert_eq!(
        w_image.check("admin", |ctx| roles::get(ctx, OTHER_ID)).unwrap().assigned_scopes,
        ["apps.image:export"]
    );
    // Scopes a custom role cannot hold are refused by name, alone or among others.
    for refused in ["admin_classic", "admin.apps", "spaces.shared:create", "apps:reed"] {
        let body = decoded(json!({ "name": "Y", "assignedScopes": ["apps.data:export", refused] }));
        let error = w.write("admin", |ctx| roles::create(ctx, &body, OTHER_ID)).unwrap_err();
        assert_eq!(error.status, 400, "{refused}");
        assert!(
            error.to_string().contains(&format!("scope `{refused}` cannot be held by a custom role")),
            "{error}"
        );
    }
    let bad_add = ops(json!([{ "op": "add", "path": "/assignedScopes/-", "value": "admin_classic" }]));
    assert_eq!(
        w_half.write("admin", |ctx| roles::patch(ctx, OTHER_ID, &bad_add)).unwrap_err().status,
        400
    );
    let narrow = ops(json!([{ "op": "remove-value", "path": "/assignedScopes", "value": "apps.data:export" }]));
    let w_no_data = World::after(w.write("admin", |ctx| roles::patch(ctx, &user_default, &narrow)).unwrap().tenant);
    assert!(!w_no_data.decide("dee", "app:exportdata", Some("kpi")) && !w_no_data.decide("ann", "app:exportdata", Some("kpi")));
    let replace = ops(json!([{ "op": "replace", "path": "/assignedScopes", "value": ["apps.image:export", "notes"] }]));
    let w5 = World::after(w.write("admin", |ctx| roles::patch(ctx, &user_default, &replace)).unwrap().tenant);
    assert!(!w5.decide("ann", "app:exportdata", Some("kpi")));
    assert!(w.decide("ann", "app:exportdata", Some("kpi")));
}

#[test]
fn spaces_show_only_what_the_caller_may_see_with_meta() {
    let w = world();
    let ann = w.check("ann", |ctx| spaces::list(ctx, &Query::default())).unwrap();
    assert_eq!(ann.data.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Sales"]);
    assert_eq!(ann.meta["count"], 1);
    assert_eq!(ann.data[0].meta.roles, ["consumer"]);
    assert_eq!(ann.data[0].meta.actions, ["read"]);
    let bob = w.check("bob", |ctx| spaces::get(ctx, &ids::space_id("sales"))).unwrap();
    assert_eq!(bob.meta.roles.len(), 5, "the owner holds every assignable role");
    assert!(bob.meta.actions.contains(&"delete"));
    assert_eq!(w.check("dee", |ctx| spaces::get(ctx, &ids::space_id("sales"))).unwrap_err().status, 404);
    let admin = w
        .check("admin", |ctx| spaces::list(ctx, &Query::new(&[("sort", "-name"), ("type", "shared")])))
        .unwrap();
    assert_eq!(admin.data.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Secret", "Sales"]);
}

#[test]
fn spaces_are_created_by_creators_with_unique_names_and_deleted_only_when_empty() {
    let w = world();
    let body = decoded(json!({ "name": "Marketing", "type": "shared" }));
    assert_eq!(w.write("dee", |ctx| spaces::create(ctx, &body)).unwrap_err().status, 403);
    assert_eq!(
        w.write("bob", |ctx| spaces::create(ctx, &decoded(json!({ "name": "M", "type": "managed" }))))
            .unwrap_err()
            .status,
        403
    );
    assert_eq!(
        w.write("bob", |ctx| spaces::create(ctx, &decoded(json!({ "name": "Sales", "type": "shared" }))))
            .unwrap_err()
            .status,
        409
    );
    assert_eq!(
        w.write("bob", |ctx| spaces::create(ctx, &decoded(json!({ "name": "a/b", "type": "shared" }))))
            .unwrap_err()
            .status,
        400
    );
    let created = w.write("bob", |ctx| spaces::create(ctx, &body)).unwrap();
    assert_eq!(created.body.owner_id, ids::user_id("bob"));
    assert!(created.body.meta.actions.contains(&"create"));
    let id = created.body.id.clone();
    let w2 = World::after(created.tenant);
    assert!(
        w2.decide("bob", "space:read", Some(&id)),
        "the API id is the model key of API-created spaces"
    );

    let assignment = decoded(json!({ "type": "user", "assigneeId": ids::user_id("dee"), "roles": ["producer"] }));
    assert_eq!(
        w2.write("dee", |ctx| spaces::create_assignment(ctx, &id, &assignment))
            .unwrap_err()
            .status,
        404,
        "dee cannot see it"
    );
    assert_eq!(
        w2.write("ann", |ctx| spaces::create_assignment(ctx, &id, &assignment))
            .unwrap_err()
            .status,
        404
    );
    let made = w2.write("bob", |ctx| spaces::create_assignment(ctx, &id, &assignment)).unwrap();
    let assignment_id = made.body.id.clone();
    let w3 = World::after(made.tenant);
    assert!(w3.decide("dee", "space:create-app", Some(&id)));
    assert_eq!(
        w3.write("bob", |ctx| spaces::create_assignment(ctx, &id, &assignment))
            .unwrap_err()
            .status,
        409
    );
    let owner = decoded(json!({ "type": "user", "assigneeId": ids::user_id("bob"), "roles": ["consumer"] }));
    assert_eq!(
        w3.write("bob", |ctx| spaces::create_assignment(ctx, &id, &owner)).unwrap_err().status,
        400
    );
    let wrong_role = decoded(json!({ "type": "user", "assigneeId": ids::user_id("ann"), "roles": ["publisher"] }));
    assert_eq!(
        w3.write("bob", |ctx| spaces::create_assignment(ctx, &id, &wrong_role))
            .unwrap_err()
            .status,
        400
    );
    let nobody = decoded(json!({ "type": "user", "assigneeId": "aaaaaaaaaaaaaaaaaaaaaaaa", "roles": ["consumer"] }));
    assert_eq!(
        w3.write("bob", |ctx| spaces::create_assignment(ctx, &id, &nobody)).unwrap_err().status,
        404
    );

    let listed = w3.check("dee", |ctx| spaces::list_assignments(ctx, &id, &Query::default())).unwrap();
    assert_eq!(listed.data.len(), 1, "the owner is never listed");
    let updated = w3
        .write("bob", |ctx| {
            spaces::update_assignment(ctx, &id, &assignment_id, &decoded(json!({ "roles": ["consumer"] })))
        })
        .unwrap();
    let w4 = World::after(updated.tenant);
    assert!(!w4.decide("dee", "space:create-app", Some(&id)));
    let w5 = World::after(w4.write("bob", |ctx| spaces::delete_assignment(ctx, &id, &assignment_id)).unwrap().tenant);
    assert!(!w5.decide("dee", "space:read", Some(&id)));

    let renamed = w5
        .write("bob", |ctx| {
            spaces::patch(ctx, &id, &ops(json!([{ "op": "replace", "path": "/name", "value": "Mkt" }])))
        })
        .unwrap();
    assert_eq!(renamed.body.name, "Mkt");
    let owner_change = ops(json!([{ "op": "replace", "path": "/ownerId", "value": ids::user_id("ann") }]));
    assert_eq!(
        w5.write("bob", |ctx| spaces::patch(ctx, &id, &owner_change)).unwrap_err().status,
        403,
        "only admins change owners"
    );
    assert_eq!(
        w5.write("admin", |ctx| spaces::patch(ctx, &id, &owner_change)).unwrap().body.owner_id,
        ids::user_id("ann")
    );

    let error = w.write("bob", |ctx| spaces::delete(ctx, &ids::space_id("sales"))).unwrap_err();
    assert_eq!(error.status, 412, "{error}");
    assert_eq!(
        w5.write("bob", |ctx| spaces::delete(ctx, &id)).unwrap().notes[0].event,
        portcullis_audit::EventType::SpaceDeleted
    );
}

#[test]
fn shares_need_app_share_and_reach_the_next_decision() {
    let w = world();
    let sales = ids::space_id("sales");
    let body = decoded(
        json!({ "type": "user", "assigneeId": ids::user_id("dee"), "resourceId": ids::content_id("kpi"), "resourceType": "app", "roles": ["consumer"] }),
    );
    assert_eq!(w.write("ann", |ctx| spaces::create_share(ctx, &sales, &body)).unwrap_err().status, 403);
    let made = w.write("bob", |ctx| spaces::create_share(ctx, &sales, &body)).unwrap();
    let share_id = made.body.id.clone();
    let w2 = World::after(made.tenant);
    assert!(w2.decide("dee", "app:read", Some("kpi")));
    assert_eq!(w2.write("bob", |ctx| spaces::create_share(ctx, &sales, &body)).unwrap_err().status, 409);
    let listed = |pairs: &[(&str, &str)]| w2.check("bob", |ctx| spaces::list_shares(ctx, &sales, &Query::new(pairs)));
    assert_eq!(listed(&[]).unwrap().data.len(), 1);
    assert_eq!(
        listed(&[("name", "kp"), ("resourceType", "app")]).unwrap().data.len(),
        1,
        "the app's name, any case"
    );
    assert_eq!(listed(&[("name", "budget")]).unwrap().data.len(), 0);
    assert_eq!(listed(&[("type", "group")]).unwrap().data.len(), 0);
    for refused in [("resourceType", "space"), ("type", "robot")] {
        let error = listed(&[refused]).unwrap_err();
        assert_eq!(error.status, 400, "{error}");
        assert!(error.to_string().contains(&format!("`{}`", refused.0)), "{error}");
    }
    let w3 = World::after(w2.write("bob", |ctx| spaces::delete_share(ctx, &sales, &share_id)).unwrap().tenant);
    assert!(!w3.decide("dee", "app:read", Some("kpi")));
}

#[test]
fn a_managed_space_offers_publish_never_create() {
    let mut tenant = tenant();
    tenant
        .apply(&portcullis_model::Change::CreateSpace {
            space: portcullis_model::tenant::Space {
                meta: Default::default(),
                id: "prod".into(),
                name: "Prod".into(),
                space_type: portcullis_model::SpaceType::Managed,
                owner: Some("bob".into()),
                export_only_through: None,
                members: Vec::new(),
            },
        })
        .unwrap();
    for (user, role) in [
        ("ann", portcullis_model::SpaceRole::Publisher),
        ("dee", portcullis_model::SpaceRole::Facilitator),
    ] {
        tenant
            .set_space_member(
                "prod",
                portcullis_model::tenant::Assignee::User(user.into()),
                portcullis_model::SpaceRoleSet::of(&[role]),
            )
            .unwrap();
    }
    let w = World::new(tenant);
    let prod = ids::space_id("prod");
    let actions = |user: &str| w.check(user, |ctx| spaces::get(ctx, &prod)).unwrap().meta.actions;
    assert_eq!(actions("bob"), ["delete", "publish", "read", "update"]);
    assert_eq!(actions("ann"), ["publish", "read"]);
    assert_eq!(actions("dee"), ["delete", "read", "update"]);
    for user in ["bob", "ann", "dee"] {
        assert!(!w.decide(user, "space:create-app", Some("prod")), "{user}");
    }
}

#[test]
fn a_data_space_offers_create_for_its_data_connections_never_for_apps() {
    let mut tenant = tenant();
    tenant
        .apply(&portcullis_model::Change::CreateSpace {
            space: portcullis_model::tenant::Space {
                meta: Default::default(),
                id: "lake".into(),
                name: "Lake".into(),
                space_type: portcullis_model::SpaceType::Data,
                owner: Some("ann".into()),
                export_only_through: None,
                members: Vec::new(),
            },
        })
        .unwrap();
    for (user, role) in [
        ("dee", portcullis_model::SpaceRole::Producer),
        ("bob", portcullis_model::SpaceRole::Operator),
    ] {
        tenant
            .set_space_member(
                "lake",
                portcullis_model::tenant::Assignee::User(user.into()),
                portcullis_model::SpaceRoleSet::of(&[role]),
            )
            .unwrap();
    }
    let w = World::new(tenant);
    let lake = ids::space_id("lake");
    let actions = |user: &str| w.check(user, |ctx| spaces::get(ctx, &lake)).unwrap().meta.actions;
    assert_eq!(actions("ann"), ["create", "delete", "read", "update"]);
    assert_eq!(actions("dee"), ["create", "read"]);
    assert_eq!(actions("bob"), ["read"]);
    assert!(w.decide("dee", "space:create-data-connection", Some("lake")));
    assert!(!w.decide("bob", "space:create-data-connection", Some("lake")));
    for user in ["ann", "dee", "admin"] {
        assert!(!w.decide(user, "space:create-app", Some("lake")), "{user}");
    }
}

#[test]
fn removing_what_a_user_does_not_hold_changes_nothing() {
    let w = world();
    let crew = ids::group_id("crew");
    // ann holds no role directly; dee is in no group.
    for (user, patch) in [
        (
            "ann",
            json!([{ "op": "remove-value", "path": "/assignedRoles", "value": { "name": "Exporters" } }]),
        ),
        (
            "ann",
            json!([{ "op": "remove-value", "path": "/assignedRoles", "value": { "id": ids::role_id("TenantAdmin") } }]),
        ),
        ("dee", json!([{ "op": "remove-value", "path": "/assignedGroups", "value": crew }])),
    ] {
        let done = w
            .write("admin", |ctx| users::patch(ctx, &ids::user_id(user), &ops(patch.clone())))
            .unwrap_or_else(|e| panic!("{patch}: {e}"));
        assert_eq!(done.tenant, *w.tenant, "{patch}");
    }
    let unknown = ops(json!([{ "op": "remove-value", "path": "/assignedRoles", "value": { "name": "Astronaut" } }]));
    assert_eq!(
        w.write("admin", |ctx| users::patch(ctx, &ids::user_id("ann"), &unknown))
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn the_tenant_is_read_by_its_users_and_its_booleans_changed_by_tenant_admins() {
    use portcullis_model::TenantSetting;
    let w = world();
    let me = w.check("dee", tenants::me).unwrap();
    assert_eq!((me.id.as_str(), me.name.as_str()), (ids::tenant_id("acme").as_str(), "acme"));
    assert_eq!(me.hostnames, ["127.0.0.1:8080"]);
    assert!(!me.auto_assign_create_shared_spaces_role_to_professionals);
    assert_eq!(w.check("dee", |ctx| tenants::get(ctx, &me.id)).unwrap(), me);
    assert_eq!(w.check("dee", |ctx| tenants::get(ctx, &ids::tenant_id("other"))).unwrap_err().status, 404);

    let toggle = ops(json!([
        { "op": "replace", "path": "/autoAssignCreateSharedSpacesRoleToProfessionals", "value": true },
        { "op": "replace", "path": "/enableAnalyticCreation", "value": true },
        { "op": "replace", "path": "/enableAppOpeningFeedback", "value": true },
    ]));
    assert_eq!(w.write("dee", |ctx| tenants::patch(ctx, &me.id, &toggle)).unwrap_err().status, 403);
    assert_eq!(
        w.write("admin", |ctx| tenants::patch(ctx, &ids::tenant_id("other"), &toggle))
            .unwrap_err()
            .status,
        404,
        "another tenant's id is not found, whoever asks"
    );
    let written = w.write("admin", |ctx| tenants::patch(ctx, &me.id, &toggle)).unwrap();
    assert_eq!(written.notes[0].event, portcullis_audit::EventType::TenantSettingsUpdated);
    let mut on = written.tenant;
    assert!(on.setting(TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals));
    let shown = World::after(on.clone()).check("dee", tenants::me).unwrap();
    assert!(shown.auto_assign_create_shared_spaces_role_to_professionals && shown.enable_analytic_creation && shown.enable_app_opening_feedback);

    // The toggle records its role at dee's next login; turning it off keeps what was recorded.
    on.apply(&portcullis_model::Change::RecordLogin { user: "dee".into() }).unwrap();
    let off = World::after(on)
        .write("admin", |ctx| {
            tenants::patch(
                ctx,
                &me.id,
                &ops(json!([{ "op": "replace", "path": "autoAssignCreateSharedSpacesRoleToProfessionals", "value": false }])),
            )
        })
        .unwrap()
        .tenant;
    assert!(!off.setting(TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals));
    assert!(
        off.user("dee").unwrap().roles.iter().any(|r| r.role == "SharedSpaceCreator"),
        "a role already recorded stays until unassigned"
    );
    assert!(World::after(off).decide("dee", "space:create-shared", None));

    for (patch, words) in [
        (json!([{ "op": "replace", "path": "/name", "value": "acme2" }]), "`/name`"),
        (
            json!([{ "op": "replace", "path": "/hostnames/1", "value": "x.example" }]),
            "`/hostnames/1`",
        ),
        (
            json!([{ "op": "replace", "path": "/adminsCanOpenAppsWithoutSpaceRole", "value": true }]),
            "`/adminsCanOpenAppsWithoutSpaceRole`",
        ),
        (
            json!([{ "op": "replace", "path": "/enableAnalyticCreation", "value": "yes" }]),
            "[0].value",
        ),
        (json!([{ "op": "remove", "path": "/enableAnalyticCreation" }]), "`remove`"),
    ] {
        let error = w.write("admin", |ctx| tenants::patch(ctx, &me.id, &ops(patch.clone()))).unwrap_err();
        assert_eq!(error.status, 400, "{patch}");
        assert!(error.detail.as_deref().unwrap_or_default().contains(words), "{patch}: {error}");
    }
}

#[test]
fn invitees_are_created_invited_reported_when_they_exist_and_refused_one_by_one() {
    use portcullis_model::UserStatus;
    let w = world();
    let body: users::InviteRequest = decoded(json!({ "invitees": [
        { "email": "new@acme.example", "name": "Nia New" },
        { "email": "ANN@acme.example" },
        { "email": "not-an-address" },
        { "email": "new@acme.example" },
        { "email": "ada@acme.example", "resend": true },
        {},
    ] }));
    let random = [[7u8; 16], [8; 16], [9; 16], [10; 16], [11; 16], [12; 16]];
    assert_eq!(w.write("dee", |ctx| users::invite(ctx, &body, &random)).unwrap_err().status, 403);
    let written = w.write("admin", |ctx| users::invite(ctx, &body, &random)).unwrap();
    let results = &written.body.data;
    let statuses: Vec<(&str, Option<&str>)> = results.iter().map(|r| (r.status, r.code.as_deref())).collect();
    assert_eq!(
        statuses,
        [
            ("ok", None),
            ("exists", None),
            ("error", Some("400")),
            ("exists", None),
            ("error", Some("1001")),
            ("error", Some("400"))
        ]
    );
    assert_eq!(results[1].user_id.as_deref(), Some(ids::user_id("ann").as_str()));
    assert!(results[2].detail.as_deref().unwrap().contains("`invitees[2].email`"), "{:?}", results[2]);
    let subject = results[0].subject.clone().unwrap();
    assert_eq!(subject, users::invitee_subject([7; 16]));
    assert_eq!(results[3].subject.as_deref(), Some(subject.as_str()), "the same e-mail twice is one user");
    let invited = written.tenant.user(&subject).unwrap();
    assert_eq!((invited.status, invited.name.as_str()), (UserStatus::Invited, "Nia New"));
    assert_eq!(written.tenant.users.len(), w.tenant.users.len() + 1);
    assert_eq!(written.notes.len(), 1, "one event per user created");

    // Sent again with `resend`: the invited user is `ok`, nothing is created.
    let again = World::after(written.tenant);
    let resend: users::InviteRequest = decoded(json!({ "invitees": [{ "email": "new@acme.example", "resend": true }] }));
    let second = again.write("admin", |ctx| users::invite(ctx, &resend, &[[1; 16]])).unwrap();
    assert_eq!((second.body.data[0].status, second.tenant.users.len()), ("ok", again.tenant.users.len()));

    let none: users::InviteRequest = decoded(json!({ "invitees": [] }));
    assert_eq!(w.write("admin", |ctx| users::invite(ctx, &none, &[])).unwrap_err().status, 400);
}

#[test]
fn a_user_patch_takes_every_path_qlik_has_and_reports_each_failure_on_its_own() {
    use portcullis_model::UserStatus;
    let w = world();
    let ann = ids::user_id("ann");
    let profile = ops(json!([
        { "op": "replace", "path": "/preferredLocale", "value": "sv-SE" },
        { "op": "set", "path": "/preferredZoneinfo", "value": "Europe/Stockholm" },
        { "op": "add", "path": "/locale", "value": "en_US_POSIX" },
        { "op": "replace", "path": "/picture", "value": "https://acme.example/ann.png" },
        { "op": "replace", "path": "/roles", "value": [{ "name": "Exporters" }] },
        { "op": "set", "path": "/name", "value": "Ann Lee-Park" },
    ]));
    let written = w.write("admin", |ctx| users::patch(ctx, &ann, &profile)).unwrap();
    assert_eq!(written.body, users::PatchOutcome::Done);
    let after = World::after(written.tenant);
    let shown = after.check("admin", |ctx| users::get(ctx, &ann)).unwrap();
    assert_eq!(
        (
            shown.preferred_locale.as_deref(),
            shown.preferred_zoneinfo.as_deref(),
            shown.locale.as_deref(),
            shown.picture.as_deref(),
            shown.name.as_str()
        ),
        (
            Some("sv-SE"),
            Some("Europe/Stockholm"),
            Some("en_US_POSIX"),
            Some("https://acme.example/ann.png"),
            "Ann Lee-Park"
        )
    );
    assert_eq!(
        shown.last_updated_at.as_deref(),
        Some("2023-11-14T22:13:20.000Z"),
        "stamped with the time of the patch"
    );
    assert_eq!(
        shown.assigned_roles.unwrap()[0].name,
        "Exporters",
        "`/roles` is the deprecated `/assignedRoles`"
    );

    // unset clears; one failing operation among good ones is reported alone (207) and the
    // others are written.
    let mixed = ops(json!([
        { "op": "unset", "path": "/preferredLocale" },
        { "op": "add", "path": "/assignedRoles/-", "value": { "name": "Astronaut" } },
        { "op": "replace", "path": "/status", "value": "disabled" },
        { "op": "renew", "path": "/inviteExpiry" },
    ]));
    let partial = after.write("admin", |ctx| users::patch(ctx, &ann, &mixed)).unwrap();
    let users::PatchOutcome::Partial(failed) = &partial.body else {
        panic!("two operations fail: {:?}", partial.body)
    };
    assert_eq!(failed.iter().map(|(i, e)| (*i, e.status)).collect::<Vec<_>>(), [(1, 400), (3, 400)]);
    assert!(failed[1].1.detail.as_deref().unwrap().contains("not invited"), "{:?}", failed[1]);
    let user = partial.tenant.user("ann").unwrap();
    assert_eq!((user.status, user.meta.preferred_locale.as_deref()), (UserStatus::Disabled, None));
    let body = serde_json::to_value(portcullis_qlik_api::ApiError::multi_status(failed)).unwrap();
    assert_eq!(body["errors"][1]["source"]["pointer"], "/3", "{body}");

    // An invited user's invitation is renewed, set, or unset.
    let invited: users::UserCreate = decoded(json!({ "subject": "ivy", "status": "invited", "email": "ivy@acme.example" }));
    let with_ivy = World::after(w.write("admin", |ctx| users::create(ctx, &invited)).unwrap().tenant);
    let ivy = ids::user_id("ivy");
    let created = with_ivy.check("admin", |ctx| users::get(ctx, &ivy)).unwrap();
    assert_eq!(created.invite_expiry, Some(1_700_000_000 + users::INVITE_VALID_SECONDS));
    assert_eq!(created.created_at.as_deref(), Some("2023-11-14T22:13:20.000Z"));
    let later = ops(json!([{ "op": "replace", "path": "/inviteExpiry", "value": 1_800_000_000 }]));
    let moved = with_ivy.write("admin", |ctx| users::patch(ctx, &ivy, &later)).unwrap().tenant;
    assert_eq!(moved.user("ivy").unwrap().meta.invite_expiry, Some(1_800_000_000));
    let renewed = World::after(moved)
        .write("admin", |ctx| {
            users::patch(ctx, &ivy, &ops(json!([{ "op": "renew", "path": "/inviteExpiry" }])))
        })
        .unwrap();
    assert_eq!(
        renewed.tenant.user("ivy").unwrap().meta.invite_expiry,
        Some(1_700_000_000 + users::INVITE_VALID_SECONDS)
    );

    // A patch that changes nothing writes nothing; one that cannot apply at all is its error.
    let nothing = ops(json!([{ "op": "replace", "path": "/name", "value": "Ann Lee" }]));
    assert_eq!(w.write("admin", |ctx| users::patch(ctx, &ann, &nothing)).unwrap().tenant, *w.tenant);
    for (patch, words) in [
        (
            json!([{ "op": "replace", "path": "/zoneinfo", "value": "UTC" }]),
            "`/zoneinfo` is not a user field",
        ),
        (json!([{ "op": "renew", "path": "/name" }]), "`renew` on `/name`"),
        (
            json!([{ "op": "replace", "path": "/preferredZoneinfo", "value": "Mars/Base One" }]),
            "time zone",
        ),
        (json!([{ "op": "replace", "path": "/picture", "value": "file:///etc/passwd" }]), "URL"),
        (json!([{ "op": "replace", "path": "/inviteExpiry", "value": 5 }]), "in the future"),
    ] {
        let error = w.write("admin", |ctx| users::patch(ctx, &ann, &ops(patch.clone()))).unwrap_err();
        assert_eq!(error.status, 400, "{patch}");
        assert!(error.detail.as_deref().unwrap_or_default().contains(words), "{patch}: {error}");
    }
    // A value of the wrong shape refuses the whole patch, as a body of the wrong shape does.
    let shape = ops(json!([
        { "op": "replace", "path": "/name", "value": "Ann X" },
        { "op": "replace", "path": "/locale", "value": 7 },
    ]));
    let error = w.write("admin", |ctx| users::patch(ctx, &ann, &shape)).unwrap_err();
    assert!(error.detail.unwrap().contains("[1].value"));
}

#[test]
fn groups_and_roles_are_renamed_keeping_their_ids_and_stamped() {
    let w = world();
    // A tenant-file group keeps the id of its first name.
    let crew = ids::group_id("crew");
    let rename = ops(json!([
        { "op": "replace", "path": "/name", "value": "deckhands" },
        { "op": "replace", "path": "description", "value": "who sails" },
    ]));
    let renamed = World::after(w.write("admin", |ctx| groups::patch(ctx, &crew, &rename)).unwrap().tenant);
    let group = renamed.check("dee", |ctx| groups::get(ctx, &crew)).unwrap();
    assert_eq!((group.name.as_str(), group.description.as_deref()), ("deckhands", Some("who sails")));
    assert_eq!(group.last_updated_at.as_deref(), Some("2023-11-14T22:13:20.000Z"));
    assert!(renamed.tenant.group("crew").is_none());
    assert_eq!(renamed.tenant.user("ann").unwrap().groups, ["deckhands"], "members follow");
    let ann = renamed.check("admin", |ctx| users::get(ctx, &ids::user_id("ann"))).unwrap();
    assert_eq!(ann.assigned_groups.unwrap()[0].id, crew, "users show the group by its kept id");
    let by_id = Query::new(&[("filter", &format!("id eq \"{crew}\""))]);
    assert_eq!(renamed.check("dee", |ctx| groups::list(ctx, &by_id)).unwrap().data[0].name, "deckhands");

    for (patch, status) in [
        (json!([{ "op": "replace", "path": "/name", "value": "analysts" }]), 409),
        (json!([{ "op": "replace", "path": "/name", "value": "" }]), 400),
        (json!([{ "op": "replace", "path": "/name", "value": "com.qlik.Everyone" }]), 409),
    ] {
        let error = w.write("admin", |ctx| groups::patch(ctx, &crew, &ops(patch.clone()))).unwrap_err();
        assert_eq!(error.status, status, "{patch}: {error}");
    }
    let idp = ops(json!([{ "op": "replace", "path": "/name", "value": "x" }]));
    let error = w.write("admin", |ctx| groups::patch(ctx, &ids::group_id("analysts"), &idp)).unwrap_err();
    assert!(error.status == 400 && error.detail.unwrap().contains("identity provider"));

    // A custom role: renamed, its holders hold it under the new name; its id stays.
    let exporters = ids::role_id("Exporters");
    let rename_role = ops(json!([{ "op": "replace", "path": "/name", "value": "Downloaders" }]));
    let with_role = World::after(w.write("admin", |ctx| roles::patch(ctx, &exporters, &rename_role)).unwrap().tenant);
    let role = with_role.check("admin", |ctx| roles::get(ctx, &exporters)).unwrap();
    assert_eq!(role.name, "Downloaders");
    assert!(role.last_updated_at.is_some());
    assert_eq!(with_role.tenant.group("analysts").unwrap().roles, ["Downloaders"]);
    assert_eq!(
        with_role.decide("cid", "app:exportdata", Some("kpi")),
        w.decide("cid", "app:exportdata", Some("kpi")),
        "a rename changes no decision"
    );
    let taken = ops(json!([{ "op": "replace", "path": "/name", "value": "TenantAdmin" }]));
    assert_eq!(w.write("admin", |ctx| roles::patch(ctx, &exporters, &taken)).unwrap_err().status, 409);
    let user_default = ids::role_id("UserDefault");
    assert_eq!(
        w.write("admin", |ctx| roles::patch(ctx, &user_default, &rename_role)).unwrap_err().status,
        403
    );
}

#[test]
fn clients_and_spaces_carry_their_times_and_spaces_their_descriptions() {
    let w = world();
    let body: oauth_clients::OauthClientCreate = decoded(json!({ "clientName": "ETL 2", "appType": "web" }));
    let id = "c".repeat(32);
    let made = w.write("admin", |ctx| oauth_clients::create(ctx, &body, &id)).unwrap();
    assert_eq!(made.body.created_at.as_deref(), Some("2023-11-14T22:13:20.000Z"));
    let rename = ops(json!([{ "op": "replace", "path": "/clientName", "value": "ETL two" }]));
    let renamed = World::after(made.tenant)
        .write("admin", |ctx| oauth_clients::patch(ctx, &id, &rename))
        .unwrap();
    assert_eq!(renamed.tenant.oauth_client(&id).unwrap().meta.updated_at, Some(1_700_000_000));

    let space: spaces::SpaceCreate = decoded(json!({ "name": "Plans", "type": "shared", "description": "next year" }));
    let created = w.write("bob", |ctx| spaces::create(ctx, &space)).unwrap();
    assert_eq!(created.body.description, "next year");
    assert_eq!(created.body.created_by.as_deref(), Some(ids::user_id("bob").as_str()));
    let space_id = created.body.id.clone();
    let w2 = World::after(created.tenant);
    let patched = w2
        .write("bob", |ctx| {
            spaces::patch(
                ctx,
                &space_id,
                &ops(json!([{ "op": "replace", "path": "/description", "value": "the plan" }])),
            )
        })
        .unwrap();
    assert_eq!((patched.body.description.as_str(), patched.body.updated_at.is_some()), ("the plan", true));
    let w3 = World::after(patched.tenant);
    let put: spaces::SpaceUpdate = decoded(json!({ "description": "" }));
    let cleared = w3.write("bob", |ctx| spaces::put(ctx, &space_id, &put)).unwrap();
    assert_eq!(cleared.body.description, "");
    assert!(cleared.tenant.space(&space_id).unwrap().meta.description.is_none());
    let w4 = World::after(cleared.tenant);
    assert_eq!(
        w4.write("ann", |ctx| spaces::put(ctx, &space_id, &decoded(json!({ "description": "mine" }))))
            .unwrap_err()
            .status,
        404,
        "ann does not see the space"
    );
    let sorted = w4
        .check("admin", |ctx| spaces::list(ctx, &Query::new(&[("sort", "-createdAt")])))
        .unwrap();
    assert_eq!(sorted.data[0].name, "Plans", "the only space with a creation time sorts first going down");
}

#[test]
fn users_sort_by_their_times_and_refuse_client_ids() {
    let w = world();
    let invited: users::UserCreate = decoded(json!({ "subject": "ivy", "status": "invited" }));
    let w2 = World::after(w.write("admin", |ctx| users::create(ctx, &invited)).unwrap().tenant);
    for sort in ["-createdAt", "-inviteExpiry"] {
        let page = w2.check("admin", |ctx| users::list(ctx, &Query::new(&[("sort", sort)]))).unwrap();
        assert_eq!(page.data[0].subject, "ivy", "{sort}: the only user with the value first going down");
        let up = w2
            .check("admin", |ctx| users::list(ctx, &Query::new(&[("sort", &sort.replace('-', "+"))])))
            .unwrap();
        assert_eq!(up.data.last().unwrap().subject, "ivy", "{sort} reversed");
    }
    let by_tenant = w2
        .check("admin", |ctx| users::list(ctx, &Query::new(&[("sort", "tenantId"), ("limit", "100")])))
        .unwrap();
    assert_eq!(by_tenant.data.len(), 6);
    for query in [vec![("filter", r#"clientId eq "etl""#)], vec![("sort", "+clientId")]] {
        let error = w2.check("admin", |ctx| users::list(ctx, &Query::new(&query))).unwrap_err();
        assert_eq!(error.status, 400, "{query:?}");
        assert!(error.detail.unwrap().contains("`clientId`"));
    }
}

#[test]
fn oauth_clients_keep_qliks_fields_and_public_clients_take_no_grants() {
    let w = world();
    let body: oauth_clients::OauthClientCreate = decoded(json!({
        "clientName": "Portal",
        "appType": "spa",
        "description": "the customer portal",
        "redirectUris": ["https://portal.example/callback"],
        "allowedOrigins": ["https://portal.example"],
        "clientUri": "https://portal.example",
        "allowedScopes": ["user_default"],
        "connectionConfig": { "consentMethod": "trusted" },
    }));
    let id = "c0ffee00c0ffee00c0ffee00c0ffee00".to_owned();
    assert_eq!(w.write("dee", |ctx| oauth_clients::create(ctx, &body, &id)).unwrap_err().status, 403);
    let made = w.write("admin", |ctx| oauth_clients::create(ctx, &body, &id)).unwrap();
    let client = made.body;
    assert_eq!(client.app_type, "spa");
    assert_eq!(client.description, "the customer portal");
    assert_eq!(client.redirect_uris, ["https://portal.example/callback"]);
    assert_eq!(client.allowed_origins, ["https://portal.example"]);
    assert_eq!(client.connection_config.consent_method, "trusted");
    assert!(
        client.allowed_grant_types.is_empty() && client.allowed_auth_methods.is_empty(),
        "a public client"
    );
    assert!(client.created_at.is_some());
    let w2 = World::after(made.tenant);

    // Refusals name the field.
    for (bad, says) in [
        (json!({ "clientName": "X", "appType": "desktop" }), "`appType` `desktop` is not one of"),
        (
            json!({ "clientName": "X", "appType": "native", "allowedGrantTypes": ["client_credentials"] }),
            "takes no grants",
        ),
        (
            json!({ "clientName": "X", "allowedAuthMethods": ["private_key_jwt"] }),
            "`private_key_jwt` is not supported",
        ),
        (json!({ "clientName": "X", "jwksUri": "https://keys.example" }), "not supported"),
        (
            json!({ "clientName": "X", "connectionConfig": { "consentMethod": "maybe" } }),
            "`maybe` is not one of",
        ),
    ] {
        let body: oauth_clients::OauthClientCreate = decoded(bad.clone());
        let error = w
            .write("admin", |ctx| oauth_clients::create(ctx, &body, "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"))
            .unwrap_err();
        assert_eq!(error.status, 400, "{bad}");
        assert!(error.to_string().contains(says), "{bad}: {error}");
    }

    // Every path Qlik lets a PATCH change.
    let patch = ops(json!([
        { "op": "add", "path": "/redirectUris", "value": "https://portal.example/other" },
        { "op": "remove-value", "path": "/allowedOrigins", "value": "https://portal.example" },
        { "op": "replace", "path": "/description", "value": "renamed portal" },
        { "op": "replace", "path": "/logoUri", "value": "https://portal.example/logo.png" },
        { "op": "remove", "path": "/clientUri" },
        { "op": "replace", "path": "/clientName", "value": "Portal 2" },
        { "op": "replace", "path": "/allowedScopes", "value": ["apps:read"] },
    ]));
    let w3 = World::after(w2.write("admin", |ctx| oauth_clients::patch(ctx, &id, &patch)).unwrap().tenant);
    let client = w3.check("admin", |ctx| oauth_clients::get(ctx, &id)).unwrap();
    assert_eq!(client.redirect_uris, ["https://portal.example/callback", "https://portal.example/other"]);
    assert!(client.allowed_origins.is_empty());
    assert_eq!(
        (client.description.as_str(), client.logo_uri.as_deref(), client.client_uri.as_deref()),
        ("renamed portal", Some("https://portal.example/logo.png"), None)
    );
    assert_eq!(
        (client.client_name.as_str(), client.allowed_scopes.clone()),
        ("Portal 2", vec!["apps:read".to_owned()])
    );
    assert_eq!(client.app_type, "spa", "the app type stays");
    let grants = ops(json!([{ "op": "replace", "path": "/allowedGrantTypes", "value": ["client_credentials"] }]));
    assert_eq!(w3.write("admin", |ctx| oauth_clients::patch(ctx, &id, &grants)).unwrap_err().status, 400);
    let keys = ops(json!([{ "op": "add", "path": "/publicKeys", "value": [] }]));
    assert_eq!(w3.write("admin", |ctx| oauth_clients::patch(ctx, &id, &keys)).unwrap_err().status, 400);

    // Publishing records the time once; the consent method is set and reset.
    let published = w3.write("admin", |ctx| oauth_clients::publish(ctx, &id)).unwrap();
    assert_eq!(published.body["publishedAt"], "2023-11-14T22:13:20.000Z");
    let w4 = World::after(published.tenant);
    assert_eq!(
        w4.check("admin", |ctx| oauth_clients::get(ctx, &id)).unwrap().published_at.as_deref(),
        Some("2023-11-14T22:13:20.000Z")
    );
    let required = ops(json!([{ "op": "replace", "path": "/consentMethod", "value": "required" }]));
    let w5 = World::after(
        w4.write("admin", |ctx| oauth_clients::patch_connection_config(ctx, &id, &required))
            .unwrap()
            .tenant,
    );
    assert_eq!(
        w5.check("admin", |ctx| oauth_clients::connection_config(ctx, &id))
            .unwrap()
            .consent_method,
        "required"
    );
    let bad = ops(json!([{ "op": "replace", "path": "/consentMethod", "value": "never" }]));
    assert_eq!(
        w5.write("admin", |ctx| oauth_clients::patch_connection_config(ctx, &id, &bad))
            .unwrap_err()
            .status,
        400
    );
    let w6 = World::after(w5.write("admin", |ctx| oauth_clients::delete_connection_config(ctx, &id)).unwrap().tenant);
    assert_eq!(
        w6.check("admin", |ctx| oauth_clients::connection_config(ctx, &id))
            .unwrap()
            .consent_method,
        "required"
    );
    assert_eq!(w6.check("dee", |ctx| oauth_clients::connection_config(ctx, &id)).unwrap_err().status, 403);
}
