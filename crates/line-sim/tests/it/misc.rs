//! Bot info, profiles, loading animation, mark-as-read, routing errors.

use line_sim::{ChatMode, EventKind, SimUser, Source};
use serde_json::json;

use crate::common::{CH, USER, authed_env};

#[tokio::test]
async fn bot_info_follows_chat_mode() {
    let (env, token) = authed_env().await;
    let spec = env.sim.channel(CH).expect("channel");
    let a = env.get(&token, "/v2/bot/info").await;
    assert_eq!(
        a.body,
        json!({
            "userId": spec.bot_user_id,
            "basicId": spec.basic_id,
            "displayName": spec.display_name,
            "chatMode": "chat",
            "markAsReadMode": "manual",
        })
    );
    assert!(spec.bot_user_id.starts_with('U') && spec.bot_user_id.len() == 33);
    env.sim.set_chat_mode(CH, ChatMode::Bot);
    let a = env.get(&token, "/v2/bot/info").await;
    assert_eq!(a.body["chatMode"], "bot");
    assert_eq!(a.body["markAsReadMode"], "auto");
}

#[tokio::test]
async fn profiles() {
    let (env, token) = authed_env().await;
    let mut hanako = SimUser::new("Uhanako", "Hanako");
    hanako.picture_url = Some("https://example.com/h.png".into());
    hanako.status_message = Some("Hello, LINE!".into());
    hanako.language = Some("ja".into());
    env.sim.add_user(CH, hanako);
    let a = env.get(&token, "/v2/bot/profile/Uhanako").await;
    assert_eq!(
        a.body,
        json!({
            "displayName": "Hanako",
            "userId": "Uhanako",
            "pictureUrl": "https://example.com/h.png",
            "statusMessage": "Hello, LINE!",
            "language": "ja",
        })
    );
    let a = env.get(&token, &format!("/v2/bot/profile/{USER}")).await;
    assert_eq!(a.body, json!({"displayName": "Taro", "userId": USER}));

    let a = env.get(&token, "/v2/bot/profile/Unobody").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body, json!({"message": "Not found"}));

    env.sim
        .event(CH, Source::User("Uhanako".into()), EventKind::Unfollow);
    assert_eq!(env.get(&token, "/v2/bot/profile/Uhanako").await.status, 404);

    // Group member profile.
    env.sim.event(
        CH,
        Source::Group {
            group_id: "Cg1".into(),
            user_id: Some(USER.into()),
        },
        EventKind::Text("hi".into()),
    );
    let a = env
        .get(&token, &format!("/v2/bot/group/Cg1/member/{USER}"))
        .await;
    assert_eq!(a.body, json!({"displayName": "Taro", "userId": USER}));
    let a = env.get(&token, "/v2/bot/group/Cg1/member/Uhanako").await;
    assert_eq!(a.status, 404);
    let a = env
        .get(&token, &format!("/v2/bot/room/Rr1/member/{USER}"))
        .await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn loading_animation() {
    let (env, token) = authed_env().await;
    let start = async |body| env.post(&token, "/v2/bot/chat/loading/start", &body).await;
    let a = start(json!({"chatId": USER, "loadingSeconds": 10})).await;
    assert_eq!(a.status, 202);
    assert_eq!(a.body, json!({}));
    for bad in [7, 0, 65] {
        let a = start(json!({"chatId": USER, "loadingSeconds": bad})).await;
        assert_eq!(a.status, 400);
        assert_eq!(a.body["details"][0]["property"], "loadingSeconds");
    }
    let a = start(json!({"loadingSeconds": 5})).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["details"][0]["property"], "chatId");
    assert_eq!(env.sim.loading_starts(), vec![(USER.to_owned(), 10)]);
}

#[tokio::test]
async fn mark_as_read() {
    let (env, token) = authed_env().await;
    let ev = env.user_event(EventKind::Text("read me".into()));
    let mark = ev["message"]["markAsReadToken"].as_str().expect("token");
    let mark_as_read = async |read_token: &str| {
        let body = json!({ "markAsReadToken": read_token });
        env.post(&token, "/v2/bot/chat/markAsRead", &body).await
    };
    let a = mark_as_read(mark).await;
    assert_eq!(a.status, 200);
    let a = mark_as_read("bogus").await;
    assert_eq!(a.status, 400);
    assert_eq!(env.sim.read_marks(), vec![mark.to_owned()]);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let (env, token) = authed_env().await;
    let a = env.get(&token, "/v2/bot/nothing/here").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body, json!({"message": "Not found"}));
    assert!(a.header("x-line-request-id").is_some());
    let a = env.get(&token, "/v2/bot/message/push").await;
    assert_eq!(a.status, 405);
    assert!(a.body["message"].is_string());
    let logged = env.sim.requests();
    assert!(
        logged
            .iter()
            .any(|r| r.path == "/v2/bot/nothing/here" && r.status == 404)
    );
    assert!(
        logged
            .iter()
            .any(|r| r.method == "POST" && r.path == "/v2/oauth/accessToken" && r.status == 200)
    );
}
