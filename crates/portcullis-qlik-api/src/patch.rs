//! JSON Patch as Qlik sends it: an array of `{op, path, value}` with Qlik's extra ops
//! (`remove-value`, `set`, `unset`, `renew`). Paths are accepted with or without the leading
//! slash, since Qlik's own documentation uses both.

use serde::Deserialize;
use serde_json::Value;

use crate::err::{ApiError, Service};

/// One operation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PatchOp {
    /// `replace`, `add`, `remove`, `remove-value`, `set`, `unset`, `renew`.
    pub op: String,
    /// The target, e.g. `/assignedRoles` or `/assignedGroups/-`.
    pub path: String,
    /// The value, when the op takes one.
    #[serde(default)]
    pub value: Option<Value>,
}

impl PatchOp {
    /// The path without its leading slash.
    pub fn target(&self) -> &str {
        self.path.strip_prefix('/').unwrap_or(&self.path)
    }

    /// The value, or 400.
    pub fn value(&self, service: Service) -> Result<&Value, ApiError> {
        self.value
            .as_ref()
            .ok_or_else(|| ApiError::bad_request(service, format!("`{} {}` needs a `value`", self.op, self.path)))
    }

    /// The value as a string, or 400.
    pub fn string(&self, service: Service) -> Result<&str, ApiError> {
        self.value(service)?
            .as_str()
            .ok_or_else(|| ApiError::bad_request(service, format!("`{} {}` takes a string value", self.op, self.path)))
    }

    /// 400 for an op this path does not take.
    pub fn unsupported(&self, service: Service) -> ApiError {
        ApiError::bad_request(service, format!("`{}` on `{}` is not supported", self.op, self.path))
    }
}

/// Parses a patch body (a JSON array of operations).
pub fn parse_patch(service: Service, body: &Value) -> Result<Vec<PatchOp>, ApiError> {
    let ops: Vec<PatchOp> = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request(service, format!("a patch is an array of `{{op, path, value}}`: {e}")))?;
    if ops.is_empty() {
        return Err(ApiError::bad_request(service, "the patch holds no operation"));
    }
    Ok(ops)
}
