//! Writes a tenant as a tenant file (the YAML of the conformance README), so a generated
//! workload can be imported (`portcullis import`) or served (`portcullis serve --tenant`).
//!
//! Every string is written double-quoted (JSON string syntax is valid YAML), one flow
//! mapping per user, item, use and share, so a 1,000,000-item tenant writes in about a
//! second and stays diffable. It writes; it never validates (the loader does that).

use std::fmt::Write as _;
use std::io::{self, Write};

use portcullis_model::SpaceRoleSet;
use portcullis_model::tenant::{Assignee, Tenant};

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(quoted).collect();
    format!("[{}]", items.join(", "))
}

fn roles(set: SpaceRoleSet) -> String {
    list(set.iter().map(|r| r.as_str()))
}

fn assignee(assignee: &Assignee) -> String {
    match assignee {
        Assignee::User(id) => format!("user: {}", quoted(id)),
        Assignee::Group(name) => format!("group: {}", quoted(name)),
    }
}

/// An empty sequence must be written `[]`: a bare key would be null.
fn empty(is_empty: bool) -> &'static str {
    if is_empty { " []" } else { "" }
}

/// Writes `tenant` as a tenant file.
pub fn write_tenant(tenant: &Tenant, out: &mut impl Write) -> io::Result<()> {
    let mut line = String::with_capacity(256);
    writeln!(out, "name: {}", quoted(&tenant.name))?;
    writeln!(out, "subscription: {}", tenant.subscription.as_str())?;
    if !tenant.settings.is_empty() {
        writeln!(out, "settings:")?;
        for (setting, value) in &tenant.settings {
            writeln!(out, "  {}: {value}", setting.as_str())?;
        }
    }
    if !tenant.user_default.is_empty() {
        writeln!(out, "userDefault:")?;
        for (permission, value) in &tenant.user_default {
            writeln!(out, "  {}: {}", permission.key(), value.as_str())?;
        }
    }
    writeln!(out, "roles:{}", empty(tenant.custom_roles.is_empty()))?;
    for role in &tenant.custom_roles {
        let permissions: Vec<String> = role
            .permissions
            .iter()
            .map(|(permission, setting)| format!("{}: {}", permission.key(), setting.word()))
            .collect();
        writeln!(
            out,
            "  - {{ name: {}, description: {}, permissions: {{ {} }} }}",
            quoted(&role.name),
            quoted(&role.description),
            permissions.join(", ")
        )?;
    }
    writeln!(out, "groups:{}", empty(tenant.groups.is_empty()))?;
    for group in &tenant.groups {
        let roles = list(group.roles.iter().map(String::as_str));
        writeln!(
            out,
            "  - {{ name: {}, providerType: {}, roles: {roles} }}",
            quoted(&group.name),
            group.provider_type.as_str()
        )?;
    }
    writeln!(out, "everyone: {{ roles: {} }}", list(tenant.everyone_roles.iter().map(String::as_str)))?;
    writeln!(out, "users:{}", empty(tenant.users.is_empty()))?;
    for user in &tenant.users {
        line.clear();
        write!(line, "  - {{ id: {}, name: {}", quoted(&user.id), quoted(&user.name)).expect("string write");
        if let Some(email) = &user.email {
            write!(line, ", email: {}", quoted(email)).expect("string write");
        }
        write!(
            line,
            ", entitlement: {}, status: {}, roles: {}, groups: {} }}",
            user.entitlement.as_str(),
            user.status.as_str(),
            list(user.roles.iter().map(|r| r.role.as_str())),
            list(user.groups.iter().map(String::as_str))
        )
        .expect("string write");
        writeln!(out, "{line}")?;
    }
    writeln!(out, "oauthClients:{}", empty(tenant.oauth_clients.is_empty()))?;
    for client in &tenant.oauth_clients {
        let scopes = list(client.scopes.iter().map(String::as_str));
        writeln!(
            out,
            "  - {{ id: {}, name: {}, scopes: {scopes} }}",
            quoted(&client.id),
            quoted(&client.name)
        )?;
    }
    writeln!(out, "spaces:{}", empty(tenant.spaces.is_empty()))?;
    for space in &tenant.spaces {
        writeln!(out, "  - id: {}", quoted(&space.id))?;
        writeln!(out, "    name: {}", quoted(&space.name))?;
        writeln!(out, "    type: {}", space.space_type.as_str())?;
        if let Some(owner) = &space.owner {
            writeln!(out, "    owner: {}", quoted(owner))?;
        }
        writeln!(out, "    members:{}", empty(space.members.is_empty()))?;
        for member in &space.members {
            writeln!(out, "      - {{ {}, roles: {} }}", assignee(&member.assignee), roles(member.roles))?;
        }
    }
    writeln!(out, "content:{}", empty(tenant.content.is_empty()))?;
    for item in &tenant.content {
        line.clear();
        write!(
            line,
            "  - {{ id: {}, name: {}, type: {}",
            quoted(&item.id),
            quoted(&item.name),
            item.kind.as_str()
        )
        .expect("string write");
        if let Some(space) = &item.space {
            write!(line, ", space: {}", quoted(space)).expect("string write");
        }
        if let Some(owner) = &item.owner {
            write!(line, ", owner: {}", quoted(owner)).expect("string write");
        }
        line.push_str(" }");
        writeln!(out, "{line}")?;
    }
    writeln!(out, "uses:{}", empty(tenant.uses.is_empty()))?;
    for use_ in &tenant.uses {
        writeln!(out, "  - {{ consumer: {}, source: {} }}", quoted(&use_.consumer), quoted(&use_.source))?;
    }
    writeln!(out, "shares:{}", empty(tenant.shares.is_empty()))?;
    for share in &tenant.shares {
        writeln!(
            out,
            "  - {{ resource: {}, {}, roles: {} }}",
            quoted(&share.resource),
            assignee(&share.assignee),
            roles(share.roles)
        )?;
    }
    Ok(())
}
