//! Console accounts: passwords (hashes only), login failures for rate limiting, one-time
//! setup and invite links, console preferences, and the admin's changes to operators.

use desk_core::{BrandId, DepartmentId, Locale, Millis, OperatorId, Presence, Role, TimeZoneName};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    Department, NewOperator, Operator, Result, Store, StoreError, execute_in, fetch_optional,
    on_read, on_write, set_one,
};

/// The columns of [`Operator`], prefixed with `o.`.
macro_rules! operator_columns {
    () => {
        "o.id, o.brand_id, o.email, o.display_name, o.role, o.capacity, o.created_ms"
    };
}

/// Inserts an operator (a [`NewOperator`]) with `$exec`; `?` on failure.
macro_rules! insert_operator {
    ($exec:expr, $id:expr, $new:expr, $now:expr) => {{
        let new: &NewOperator = $new;
        sqlx::query(
            "INSERT INTO operators (id, brand_id, email, display_name, role, password_hash, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($id.0)
        .bind(new.brand_id.map(|b| b.0))
        .bind(&new.email)
        .bind(&new.display_name)
        .bind(new.role.as_str())
        .bind(&new.password_hash)
        .bind($now)
        .execute($exec)
        .await?;
    }};
}

/// Replaces an operator's department memberships with `$exec`; `?` on failure.
macro_rules! set_memberships {
    ($exec:expr, $id:expr, $departments:expr) => {{
        let departments: &[DepartmentId] = $departments;
        sqlx::query("DELETE FROM department_members WHERE operator_id = $1")
            .bind($id.0)
            .execute(&mut *$exec)
            .await?;
        for department in departments {
            sqlx::query(
                "INSERT INTO department_members (department_id, operator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(department.0)
            .bind($id.0)
            .execute(&mut *$exec)
            .await?;
        }
    }};
}

/// An active operator and their password hash (PHC string), for a login.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginCredentials {
    #[sqlx(flatten)]
    pub operator: Operator,
    /// `None` until they set one (invited, or created with an API token only).
    pub password_hash: Option<String>,
}

/// Recent failed logins for one e-mail and one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginFailures {
    pub by_email: i64,
    /// The oldest of those, if any.
    pub oldest_by_email: Option<Millis>,
    pub by_ip: i64,
    pub oldest_by_ip: Option<Millis>,
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Create the first admin.
    Setup,
    /// An invited operator chooses their password.
    Invite(OperatorId),
}

/// A one-time link to store.
#[derive(Debug, Clone)]
pub struct NewAccountLink<'a> {
    pub token_hash: &'a [u8],
    pub purpose: LinkPurpose,
    pub created_by: Option<OperatorId>,
    pub expires_ms: Millis,
}

/// An unused, unexpired one-time link.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountLink {
    pub purpose: LinkPurpose,
    pub expires_ms: Millis,
}

/// An operator as the admin pages list them.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OperatorAccount {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub operator: Operator,
    #[sqlx(try_from = "String")]
    pub presence: Presence,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    /// Set once deactivated; a deactivated operator cannot log in.
    pub deactivated_ms: Option<Millis>,
    /// Whether they can log in with a password yet (an invite not yet accepted: no).
    pub has_password: bool,
    /// Departments they are a member of.
    #[sqlx(skip)]
    pub departments: Vec<DepartmentId>,
}

/// Changes to an operator's account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OperatorChange {
    pub role: Option<Role>,
    /// Replaces their memberships.
    pub departments: Option<Vec<DepartmentId>>,
    /// Already checked against the capacity range.
    pub capacity: Option<u32>,
}

/// Changes to one's own profile; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub locale: Option<Option<Locale>>,
    pub time_zone: Option<Option<TimeZoneName>>,
}

/// An operator's console preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct Preferences {
    pub locale: Option<String>,
    pub time_zone: Option<String>,
}

/// The one setup link may not be used once anyone has an account.
const ALREADY_SET_UP: &str = "linedesk is already set up; log in instead";

