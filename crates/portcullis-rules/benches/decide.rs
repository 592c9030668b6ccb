//! Criterion benches of the hot paths: one decision with the default rules plus 200 custom
//! rules on a site of 10,000 users and 100,000 resources (fast path and explained), compiling
//! that site, parsing a real-size condition, and the audit matrix for 1,000 users × 10,000
//! resources.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_rules::audit::{AuditScope, audit};
use portcullis_rules::{Action, ActionSet, CompiledSite, RequestContext, Resource, Rule, RuleContext, Site, User, default_rules};

/// A deterministic pseudo-random sequence (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

/// A site shaped like a real deployment: project groups, streams tagged with the groups that
/// may read them, apps in streams or private, objects in apps, data connections, tasks.
fn site(n_users: usize, n_resources: usize, n_custom_rules: usize) -> Site {
    let mut rng = Lcg(42);
    let n_groups = 200;
    let users = (0..n_users)
        .map(|idx| User {
            user_directory: "ACME".into(),
            user_id: format!("user{idx}"),
            name: Some(format!("User {idx}")),
            groups: (0..3).map(|_| format!("proj{}", rng.next(n_groups))).collect(),
            roles: if idx % 500 == 0 { vec!["ContentAdmin".into()] } else { Vec::new() },
            custom_properties: [("Dept".to_owned(), vec![format!("dept{}", idx % 20)])].into_iter().collect(),
            anonymous: idx % 1000 == 999,
            ..User::default()
        })
        .collect();
    let n_streams = (n_resources / 100).max(1);
    let mut resources = Vec::with_capacity(n_resources);
    for idx in 0..n_resources {
        let id = format!("r{idx}");
        let mut resource = Resource {
            id,
            name: Some(format!("Resource {idx}")),
            ..Resource::default()
        };
        if idx < n_streams {
            resource.resource_type = "Stream".into();
            resource.custom_properties = [(
                "GroupAccess".to_owned(),
                vec![format!("proj{}", rng.next(n_groups)), format!("proj{}", rng.next(n_groups))],
            )]
            .into_iter()
            .collect();
        } else if idx % 2 == 0 {
            resource.resource_type = "App".into();
            if rng.next(4) != 0 {
                resource.stream = Some(format!("r{}", rng.next(n_streams)));
            }
            resource.owner = Some(format!("ACME\\user{}", rng.next(n_users)));
        } else if idx % 7 == 1 {
            resource.resource_type = "DataConnection".into();
            resource.attributes = [("type".to_owned(), vec!["QvOdbcConnectorPackage.exe".to_owned()])].into_iter().collect();
            resource.custom_properties = [("GroupAccess".to_owned(), vec![format!("proj{}", rng.next(n_groups))])]
                .into_iter()
                .collect();
        } else if idx % 7 == 3 {
            resource.resource_type = "ReloadTask".into();
            resource.app = Some(format!("r{}", (idx - 1) & !1));
        } else {
            resource.resource_type = "App.Object".into();
            resource.app = Some(format!("r{}", (idx - 1) & !1));
            resource.attributes = [
                ("objectType".to_owned(), vec!["sheet".to_owned()]),
                ("published".to_owned(), vec![if idx % 3 == 0 { "false" } else { "true" }.to_owned()]),
            ]
            .into_iter()
            .collect();
            resource.owner = Some(format!("ACME\\user{}", rng.next(n_users)));
        }
        resources.push(resource);
    }
    let mut rules = default_rules::rules();
    let shapes = [
        ("Stream_*, DataConnection_*", "resource.@GroupAccess = user.group", 2),
        (
            "App*",
            "resource.resourcetype = \"App\" and resource.stream.@GroupAccess = user.group and user.@Dept = \"dept{n}\"",
            6,
        ),
        (
            "App.Object_*",
            "resource.app.stream.@GroupAccess = user.group and resource.objectType = \"sheet\" and user.group like \"proj{n}*\"",
            1,
        ),
        ("ReloadTask_*", "resource.app.HasPrivilege(\"update\") and user.group = \"proj{n}\"", 14),
        (
            "App_*",
            "user.group = \"proj{n}\" or (resource.@Level = \"gold\" and !user.IsAnonymous())",
            32,
        ),
        ("Stream_r{n}", "user.roles = \"Publisher{n}\"", 34),
        ("QmcSection_App, QmcSection_Stream", "user.group = \"proj{n}\"", 2),
        (
            "DataConnection_*",
            "resource.type != \"folder\" and user.group = \"proj{n}\" and resource.name matches \"Resource 1.*\"",
            4,
        ),
    ];
    for idx in 0..n_custom_rules {
        let (filter, condition, actions) = shapes[idx % shapes.len()];
        let n = idx % n_groups;
        rules.push(Rule {
            id: None,
            name: format!("Custom{idx}"),
            resource_filter: filter.replace("{n}", &n.to_string()),
            condition: condition.replace("{n}", &n.to_string()),
            actions: ActionSet(actions),
            context: [RuleContext::Both, RuleContext::Hub, RuleContext::Qmc][idx % 3],
            ..Rule::default()
        });
    }
    Site { users, resources, rules }
}

fn decisions(c: &mut Criterion) {
    let site = site(10_000, 100_000, 200);
    let compiled = CompiledSite::compile(&site).expect("bench site compiles");
    let users: Vec<_> = compiled.user_ids().collect();
    let resources: Vec<_> = compiled.resource_ids().collect();
    let mut rng = Lcg(7);
    let requests: Vec<_> = (0..1024)
        .map(|_| {
            (
                users[rng.next(users.len())],
                resources[rng.next(resources.len())],
                [Action::Read, Action::Update, Action::Create][rng.next(3)],
                RequestContext::ALL[rng.next(2)],
            )
        })
        .collect();
    let mut group = c.benchmark_group("decide (defaults + 200 rules, 10k users, 100k resources)");
    let mut idx = 0;
    group.bench_function("is_allowed", |b| {
        b.iter(|| {
            let (user, resource, action, context) = requests[idx % requests.len()];
            idx += 1;
            black_box(compiled.is_allowed(user, resource, action, context))
        })
    });
    group.bench_function("decide with explanation", |b| {
        b.iter(|| {
            let (user, resource, action, context) = requests[idx % requests.len()];
            idx += 1;
            black_box(compiled.decide(user, resource, action, context))
        })
    });
    group.finish();
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("compile the 10k × 100k site", |b| {
        b.iter(|| black_box(CompiledSite::compile(&site).is_ok()))
    });
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let condition = r#"(resource.resourcetype = "App" and resource.stream.HasPrivilege("read") and resource.@AppLevelMgmt.empty())
        or ((resource.resourcetype = "App.Object" and resource.published = "true" and resource.objectType != "app_appscript")
        and resource.app.stream.HasPrivilege("read"))"#;
    c.bench_function("parse a 300-character condition", |b| {
        b.iter(|| black_box(portcullis_rules::parse_condition(black_box(condition))))
    });
}

fn audit_matrix(c: &mut Criterion) {
    let site = site(1_000, 10_000, 200);
    let compiled = CompiledSite::compile(&site).expect("bench site compiles");
    let mut group = c.benchmark_group("audit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    group.bench_function("matrix 1,000 users × 10,000 resources (hub)", |b| {
        b.iter(|| black_box(audit(&compiled, RequestContext::Hub, &AuditScope::default()).cells.len()))
    });
    group.finish();
}

criterion_group!(benches, decisions, parsing, audit_matrix);
criterion_main!(benches);
