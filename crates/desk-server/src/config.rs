//! Command line and environment: every flag is also a `LINEDESK_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use desk_store::StoreConfig;

/// linedesk: a live-chat desk for LINE Official Accounts.
#[derive(Debug, Parser)]
#[command(name = "linedesk", version)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, env = "LINEDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the desk: webhook, API, console and workers.
    Serve(ServeArgs),
    /// Run the desk together with a simulated LINE Platform and seeded demo data.
    Demo(DemoArgs),
    /// Run only the simulated LINE Platform.
    Sim(SimArgs),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Manage console users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage LINE channels from the command line (the console wizard does the same with checks).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Send signed webhook requests at a fixed rate and report latency (see bench/README.md).
    BenchWebhook(BenchArgs),
    /// Seed many open chats with deadlines over an hour and report timer lateness and idle CPU.
    BenchTimers(BenchTimersArgs),
    /// Hold many console SSE streams open while LINE users write; report delivery latency and RSS.
    BenchSse(BenchSseArgs),
}

/// `linedesk bench-timers`.
#[derive(Debug, Clone, Args)]
pub struct BenchTimersArgs {
    /// Open (missed) chats to seed.
    #[arg(
        long,
        env = "LINEDESK_BENCH_TIMERS_CONVERSATIONS",
        default_value_t = 1_000_000
    )]
    pub conversations: usize,
    /// Seconds the close deadlines are spread over.
    #[arg(
        long,
        env = "LINEDESK_BENCH_TIMERS_SPREAD_SECS",
        default_value_t = 3_600
    )]
    pub spread_secs: u64,
    /// Seconds to measure CPU before the first deadline.
    #[arg(long, env = "LINEDESK_BENCH_TIMERS_IDLE_SECS", default_value_t = 20)]
    pub idle_secs: u64,
    /// Seconds to watch deadlines fire.
    #[arg(long, env = "LINEDESK_BENCH_TIMERS_OBSERVE_SECS", default_value_t = 60)]
    pub observe_secs: u64,
    /// Postgres URL (default: a temporary SQLite file).
    #[arg(long, env = "LINEDESK_BENCH_TIMERS_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// `linedesk bench-sse`.
#[derive(Debug, Clone, Args)]
pub struct BenchSseArgs {
    /// Console SSE streams held open (spread evenly over the brands).
    #[arg(long, env = "LINEDESK_BENCH_SSE_CONNECTIONS", default_value_t = 1_000)]
    pub connections: usize,
    /// Brands, each with one channel; every stream watches one brand.
    #[arg(long, env = "LINEDESK_BENCH_SSE_BRANDS", default_value_t = 1)]
    pub brands: usize,
    /// Simulated LINE users writing, in turn (spread evenly over the brands).
    #[arg(long, env = "LINEDESK_BENCH_SSE_USERS", default_value_t = 1_000)]
    pub users: usize,
    /// Webhook messages per second (one text message per request).
    #[arg(long, env = "LINEDESK_BENCH_SSE_RATE", default_value_t = 1_000)]
    pub rate: u32,
    /// Seconds to send.
    #[arg(long, env = "LINEDESK_BENCH_SSE_SECONDS", default_value_t = 30)]
    pub seconds: u64,
    /// A Postgres server URL: the bench creates a fresh database on it (default: SQLite in a
    /// temporary directory).
    #[arg(long, env = "LINEDESK_BENCH_SSE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Open the streams as operators of each brand's department (whose streams are filtered
    /// by department) instead of as an admin.
    #[arg(long, env = "LINEDESK_BENCH_SSE_OPERATORS")]
    pub operators: bool,
}

/// `linedesk bench-webhook`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Webhook URL, e.g. http://127.0.0.1:8080/line/webhook/KEY.
    #[arg(long, env = "LINEDESK_BENCH_URL")]
    pub url: String,
    /// File of `signature<TAB>body` lines from shared/bench/gen.py.
    #[arg(long, env = "LINEDESK_BENCH_REQUESTS")]
    pub requests: PathBuf,
    /// Requests per second.
    #[arg(long, env = "LINEDESK_BENCH_RATE", default_value_t = 10_000)]
    pub rate: u32,
    /// Seconds to send.
    #[arg(long, env = "LINEDESK_BENCH_SECONDS", default_value_t = 10)]
    pub seconds: u64,
    /// Most requests in flight.
    #[arg(long, env = "LINEDESK_BENCH_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite database and local media live here.
    #[arg(long, env = "LINEDESK_DATA_DIR", default_value = "./linedesk-data")]
    pub data_dir: PathBuf,
    /// Postgres URL (postgres://…); when unset, SQLite in the data directory is used.
    #[arg(long, env = "LINEDESK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Postgres pool size.
    #[arg(long, env = "LINEDESK_DATABASE_POOL", default_value_t = 16)]
    pub database_pool: u32,
    /// Key sealing channel secrets and tokens at rest: 32 bytes as base64 or hex. When unset,
    /// `secret.key` in the data directory is used (created on first run). Instances sharing a
    /// Postgres database must all use the same key.
    #[arg(long, env = "LINEDESK_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<desk_core::Secret>,
}

impl StoreArgs {
    /// The key that seals secrets at rest (see [`StoreArgs::secret_key`]).
    pub fn secret_key(&self) -> Result<crate::crypto::SecretKey, crate::crypto::KeyError> {
        crate::crypto::SecretKey::load(
            self.secret_key.as_ref().map(desk_core::Secret::expose),
            &self.data_dir,
        )
    }

    /// The store configuration these flags describe.
    pub fn store_config(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::Postgres {
                url: url.clone(),
                max_connections: self.database_pool,
            },
            None => StoreConfig::Sqlite {
                path: self.data_dir.join("linedesk.db"),
            },
        }
    }
}

