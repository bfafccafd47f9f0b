//! linedesk's server: the webhook, JSON API and workers over a [`desk_store::Store`].
//!
//! [`Server::start`] takes a bound listener, so tests and the demo can run it on port 0.

pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod error;
pub mod http;
pub mod hub;
pub mod lane;
pub mod media;
pub mod service;
pub mod setup;
pub mod state;
pub mod telemetry;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use desk_store::{Store, StoreConfig, StoreError};
use line_api::LineClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::state::{AppState, Wakers};

/// What a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub store: StoreConfig,
    pub line_api_base: String,
    pub line_data_base: String,
    pub public_url: Option<String>,
    /// Seals channel secrets and tokens at rest (`LINEDESK_SECRET_KEY` or the key file).
    pub secret_key: crypto::SecretKey,
    /// Media storage and conversion.
    pub media: media::MediaConfig,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not start the message lane's thread: {0}")]
    Lane(std::io::Error),
    #[error("media: {0}")]
    Media(#[from] media::MediaSetupError),
}

/// A running server and its workers.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Server {
    /// Opens the store (creating the SQLite directory if needed), applies migrations, starts
    /// the workers and serves on `listener`.
    pub async fn start(config: ServerConfig, listener: TcpListener) -> Result<Server, StartError> {
        let store = open_store(&config.store).await?;
        store.release_stale_leases().await?;
        let cipher = crypto::Cipher::new(&config.secret_key);
        setup::seal_clear_secrets(&store, &cipher, clock::now_ms()).await?;
        // Abandoned connect wizards hold a sealed secret and token: keep them a week at most.
        store
            .purge_stale_wizards(clock::now_ms() - service::wizard::ABANDONED_AFTER_MS)
            .await?;
        // One client for the process: LINE calls share its connection pool.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("linedesk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let line = LineClient::new(
            http,
            config.line_api_base.clone(),
            config.line_data_base.clone(),
        );
        let addr = listener.local_addr()?;
        let bot = service::bot::BotRunner::new()?;
        // Without a public URL, links point at the listener (enough for the simulator).
        let media_base = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let media = media::Media::start(&config.media, media_base).await?;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        // Last fallible step: the hub's tasks run until `cancel`, which only a started
        // server's shutdown fires.
        let lane = lane::Lane::start("linedesk-messages", &tasks).map_err(StartError::Lane)?;
        let hub = hub::Hub::start(store.clone(), cancel.clone(), &tasks, &lane).await?;
        let state = AppState {
            store,
            line,
            tokens: service::tokens::TokenManager::new(cipher.clone()),
            channels: Default::default(),
            rules: Default::default(),
            members: Default::default(),
            clock: Default::default(),
            wake: Arc::new(Wakers::default()),
            hub,
            public_url: config.public_url.clone(),
            cipher,
            bot,
            media,
        };
        lane.spawn(worker::inbox::run(state.clone(), cancel.clone()));
        lane.close();
        tasks.spawn(worker::outbox::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::timers::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::media::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::bot::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::routing::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::profiles::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::members::run(state.clone(), cancel.clone()));
        tasks.spawn(worker::housekeeping::run(state.clone(), cancel.clone()));
        let app = http::router(state.clone());
        let shutdown = cancel.clone();
        tasks.spawn(async move {
            // The peer address is kept for the login rate limit.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        tasks.close();
        tracing::info!(%addr, backend = ?state.store.kind(), "linedesk serving");
        Ok(Server {
            addr,
            state,
            cancel,
            tasks,
        })
    }

    /// Stops accepting, lets workers finish their current step, and closes the store.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        // Bot turns already started still write their answer (the bot worker waits for them).
        self.tasks.wait().await;
        self.state.store.close().await;
    }

    /// Waits until the server stops on its own (it does not, unless shut down elsewhere).
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }

    /// A handle that stops the server when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Drop for Server {
    /// A server dropped without [`Server::shutdown`] (a test that failed half-way) still
    /// stops its tasks: those on the message lane run on a thread of their own, which would
    /// otherwise outlive it, holding the database.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Opens and migrates the store, creating the SQLite file's directory first.
pub async fn open_store(config: &StoreConfig) -> Result<Store, StartError> {
    if let StoreConfig::Sqlite { path } = config
        && let Some(dir) = path.parent()
    {
        std::fs::create_dir_all(dir).map_err(|source| StartError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let store = Store::connect(config).await?;
    store.migrate().await?;
    Ok(store)
}
