//! Tenant-level capabilities: what UserDefault, custom roles and security roles grant,
//! as a 64-bit set so that a user's whole baseline is one word to test.
//!
//! A capability is Portcullis's own unit; the permission catalogue and the role catalogue
//! say which capabilities each value or role brings, and each capability names the scope
//! it stands for so that explanations and the REST API can speak in Qlik's words.

macro_rules! capabilities {
    ($( $variant:ident = $scope:literal ),* $(,)?) => {
        /// One tenant-level right.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Capability {
            $(
                #[doc = concat!("scope `", $scope, "`")]
                $variant,
            )*
        }

        impl Capability {
            /// Every capability.
            pub const ALL: &'static [Capability] = &[$(Capability::$variant),*];

            /// The scope this capability stands for (Qlik's name where known).
            pub fn scope(self) -> &'static str {
                match self { $(Capability::$variant => $scope),* }
            }

            /// The capability a scope stands for (each has its own), e.g. in a stored session.
            pub fn from_scope(scope: &str) -> Option<Capability> {
                Capability::ALL.iter().copied().find(|c| c.scope() == scope)
            }
        }
    };
}

capabilities! {
    ExportData = "apps.data:export",
    ExportImage = "apps.image:export",
    ShareAppsFineGrained = "apps:share",
    ManageApiKeys = "api-keys",
    ManageNotes = "notes",
    ApproveAutomlModels = "automl-models:approve",
    InsightAdvisor = "insight-advisor.limited",
    KnowledgeBases = "knowledgebases",
    Assistants = "assistants",
    AutomationsShared = "automations.shared",
    PrivateAutomations = "automations.private",
    ReportsFull = "reports",
    ReportsPartial = "reports:partial",
    AiDescriptions = "admin.ai-descriptions",
    CreateSharedSpace = "spaces.shared:create",
    CreateManagedSpace = "spaces.managed:create",
    CreateDataSpace = "spaces.data:create",
    CreatePrivateContent = "apps.private:create",
    CreatePrivateAutomation = "automations:create",
    ManageGlossaries = "glossaries",
    DataIntegration = "data-integration",
    ManagementConsole = "admin.console",
    ManageRoles = "admin.roles",
    ManageUsers = "admin.users",
    ManageGroups = "admin.groups",
    ManageOauthClients = "admin.oauth-clients",
    ReadAudit = "admin.audits:read",
    ManageAudit = "admin.audits",
    ManageTenant = "admin.tenants",
    AskForOthers = "decisions:others",
    AdminAnalyticsSpaces = "admin.spaces",
    AdminDataSpaces = "admin.data-spaces",
}

impl Capability {
    /// The singleton set.
    pub const fn bit(self) -> CapSet {
        CapSet(1 << self as u8)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The empty set.
    pub const EMPTY: CapSet = CapSet(0);

    /// A set from a list.
    pub const fn of(caps: &[Capability]) -> CapSet {
        let mut bits = 0u64;
        let mut i = 0;
        while i < caps.len() {
            bits |= 1 << caps[i] as u8;
            i += 1;
        }
        CapSet(bits)
    }

    /// Membership.
    pub const fn contains(self, cap: Capability) -> bool {
        self.0 & (1 << cap as u8) != 0
    }

    /// Union.
    pub const fn union(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    /// True when empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.iter().copied().filter(move |c| self.contains(*c))
    }
}

impl std::ops::BitOr for CapSet {
    type Output = CapSet;
    fn bitor(self, rhs: CapSet) -> CapSet {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for CapSet {
    fn bitor_assign(&mut self, rhs: CapSet) {
        self.0 |= rhs.0;
    }
}
