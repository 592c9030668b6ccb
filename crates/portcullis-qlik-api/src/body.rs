//! Request bodies: each handler reads a derived type (`users::UserCreate`, `patch::PatchOperation`,
//! ...), decoded here with `serde_path_to_error`, so a value of the wrong type is refused with 400
//! naming its JSON path (`assignedRoles[2].name`) before the handler runs, and nothing is
//! written. The same types are the request bodies of the OpenAPI document.
//!
//! Fields a handler does not read are ignored, not refused: Qlik's own bodies carry fields
//! Portcullis keeps no record of (`picture`, `tenantId`, `redirectUris`, ...), and clients send them.

use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::err::{ApiError, Service};

/// Decodes a request body that is a JSON object: 400 when it is empty, not JSON, not an
/// object, or not the shape `T` describes.
pub fn decode<T: DeserializeOwned>(service: Service, bytes: &[u8]) -> Result<T, ApiError> {
    let value = json(service, bytes)?;
    // serde reads a struct from an array too, field by field in order; a client sending one
    // has made a mistake, not a positional request.
    let kind = match &value {
        Value::Object(_) => return read(service, &value),
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    };
    Err(ApiError::bad_request(service, format!("the body must be a JSON object, not {kind}")))
}

/// Parses a request body as JSON: 400 when it is empty or not JSON.
pub fn json(service: Service, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(service, "the request needs a JSON body"));
    }
    // Parsed as JSON before it is read as a type, so a syntax error says where it is (line
    // and column) and a type error says which field it is (the path), each without the
    // other's noise.
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(service, format!("the body is not valid JSON: {e}")))
}

/// Reads a JSON value as `T`, or 400 naming the path of the first value that does not fit.
pub fn read<T: DeserializeOwned>(service: Service, value: &Value) -> Result<T, ApiError> {
    read_at(service, "", value)
}

/// [`read`] of a value found at `prefix` in the body (`[3].value` for a patch operation's value),
/// so the error names the path from the body's root.
pub fn read_at<T: DeserializeOwned>(service: Service, prefix: &str, value: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let at = match path.as_str() {
            "." => prefix.to_owned(),
            inner if prefix.is_empty() || inner.starts_with('[') => format!("{prefix}{inner}"),
            inner => format!("{prefix}.{inner}"),
        };
        let detail = if at.is_empty() {
            format!("the body: {}", error.inner())
        } else {
            format!("`{at}`: {}", error.inner())
        };
        ApiError::bad_request(service, detail).at_pointer(json_pointer(&at))
    })
}

/// A path as `serde_path_to_error` writes it (`[3].value`, `assignedRoles[0].name`) as a JSON
/// Pointer (`/3/value`, `/assignedRoles/0/name`); `""` is the whole body.
fn json_pointer(path: &str) -> String {
    let mut pointer = String::new();
    for part in path.split(['.', '[']).filter(|p| !p.is_empty()) {
        pointer.push('/');
        // RFC 6901: `~` is `~0` and `/` is `~1` inside a reference token.
        pointer.push_str(&part.trim_end_matches(']').replace('~', "~0").replace('/', "~1"));
    }
    pointer
}

/// A role or group reference: `{"id": ...}`, `{"name": ...}`, or a bare string (an id; for
/// roles, else a name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Reference {
    /// An id (or a role's name).
    Bare(String),
    /// `{id}` or `{name}`.
    Object(ReferenceObject),
}

/// `{id}` or `{name}`; other fields (`providerType`, ...) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferenceObject {
    /// API id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Reference {
    /// The id, when the reference gives one (a bare string is an id).
    pub fn id(&self) -> Option<&str> {
        match self {
            Reference::Bare(text) => Some(text),
            Reference::Object(object) => object.id.as_deref(),
        }
    }

    /// The name, when the reference gives one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Reference::Bare(_) => None,
            Reference::Object(object) => object.name.as_deref(),
        }
    }
}

