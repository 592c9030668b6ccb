//! The words of a scenario step (`assign`, `unassign`, `join`, `leave`, `set`) turned into a
//! [`Change`], once: the decision API's `POST /v1/changes` and the scenario runner take the same
//! steps, and must read them the same way and refuse them with the same reasons. Each edge keeps
//! its own wire type (JSON with an OpenAPI schema; YAML with line numbers) and hands the parts here.

use crate::change::Change;
use crate::permission::{Permission, PermissionValue};
use crate::tenant::{RoleTarget, TenantSetting};

/// Why a step's words name no change: a code for machines, the message, a hint and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// A stable code (`bad_assignment`, `unknown_setting`, `unknown_permission`, `bad_value`, `bad_set`).
    pub code: &'static str,
    /// What is wrong, in the step's words.
    pub message: String,
    /// What to write instead.
    pub hint: Option<String>,
    /// The field at fault (`set.value`), when one is.
    pub field: Option<&'static str>,
}

impl StepError {
    fn new(code: &'static str, message: impl Into<String>) -> StepError {
        StepError {
            code,
            message: message.into(),
            hint: None,
            field: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> StepError {
        self.hint = Some(hint.into());
        self
    }

    fn field(mut self, field: &'static str) -> StepError {
        self.field = Some(field);
        self
    }
}

/// A `set` step's value as the edge read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetValue<'a> {
    /// `true` or `false`.
    Bool(bool),
    /// A word such as `allowed`.
    Text(&'a str),
    /// Anything else, written as the edge shows it.
    Other(&'a str),
}

/// Who an `assign`/`unassign` step names: exactly one of a user, a group or Everyone.
pub fn role_target(user: Option<&str>, group: Option<&str>, everyone: bool) -> Result<RoleTarget, StepError> {
    match (user, group, everyone) {
        (Some(user), None, false) => Ok(RoleTarget::User(user.to_owned())),
        (None, Some(group), false) => Ok(RoleTarget::Group(group.to_owned())),
        (None, None, true) => Ok(RoleTarget::Everyone),
        _ => Err(StepError::new(
            "bad_assignment",
            "an assignment names exactly one of `user`, `group` or `everyone: true`",
        )),
    }
}

/// The change a `set` step names: a tenant setting (`true`/`false`) or a UserDefault permission
/// (one of its values), exactly one of the two.
pub fn set_change(setting: Option<&str>, user_default: Option<&str>, value: SetValue<'_>) -> Result<Change, StepError> {
    match (setting, user_default) {
        (Some(name), None) => {
            let setting = TenantSetting::parse(name).ok_or_else(|| {
                StepError::new("unknown_setting", format!("unknown tenant setting `{name}`"))
                    .hint(format!("known settings: {}", TenantSetting::known()))
                    .field("set.setting")
            })?;
            let SetValue::Bool(value) = value else {
                return Err(StepError::new("bad_value", format!("setting `{name}` takes true or false")).field("set.value"));
            };
            Ok(Change::SetSetting { setting, value })
        }
        (None, Some(key)) => {
            let permission = Permission::parse(key).ok_or_else(|| {
                StepError::new("unknown_permission", format!("unknown permission `{key}`"))
                    .hint(format!("known permissions: {}", Permission::known_keys()))
                    .field("set.userDefault")
            })?;
            let value = match value {
                SetValue::Text(text) => PermissionValue::parse(text).ok_or(text),
                SetValue::Bool(b) => Err(if b { "true" } else { "false" }),
                SetValue::Other(shown) => Err(shown),
            }
            .map_err(|shown| {
                StepError::new("bad_value", format!("permission `{key}` does not take `{shown}`"))
                    .hint(format!("values: {}", permission.def().value_names()))
                    .field("set.value")
            })?;
            Ok(Change::SetUserDefault { permission, value })
        }
        _ => Err(StepError::new("bad_set", "a `set` names exactly one of `setting` or `userDefault`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_name_one_target_and_one_known_setting_or_permission() {
        assert_eq!(role_target(Some("ann"), None, false), Ok(RoleTarget::User("ann".into())));
        assert_eq!(role_target(None, None, true), Ok(RoleTarget::Everyone));
        assert_eq!(role_target(Some("ann"), None, true).unwrap_err().code, "bad_assignment");
        assert_eq!(role_target(None, None, false).unwrap_err().code, "bad_assignment");

        let on = set_change(Some("adminsCanOpenAppsWithoutSpaceRole"), None, SetValue::Bool(true)).unwrap();
        assert!(matches!(on, Change::SetSetting { value: true, .. }));
        let unknown = set_change(Some("nope"), None, SetValue::Bool(true)).unwrap_err();
        assert_eq!((unknown.code, unknown.field), ("unknown_setting", Some("set.setting")));
        let not_bool = set_change(Some("adminsCanOpenAppsWithoutSpaceRole"), None, SetValue::Text("yes")).unwrap_err();
        assert_eq!((not_bool.code, not_bool.field), ("bad_value", Some("set.value")));

        let download = set_change(None, Some("in-app-content-download"), SetValue::Text("no-data")).unwrap();
        assert!(matches!(
            download,
            Change::SetUserDefault {
                value: PermissionValue::NoData,
                ..
            }
        ));
        let maybe = set_change(None, Some("in-app-content-download"), SetValue::Text("maybe")).unwrap_err();
        assert_eq!(maybe.code, "bad_value");
        assert!(
            maybe.message.contains("`maybe`") && maybe.hint.as_deref().is_some_and(|h| h.contains("allowed")),
            "{maybe:?}"
        );
        assert_eq!(
            set_change(None, Some("nope"), SetValue::Text("allowed")).unwrap_err().code,
            "unknown_permission"
        );
        assert_eq!(set_change(None, None, SetValue::Bool(true)).unwrap_err().code, "bad_set");
        assert_eq!(set_change(Some("a"), Some("b"), SetValue::Bool(true)).unwrap_err().code, "bad_set");
    }
}
