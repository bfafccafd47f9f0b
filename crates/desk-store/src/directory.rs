//! Brands, departments, operators, API tokens and LINE channels.

use desk_core::{BrandId, ChannelId, DepartmentId, Millis, OperatorId, Sealed};

use crate::models::ChannelRow;
use crate::{
    Brand, Channel, Department, NewChannel, NewOperator, Operator, Result, Store, StoreError,
    execute, execute_in, fetch_optional, on_read, on_write,
};

/// Selects channels with a `WHERE` clause on a live (not removed) channel.
macro_rules! channel_sql {
    ($where:literal) => {
        concat!(
            "SELECT id, brand_id, department_id, line_channel_id, channel_key, secret_sealed, previous_secret_sealed, ",
            "previous_secret_until_ms, secret_rotated_ms, access_token_sealed, token_expires_ms, bot_user_id, basic_id, display_name, picture_url, ",
            "signature_failures, reply_count, push_count, created_ms ",
            "FROM line_channels WHERE removed_ms IS NULL AND ",
            $where
        )
    };
}

impl Store {
    /// Creates a brand.
    pub async fn create_brand(&self, name: &str, now: Millis) -> Result<Brand> {
        let brand = Brand {
            id: BrandId::new(),
            name: name.to_owned(),
            created_ms: now,
        };
        execute!(
            self,
            "INSERT INTO brands (id, name, created_ms) VALUES ($1, $2, $3)",
            brand.id.0,
            &brand.name,
            now
        )?;
        Ok(brand)
    }

    /// All brands, by name.
    pub async fn list_brands(&self) -> Result<Vec<Brand>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT id, name, created_ms FROM brands ORDER BY name")
                .fetch_all(pool)
                .await
        })?)
    }

    /// Creates a department in a brand; names are unique per brand.
    pub async fn create_department(
        &self,
        brand: BrandId,
        name: &str,
        now: Millis,
    ) -> Result<Department> {
        let department = Department {
            id: DepartmentId::new(),
            brand_id: brand,
            name: name.to_owned(),
            created_ms: now,
        };
        execute!(
            self,
            "INSERT INTO departments (id, brand_id, name, created_ms) VALUES ($1, $2, $3, $4)",
            department.id.0,
            brand.0,
            name,
            now
        )
        .map_err(|e| {
            conflict_on_unique(
                e.into(),
                format!("brand already has a department named `{name}`"),
            )
        })?;
        Ok(department)
    }

    /// Creates an operator; e-mail addresses are unique.
    pub async fn create_operator(&self, new: NewOperator, now: Millis) -> Result<Operator> {
        let id = OperatorId::new();
        execute!(
            self,
            "INSERT INTO operators (id, brand_id, email, display_name, role, password_hash, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id.0,
            new.brand_id.map(|b| b.0),
            &new.email,
            &new.display_name,
            new.role.as_str(),
            &new.password_hash,
            now,
        )
        .map_err(|e| conflict_on_unique(e.into(), format!("an operator with e-mail `{}` exists", new.email)))?;
        self.operator(id).await
    }

    /// One operator.
    pub async fn operator(&self, id: OperatorId) -> Result<Operator> {
        fetch_optional!(
            self,
            "SELECT id, brand_id, email, display_name, role, capacity, created_ms FROM operators WHERE id = $1",
            id.0,
        )?
        .ok_or(StoreError::NotFound("operator"))
    }

    /// Adds an operator to a department.
    pub async fn add_department_member(
        &self,
        department: DepartmentId,
        operator: OperatorId,
    ) -> Result<()> {
        execute!(
            self,
            "INSERT INTO department_members (department_id, operator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            department.0,
            operator.0
        )?;
        Ok(())
    }

    /// Stores an API token by its hash (the token itself is never stored).
    pub async fn create_api_token(
        &self,
        operator: OperatorId,
        token_hash: &[u8],
        label: &str,
        now: Millis,
    ) -> Result<()> {
        execute!(
            self,
            "INSERT INTO api_tokens (token_hash, operator_id, label, created_ms) VALUES ($1, $2, $3, $4)",
            token_hash,
            operator.0,
            label,
            now
        )?;
        Ok(())
    }

    /// The active operator an API token belongs to (a deactivated one's tokens stop working).
    pub async fn operator_by_token_hash(&self, token_hash: &[u8]) -> Result<Option<Operator>> {
        Ok(fetch_optional!(
            self,
            "SELECT o.id, o.brand_id, o.email, o.display_name, o.role, o.capacity, o.created_ms
                 FROM api_tokens t JOIN operators o ON o.id = t.operator_id
                 WHERE t.token_hash = $1 AND o.deactivated_ms IS NULL",
            token_hash
        )?)
    }

    /// Connects a LINE channel. The same LINE channel cannot be connected twice.
    pub async fn create_channel(&self, new: NewChannel, now: Millis) -> Result<Channel> {
        let id = ChannelId::new();
        on_write!(self.backend(), |pool| insert_channel!(
            pool, id, &new, None, now
        ))
        .map_err(|e| already_connected(e.into(), &new.line_channel_id))?;
        self.channel(id).await
    }

    /// A live channel by id.
    pub async fn channel(&self, id: ChannelId) -> Result<Channel> {
        fetch_optional!(
            self,
            <ChannelRow>,
            channel_sql!("id = $1"),
            id.0,
        )?
        .map(Channel::from)
        .ok_or(StoreError::NotFound("channel"))
    }

    /// A live channel by the opaque key in its webhook URL.
    pub async fn channel_by_key(&self, key: &str) -> Result<Option<Channel>> {
        Ok(fetch_optional!(
            self,
            <ChannelRow>,
            channel_sql!("channel_key = $1"),
            key,
        )?
        .map(Channel::from))
    }

    /// Live channels of a brand (all brands when `None`).
    pub async fn list_channels(&self, brand: Option<BrandId>) -> Result<Vec<Channel>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as::<_, ChannelRow>(channel_sql!(
                "($1 IS NULL OR brand_id = $1) ORDER BY created_ms"
            ))
            .bind(brand.map(|b| b.0))
            .fetch_all(pool)
            .await
        })?
        .into_iter()
        .map(Channel::from)
        .collect())
    }

    /// Counts a webhook request whose signature did not verify.
    pub async fn record_signature_failure(&self, channel: ChannelId) -> Result<()> {
        execute!(
            self,
            "UPDATE line_channels SET signature_failures = signature_failures + 1 WHERE id = $1",
            channel.0
        )?;
        Ok(())
    }

    /// Stores a freshly issued access token (sealed), or forgets the token (`None`).
    pub async fn set_channel_token(
        &self,
        channel: ChannelId,
        token: Option<&Sealed>,
        expires_ms: Option<Millis>,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE line_channels SET access_token = NULL, access_token_sealed = $1, token_expires_ms = $2
                 WHERE id = $3",
            token.map(Sealed::as_bytes),
            expires_ms,
            channel.0,
        )?;
        Ok(())
    }
}