// By hand rather than derived as an untagged enum: an untagged enum answers any mistake with
// "data did not match any variant", while this names the field that is wrong
// (`assignedRoles[2].name: invalid type: integer ...`).
impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        struct Shape;

        impl<'de> Visitor<'de> for Shape {
            type Value = Reference;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(r#"a reference: an id, {"id": ...} or {"name": ...}"#)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Reference, E> {
                Ok(Reference::Bare(text.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Reference, A::Error> {
                // The map is read by the derived impl, so a field's error keeps its path.
                ReferenceObject::deserialize(de::value::MapAccessDeserializer::new(map)).map(Reference::Object)
            }
        }

        deserializer.deserialize_any(Shape)
    }
}

/// `POST /users/actions/filter` and `POST /groups/actions/filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub struct FilterBody {
    /// A SCIM filter; it replaces the `filter` query parameter.
    #[serde(default)]
    pub filter: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        assigned_roles: Option<Vec<Reference>>,
    }

    fn detail(error: ApiError) -> String {
        error.detail.unwrap_or_default()
    }

    #[test]
    fn paths_become_json_pointers() {
        assert_eq!(json_pointer(""), "");
        assert_eq!(json_pointer("name"), "/name");
        assert_eq!(json_pointer("[3].value"), "/3/value");
        assert_eq!(json_pointer("assignedRoles[0].name"), "/assignedRoles/0/name");
        assert_eq!(json_pointer("a/b~c"), "/a~1b~0c");
    }

    #[test]
    fn references_are_ids_or_objects_and_mistakes_name_their_path() {
        let body: Body = read(
            Service::Users,
            &json!({ "assignedRoles": ["x", { "name": "A", "providerType": "custom" }, { "id": "i" }] }),
        )
        .unwrap();
        let refs = body.assigned_roles.unwrap();
        assert_eq!((refs[0].id(), refs[0].name()), (Some("x"), None));
        assert_eq!((refs[1].id(), refs[1].name()), (None, Some("A")));
        assert_eq!((refs[2].id(), refs[2].name()), (Some("i"), None));
        let wrong = read::<Body>(Service::Users, &json!({ "assignedRoles": [{ "name": "A" }, "b", { "name": 5 }] })).unwrap_err();
        assert_eq!((wrong.status, wrong.code.as_str()), (400, "USERS-3"));
        assert_eq!(detail(wrong), "`assignedRoles[2].name`: invalid type: integer `5`, expected a string");
        let not_a_ref = read::<Body>(Service::Groups, &json!({ "assignedRoles": [true] })).unwrap_err();
        assert_eq!(
            detail(not_a_ref),
            r#"`assignedRoles[0]`: invalid type: boolean `true`, expected a reference: an id, {"id": ...} or {"name": ...}"#
        );
        let not_a_list = read::<Body>(Service::Users, &json!({ "assignedRoles": "x" })).unwrap_err();
        assert_eq!(detail(not_a_list), "`assignedRoles`: invalid type: string \"x\", expected a sequence");
    }

    #[test]
    fn bodies_that_are_empty_not_json_or_of_another_shape_are_refused() {
        assert_eq!(
            detail(decode::<FilterBody>(Service::Users, b"").unwrap_err()),
            "the request needs a JSON body"
        );
        let syntax = detail(decode::<FilterBody>(Service::Users, b"{\"filter\": ").unwrap_err());
        assert!(
            syntax.starts_with("the body is not valid JSON: ") && syntax.contains("line 1"),
            "{syntax}"
        );
        assert_eq!(
            detail(decode::<FilterBody>(Service::Groups, b"[]").unwrap_err()),
            "the body must be a JSON object, not an array"
        );
        assert_eq!(
            detail(decode::<FilterBody>(Service::Groups, b"null").unwrap_err()),
            "the body must be a JSON object, not null"
        );
        assert_eq!(
            detail(decode::<FilterBody>(Service::Groups, br#"{"filter": 1}"#).unwrap_err()),
            "`filter`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            decode::<FilterBody>(Service::Groups, br#"{"filter": null, "other": 1}"#).unwrap(),
            FilterBody::default()
        );
    }

    #[test]
    fn a_value_inside_the_body_is_named_from_the_root() {
        let error = |prefix: &str, value: Value| detail(read_at::<Vec<Reference>>(Service::Users, prefix, &value).unwrap_err());
        assert_eq!(
            error("[1].value", json!([{ "id": 1 }])),
            "`[1].value[0].id`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            error("[1].value", json!(1)),
            "`[1].value`: invalid type: integer `1`, expected a sequence"
        );
        assert_eq!(error("", json!([1])).split(':').next(), Some("`[0]`"));
    }
}
