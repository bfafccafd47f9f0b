//! API authentication. Until console sessions exist, the API takes `Authorization: Bearer`
//! tokens made by `linedesk user add` (or the demo). Only a SHA-256 of a token is stored.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::Role;
use desk_store::Operator;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// A fresh random API token (256 bits) and the hash to store for it.
pub fn new_api_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("ldk_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&token);
    (token, hash)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The operator making an API request.
#[derive(Debug, Clone)]
pub struct ApiOperator(pub Operator);

impl ApiOperator {
    /// Refuses unless the operator is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::Forbidden("this needs an admin")),
        }
    }
}

impl FromRequestParts<AppState> for ApiOperator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header =
            parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .ok_or(ApiError::Unauthorized(
                    "Authorization header missing: send `Authorization: Bearer <API token>`",
                ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized(
                "Authorization header must be `Bearer <API token>`",
            ))?;
        let operator = state
            .store
            .operator_by_token_hash(&token_hash(token.trim()))
            .await?
            .ok_or(ApiError::Unauthorized("unknown API token"))?;
        Ok(ApiOperator(operator))
    }
}
