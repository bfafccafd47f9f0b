//! One function per subcommand.

use anyhow::Context as _;
use desk_core::Role;
use desk_core::channel_setup::parse_channel_secret;
use desk_server::clock::now_ms;
use desk_server::config::{ChannelCommand, Command, ServeArgs, StoreArgs, UserCommand};
use desk_server::crypto::Cipher;
use desk_server::service::accounts::{set_password, setup_link};
use desk_server::setup::{ChannelSetup, add_channel, add_user};
use desk_server::{Server, ServerConfig, open_store};
use tokio::net::TcpListener;

/// Runs a command to completion.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Sim(args) => line_sim::run(args.listen, Vec::new(), shutdown_signal())
            .await
            .context("simulator failed"),
        Command::Migrate(args) => {
            open_store(&args.store_config()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Add(args)) => {
            // Checked before anything is written, so a short password adds no user.
            if let Some(password) = &args.password {
                desk_core::NewPassword::parse(password).context("--password")?;
            }
            let store = open(&args.store).await?;
            let role = if args.admin {
                Role::Admin
            } else {
                Role::Operator
            };
            let (operator, token) =
                add_user(&store, &args.email, &args.name, role, None, now_ms()).await?;
            println!(
                "added {} ({}) as {}",
                operator.display_name, operator.email, operator.role
            );
            if let Some(password) = &args.password {
                set_password(&store, operator.id, password)
                    .await
                    .context("--password")?;
                println!(
                    "console password set: log in at /login with {}",
                    operator.email
                );
            }
            println!("API token (shown once): {token}");
            Ok(())
        }
        Command::BenchTimers(args) => crate::bench_timers::run(args).await,
        Command::BenchSse(args) => crate::bench_sse::run(args).await,
        Command::BenchWebhook(args) => {
            let text = std::fs::read_to_string(&args.requests)
                .with_context(|| format!("cannot read {}", args.requests.display()))?;
            let requests = line_sim::load::parse_requests(&text).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(
                !requests.is_empty(),
                "{} holds no requests",
                args.requests.display()
            );
            let plan = line_sim::load::LoadPlan {
                url: args.url,
                requests: std::sync::Arc::new(requests),
                rate: args.rate,
                duration: std::time::Duration::from_secs(args.seconds),
                max_in_flight: args.max_in_flight,
            };
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(args.max_in_flight)
                .build()?;
            println!("{}", line_sim::load::run(plan, http).await);
            Ok(())
        }
        Command::Channel(ChannelCommand::Add(args)) => {
            let secret = parse_channel_secret(args.secret.expose()).map_err(anyhow::Error::msg)?;
            let cipher = Cipher::new(&args.store.secret_key()?);
            let store = open(&args.store).await?;
            let channel = add_channel(
                &store,
                &cipher,
                ChannelSetup {
                    brand: args.brand,
                    department: args.department,
                    line_channel_id: args.line_channel_id,
                    secret: secret.expose().to_owned(),
                    channel_key: args.channel_key,
                    bot_user_id: None,
                    display_name: String::new(),
                },
                now_ms(),
            )
            .await?;
            let change = desk_store::SettingsChange {
                brand_id: Some(channel.brand_id),
                actor: desk_store::Actor::Cli,
                action: "channel.connected",
                target: format!("channel:{}", channel.id),
                detail: serde_json::json!({"line_channel_id": channel.line_channel_id}),
            };
            store.record_audit(&change, now_ms()).await?;
            println!("webhook path: /line/webhook/{}", channel.channel_key);
            Ok(())
        }
    }
}

async fn open(args: &StoreArgs) -> anyhow::Result<desk_store::Store> {
    open_store(&args.store_config())
        .await
        .context("could not open the database")
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = Server::start(
        ServerConfig {
            store: args.store.store_config(),
            line_api_base: args.line.line_api_base,
            line_data_base: args.line.line_data_base,
            public_url: args.public_url,
            secret_key: args.store.secret_key()?,
            media: args.media.media_config(&args.store.data_dir),
        },
        listener,
    )
    .await?;
    eprintln!("linedesk listening on http://{}", server.addr);
    announce_setup(&server, server.state.public_url.as_deref()).await?;
    let cancel = server.cancel_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        cancel.cancel();
    });
    server.wait().await;
    server.shutdown().await;
    Ok(())
}

/// On a desk with no accounts yet, prints the one-time link that creates the admin.
async fn announce_setup(server: &Server, public_url: Option<&str>) -> anyhow::Result<()> {
    let base = public_url.map_or_else(|| format!("http://{}", server.addr), str::to_owned);
    if let Some(link) = setup_link(&server.state.store, &base, now_ms()).await? {
        let message = format!("Open {link} to create the admin account");
        tracing::info!("{message}");
        println!("{message}");
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
