//! `linedesk bench-timers`: a million open (missed) chats whose close deadlines are spread over
//! an hour. Reports the process's CPU while no deadline is due, then how late closes fire.
//!
//! Seeding takes a while, so the deadlines are laid out in the future and the server's clock
//! is then moved to just before the first one; every time reported is on that one clock.

use std::time::Duration;

use desk_server::clock::now_ms;
use desk_server::config::BenchTimersArgs;
use desk_server::setup::{ChannelSetup, add_channel};
use desk_server::{Server, ServerConfig, open_store};
use desk_store::StoreConfig;

use crate::procfs::Process;

/// Runs the benchmark and prints its numbers.
pub async fn run(args: BenchTimersArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = match &args.database_url {
        Some(url) => StoreConfig::Postgres {
            url: url.clone(),
            max_connections: 8,
        },
        None => StoreConfig::Sqlite {
            path: dir.path().join("linedesk.db"),
        },
    };
    let store = open_store(&config).await?;
    let seeded_at = now_ms();
    let setup = ChannelSetup {
        brand: "Bench".into(),
        department: "Support".into(),
        line_channel_id: "1999999999".into(),
        secret: "0".repeat(32),
        channel_key: None,
        bot_user_id: None,
        display_name: "Bench".into(),
    };
    let secret_key = desk_server::crypto::SecretKey::generate();
    let cipher = desk_server::crypto::Cipher::new(&secret_key);
    let channel = add_channel(&store, &cipher, setup, seeded_at).await?;

    let n = args.conversations;
    let spread = i64::try_from(args.spread_secs * 1_000)?;
    // Far enough ahead that seeding never overtakes the first deadline.
    let base = seeded_at + 24 * 3_600_000;
    // Scrambled so insertion order says nothing about deadline order.
    let deadlines: Vec<i64> = (0..n)
        .map(|i| base + ((i as i64 * 7_919) % n as i64) * spread / n as i64)
        .collect();
    let started = std::time::Instant::now();
    store
        .seed_missed_conversations(
            channel.brand_id,
            channel.id,
            channel.department_id,
            &deadlines,
            seeded_at,
        )
        .await?;
    println!(
        "seeded {n} missed conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(
        ServerConfig {
            store: config,
            line_api_base: "http://127.0.0.1:9".into(),
            line_data_base: "http://127.0.0.1:9".into(),
            public_url: None,
            secret_key,
            media: desk_server::media::MediaConfig::new(dir.path()),
        },
        listener,
    )
    .await?;
    let idle_ms = i64::try_from(args.idle_secs * 1_000)?;
    server.state.clock.advance(base - idle_ms - now_ms());

    let cpu_before = Process::Current.cpu_seconds()?;
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle_cpu = Process::Current.cpu_seconds()? - cpu_before;
    println!(
        "idle with {n} open chats for {} s: {:.2} s CPU ({:.2} % of one core)",
        args.idle_secs,
        idle_cpu,
        100.0 * idle_cpu / args.idle_secs as f64
    );

    let cpu_before = Process::Current.cpu_seconds()?;
    tokio::time::sleep(Duration::from_secs(args.observe_secs)).await;
    let busy_cpu = Process::Current.cpu_seconds()? - cpu_before;
    let observed_until = server.state.clock.now_ms();
    let store = server.state.store.clone();
    let closes = store.seeded_closes().await?;
    server.shutdown().await;

    let due = deadlines
        .iter()
        .filter(|&&d| d <= observed_until - 1_000)
        .count();
    let mut late: Vec<i64> = closes
        .iter()
        .map(|&(i, closed)| closed - deadlines[i])
        .collect();
    late.sort_unstable();
    let early = late.iter().filter(|&&l| l < 0).count();
    let q = |p: f64| {
        late.get(((late.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "firing for {} s: {} closes ({} due more than 1 s before the end), {:.0} closes/s, {:.2} s CPU",
        args.observe_secs,
        late.len(),
        due,
        late.len() as f64 / args.observe_secs as f64,
        busy_cpu
    );
    println!(
        "lateness ms: p50 {}  p90 {}  p99 {}  max {}  (closed early: {early})",
        q(0.5),
        q(0.9),
        q(0.99),
        late.last().copied().unwrap_or(0)
    );
    Ok(())
}
