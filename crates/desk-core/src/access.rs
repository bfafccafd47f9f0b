//! Who may see and change what: the one access policy every API route asks.
//!
//! - `admin`: every brand, every setting, every operator.
//! - `supervisor`: their one brand: all of its chats, its settings, its operators (but no
//!   admins, and nobody can be made an admin by them).
//! - `operator`: the chats of the departments they are a member of, in their brand; their own
//!   presence and profile; no settings.
//!
//! Each check answers `Ok(())` or a [`Denied`] whose message says why, for a 403.

use crate::Role;
use crate::ids::{BrandId, DepartmentId, OperatorId};

/// Why an action is refused; the message is shown to the caller as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

/// What one operator may reach: built from their role, brand and department memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    operator: OperatorId,
    scope: Scope,
}

/// The reach of each role. An operator's departments are part of the variant, so an
/// operator without them (or a supervisor without a brand) cannot be built by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Admin,
    /// One brand.
    Supervisor { brand: BrandId },
    /// Some departments of one brand.
    Operator {
        brand: BrandId,
        departments: Vec<DepartmentId>,
    },
    /// A supervisor or operator whose brand is not set: sees nothing until an admin fixes it.
    Nothing,
}

/// Which brands a listing may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrandFilter {
    /// Any brand (admins).
    Any,
    /// Only this one.
    Only(BrandId),
    /// None at all.
    None,
}

const OTHER_BRAND: Denied = Denied("this belongs to another brand");
const OTHER_DEPARTMENT: Denied =
    Denied("this chat belongs to a department you are not a member of");
const NO_BRAND: Denied = Denied("your account has no brand yet; ask an admin to set it");
const NEEDS_MANAGER: Denied = Denied("this needs an admin or a supervisor of the brand");
const NEEDS_ADMIN: Denied = Denied("this needs an admin");

impl Access {
    /// The access of an operator with this role, brand and department memberships.
    pub fn new(
        operator: OperatorId,
        role: Role,
        brand: Option<BrandId>,
        departments: Vec<DepartmentId>,
    ) -> Self {
        let scope = match (role, brand) {
            (Role::Admin, _) => Scope::Admin,
            (Role::Supervisor, Some(brand)) => Scope::Supervisor { brand },
            (Role::Operator, Some(brand)) => Scope::Operator { brand, departments },
            (_, None) => Scope::Nothing,
        };
        Self { operator, scope }
    }

    /// Whose access this is.
    pub fn operator(&self) -> OperatorId {
        self.operator
    }

    /// The role's reach.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether this is an admin.
    pub fn is_admin(&self) -> bool {
        self.scope == Scope::Admin
    }

    /// The supervisor's or operator's own brand.
    pub fn own_brand(&self) -> Option<BrandId> {
        match &self.scope {
            Scope::Supervisor { brand } | Scope::Operator { brand, .. } => Some(*brand),
            Scope::Admin | Scope::Nothing => None,
        }
    }

    /// May see the brand at all (its live stream, its channel list, its departments).
    pub fn brand(&self, brand: BrandId) -> Result<(), Denied> {
        match &self.scope {
            Scope::Admin => Ok(()),
            Scope::Nothing => Err(NO_BRAND),
            _ if self.own_brand() == Some(brand) => Ok(()),
            _ => Err(OTHER_BRAND),
        }
    }

    /// The brands a listing may cover; `asked` is the brand the caller asked for, if any.
    pub fn brand_filter(&self, asked: Option<BrandId>) -> Result<BrandFilter, Denied> {
        match (asked, &self.scope) {
            (Some(b), _) => self.brand(b).map(|()| BrandFilter::Only(b)),
            (None, Scope::Admin) => Ok(BrandFilter::Any),
            (None, Scope::Nothing) => Ok(BrandFilter::None),
            (None, _) => Ok(self
                .own_brand()
                .map_or(BrandFilter::None, BrandFilter::Only)),
        }
    }

    /// Only listings of these departments' chats are allowed (`None`: every department of
    /// the brands [`Access::brand_filter`] allows).
    pub fn department_filter(&self) -> Option<&[DepartmentId]> {
        match &self.scope {
            Scope::Operator { departments, .. } => Some(departments),
            Scope::Nothing => Some(&[]),
            Scope::Admin | Scope::Supervisor { .. } => None,
        }
    }

    /// May read and act on (answer, accept, transfer, close) a chat of this brand and
    /// department.
    pub fn conversation(&self, brand: BrandId, department: DepartmentId) -> Result<(), Denied> {
        self.brand(brand)?;
        match &self.scope {
            Scope::Operator { departments, .. } if !departments.contains(&department) => {
                Err(OTHER_DEPARTMENT)
            }
            _ => Ok(()),
        }
    }

