//! Channel access tokens and bearer authentication.

use crate::common::{CH, SECRET, env, send};

#[tokio::test]
async fn issues_a_short_lived_token() {
    let env = env().await;
    let a = env.issue_token_for(CH, SECRET).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["expires_in"], 2_592_000);
    assert_eq!(a.body["token_type"], "Bearer");
    let token = a.body["access_token"].as_str().expect("token");
    assert!(token.len() > 40);
    assert!(a.header("x-line-request-id").is_some());
    let info = env.get(token, "/v2/bot/info").await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(env.sim.issued_tokens(CH), 1);
}

#[tokio::test]
async fn unknown_client_id_and_wrong_secret_are_told_apart() {
    let env = env().await;
    let a = env.issue_token_for("9999999999", SECRET).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"], "invalid_client");
    assert_eq!(a.body["error_description"], "invalid client_id");

    let a = env.issue_token_for(CH, "wrong").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["error"], "invalid_client");
    assert_eq!(a.body["error_description"], "invalid client_secret");
    assert_eq!(env.sim.issued_tokens(CH), 0);
}

#[tokio::test]
async fn missing_parameters_are_invalid_request() {
    let env = env().await;
    let no_secret = env
        .post_form(
            "/v2/oauth/accessToken",
            &[("grant_type", "client_credentials"), ("client_id", CH)],
        )
        .await;
    let not_a_form = send(
        env.http
            .post(env.url("/v2/oauth/accessToken"))
            .json(&serde_json::json!({"client_id": CH})),
    )
    .await;
    for a in [no_secret, not_a_form] {
        assert_eq!(a.status, 400);
        assert_eq!(a.body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn the_31st_token_revokes_the_first() {
    let env = env().await;
    let mut tokens = Vec::new();
    for _ in 0..31 {
        tokens.push(env.token().await);
    }
    assert_eq!(env.sim.issued_tokens(CH), 31);
    let first = env.get(&tokens[0], "/v2/bot/info").await;
    assert_eq!(first.status, 401);
    assert_eq!(
        first.body["message"],
        "Authentication failed. Confirm that the access token in the authorization header is valid."
    );
    for t in &tokens[1..] {
        assert_eq!(env.get(t, "/v2/bot/info").await.status, 200);
    }
}

#[tokio::test]
async fn bearer_auth_is_required() {
    let env = env().await;
    let a = send(env.http.get(env.url("/v2/bot/info"))).await;
    assert_eq!(a.status, 401);
    assert!(a.headers.contains_key("x-line-request-id"));
    assert!(
        a.body["message"]
            .as_str()
            .expect("message")
            .starts_with("Authorization header required")
    );
    let a = env.get("not-a-token", "/v2/bot/profile/U1").await;
    assert_eq!(a.status, 401);
    assert!(
        a.body["message"]
            .as_str()
            .expect("message")
            .starts_with("Authentication failed")
    );
}

#[tokio::test]
async fn verify_and_revoke() {
    let env = env().await;
    let token = env.token().await;
    let form = [("access_token", token.as_str())];
    let a = env.post_form("/v2/oauth/verify", &form).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["client_id"], CH);
    assert!(a.body["expires_in"].as_i64().expect("expires_in") > 2_591_000);

    let a = env.post_form("/v2/oauth/revoke", &form).await;
    assert_eq!(a.status, 200);
    assert_eq!(env.get(&token, "/v2/bot/info").await.status, 401);
}
