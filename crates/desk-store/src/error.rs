//! The store's one error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the current state (the message says how).
    #[error("{0}")]
    Conflict(String),
    /// A value given to the store is out of range; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The inbox writer task failed this batch or has stopped.
    #[error("inbox write failed: {0}")]
    InboxWrite(String),
}

impl StoreError {
    /// Whether this is a unique-constraint violation (an insert of something already there).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