/// Where LINE is.
#[derive(Debug, Clone, Args)]
pub struct LineArgs {
    /// Messaging API base URL (tests and the demo point this at the simulator).
    #[arg(long, env = "LINEDESK_LINE_API_BASE", default_value = line_api::client::DEFAULT_API_BASE)]
    pub line_api_base: String,
    /// Content (data) API base URL.
    #[arg(long, env = "LINEDESK_LINE_DATA_BASE", default_value = line_api::client::DEFAULT_DATA_BASE)]
    pub line_data_base: String,
}

/// `linedesk serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LINEDESK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The public HTTPS URL LINE reaches this server at (webhook and media URLs are built from it).
    #[arg(long, env = "LINEDESK_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub line: LineArgs,
    #[command(flatten)]
    pub media: MediaArgs,
}

/// Media storage and conversion.
#[derive(Debug, Clone, Args)]
pub struct MediaArgs {
    /// Where media is stored: unset for `{data dir}/media`, or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the `AWS_*` variables).
    #[arg(long, env = "LINEDESK_MEDIA_STORE")]
    pub media_store: Option<String>,
    /// Days a signed media link (the URL LINE fetches) stays valid; LINE fetches lazily.
    #[arg(long, env = "LINEDESK_MEDIA_URL_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(14..=3650))]
    pub media_url_days: u64,
    /// Delete media users sent after this many days (unset: keep).
    #[arg(long, env = "LINEDESK_MEDIA_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    pub media_retention_days: Option<u64>,
    /// The ffmpeg program (converts ogg audio and 3gp video, takes video preview frames).
    #[arg(long, env = "LINEDESK_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,
    /// Seconds one conversion may take before it is stopped.
    #[arg(
        long,
        env = "LINEDESK_MEDIA_CONVERT_TIMEOUT_SECS",
        default_value_t = 120
    )]
    pub media_convert_timeout_secs: u64,
}

impl MediaArgs {
    /// The media configuration these flags describe, for a data directory.
    pub fn media_config(&self, data_dir: &std::path::Path) -> crate::media::MediaConfig {
        const DAY: u64 = 86_400;
        crate::media::MediaConfig {
            data_dir: data_dir.to_owned(),
            store_url: self.media_store.clone(),
            url_ttl: std::time::Duration::from_secs(self.media_url_days * DAY),
            retention: self
                .media_retention_days
                .map(|d| std::time::Duration::from_secs(d * DAY)),
            ffmpeg: self.ffmpeg.clone(),
            convert_timeout: std::time::Duration::from_secs(self.media_convert_timeout_secs),
        }
    }
}

/// `linedesk demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Address of the desk.
    #[arg(long, env = "LINEDESK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the simulated LINE Platform.
    #[arg(long, env = "LINEDESK_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    pub sim_listen: SocketAddr,
    /// Seconds between greetings from simulated users (0: none).
    #[arg(long, env = "LINEDESK_DEMO_CHATTER", default_value_t = 5)]
    pub chatter_secs: u64,
    /// Data directory (default: a fresh temporary one for every demo run).
    #[arg(long, env = "LINEDESK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Console password of both demo users (default: a random one, printed at start).
    #[arg(long, env = "LINEDESK_DEMO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

/// `linedesk sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, env = "LINEDESK_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
}

/// `linedesk user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a console user and print an API token for it.
    Add(UserAddArgs),
}

/// `linedesk user add`.
#[derive(Debug, Clone, Args)]
pub struct UserAddArgs {
    /// E-mail address (the login).
    #[arg(long, env = "LINEDESK_USER_EMAIL")]
    pub email: String,
    /// Name shown to colleagues.
    #[arg(long, env = "LINEDESK_USER_NAME")]
    pub name: String,
    /// Make the user an admin (all brands).
    #[arg(long, env = "LINEDESK_USER_ADMIN")]
    pub admin: bool,
    /// Console password (at least 10 characters); without it the user has only the API token
    /// until an admin sends them an invite link.
    #[arg(long, env = "LINEDESK_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `linedesk channel …`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Connect a LINE channel without calling LINE (for load tests and scripted setups);
    /// creates the brand and department when missing, and prints the webhook path.
    Add(ChannelAddArgs),
}

/// `linedesk channel add`.
#[derive(Debug, Clone, Args)]
pub struct ChannelAddArgs {
    /// Brand name.
    #[arg(long, env = "LINEDESK_CHANNEL_BRAND", default_value = "Demo Shop")]
    pub brand: String,
    /// Department that receives the chats.
    #[arg(long, env = "LINEDESK_CHANNEL_DEPARTMENT", default_value = "Support")]
    pub department: String,
    /// LINE Channel ID (digits).
    #[arg(long, env = "LINEDESK_LINE_CHANNEL_ID")]
    pub line_channel_id: String,
    /// LINE Channel secret (32 hex characters).
    #[arg(long, env = "LINEDESK_CHANNEL_SECRET", hide_env_values = true)]
    pub secret: desk_core::Secret,
    /// Webhook key to use (default: random).
    #[arg(long, env = "LINEDESK_CHANNEL_KEY")]
    pub channel_key: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag of every subcommand can also be set from a `LINEDESK_*` variable, which is
    /// how container deployments configure it.
    #[test]
    fn every_flag_has_an_env_variable() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional() || id == "help" || id == "version" {
                    continue;
                }
                match arg.get_env().and_then(|e| e.to_str()) {
                    Some(env) if env.starts_with("LINEDESK_") => {}
                    _ => missing.push(format!("{path} --{id}")),
                }
            }
            for sub in command.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "linedesk", &mut missing);
        assert!(
            missing.is_empty(),
            "flags without a LINEDESK_* variable: {missing:?}"
        );
    }
}
