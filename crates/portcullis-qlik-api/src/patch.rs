//! JSON Patch as Qlik sends it: an array of `{op, path, value}` with Qlik's extra ops
//! (`remove-value`, `set`, `unset`, `renew`). Paths are accepted with or without the leading
//! slash, since Qlik's own documentation uses both.
//!
//! The operation is a derived type; its `value` stays JSON until the handler knows from the
//! path what it should be, and is then read as that type with [`PatchOperation::value`], whose
//! refusal names the value's path in the body (`[1].value[0].name`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{json, read, read_at};
use crate::err::{ApiError, Service};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchOp {
    /// Replace the value at `path`.
    Replace,
    /// Add a value (`/assignedGroups/-` appends).
    Add,
    /// Remove the value at `path`.
    Remove,
    /// Remove one element, given by value, from an array (Qlik's).
    RemoveValue,
    /// Deprecated twin of `replace` (Qlik's).
    Set,
    /// Deprecated twin of `remove` (Qlik's).
    Unset,
    /// Renew, e.g. an invitation (Qlik's).
    Renew,
}

impl PatchOp {
    /// The op as written.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Replace => "replace",
            PatchOp::Add => "add",
            PatchOp::Remove => "remove",
            PatchOp::RemoveValue => "remove-value",
            PatchOp::Set => "set",
            PatchOp::Unset => "unset",
            PatchOp::Renew => "renew",
        }
    }
}

/// One JSON Patch operation, with Qlik's extra ops (`remove-value`, `set`, `unset`, `renew`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(expecting = "an operation `{\"op\": ..., \"path\": ..., \"value\": ...}`")]
pub struct PatchOperation {
    /// `replace`, `add`, `remove`, `remove-value`, `set`, `unset`, `renew`.
    pub op: PatchOp,
    /// The target, e.g. `/assignedRoles` (the leading slash is optional).
    pub path: String,
    /// The value, when the op takes one; its type depends on the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Where the operation is in the patch (for errors).
    #[serde(skip)]
    pub index: usize,
}

impl PatchOperation {
    /// The path without its leading slash.
    pub fn target(&self) -> &str {
        self.path.strip_prefix('/').unwrap_or(&self.path)
    }

    /// The value read as `T`, or 400: when it is absent, or when it (or a part of it) is not
    /// what `T` describes, naming the part (`[1].value[0].name`).
    pub fn value<T: DeserializeOwned>(&self, service: Service) -> Result<T, ApiError> {
        let value = self
            .value
            .as_ref()
            .ok_or_else(|| ApiError::bad_request(service, format!("`{} {}` needs a `value`", self.op.as_str(), self.path)))?;
        read_at(service, &format!("[{}].value", self.index), value)
    }

    /// [`PatchOperation::value`], with an absent value or `null` read as `None`.
    pub fn optional_value<T: DeserializeOwned>(&self, service: Service) -> Result<Option<T>, ApiError> {
        match &self.value {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.value(service).map(Some),
        }
    }

    /// 400 for an op this path does not take.
    pub fn unsupported(&self, service: Service) -> ApiError {
        ApiError::bad_request(service, format!("`{}` on `{}` is not supported", self.op.as_str(), self.path))
    }
}

/// Reads a patch (a JSON array of operations), refusing an empty one.
pub fn parse_patch(service: Service, body: &[u8]) -> Result<Vec<PatchOperation>, ApiError> {
    let ops: Vec<PatchOperation> = read(service, &json(service, body)?)?;
    patch_of(service, ops)
}

/// Numbers the operations of a decoded patch, refusing an empty one.
pub fn patch_of(service: Service, mut ops: Vec<PatchOperation>) -> Result<Vec<PatchOperation>, ApiError> {
    if ops.is_empty() {
        return Err(ApiError::bad_request(service, "the patch holds no operation"));
    }
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index;
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(error: ApiError) -> String {
        error.detail.unwrap_or_default()
    }

    #[test]
    fn operations_are_numbered_and_their_mistakes_named() {
        let body = br#"[{"op": "replace", "path": "/name", "value": "x"}, {"op": "remove-value", "path": "assignedRoles", "value": {"name": 1}}]"#;
        let ops = parse_patch(Service::Users, body).unwrap();
        assert_eq!(
            (ops[0].op, ops[0].target(), ops[1].op, ops[1].index),
            (PatchOp::Replace, "name", PatchOp::RemoveValue, 1)
        );
        assert_eq!(ops[0].value::<String>(Service::Users).unwrap(), "x");
        let wrong = ops[1].value::<crate::body::Reference>(Service::Users).unwrap_err();
        assert_eq!(detail(wrong), "`[1].value.name`: invalid type: integer `1`, expected a string");
        assert_eq!(
            detail(ops[1].value::<bool>(Service::Users).unwrap_err()),
            "`[1].value`: invalid type: map, expected a boolean"
        );
    }

    #[test]
    fn patches_that_are_not_arrays_of_operations_are_refused() {
        let refused = |body: &[u8]| detail(parse_patch(Service::Groups, body).unwrap_err());
        assert_eq!(refused(b"[]"), "the patch holds no operation");
        assert_eq!(refused(br#"{"op": "replace"}"#), "the body: invalid type: map, expected a sequence");
        assert_eq!(
            refused(br#"[{"op": "move", "path": "/a"}]"#),
            "`[0].op`: unknown variant `move`, expected one of `replace`, `add`, `remove`, `remove-value`, `set`, `unset`, `renew`"
        );
        assert_eq!(refused(br#"[{"op": "add"}]"#), "`[0]`: missing field `path`");
        let missing = parse_patch(Service::Groups, br#"[{"op": "add", "path": "/a"}]"#).unwrap();
        assert_eq!(
            detail(missing[0].value::<String>(Service::Groups).unwrap_err()),
            "`add /a` needs a `value`"
        );
        assert_eq!(missing[0].optional_value::<Vec<String>>(Service::Groups).unwrap(), None);
    }
}