/// Turns a unique violation into a [`StoreError::Conflict`] with a message a person understands.
pub(crate) fn conflict_on_unique(e: StoreError, message: String) -> StoreError {
    if e.is_unique_violation() {
        StoreError::Conflict(message)
    } else {
        e
    }
}

/// A unique violation on inserting a channel: that LINE channel is connected already.
pub(crate) fn already_connected(e: StoreError, line_channel_id: &str) -> StoreError {
    conflict_on_unique(
        e,
        format!("LINE channel {line_channel_id} is already connected"),
    )
}

/// Inserts a channel (`$new`, a [`NewChannel`]) on `$executor`, with its sealed access token
/// if one was issued (`$token`, an `Option<IssuedToken>` reference).
macro_rules! insert_channel {
    ($executor:expr, $id:expr, $new:expr, $token:expr, $now:expr) => {{
        let (new, token): (&$crate::NewChannel, Option<&$crate::wizard::IssuedToken>) = ($new, $token);
        execute_in!(
            $executor,
            "INSERT INTO line_channels (id, brand_id, department_id, line_channel_id, channel_key, secret,
             secret_sealed, access_token_sealed, token_expires_ms, bot_user_id, basic_id, display_name,
             picture_url, created_ms)
             VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10, $11, $12, $13)",
            $id.0,
            new.brand_id.0,
            new.department_id.0,
            &new.line_channel_id,
            &new.channel_key,
            new.secret.as_bytes(),
            token.map(|t| t.token.as_bytes()),
            token.map(|t| t.expires_ms),
            &new.bot_user_id,
            &new.basic_id,
            &new.display_name,
            &new.picture_url,
            $now,
        )
    }};
}
pub(crate) use insert_channel;

impl Store {
    /// Departments of a brand, by name.
    pub async fn list_departments(&self, brand: BrandId) -> Result<Vec<Department>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as("SELECT id, brand_id, name, created_ms FROM departments WHERE brand_id = $1 ORDER BY name")
                .bind(brand.0)
                .fetch_all(pool)
                .await
        })?)
    }
}
