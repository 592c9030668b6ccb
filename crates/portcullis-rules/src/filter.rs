//! Resource filters (spec §2): parsing `*`, `Type*`, `Type_*`, `Type_<id>` lists, matching them
//! against resources, and containment between filters (for the shadowing lint).
//!
//! A stored resource is matched by its type (and id for `Type_<id>`); a `TransientObject`
//! (a QMC section and the like) is matched by its name, never by its type: `QmcSection_App`
//! names one, `QmcSection_*` is a prefix of names. Type and name matching ignores case.

use std::fmt;

use portcullis_model::LimitError;

use crate::err::FilterError;

/// The longest resource filter read, in bytes.
pub const MAX_RESOURCE_FILTER_BYTES: usize = 64 * 1024;

/// One entry of a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FilterItem {
    /// `*`: every resource.
    All,
    /// `App*`: every type whose name starts with `App`.
    TypePrefix(String),
    /// `App_*`: every resource of exactly that type.
    Type(String),
    /// `App_<id>` (or a transient name such as `QmcSection_App`): one resource.
    Instance {
        /// The part before the first `_`.
        type_name: String,
        /// The part after it.
        instance: String,
    },
}

impl fmt::Display for FilterItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterItem::All => f.write_str("*"),
            FilterItem::TypePrefix(prefix) => write!(f, "{prefix}*"),
            FilterItem::Type(type_name) => write!(f, "{type_name}_*"),
            FilterItem::Instance { type_name, instance } => write!(f, "{type_name}_{instance}"),
        }
    }
}

/// What a filter is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterTarget<'a> {
    /// A stored resource: its type and id.
    Stored {
        /// The QRS type, e.g. `App.Object`.
        resource_type: &'a str,
        /// Its id.
        id: &'a str,
    },
    /// A transient resource, by name (`QmcSection_App`).
    Transient {
        /// Its name.
        name: &'a str,
    },
}

/// A parsed resource filter: the union of its entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceFilter {
    /// The entries, in order.
    pub items: Vec<FilterItem>,
}

impl fmt::Display for ResourceFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.items.iter().map(ToString::to_string).collect();
        f.write_str(&items.join(", "))
    }
}

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.is_char_boundary(prefix.len()) && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

impl FilterItem {
    /// True when this entry selects `target`.
    pub fn matches(&self, target: FilterTarget<'_>) -> bool {
        match target {
            FilterTarget::Stored { resource_type, id } => match self {
                FilterItem::All => true,
                FilterItem::TypePrefix(prefix) => starts_with_ci(resource_type, prefix),
                FilterItem::Type(type_name) => resource_type.eq_ignore_ascii_case(type_name),
                FilterItem::Instance { type_name, instance } => resource_type.eq_ignore_ascii_case(type_name) && id.eq_ignore_ascii_case(instance),
            },
            FilterTarget::Transient { name } => match self {
                FilterItem::All => true,
                FilterItem::TypePrefix(prefix) => starts_with_ci(name, prefix),
                FilterItem::Type(type_name) => starts_with_ci(name, type_name) && name.as_bytes().get(type_name.len()) == Some(&b'_'),
                FilterItem::Instance { type_name, instance } => {
                    name.len() == type_name.len() + 1 + instance.len()
                        && starts_with_ci(name, type_name)
                        && name.as_bytes().get(type_name.len()) == Some(&b'_')
                        && name.get(type_name.len() + 1..).is_some_and(|rest| rest.eq_ignore_ascii_case(instance))
                }
            },
        }
    }

    /// True when `self` selects every resource that `other` selects: `App*` covers `App_*`, `App.Object_*` and `App_<id>`; `App_*` covers `App_<id>`.
    pub fn covers(&self, other: &FilterItem) -> bool {
        match (self, other) {
            (FilterItem::All, _) => true,
            (_, FilterItem::All) => false,
            (FilterItem::TypePrefix(p), FilterItem::TypePrefix(q)) => starts_with_ci(q, p),
            (FilterItem::TypePrefix(p), FilterItem::Type(t)) => starts_with_ci(t, p),
            (FilterItem::TypePrefix(p), FilterItem::Instance { type_name, .. }) => starts_with_ci(type_name, p),
            (FilterItem::Type(t), FilterItem::Type(u)) => t.eq_ignore_ascii_case(u),
            (FilterItem::Type(t), FilterItem::Instance { type_name, .. }) => t.eq_ignore_ascii_case(type_name),
            (FilterItem::Instance { type_name: t, instance: i }, FilterItem::Instance { type_name: u, instance: j }) => {
                t.eq_ignore_ascii_case(u) && i.eq_ignore_ascii_case(j)
            }
            _ => false,
        }
    }

