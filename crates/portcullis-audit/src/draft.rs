//! The trail's values as writers make them: who writes ([`Author`]), an event to append
//! ([`EventDraft`], and [`change_event`], the event of each model `Change`), a tenant's audit
//! settings and the RFC 3339 form of event times. Pure: the store appends drafts (sealing them
//! into the chain) and stamps them with the clock.

use crate::{Actor, DecisionLogMode, DecisionLogPolicy, EventType, ResourceRef};

/// Who makes a write, and through which channel (`api-key`, `oauth:<client>`, `session`,
/// `operator`, `cli`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Author {
    /// The acting user, client and key.
    pub actor: Actor,
    /// The channel, as events name it.
    pub channel: String,
}

impl Author {
    /// A user acting through `channel`.
    pub fn user(user: impl Into<String>, channel: impl Into<String>) -> Author {
        Author {
            actor: Actor {
                user: Some(user.into()),
                ..Actor::default()
            },
            channel: channel.into(),
        }
    }

    /// A user acting through a channel; an OAuth client is recorded as the acting client.
    pub fn through(user: impl Into<String>, channel: &portcullis_model::Channel) -> Author {
        let mut author = Author::user(user, channel.to_string());
        author.actor.client = channel.client().cloned();
        author
    }

    /// The operator token (automation), acting as no user.
    pub fn operator() -> Author {
        Author {
            actor: Actor::default(),
            channel: "operator".to_owned(),
        }
    }

    /// The command line, on the database directly.
    pub fn cli() -> Author {
        Author {
            actor: Actor::default(),
            channel: "cli".to_owned(),
        }
    }
}

/// An event to append: everything but its tenant, sequence number and hashes, which the store
/// fills in inside the writing transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// What happened.
    pub event_type: EventType,
    /// Who acted, through which channel.
    pub author: Author,
    /// The action asked for or performed (`user:manage`, `app:export`, `assign-role`, ...).
    pub action: String,
    /// What it was about.
    pub resource: Option<ResourceRef>,
    /// For decisions: `allow` or `deny`.
    pub decision: Option<String>,
    /// For decisions: the explanation at that moment.
    pub explanation: Option<serde_json::Value>,
    /// Details of a change.
    pub data: serde_json::Value,
    /// When it happened (RFC 3339); `None` = when it is stored.
    pub event_time: Option<String>,
}

impl EventDraft {
    /// A change event with `data`, stamped when stored.
    pub fn change(
        event_type: EventType,
        author: &Author,
        action: impl Into<String>,
        resource: Option<ResourceRef>,
        data: serde_json::Value,
    ) -> EventDraft {
        EventDraft {
            event_type,
            author: author.clone(),
            action: action.into(),
            resource,
            decision: None,
            explanation: None,
            data,
            event_time: None,
        }
    }
}

/// A tenant's audit settings: which decisions are logged, and how long events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditSettings {
    /// Which ordinary decisions are logged (data-leaving ones always are).
    pub policy: DecisionLogPolicy,
    /// Events older than this many days are archived; `None` = kept for ever.
    pub retention_days: Option<u32>,
}

/// A decision-log mode as stored and shown (`off`, `denies`, `all`).
pub fn mode_word(mode: DecisionLogMode) -> &'static str {
    match mode {
        DecisionLogMode::Off => "off",
        DecisionLogMode::Denies => "denies",
        DecisionLogMode::All => "all",
    }
}

