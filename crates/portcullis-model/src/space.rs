//! Space types and space roles (spec §8): which roles each type accepts.

use std::fmt;

/// A space's type. Personal spaces are implicit and not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpaceType {
    /// `shared`
    Shared,
    /// `managed`
    Managed,
    /// `data`
    Data,
}

impl SpaceType {
    /// The API word.
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceType::Shared => "shared",
            SpaceType::Managed => "managed",
            SpaceType::Data => "data",
        }
    }

    /// Parses the API word.
    pub fn parse(text: &str) -> Option<SpaceType> {
        [SpaceType::Shared, SpaceType::Managed, SpaceType::Data]
            .into_iter()
            .find(|t| t.as_str() == text)
    }

    /// The roles a member of a space of this type may hold.
    pub fn assignable_roles(self) -> SpaceRoleSet {
        use SpaceRole::*;
        match self {
            SpaceType::Shared => SpaceRoleSet::of(&[Producer, Codeveloper, Consumer, Dataconsumer, Facilitator]),
            SpaceType::Managed => SpaceRoleSet::of(&[Facilitator, Publisher, Contributor, Consumer, Basicconsumer, Dataconsumer, Operator]),
            SpaceType::Data => SpaceRoleSet::of(&[Facilitator, Producer, Consumer, Datapreview, Dataconsumer, Operator, Publisher]),
        }
    }

    /// The roles a fine-grained share of an app in a space of this type may carry (spec §9).
    pub fn shareable_roles(self) -> SpaceRoleSet {
        match self {
            SpaceType::Shared => SpaceRoleSet::of(&[SpaceRole::Consumer]),
            SpaceType::Managed => SpaceRoleSet::of(&[SpaceRole::Consumer, SpaceRole::Contributor, SpaceRole::Basicconsumer]),
            SpaceType::Data => SpaceRoleSet::EMPTY,
        }
    }
}

impl fmt::Display for SpaceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A space role, by API name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SpaceRole {
    /// Can manage
    Facilitator,
    /// Can edit
    Producer,
    /// Can edit data in applications
    Codeveloper,
    /// Can view
    Consumer,
    /// Can consume data
    Dataconsumer,
    /// Can publish
    Publisher,
    /// Can contribute
    Contributor,
    /// Has restricted view
    Basicconsumer,
    /// Can operate
    Operator,
    /// Can view data
    Datapreview,
}

impl SpaceRole {
    /// Every space role.
    pub const ALL: &'static [SpaceRole] = &[
        SpaceRole::Facilitator,
        SpaceRole::Producer,
        SpaceRole::Codeveloper,
        SpaceRole::Consumer,
        SpaceRole::Dataconsumer,
        SpaceRole::Publisher,
        SpaceRole::Contributor,
        SpaceRole::Basicconsumer,
        SpaceRole::Operator,
        SpaceRole::Datapreview,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceRole::Facilitator => "facilitator",
            SpaceRole::Producer => "producer",
            SpaceRole::Codeveloper => "codeveloper",
            SpaceRole::Consumer => "consumer",
            SpaceRole::Dataconsumer => "dataconsumer",
            SpaceRole::Publisher => "publisher",
            SpaceRole::Contributor => "contributor",
            SpaceRole::Basicconsumer => "basicconsumer",
            SpaceRole::Operator => "operator",
            SpaceRole::Datapreview => "datapreview",
        }
    }

    /// The UI label.
    pub fn label(self) -> &'static str {
        match self {
            SpaceRole::Facilitator => "Can manage",
            SpaceRole::Producer => "Can edit",
            SpaceRole::Codeveloper => "Can edit data in applications",
            SpaceRole::Consumer => "Can view",
            SpaceRole::Dataconsumer => "Can consume data",
            SpaceRole::Publisher => "Can publish",
            SpaceRole::Contributor => "Can contribute",
            SpaceRole::Basicconsumer => "Has restricted view",
            SpaceRole::Operator => "Can operate",
            SpaceRole::Datapreview => "Can view data",
        }
    }

    /// Parses an API name.
    pub fn parse(text: &str) -> Option<SpaceRole> {
        SpaceRole::ALL.iter().copied().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for SpaceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of space roles (one bit each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpaceRoleSet(pub u16);

impl SpaceRoleSet {
    /// No role.
    pub const EMPTY: SpaceRoleSet = SpaceRoleSet(0);

    /// A set from a list.
    pub const fn of(roles: &[SpaceRole]) -> SpaceRoleSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < roles.len() {
            bits |= 1 << roles[i] as u8;
            i += 1;
        }
        SpaceRoleSet(bits)
    }

    /// Membership.
    pub const fn contains(self, role: SpaceRole) -> bool {
        self.0 & (1 << role as u8) != 0
    }

    /// True when the two sets share a role.
    pub const fn intersects(self, other: SpaceRoleSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Union.
    pub const fn union(self, other: SpaceRoleSet) -> SpaceRoleSet {
        SpaceRoleSet(self.0 | other.0)
    }

    /// Intersection.
    pub const fn intersection(self, other: SpaceRoleSet) -> SpaceRoleSet {
        SpaceRoleSet(self.0 & other.0)
    }

    /// True when empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds a role.
    pub fn insert(&mut self, role: SpaceRole) {
        self.0 |= 1 << role as u8;
    }

    /// The members.
    pub fn iter(self) -> impl Iterator<Item = SpaceRole> {
        SpaceRole::ALL.iter().copied().filter(move |r| self.contains(*r))
    }

    /// The API names, comma-separated, for messages.
    pub fn names(self) -> String {
        self.iter().map(SpaceRole::as_str).collect::<Vec<_>>().join(", ")
    }
}
