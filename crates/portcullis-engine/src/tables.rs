//! The space tables of spec §8.2–8.4 as data: for each space type and action, which space
//! roles grant it and whether the space owner's Owner column does. Special rows (editing
//! the script of one's own app, reload) are composed from these in `decide.rs`.

use portcullis_model::{Action, Entitlement, SpaceRole, SpaceRoleSet, SpaceType};

use SpaceRole::{
    Basicconsumer as RV, Codeveloper as DA, Consumer as V, Contributor as C, Dataconsumer as CD, Datapreview as DP, Facilitator as M, Operator as OP,
    Producer as E, Publisher as P,
};

/// A row: the roles that grant, and whether the Owner column does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Roles that grant.
    pub roles: SpaceRoleSet,
    /// The space owner is granted.
    pub owner: bool,
}

const fn row(roles: &[SpaceRole], owner: bool) -> Row {
    Row {
        roles: SpaceRoleSet::of(roles),
        owner,
    }
}

const NONE: Row = row(&[], false);

/// The row for an action on a space, or on content in a space.
pub fn row_for(space_type: SpaceType, action: Action) -> Row {
    use Action::*;
    match space_type {
        SpaceType::Shared => match action {
            SpaceUpdate | SpaceDelete | SpaceManageMembers => row(&[M], true),
            SpaceCreateApp => row(&[M, DA, E], true),
            AppRead | AppExportData | AppExportImage => row(&[M, DA, E, V], true),
            AppUpdate | AppDelete | AppDuplicate | AppExport | AppPublish => row(&[M, DA, E], true),
            AppShare => row(&[M], true),
            AppEditScript => row(&[DA], false),
            DataConnectionRead | DataConnectionUse => row(&[M, DA, E, CD], true),
            SpaceCreateDataConnection | DataConnectionUpdate | DataConnectionDelete => row(&[M, DA, E], true),
            _ => NONE,
        },
        SpaceType::Managed => match action {
            SpaceUpdate | SpaceDelete | SpaceManageMembers => row(&[M], true),
            // Apps enter a managed space only by publishing (spec §8.3, §8.6; README).
            SpaceCreateApp => NONE,
            SpacePublishApp => row(&[P], true),
            AppRead | AppExportData | AppExportImage => row(&[M, C, V, RV, OP], true),
            AppUpdate => row(&[M, OP], true),
            AppDelete | AppExport | AppShare => row(&[M], true),
            AppPublish => row(&[P], true),
            AppReload => row(&[M, OP], true),
            // Spec §8.3 has no data-connection rows; the conformance README fixes them.
            DataConnectionRead | DataConnectionUse => row(&[M, OP, CD], true),
            SpaceCreateDataConnection | DataConnectionUpdate | DataConnectionDelete => row(&[M], true),
            _ => NONE,
        },
        SpaceType::Data => match action {
            SpaceUpdate | SpaceDelete | SpaceManageMembers => row(&[M], true),
            // A data space holds no apps (spec §8.1, §8.4; README). The app rows below only
            // matter for an app stored in one before tenants with such apps were refused.
            SpaceCreateApp => NONE,
            AppRead | AppExportData | AppExportImage => row(&[M, E, OP, V], true),
            AppUpdate | AppDelete => row(&[M, E], true),
            AppReload => row(&[M, E, OP], true),
            DataConnectionRead => row(&[M, E, OP, V, DP, CD], true),
            DataConnectionUse => row(&[M, E, CD], true),
            SpaceCreateDataConnection | DataConnectionUpdate | DataConnectionDelete => row(&[M, E], true),
            _ => NONE,
        },
    }
}

/// The managed-space table for Analyzer users (spec §8.3, Analyzer variant): no Owner
/// column, only some roles see its apps, nobody publishes, and only Can manage exports
/// (without data). Rows the variant does not mention keep the Professional table; seeing the
/// space itself follows the conformance README (every member with any role).
pub fn row_for_analyzer_in_managed(action: Action) -> Row {
    use Action::*;
    match action {
        AppRead | AppExportData | AppExportImage => row(&[M, C, V, RV], false),
        AppPublish | SpacePublishApp | SpaceCreateApp => NONE,
        AppExport => row(&[M], false),
        other => Row {
            owner: false,
            ..row_for(SpaceType::Managed, other)
        },
    }
}

/// The row that applies to a user of this entitlement.
pub fn row_for_entitlement(space_type: SpaceType, action: Action, entitlement: Entitlement) -> Row {
    let analyzer = matches!(entitlement, Entitlement::Analyzer | Entitlement::AnalyzerCapacity);
    if action == Action::SpaceRead {
        // The owner and every member with any role see the space.
        Row {
            roles: SpaceRoleSet(u16::MAX),
            owner: true,
        }
    } else if analyzer && space_type == SpaceType::Managed {
        row_for_analyzer_in_managed(action)
    } else {
        row_for(space_type, action)
    }
}

/// In a shared space, the roles with which an app's own owner may edit its script.
pub const SHARED_OWN_SCRIPT: Row = row(&[M, DA, E], true);

/// The actions a fine-grained share grants on its app.
pub fn share_grants(action: Action) -> bool {
    matches!(action, Action::AppRead | Action::AppExportData | Action::AppExportImage)
}

/// The actions the owner of personal content may take on it (everything but sharing:
/// apps in personal spaces cannot be shared one by one).
pub fn personal_owner_grants(action: Action) -> bool {
    !matches!(action, Action::AppShare)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_only_name_roles_assignable_in_their_space_type() {
        for space_type in [SpaceType::Shared, SpaceType::Managed, SpaceType::Data] {
            for action in Action::ALL {
                let r = row_for(space_type, *action);
                assert_eq!(r.roles.intersection(space_type.assignable_roles()), r.roles, "{space_type} {action}");
            }
        }
    }

    #[test]
    fn in_a_data_space_can_manage_does_what_the_owner_does() {
        // README: with the space and its data connections, deleting the space included.
        for action in Action::ALL {
            let r = row_for(SpaceType::Data, *action);
            assert!(!r.owner || r.roles.contains(M), "{action}: the owner has it, Can manage does not");
        }
        assert!(row_for(SpaceType::Data, Action::SpaceDelete).roles.contains(M));
    }
}
