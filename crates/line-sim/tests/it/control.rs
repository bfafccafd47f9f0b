//! The `/sim` control API and `run`.

use serde_json::{Value, json};

use crate::common::{client, receiver, send};

#[tokio::test]
async fn control_api_sets_up_and_sends() {
    let sim = line_sim::LineSim::new();
    sim.spawn().await.expect("spawn");
    let base = sim.base_url().expect("base");
    let http = client();
    let rx = receiver(200).await;

    let a = send(
        http.post(format!("{base}/sim/channels"))
            .json(&json!({"channel_id": "3000000003", "secret": "sek"})),
    )
    .await;
    assert_eq!(a.status, 201);
    let spec = a.body;
    assert_eq!(spec["chat_mode"], "chat");
    assert!(spec["bot_user_id"].as_str().is_some_and(|s| s.len() == 33));

    let a = send(
        http.put(format!("{base}/sim/channels/3000000003/webhook"))
            .json(&json!({"endpoint": rx.url()})),
    )
    .await;
    assert_eq!(a.status, 200);

    let a = send(
        http.post(format!("{base}/sim/channels/3000000003/users"))
            .json(&json!({"user_id": "Ualice", "display_name": "Alice"})),
    )
    .await;
    assert_eq!(a.status, 200);

    let a = send(
        http.post(format!("{base}/sim/channels/3000000003/users/Ualice/text"))
            .json(&json!({"text": "hi desk"})),
    )
    .await;
    assert_eq!(a.status, 200);
    let d = a.body;
    assert_eq!(d["status"], 200);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(body["events"][0]["message"]["text"], "hi desk");

    let a = send(
        http.post(format!("{base}/sim/channels/nope/users"))
            .json(&json!({"user_id": "U", "display_name": "x"})),
    )
    .await;
    assert_eq!(a.status, 404);

    let a = send(
        http.post(format!("{base}/sim/channels"))
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].is_string());

    let sent = send(http.get(format!("{base}/sim/sent"))).await.body;
    assert_eq!(sent, json!([]));
    // Control calls are not in the LINE request log.
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn run_serves_until_shutdown() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(line_sim::run(
        addr,
        vec![line_sim::ChannelSpec::new("4000000004", "sek")],
        async move {
            let _ = rx.await;
        },
    ));
    let http = client();
    let mut issued = None;
    for _ in 0..50 {
        if let Ok(resp) = http
            .post(format!("http://{addr}/v2/oauth/accessToken"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "4000000004"),
                ("client_secret", "sek"),
            ])
            .send()
            .await
        {
            issued = Some(resp.status().as_u16());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(issued, Some(200));
    tx.send(()).expect("shutdown");
    server.await.expect("join").expect("run");
}