impl Store {
    /// How many operators exist (active or not).
    pub async fn operator_count(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM operators")
                .fetch_one(pool)
                .await
        })?;
        Ok(n)
    }

    /// The active operator with this (normalized, lower-case) e-mail, for a login.
    pub async fn login_credentials(&self, email: &str) -> Result<Option<LoginCredentials>> {
        Ok(fetch_optional!(
            self,
            concat!(
                "SELECT ",
                operator_columns!(),
                ", o.password_hash FROM operators o WHERE lower(o.email) = $1 AND o.deactivated_ms IS NULL"
            ),
            email
        )?)
    }

    /// An operator's password hash, if they have one.
    pub async fn password_hash(&self, operator: OperatorId) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = fetch_optional!(
            self,
            "SELECT password_hash FROM operators WHERE id = $1",
            operator.0
        )?;
        row.map(|(h,)| h).ok_or(StoreError::NotFound("operator"))
    }

    /// Replaces an operator's password hash.
    pub async fn set_password_hash(&self, operator: OperatorId, hash: &str) -> Result<()> {
        set_one!(
            self,
            "UPDATE operators SET password_hash = $1 WHERE id = $2",
            hash,
            operator.0,
            "operator"
        );
        Ok(())
    }

    /// Records a failed login, and forgets failures older than `forget_before`.
    pub async fn record_login_failure(
        &self,
        email: &str,
        ip: &str,
        now: Millis,
        forget_before: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            execute_in!(
                &mut *tx,
                "DELETE FROM login_failures WHERE at_ms < $1",
                forget_before
            )?;
            execute_in!(
                &mut *tx,
                "INSERT INTO login_failures (email, ip, at_ms) VALUES ($1, $2, $3)",
                email,
                ip,
                now
            )?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Failed logins since `since` for this e-mail and for this client address.
    pub async fn login_failures(
        &self,
        email: &str,
        ip: &str,
        since: Millis,
    ) -> Result<LoginFailures> {
        let ((by_email, oldest_by_email), (by_ip, oldest_by_ip)): (
            (i64, Option<Millis>),
            (i64, Option<Millis>),
        ) = on_read!(self.backend(), |pool| {
            let email = sqlx::query_as(
                "SELECT COUNT(*), MIN(at_ms) FROM login_failures WHERE email = $1 AND at_ms >= $2",
            )
            .bind(email)
            .bind(since)
            .fetch_one(pool)
            .await?;
            let ip = sqlx::query_as(
                "SELECT COUNT(*), MIN(at_ms) FROM login_failures WHERE ip = $1 AND at_ms >= $2",
            )
            .bind(ip)
            .bind(since)
            .fetch_one(pool)
            .await?;
            Ok::<_, sqlx::Error>((email, ip))
        })?;
        Ok(LoginFailures {
            by_email,
            oldest_by_email,
            by_ip,
            oldest_by_ip,
        })
    }

    /// Stores a one-time link. A new setup link replaces any earlier unused one.
    pub async fn create_account_link(&self, link: NewAccountLink<'_>, now: Millis) -> Result<()> {
        let (purpose, operator) = match link.purpose {
            LinkPurpose::Setup => ("setup", None),
            LinkPurpose::Invite(o) => ("invite", Some(o.0)),
        };
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            // One live link per purpose and person: a re-issued link voids the earlier one.
            execute_in!(
                &mut *tx,
                "DELETE FROM account_links WHERE used_ms IS NULL AND purpose = $1
                 AND (operator_id = $2 OR ($2 IS NULL AND operator_id IS NULL))",
                purpose,
                operator
            )?;
            execute_in!(
                &mut *tx,
                "INSERT INTO account_links (token_hash, purpose, operator_id, created_by, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                link.token_hash,
                purpose,
                operator,
                link.created_by.map(|o| o.0),
                now,
                link.expires_ms,
            )?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// The unused link with this hash, if it has not expired at `now`.
    pub async fn account_link(
        &self,
        token_hash: &[u8],
        now: Millis,
    ) -> Result<Option<AccountLink>> {
        let row: Option<(String, Option<Uuid>, Millis)> = fetch_optional!(
            self,
            "SELECT purpose, operator_id, expires_ms FROM account_links
                 WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2",
            token_hash,
            now
        )?;
        Ok(row.and_then(|(purpose, operator, expires_ms)| {
            let purpose = match (purpose.as_str(), operator) {
                ("setup", _) => LinkPurpose::Setup,
                ("invite", Some(o)) => LinkPurpose::Invite(OperatorId(o)),
                _ => return None,
            };
            Some(AccountLink {
                purpose,
                expires_ms,
            })
        }))
    }

    /// Uses the setup link to create the first admin, in one transaction: the link is spent
    /// and no other account may exist. An unknown, used or expired link is `NotFound("link")`;
    /// a desk that already has an account is a `Conflict`.
    pub async fn complete_setup(
        &self,
        token_hash: &[u8],
        admin: NewOperator,
        now: Millis,
    ) -> Result<Operator> {
        let id = OperatorId::new();
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let spent = execute_in!(
                &mut *tx,
                "UPDATE account_links SET used_ms = $1
                 WHERE token_hash = $2 AND purpose = 'setup' AND used_ms IS NULL AND expires_ms > $1",
                now,
                token_hash,
            )?;
            if spent == 0 {
                return Err(StoreError::NotFound("link"));
            }
            let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM operators")
                .fetch_one(&mut *tx)
                .await?;
            if existing > 0 {
                return Err(StoreError::Conflict(ALREADY_SET_UP.into()));
            }
            insert_operator!(&mut *tx, id, &admin, now);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.operator(id).await
    }

    /// Adds an invited operator (no password yet) with their departments and capacity, in one
    /// transaction. A taken e-mail is a `Conflict`.
    pub async fn create_invited_operator(
        &self,
        new: &NewOperator,
        departments: &[DepartmentId],
        capacity: Option<u32>,
        now: Millis,
    ) -> Result<Operator> {
        let id = OperatorId::new();
        let capacity = capacity_column(capacity)?;
        // An async block, so `?` inside ends the block and the taken e-mail is recognized below.
        on_write!(self.backend(), |pool| async {
            let mut tx = pool.begin().await?;
            insert_operator!(&mut *tx, id, new, now);
            set_memberships!(tx, id, departments);
            if let Some(capacity) = capacity {
                execute_in!(
                    &mut *tx,
                    "UPDATE operators SET capacity = $1 WHERE id = $2",
                    capacity,
                    id.0
                )?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await)
        .map_err(|e| {
            if e.is_unique_violation() {
                StoreError::Conflict(format!("an operator with e-mail `{}` exists", new.email))
            } else {
                e
            }
        })?;
        self.operator(id).await
    }

    /// Uses an invite link: the invited operator gets this password hash. Evaluates to the
    /// operator. An unknown, used or expired link is `NotFound("link")`.
    pub async fn accept_invite(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        now: Millis,
    ) -> Result<Operator> {
        let operator: Uuid = on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(Option<Uuid>,)> = sqlx::query_as(
                "UPDATE account_links SET used_ms = $1
                 WHERE token_hash = $2 AND purpose = 'invite' AND used_ms IS NULL AND expires_ms > $1
                 RETURNING operator_id",
            )
            .bind(now)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((Some(operator),)) = row else {
                return Err(StoreError::NotFound("link"));
            };
            let updated = execute_in!(
                &mut *tx,
                "UPDATE operators SET password_hash = $1 WHERE id = $2 AND deactivated_ms IS NULL",
                password_hash,
                operator
            )?;
            if updated == 0 {
                return Err(StoreError::NotFound("link"));
            }
            tx.commit().await?;
            Ok::<_, StoreError>(operator)
        })?;
        self.operator(OperatorId(operator)).await
    }

    /// An operator's console preferences.
    pub async fn preferences(&self, operator: OperatorId) -> Result<Preferences> {
        fetch_optional!(
            self,
            "SELECT locale, time_zone FROM operators WHERE id = $1",
            operator.0
        )?
        .ok_or(StoreError::NotFound("operator"))
    }

    /// Changes one's own name, language or time zone.
    pub async fn update_profile(&self, operator: OperatorId, change: &ProfileChange) -> Result<()> {
        let updated = on_write!(self.backend(), |pool| {
            sqlx::query(
                "UPDATE operators SET
                   display_name = COALESCE($1, display_name),
                   locale = CASE WHEN $2 THEN $3 ELSE locale END,
                   time_zone = CASE WHEN $4 THEN $5 ELSE time_zone END
                 WHERE id = $6",
            )
            .bind(change.display_name.as_deref())
            .bind(change.locale.is_some())
            .bind(change.locale.flatten().map(Locale::as_str))
            .bind(change.time_zone.is_some())
            .bind(
                change
                    .time_zone
                    .as_ref()
                    .and_then(|t| t.as_ref().map(TimeZoneName::as_str)),
            )
            .bind(operator.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound("operator"));
        }
        Ok(())
    }

    /// Operators of a brand (every operator when `None`), by name; admins without a brand are
    /// listed with every brand, since they serve all of them.
    pub async fn list_operator_accounts(
        &self,
        brand: Option<BrandId>,
    ) -> Result<Vec<OperatorAccount>> {
        let brand = brand.map(|b| b.0);
        let (mut accounts, members): (Vec<OperatorAccount>, Vec<(Uuid, Uuid)>) = on_read!(
            self.backend(),
            |pool| {
                let accounts = sqlx::query_as(concat!(
                    "SELECT ",
                    operator_columns!(),
                    ", o.presence, o.locale, o.time_zone, o.deactivated_ms,
                     o.password_hash IS NOT NULL AS has_password
                     FROM operators o
                     WHERE $1 IS NULL OR o.brand_id = $1 OR (o.role = 'admin' AND o.brand_id IS NULL)
                     ORDER BY o.display_name, o.id"
                ))
                .bind(brand)
                .fetch_all(pool)
                .await?;
                let members = sqlx::query_as(
                    "SELECT m.operator_id, m.department_id FROM department_members m
                     JOIN departments d ON d.id = m.department_id
                     WHERE $1 IS NULL OR d.brand_id = $1 ORDER BY m.department_id",
                )
                .bind(brand)
                .fetch_all(pool)
                .await?;
                Ok::<_, sqlx::Error>((accounts, members))
            }
        )?;
        for account in &mut accounts {
            account.departments = members
                .iter()
                .filter(|(o, _)| *o == account.operator.id.0)
                .map(|(_, d)| DepartmentId(*d))
                .collect();
        }
        Ok(accounts)
    }

    /// One operator's account.
    pub async fn operator_account(&self, id: OperatorId) -> Result<OperatorAccount> {
        let (account, departments): (Option<OperatorAccount>, Vec<(Uuid,)>) = on_read!(
            self.backend(),
            |pool| {
                let account = sqlx::query_as(concat!(
                    "SELECT ",
                    operator_columns!(),
                    ", o.presence, o.locale, o.time_zone, o.deactivated_ms,
                     o.password_hash IS NOT NULL AS has_password
                     FROM operators o WHERE o.id = $1"
                ))
                .bind(id.0)
                .fetch_optional(pool)
                .await?;
                let departments = sqlx::query_as(
                    "SELECT department_id FROM department_members WHERE operator_id = $1 ORDER BY department_id",
                )
                .bind(id.0)
                .fetch_all(pool)
                .await?;
                Ok::<_, sqlx::Error>((account, departments))
            }
        )?;
        let mut account = account.ok_or(StoreError::NotFound("operator"))?;
        account.departments = departments
            .into_iter()
            .map(|(d,)| DepartmentId(d))
            .collect();
        Ok(account)
    }

    /// Changes an operator's role, departments or capacity in one transaction.
    pub async fn change_operator(&self, id: OperatorId, change: &OperatorChange) -> Result<()> {
        let capacity = capacity_column(change.capacity)?;
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let updated = execute_in!(
                &mut *tx,
                "UPDATE operators SET role = COALESCE($1, role), capacity = COALESCE($2, capacity) WHERE id = $3",
                change.role.map(Role::as_str),
                capacity,
                id.0
            )?;
            if updated == 0 {
                return Err(StoreError::NotFound("operator"));
            }
            if let Some(departments) = &change.departments {
                set_memberships!(tx, id, departments);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Deactivates an operator: no more logins or API calls, presence offline, and every
    /// session ended, in one transaction.
    pub async fn deactivate_operator(&self, id: OperatorId, now: Millis) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let updated = execute_in!(
                &mut *tx,
                "UPDATE operators SET deactivated_ms = COALESCE(deactivated_ms, $1), presence = 'offline' WHERE id = $2",
                now,
                id.0
            )?;
            if updated == 0 {
                return Err(StoreError::NotFound("operator"));
            }
            execute_in!(
                &mut *tx,
                "DELETE FROM sessions WHERE operator_id = $1",
                id.0
            )?;
            execute_in!(
                &mut *tx,
                "DELETE FROM account_links WHERE operator_id = $1 AND used_ms IS NULL",
                id.0
            )?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The departments an operator is a member of, by name.
    pub async fn member_departments(&self, operator: OperatorId) -> Result<Vec<Department>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT d.id, d.brand_id, d.name, d.created_ms FROM departments d
                 JOIN department_members m ON m.department_id = d.id
                 WHERE m.operator_id = $1 ORDER BY d.name",
            )
            .bind(operator.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// One department's brand, for access checks.
    pub async fn department_brand(&self, department: DepartmentId) -> Result<BrandId> {
        let row: Option<(Uuid,)> = fetch_optional!(
            self,
            "SELECT brand_id FROM departments WHERE id = $1",
            department.0
        )?;
        row.map(|(b,)| BrandId(b))
            .ok_or(StoreError::NotFound("department"))
    }
}

/// A capacity as stored (an INTEGER column).
fn capacity_column(capacity: Option<u32>) -> Result<Option<i32>> {
    capacity
        .map(|c| {
            i32::try_from(c).map_err(|_| StoreError::Invalid {
                field: "capacity",
                message: "capacity is too large".into(),
            })
        })
        .transpose()
}