    /// True when this entry can select a stored resource of type `resource_type` (for some id).
    pub fn can_match_type(&self, resource_type: &str) -> bool {
        match self {
            FilterItem::All => true,
            FilterItem::TypePrefix(prefix) => starts_with_ci(resource_type, prefix),
            FilterItem::Type(type_name) | FilterItem::Instance { type_name, .. } => resource_type.eq_ignore_ascii_case(type_name),
        }
    }
}

impl ResourceFilter {
    /// True when some entry selects `target`.
    pub fn matches(&self, target: FilterTarget<'_>) -> bool {
        self.items.iter().any(|item| item.matches(target))
    }

    /// True when every entry of `other` is covered by an entry of `self`.
    pub fn covers(&self, other: &ResourceFilter) -> bool {
        other.items.iter().all(|o| self.items.iter().any(|s| s.covers(o)))
    }

    /// True when some entry can select stored resources of `resource_type`, or
    /// (`TransientObject`) transient resources.
    pub fn can_match_type(&self, resource_type: &str) -> bool {
        if resource_type.eq_ignore_ascii_case("TransientObject") {
            // Transient resources are selected by name: any entry may select one.
            return true;
        }
        self.items.iter().any(|item| item.can_match_type(resource_type))
    }
}

/// Parses a filter, collecting every problem. A filter longer than
/// [`MAX_RESOURCE_FILTER_BYTES`] is refused unread.
pub fn parse_filter(text: &str) -> Result<ResourceFilter, Vec<FilterError>> {
    if text.len() > MAX_RESOURCE_FILTER_BYTES {
        return Err(vec![FilterError::Limit(LimitError::TooLong {
            what: "resource filter",
            limit: MAX_RESOURCE_FILTER_BYTES,
        })]);
    }
    if text.trim().is_empty() {
        return Err(vec![FilterError::Empty]);
    }
    let mut items = Vec::new();
    let mut errors = Vec::new();
    // Characters before the current entry (columns count characters, not bytes).
    let mut chars_before = 0;
    for raw in text.split(',') {
        let leading = if raw.trim().is_empty() {
            ""
        } else {
            &raw[..raw.len() - raw.trim_start().len()]
        };
        let column = chars_before + leading.chars().count() + 1;
        chars_before += raw.chars().count() + 1;
        match parse_item(raw.trim(), column) {
            Ok(item) => items.push(item),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() { Ok(ResourceFilter { items }) } else { Err(errors) }
}

fn parse_item(item: &str, column: usize) -> Result<FilterItem, FilterError> {
    if item.is_empty() {
        return Err(FilterError::EmptyItem { column });
    }
    if item == "*" {
        return Ok(FilterItem::All);
    }
    if let Some(ch) = item.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '*'))) {
        return Err(FilterError::BadChar {
            item: item.to_owned(),
            ch,
            column,
        });
    }
    let stars = item.matches('*').count();
    if stars > 1 || (stars == 1 && !item.ends_with('*')) {
        if item.contains("*_") {
            return Err(FilterError::PrefixWithInstance {
                item: item.to_owned(),
                column,
            });
        }
        return Err(FilterError::InnerStar {
            item: item.to_owned(),
            column,
        });
    }
    match item.split_once('_') {
        None => match item.strip_suffix('*') {
            Some(prefix) => Ok(FilterItem::TypePrefix(prefix.to_owned())),
            None => Err(FilterError::NoSelector {
                item: item.to_owned(),
                column,
            }),
        },
        Some((type_name, rest)) => {
            if type_name.is_empty() {
                return Err(FilterError::NoSelector {
                    item: item.to_owned(),
                    column,
                });
            }
            if rest == "*" {
                Ok(FilterItem::Type(type_name.to_owned()))
            } else if let Some(prefix) = rest.strip_suffix('*') {
                // `QmcSection_App*`: a prefix of transient names; a stored type never matches.
                Ok(FilterItem::TypePrefix(format!("{type_name}_{prefix}")))
            } else if rest.is_empty() {
                Err(FilterError::NoSelector {
                    item: type_name.to_owned(),
                    column,
                })
            } else {
                Ok(FilterItem::Instance {
                    type_name: type_name.to_owned(),
                    instance: rest.to_owned(),
                })
            }
        }
    }
}