    /// May change the brand's settings: channels, auto-close rules, departments' routing and
    /// hours, operators.
    pub fn manage(&self, brand: BrandId) -> Result<(), Denied> {
        match &self.scope {
            Scope::Admin => Ok(()),
            Scope::Supervisor { brand: own } if *own == brand => Ok(()),
            Scope::Supervisor { .. } => Err(OTHER_BRAND),
            Scope::Operator { .. } => Err(NEEDS_MANAGER),
            Scope::Nothing => Err(NO_BRAND),
        }
    }

    /// May change another operator's account (role, departments, capacity, deactivation),
    /// given that operator's current role and brand. Admin accounts are for admins only.
    pub fn manage_operator(&self, role: Role, brand: Option<BrandId>) -> Result<(), Denied> {
        match (role, brand) {
            (Role::Admin, _) => self.admin(),
            (_, Some(brand)) => self.manage(brand),
            // A brandless non-admin is an admin's to fix.
            (_, None) => self.admin(),
        }
    }

    /// May give an account this role in this brand (creating or changing it).
    pub fn grant(&self, role: Role, brand: Option<BrandId>) -> Result<(), Denied> {
        self.manage_operator(role, brand)
    }

    /// May change an operator's presence: themself, or who may manage them.
    pub fn presence_of(
        &self,
        target: OperatorId,
        role: Role,
        brand: Option<BrandId>,
    ) -> Result<(), Denied> {
        if target == self.operator {
            return Ok(());
        }
        self.manage_operator(role, brand)
    }

    /// Admins only (creating brands, anything not tied to one brand).
    pub fn admin(&self) -> Result<(), Denied> {
        match self.scope {
            Scope::Admin => Ok(()),
            _ => Err(NEEDS_ADMIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (BrandId, BrandId, DepartmentId, DepartmentId) {
        (
            BrandId::new(),
            BrandId::new(),
            DepartmentId::new(),
            DepartmentId::new(),
        )
    }

    #[test]
    fn admins_reach_everything() {
        let (b, other, d, _) = ids();
        let a = Access::new(OperatorId::new(), Role::Admin, None, vec![]);
        assert_eq!(a.conversation(other, d), Ok(()));
        assert_eq!(a.manage(b), Ok(()));
        assert_eq!(a.brand_filter(None), Ok(BrandFilter::Any));
        assert_eq!(a.grant(Role::Admin, None), Ok(()));
        assert_eq!(a.department_filter(), None);
    }

    #[test]
    fn supervisors_reach_their_brand_only() {
        let (b, other, d, _) = ids();
        let s = Access::new(OperatorId::new(), Role::Supervisor, Some(b), vec![]);
        assert_eq!(s.conversation(b, d), Ok(()));
        assert_eq!(s.conversation(other, d), Err(OTHER_BRAND));
        assert_eq!(s.manage(b), Ok(()));
        assert_eq!(s.manage(other), Err(OTHER_BRAND));
        assert_eq!(s.brand_filter(None), Ok(BrandFilter::Only(b)));
        assert_eq!(s.brand_filter(Some(other)), Err(OTHER_BRAND));
        assert_eq!(s.grant(Role::Operator, Some(b)), Ok(()));
        assert_eq!(s.grant(Role::Supervisor, Some(b)), Ok(()));
        assert_eq!(s.grant(Role::Admin, None), Err(NEEDS_ADMIN));
        assert_eq!(s.manage_operator(Role::Admin, Some(b)), Err(NEEDS_ADMIN));
        assert_eq!(s.manage_operator(Role::Operator, None), Err(NEEDS_ADMIN));
    }

    #[test]
    fn operators_reach_their_departments_only() {
        let (b, other, mine, theirs) = ids();
        let me = OperatorId::new();
        let o = Access::new(me, Role::Operator, Some(b), vec![mine]);
        assert_eq!(o.conversation(b, mine), Ok(()));
        assert_eq!(o.conversation(b, theirs), Err(OTHER_DEPARTMENT));
        assert_eq!(o.conversation(other, mine), Err(OTHER_BRAND));
        assert_eq!(o.manage(b), Err(NEEDS_MANAGER));
        assert_eq!(o.department_filter(), Some(&[mine][..]));
        assert_eq!(o.presence_of(me, Role::Operator, Some(b)), Ok(()));
        assert_eq!(
            o.presence_of(OperatorId::new(), Role::Operator, Some(b)),
            Err(NEEDS_MANAGER)
        );
    }

    #[test]
    fn an_account_without_a_brand_sees_nothing() {
        let (b, _, d, _) = ids();
        let o = Access::new(OperatorId::new(), Role::Operator, None, vec![d]);
        assert_eq!(o.conversation(b, d), Err(NO_BRAND));
        assert_eq!(o.brand_filter(None), Ok(BrandFilter::None));
        assert_eq!(o.department_filter(), Some(&[][..]));
    }
}