/// The mode a word names ([`mode_word`]'s inverse).
pub fn parse_mode(word: &str) -> Option<DecisionLogMode> {
    match word {
        "off" => Some(DecisionLogMode::Off),
        "denies" => Some(DecisionLogMode::Denies),
        "all" => Some(DecisionLogMode::All),
        _ => None,
    }
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds (clamped to years -9999..=9999).
pub fn rfc3339_millis(unix_millis: i64) -> String {
    let at = jiff::Timestamp::from_millisecond(unix_millis).unwrap_or(if unix_millis < 0 { jiff::Timestamp::MIN } else { jiff::Timestamp::MAX });
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn target_resource(target: &portcullis_model::tenant::RoleTarget) -> (EventType, ResourceRef) {
    use portcullis_model::tenant::RoleTarget;
    let (event_type, kind, id) = match target {
        RoleTarget::User(user) => (EventType::UserUpdated, "user", user.as_str()),
        RoleTarget::Group(group) => (EventType::GroupUpdated, "group", group.as_str()),
        RoleTarget::Everyone => (EventType::GroupSettingUpdated, "group", "Everyone"),
    };
    (
        event_type,
        ResourceRef {
            kind: kind.to_owned(),
            id: id.to_owned(),
            space: None,
            owner: None,
        },
    )
}

fn resource(kind: &str, id: &str) -> Option<ResourceRef> {
    Some(ResourceRef {
        kind: kind.to_owned(),
        id: id.to_owned(),
        space: None,
        owner: None,
    })
}

/// The event that records a [`portcullis_model::Change`].
pub fn change_event(change: &portcullis_model::Change, author: &Author) -> EventDraft {
    use portcullis_model::Change;
    use serde_json::json;
    let action = change.kind();
    let event = |event_type, resource, data| EventDraft::change(event_type, author, action, resource, data);
    let assignee = |a: &portcullis_model::tenant::Assignee| serde_json::to_value(a).unwrap_or_default();
    match change {
        Change::AssignRole { role, target } | Change::UnassignRole { role, target } => {
            let (event_type, target) = target_resource(target);
            event(event_type, Some(target), json!({ "role": role }))
        }
        Change::JoinGroup { user, group } | Change::LeaveGroup { user, group } => {
            event(EventType::UserUpdated, resource("user", user), json!({ "group": group }))
        }
        Change::SetSetting { setting, value } => event(
            EventType::TenantSettingsUpdated,
            None,
            json!({ "setting": setting.as_str(), "value": value }),
        ),
        Change::SetUserDefault { permission, value } => event(
            EventType::RoleUpdated,
            resource("role", portcullis_model::role::USER_DEFAULT),
            json!({ "permission": permission.def().key, "value": value.as_str() }),
        ),
        Change::ReplaceUserDefault { values } => event(
            EventType::RoleUpdated,
            resource("role", portcullis_model::role::USER_DEFAULT),
            json!({ "values": values }),
        ),
        Change::RecordLogin { user } => event(EventType::UserUpdated, resource("user", user), json!({})),
        Change::CreateUser { user } => event(EventType::UserCreated, resource("user", &user.id), json!({ "user": user })),
        Change::UpdateUser { id, name, status } => event(EventType::UserUpdated, resource("user", id), json!({ "name": name, "status": status })),
        Change::ReplaceUserRoles { id, roles } => event(EventType::UserUpdated, resource("user", id), json!({ "roles": roles })),
        Change::DeleteUser { id } => event(EventType::UserDeleted, resource("user", id), json!({})),
        Change::CreateGroup { group } => event(EventType::GroupCreated, resource("group", &group.name), json!({ "group": group })),
        Change::ReplaceGroupRoles { name, roles } => event(EventType::GroupUpdated, resource("group", name), json!({ "roles": roles })),
        Change::ReplaceEveryoneRoles { roles } => event(EventType::GroupSettingUpdated, resource("group", "Everyone"), json!({ "roles": roles })),
        Change::DeleteGroup { name } => event(EventType::GroupDeleted, resource("group", name), json!({})),
        Change::CreateCustomRole { role } => event(EventType::RoleCreated, resource("role", &role.name), json!({ "role": role })),
        Change::UpdateCustomRole {
            name,
            description,
            permissions,
        } => event(
            EventType::RoleUpdated,
            resource("role", name),
            json!({ "description": description, "permissions": permissions }),
        ),
        Change::DeleteCustomRole { name } => event(EventType::RoleDeleted, resource("role", name), json!({})),
        Change::CreateSpace { space } => event(EventType::SpaceCreated, resource("space", &space.id), json!({ "space": space })),
        Change::UpdateSpace { id, name, owner } => event(EventType::SpaceUpdated, resource("space", id), json!({ "name": name, "owner": owner })),
        Change::SetExportOnlyThrough { space, roles } => {
            event(EventType::SpaceUpdated, resource("space", space), json!({ "exportOnlyThrough": roles }))
        }
        Change::DeleteSpace { id } => event(EventType::SpaceDeleted, resource("space", id), json!({})),
        Change::SetSpaceMember { space, assignee: who, roles } => event(
            EventType::SpaceAssignmentUpdated,
            resource("space", space),
            json!({ "assignee": assignee(who), "roles": roles }),
        ),
        Change::RemoveSpaceMember { space, assignee: who } => event(
            EventType::SpaceAssignmentDeleted,
            resource("space", space),
            json!({ "assignee": assignee(who) }),
        ),
        Change::CreateContent { item } => event(EventType::ItemCreated, resource(item.kind.as_str(), &item.id), json!({ "item": item })),
        Change::MoveContent { id, space } => event(EventType::ItemUpdated, resource("content", id), json!({ "space": space })),
        Change::SetContentOwner { id, owner } => event(EventType::ItemUpdated, resource("content", id), json!({ "owner": owner })),
        Change::DeleteContent { id } => event(EventType::ItemDeleted, resource("content", id), json!({})),
        Change::AddUse { reference } => event(
            EventType::ItemUpdated,
            resource("content", &reference.consumer),
            json!({ "source": reference.source }),
        ),
        Change::CreateShare { share } => event(
            EventType::ShareCreated,
            resource("app", &share.resource),
            json!({ "assignee": assignee(&share.assignee), "roles": share.roles }),
        ),
        Change::DeleteShare {
            resource: app,
            assignee: who,
        } => event(EventType::ShareDeleted, resource("app", app), json!({ "assignee": assignee(who) })),
        Change::CreateOauthClient { client } => event(
            EventType::OauthClientCreated,
            resource("oauth-client", &client.id),
            json!({ "client": client }),
        ),
        Change::UpdateOauthClient {
            id,
            name,
            scopes,
            impersonation,
        } => event(
            EventType::OauthClientUpdated,
            resource("oauth-client", id),
            json!({ "name": name, "scopes": scopes, "impersonation": impersonation }),
        ),
        Change::DeleteOauthClient { id } => event(EventType::OauthClientDeleted, resource("oauth-client", id), json!({})),
        Change::SetMeta { target, meta } => {
            use portcullis_model::MetaTarget;
            let (event_type, kind, id) = match target {
                MetaTarget::User(id) => (EventType::UserUpdated, "user", id),
                MetaTarget::Group(name) => (EventType::GroupUpdated, "group", name),
                MetaTarget::CustomRole(name) => (EventType::RoleUpdated, "role", name),
                MetaTarget::Client(id) => (EventType::OauthClientUpdated, "oauth-client", id),
                MetaTarget::Space(id) => (EventType::SpaceUpdated, "space", id),
            };
            event(event_type, resource(kind, id), json!({ "meta": meta }))
        }
        Change::RenameGroup { name, new_name } => event(EventType::GroupUpdated, resource("group", name), json!({ "newName": new_name })),
        Change::RenameCustomRole { name, new_name } => event(EventType::RoleUpdated, resource("role", name), json!({ "newName": new_name })),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(super::rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339_millis(1_795_435_200_123), "2026-11-23T12:00:00.123Z");
        assert_eq!(super::rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        // Out of range: the latest instant there is.
        assert_eq!(super::rfc3339_millis(i64::MAX), "9999-12-30T22:00:00.999Z");
    }
}
