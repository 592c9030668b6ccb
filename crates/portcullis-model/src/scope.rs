//! OAuth scopes: the special dynamic scopes, and parent/child inclusion.
//!
//! A scope covers itself and its children: `apps` covers `apps:read` and `apps.data:export`
//! (a child continues the parent's name after `:` or `.`).

/// The dynamic scope that stands for every user scope.
pub const USER_DEFAULT_SCOPE: &str = "user_default";
/// The dynamic scope that stands for every admin scope.
pub const ADMIN_CLASSIC_SCOPE: &str = "admin_classic";

/// True when `granted` includes `required` (equal, or a parent of it).
pub fn covers(granted: &str, required: &str) -> bool {
    match required.strip_prefix(granted) {
        Some("") => true,
        Some(rest) => rest.starts_with(':') || rest.starts_with('.'),
        None => false,
    }
}

/// A client's scopes, with the dynamic ones picked out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    scopes: Vec<String>,
    user_default: bool,
    admin_classic: bool,
}

impl ScopeSet {
    /// A set from scope names.
    pub fn new(scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        ScopeSet {
            user_default: scopes.iter().any(|s| s == USER_DEFAULT_SCOPE),
            admin_classic: scopes.iter().any(|s| s == ADMIN_CLASSIC_SCOPE),
            scopes,
        }
    }

    /// Holds `user_default`.
    pub fn has_user_default(&self) -> bool {
        self.user_default
    }

    /// Holds `admin_classic`.
    pub fn has_admin_classic(&self) -> bool {
        self.admin_classic
    }

    /// The first listed scope that covers `required`.
    pub fn covering(&self, required: &str) -> Option<&str> {
        self.scopes.iter().map(String::as_str).find(|s| covers(s, required))
    }

    /// The scope names.
    pub fn names(&self) -> &[String] {
        &self.scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_cover_children_only() {
        assert!(covers("apps", "apps"));
        assert!(covers("apps", "apps:read"));
        assert!(covers("apps", "apps.data:export"));
        assert!(!covers("apps:read", "apps"));
        assert!(!covers("apps", "appsx"));
        assert!(!covers("spaces:read", "spaces"));
    }
}
