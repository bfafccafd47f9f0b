//! Fresh databases for tests: each test gets its own, so tests run in parallel.

use sqlx::Connection;

use crate::{Result, StoreConfig};

/// The environment variable naming the Postgres server tests use (a URL to any database on it).
pub const POSTGRES_URL_VAR: &str = "LINEDESK_TEST_POSTGRES_URL";

/// Creates an empty database on the server of `base_url` and returns a config pointing at it.
pub async fn fresh_postgres(base_url: &str) -> Result<StoreConfig> {
    let mut conn = sqlx::PgConnection::connect(base_url).await?;
    let name = format!("linedesk_test_{}", uuid::Uuid::new_v4().simple());
    // The name is generated above from hex digits only, so it is safe to splice.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (server, _db) = base_url.rsplit_once('/').unwrap_or((base_url, ""));
    Ok(StoreConfig::Postgres {
        url: format!("{server}/{name}"),
        max_connections: 10,
    })
}

/// The Postgres test server, if configured. When the variable is set the server must be
/// reachable: tests fail rather than skip.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|s| !s.is_empty())
}
