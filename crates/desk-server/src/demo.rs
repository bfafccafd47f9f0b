//! `linedesk demo`: the desk and a simulated LINE Platform in one process, seeded with a brand,
//! a department, an admin, an operator and a connected channel. Simulated users greet the shop
//! every few seconds so the console has something to show.

use std::time::Duration;

use anyhow::Context as _;
use desk_core::Role;
use desk_server::clock::now_ms;
use desk_server::config::DemoArgs;
use desk_server::http::auth::new_secret;
use desk_server::service::accounts::set_password;
use desk_server::setup::{ChannelSetup, add_channel, add_user};
use desk_server::{Server, ServerConfig};
use desk_store::StoreConfig;
use line_sim::{ChannelSpec, EventKind, LineSim, SimUser, Source};
use tokio::net::TcpListener;

const CHANNEL_ID: &str = "2000000001";
const USERS: &[(&str, &str, &str)] = &[
    (
        "U0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "佐藤 美咲",
        "こんにちは！注文した商品はいつ届きますか？",
    ),
    (
        "U1b2c3d4e5f60718293a4b5c6d7e8f9a0",
        "陳 怡君",
        "請問週末有營業嗎？",
    ),
    (
        "U2c3d4e5f60718293a4b5c6d7e8f9a0b1",
        "Somchai P.",
        "Hello, can I change my delivery address?",
    ),
    (
        "U3d4e5f60718293a4b5c6d7e8f9a0b1c2",
        "田中 翔",
        "返品の方法を教えてください。",
    ),
];

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir().context("cannot create a temporary data directory")?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());

    let secret = hex32();
    let sim = LineSim::new();
    let mut spec = ChannelSpec::new(CHANNEL_ID, secret.clone());
    spec.display_name = "Demo Shop".into();
    spec.basic_id = "@linedesk-demo".into();
    sim.add_channel(spec.clone());
    for (id, name, _) in USERS {
        let mut user = SimUser::new(*id, *name);
        user.language = Some("ja".into());
        sim.add_user(CHANNEL_ID, user);
    }
    let sim_listener = TcpListener::bind(args.sim_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.sim_listen))?;
    let sim_url = format!("http://{}", sim_listener.local_addr()?);
    sim.set_base_url(sim_url.clone());
    let router = sim.router();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(sim_listener, router).await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = Server::start(
        ServerConfig {
            store: StoreConfig::Sqlite {
                path: data_dir.join("linedesk.db"),
            },
            line_api_base: sim_url.clone(),
            line_data_base: sim_url.clone(),
            // The simulator reaches the desk here; the connect wizard registers it as the webhook.
            public_url: Some(format!("http://{}", listener.local_addr()?)),
            secret_key: desk_server::crypto::SecretKey::load(None, &data_dir)?,
            media: desk_server::media::MediaConfig::new(&data_dir),
        },
        listener,
    )
    .await?;
    let store = &server.state.store;
    let now = now_ms();
    let channel = add_channel(
        store,
        &server.state.cipher,
        ChannelSetup {
            brand: "Demo Shop".into(),
            department: "Support".into(),
            line_channel_id: CHANNEL_ID.into(),
            secret,
            channel_key: None,
            bot_user_id: Some(spec.bot_user_id.clone()),
            display_name: "Demo Shop".into(),
        },
        now,
    )
    .await?;
    // 16 URL-safe characters (96 bits): short enough to type, too long to guess.
    let password = args
        .password
        .clone()
        .unwrap_or_else(|| new_secret().chars().take(16).collect());
    let (admin, admin_token) = add_user(
        store,
        "admin@demo.linedesk",
        "Admin",
        Role::Admin,
        None,
        now,
    )
    .await?;
    let (operator, operator_token) = add_user(
        store,
        "operator@demo.linedesk",
        "Operator",
        Role::Operator,
        Some(channel.brand_id),
        now,
    )
    .await?;
    // Operators see the chats of their departments: the demo operator serves the channel's.
    store
        .add_department_member(channel.department_id, operator.id)
        .await?;
    for user in [&admin, &operator] {
        set_password(store, user.id, &password)
            .await
            .context("demo password")?;
    }
    let base = format!("http://{}", server.addr);
    sim.set_webhook(
        CHANNEL_ID,
        &format!("{base}/line/webhook/{}", channel.channel_key),
    );

    println!("linedesk demo is running (Ctrl-C stops it)");
    println!("  desk:            {base}");
    println!("  LINE simulator:  {sim_url}  (GET /sim/sent lists what the desk sent)");
    println!("  data directory:  {}", data_dir.display());
    println!(
        "  console login:   {base}/login as {} or {}, password {password}",
        admin.email, operator.email
    );
    println!("  admin API token:    {admin_token}");
    println!("  operator API token: {operator_token}");
    println!("  try: curl -H 'Authorization: Bearer {admin_token}' {base}/api/v1/conversations");

    if args.chatter_secs > 0 {
        let sim = sim.clone();
        let every = Duration::from_secs(args.chatter_secs);
        tokio::spawn(async move {
            let mut turn = 0usize;
            loop {
                let (user, _, text) = USERS[turn % USERS.len()];
                let kind = EventKind::Text(text.into());
                if let Err(e) = sim.send(CHANNEL_ID, Source::User(user.into()), kind).await {
                    tracing::warn!(error = %e, "simulated user could not write");
                }
                turn += 1;
                tokio::time::sleep(every).await;
            }
        });
    }

    crate::commands::shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}

/// A random channel secret: 32 hex characters, as LINE issues them.
fn hex32() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
