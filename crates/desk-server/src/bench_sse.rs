//! `linedesk bench-sse`: many console SSE streams on one `linedesk serve` process while LINE
//! users write at a fixed rate. Reports the webhook-to-SSE latency of every event on every
//! stream and the server's resident memory.
//!
//! The bench plays LINE (an in-process line-sim signs the webhooks and answers the desk's token
//! and profile calls) and runs the desk as a child process, so the memory reported is the
//! server's alone. Each text carries the instant its webhook was *due* (open loop: a stalled
//! server is charged for the requests queued behind the stall). A `message.created` event names
//! only the message, so one extra, unmeasured stream per brand looks each new message up in the
//! database and publishes its due instant; the measured streams charge their receipt time
//! against it.

mod histogram;
mod stream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use desk_core::{MessageId, Role};
use desk_server::clock::now_ms;
use desk_server::config::BenchSseArgs;
use desk_server::open_store;
use desk_server::setup::{ChannelSetup, add_channel, add_user};
use desk_store::{Store, StoreConfig};
use line_sim::{ChannelSpec, DeliverOpts, EventKind, LineSim, SimUser, Source};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::histogram::Histogram;
use self::stream::SseStream;
use crate::procfs::Process;

/// Prefix of every bench text: `bench <n> <due µs>`.
const TEXT_PREFIX: &str = "bench ";
/// Most webhook requests in flight; beyond it a request counts as failed (the server is not
/// keeping up), which keeps the generator's memory bounded.
const MAX_IN_FLIGHT: usize = 1_024;
/// Streams connecting at once.
const CONNECT_PARALLEL: usize = 64;
/// How long to wait after the last send for every event to arrive.
const DRAIN: Duration = Duration::from_secs(20);
/// How often a stream re-checks the events it received before their message was looked up
/// (their receipt time is already taken, so this only bounds the work).
const RESCAN_US: u64 = 10_000;

/// Runs the benchmark and prints its numbers.
pub async fn run(args: BenchSseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.brands >= 1, "--brands: at least 1");
    anyhow::ensure!(args.users >= args.brands, "--users: at least one per brand");
    anyhow::ensure!(args.rate >= 1, "--rate: at least 1 message per second");
    let dir = tempfile::tempdir()?;
    let config = match &args.database_url {
        Some(url) => desk_store::test_db::fresh_postgres(url)
            .await
            .with_context(|| format!("cannot create a database on {url}"))?,
        None => StoreConfig::Sqlite {
            path: dir.path().join("linedesk.db"),
        },
    };
    let world = World::seed(&config, &args, dir.path()).await?;
    let server = ServerProcess::spawn(&config, &world.sim_url, dir.path())?;
    server.wait_healthy().await?;
    for brand in &world.brands {
        world.sim.set_webhook(
            &brand.line_channel_id,
            &format!("{}/line/webhook/{}", server.base, brand.channel_key),
        );
    }

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        epoch_ms: now_ms(),
        due: RwLock::new(HashMap::new()),
        users: args.users as u64,
        latency: Histogram::new(),
        opening: Histogram::new(),
        later: Histogram::new(),
        after_store: Histogram::new(),
        delivered: AtomicU64::new(0),
    });
    let stop = CancellationToken::new();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;

    let mut resolvers = Vec::new();
    for brand in &world.brands {
        let stream = SseStream::open(&http, &server.base, &brand.id, &world.token).await?;
        resolvers.push(tokio::spawn(resolve(
            stream,
            world.store.clone(),
            shared.clone(),
            stop.clone(),
        )));
    }
    let streams = open_streams(&http, &server.base, &world, args.connections).await?;
    let watchers: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(watch(s, shared.clone(), stop.clone())))
        .collect();
    // Let the connections settle before taking the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = server.rss_kib()?;
    let cpu_before = server.cpu_seconds()?;
    let sampler = tokio::spawn(sample_rss(server.pid(), stop.clone()));

    println!(
        "bench-sse: {} on {}, {} {} streams over {} brand(s), {} users, {} msg/s for {} s",
        server.base,
        match config {
            StoreConfig::Sqlite { .. } => "SQLite",
            StoreConfig::Postgres { .. } => "Postgres",
        },
        args.connections,
        if args.operators { "operator" } else { "admin" },
        args.brands,
        args.users,
        args.rate,
        args.seconds
    );
    let load = send_load(
        &world,
        &shared,
        args.rate,
        Duration::from_secs(args.seconds),
    )
    .await;

    // Each brand's accepted messages must reach each of its streams.
    let expected: u64 = (0..world.brands.len())
        .map(|b| load.accepted[b] * streams_of(b, world.brands.len(), args.connections))
        .sum();
    let accepted: u64 = load.accepted.iter().sum();
    let drained = Instant::now();
    while drained.elapsed() < DRAIN
        && (shared.delivered.load(Ordering::Relaxed) < expected
            || shared.resolved() < usize::try_from(accepted)?)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let mut unresolved = 0;
    for watcher in watchers {
        unresolved += watcher.await?;
    }
    for resolver in resolvers {
        resolver.await??;
    }
    let rss_peak = sampler.await?;
    let rss_end = server.rss_kib()?;
    let cpu = server.cpu_seconds()? - cpu_before;
    let hwm = server.status_kib("VmHWM:")?;
    let warnings = server.log_warnings();
    drop(server);

    let delivered = shared.delivered.load(Ordering::Relaxed);
    println!(
        "webhooks: {} due, {} accepted ({:.0}/s), {} failed; ack ms: {}",
        load.due,
        accepted,
        accepted as f64 / load.elapsed.as_secs_f64(),
        load.failed,
        load.ack.summary()
    );
    println!(
        "SSE deliveries: {delivered} of {expected} expected ({} missing, {unresolved} unmatched)",
        expected.saturating_sub(delivered)
    );
    println!(
        "webhook-to-SSE latency ms ({} samples): {}",
        shared.latency.count(),
        shared.latency.summary()
    );
    println!(
        "  of which from the start of the server's apply transaction (±1 ms): {}",
        shared.after_store.summary()
    );
    println!(
        "  each user's first message (a new chat; {} samples): {}",
        shared.opening.count(),
        shared.opening.summary()
    );
    println!(
        "  later messages (an open chat; {} samples): {}",
        shared.later.count(),
        shared.later.summary()
    );
    println!(
        "server RSS MB: {:.1} with streams open, peak {:.1} under load, {:.1} after (VmHWM {:.1})",
        mib(rss_connected),
        mib(rss_peak.max(rss_end)),
        mib(rss_end),
        mib(hwm)
    );
    if !warnings.is_empty() {
        println!(
            "server log: {} warnings or errors, e.g.\n  {}",
            warnings.len(),
            warnings
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    println!(
        "server CPU: {cpu:.1} s in {:.1} s ({:.0} % of one core; this machine has {} cores, shared with the bench)",
        load.elapsed.as_secs_f64(),
        100.0 * cpu / load.elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}

/// What the bench set up: brands with one channel each, users, an admin token (which the
/// unmeasured streams use).
struct World {
    store: Store,
    sim: LineSim,
    sim_url: String,
    brands: Vec<BenchBrand>,
    /// `(brand index, LINE user id)`, written in turn.
    users: Vec<(usize, String)>,
    token: String,
}

struct BenchBrand {
    id: String,
    line_channel_id: String,
    channel_key: String,
    /// What the brand's measured streams log in with: the admin's token, or with
    /// `--operators` an operator's of the brand's department.
    stream_token: Option<String>,
}

impl World {
    async fn seed(config: &StoreConfig, args: &BenchSseArgs, dir: &Path) -> anyhow::Result<World> {
        let store = open_store(config).await?;
        // The served process reads the same key file (its data directory is `dir`).
        let cipher =
            desk_server::crypto::Cipher::new(&desk_server::crypto::SecretKey::load(None, dir)?);
        let sim = LineSim::new();
        let sim_url = format!("http://{}", sim.spawn().await?);
        let now = now_ms();
        let mut brands = Vec::new();
        for b in 0..args.brands {
            let line_channel_id = format!("{}", 1_900_000_000 + b);
            let secret = format!("{:032x}", rand::random::<u128>());
            let spec = ChannelSpec::new(&line_channel_id, &secret);
            sim.add_channel(spec.clone());
            let channel = add_channel(
                &store,
                &cipher,
                ChannelSetup {
                    brand: format!("Bench {b}"),
                    department: "Support".into(),
                    line_channel_id: line_channel_id.clone(),
                    secret,
                    channel_key: None,
                    bot_user_id: Some(spec.bot_user_id),
                    display_name: format!("Bench {b}"),
                },
                now,
            )
            .await?;
            let stream_token = match args.operators {
                true => {
                    let (operator, token) = add_user(
                        &store,
                        &format!("operator{b}@bench.linedesk"),
                        &format!("Operator {b}"),
                        Role::Operator,
                        Some(channel.brand_id),
                        now,
                    )
                    .await?;
                    store
                        .add_department_member(channel.department_id, operator.id)
                        .await?;
                    Some(token)
                }
                false => None,
            };
            brands.push(BenchBrand {
                id: channel.brand_id.to_string(),
                line_channel_id,
                channel_key: channel.channel_key,
                stream_token,
            });
        }
        let users = (0..args.users)
            .map(|u| {
                let brand = u % args.brands;
                let user_id = format!("U{u:032x}");
                sim.add_user(
                    &brands[brand].line_channel_id,
                    SimUser::new(&user_id, format!("User {u}")),
                );
                (brand, user_id)
            })
            .collect();
        let (_, token) = add_user(
            &store,
            "bench@bench.linedesk",
            "Bench",
            Role::Admin,
            None,
            now,
        )
        .await?;
        Ok(World {
            store,
            sim,
            sim_url,
            brands,
            users,
            token,
        })
    }
}

/// Streams watching brand `b` when `connections` are dealt round-robin over `brands`.
fn streams_of(b: usize, brands: usize, connections: usize) -> u64 {
    (connections / brands + usize::from(b < connections % brands)) as u64
}

/// `linedesk serve` as a child process, killed on drop.
struct ServerProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl ServerProcess {
    fn spawn(config: &StoreConfig, sim_url: &str, dir: &Path) -> anyhow::Result<ServerProcess> {
        // A free port: bound, read and released (the child binds it a moment later).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = dir.join("server.log");
        let mut command = std::process::Command::new(std::env::current_exe()?);
        command
            .arg("serve")
            .env("LINEDESK_LISTEN", addr.to_string())
            .env("LINEDESK_LINE_API_BASE", sim_url)
            .env("LINEDESK_LINE_DATA_BASE", sim_url)
            .env_remove("LINEDESK_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        match config {
            StoreConfig::Sqlite { path } => {
                let data_dir = path.parent().context("SQLite path has no directory")?;
                command
                    .env("LINEDESK_DATA_DIR", data_dir)
                    .env_remove("LINEDESK_DATABASE_URL");
            }
            StoreConfig::Postgres { url, .. } => {
                command
                    .env("LINEDESK_DATABASE_URL", url)
                    .env("LINEDESK_DATA_DIR", dir);
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        let child = command.spawn().context("cannot start `linedesk serve`")?;
        Ok(ServerProcess {
            child,
            base: format!("http://{addr}"),
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not become healthy in 30 s; its log is {}:\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        Process::Id(self.pid()).status_kib(field)
    }

    /// The server's warning and error lines so far.
    fn log_warnings(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }

    /// CPU time (user + system) the server has used.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        Process::Id(self.pid()).cpu_seconds()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1_024.0
}

/// The highest RSS seen, sampled every 200 ms until `stop`.
async fn sample_rss(pid: u32, stop: CancellationToken) -> u64 {
    let mut peak = 0;
    loop {
        peak = peak.max(Process::Id(pid).status_kib("VmRSS:").unwrap_or(0));
        tokio::select! {
            _ = stop.cancelled() => return peak,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// What every task shares.
struct Shared {
    epoch: Instant,
    /// `epoch` on the wall clock (Unix ms), to place the server's timestamps.
    epoch_ms: i64,
    /// Message id → when its webhook was due and when the server stored it (µs since `epoch`).
    due: RwLock<HashMap<u128, Sent>>,
    /// Users writing in turn: message `n` is its user's first when `n < users`.
    users: u64,
    /// Webhook due to SSE receipt.
    latency: Histogram,
    /// The same, of each user's first message (it opens a chat) and of the others.
    opening: Histogram,
    later: Histogram,
    /// Stored (the server's `created_ms`) to SSE receipt: the hub's share.
    after_store: Histogram,
    delivered: AtomicU64,
}

/// A message's two reference instants, in µs since the bench's epoch.
#[derive(Debug, Clone, Copy)]
struct Sent {
    due: u64,
    stored: u64,
    /// Its user's first message.
    opens: bool,
}

impl Shared {
    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn resolved(&self) -> usize {
        self.due.read().map_or(0, |d| d.len())
    }

    /// Records the latency of every `(message id, received µs)` whose due instant is known,
    /// and keeps the others for later.
    fn settle(&self, pending: &mut Vec<(u128, u64)>) {
        let Ok(due) = self.due.read() else { return };
        pending.retain(|(id, received)| match due.get(id) {
            Some(sent) => {
                let latency = received.saturating_sub(sent.due);
                self.latency.record(latency);
                match sent.opens {
                    true => self.opening.record(latency),
                    false => self.later.record(latency),
                }
                self.after_store
                    .record(received.saturating_sub(sent.stored));
                false
            }
            None => true,
        });
    }
}

/// Opens `n` measured streams, dealt round-robin over the brands.
async fn open_streams(
    http: &reqwest::Client,
    base: &str,
    world: &World,
    n: usize,
) -> anyhow::Result<Vec<SseStream>> {
    let slots = Arc::new(Semaphore::new(CONNECT_PARALLEL));
    let mut opening = Vec::with_capacity(n);
    for i in 0..n {
        let permit = slots.clone().acquire_owned().await?;
        let brand = &world.brands[i % world.brands.len()];
        let token = brand.stream_token.as_ref().unwrap_or(&world.token).clone();
        let (http, base, brand) = (http.clone(), base.to_owned(), brand.id.clone());
        opening.push(tokio::spawn(async move {
            let stream = SseStream::open(&http, &base, &brand, &token).await;
            drop(permit);
            stream
        }));
    }
    let mut streams = Vec::with_capacity(n);
    for (i, task) in opening.into_iter().enumerate() {
        streams.push(task.await?.with_context(|| format!("stream {i}"))?);
    }
    Ok(streams)
}

/// A measured stream: counts every `message.created` and records its latency. Returns how
/// many could not be matched to a sent message.
async fn watch(mut stream: SseStream, shared: Arc<Shared>, stop: CancellationToken) -> usize {
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    let mut scanned = 0;
    loop {
        let more = tokio::select! {
            _ = stop.cancelled() => break,
            more = stream.read(&mut ids) => more,
        };
        let received = shared.now_us();
        shared
            .delivered
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        let waiting = pending.len();
        pending.extend(ids.drain(..).map(|id| (id, received)));
        // The new ones now; the older ones only now and then, so that a lookup falling
        // behind does not make every read rescan a growing list.
        if received - scanned >= RESCAN_US {
            scanned = received;
            shared.settle(&mut pending);
        } else {
            let mut fresh = pending.split_off(waiting);
            shared.settle(&mut fresh);
            pending.append(&mut fresh);
        }
        match more {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                eprintln!("stream failed: {e}");
                break;
            }
        }
    }
    shared.settle(&mut pending);
    pending.len()
}

/// A brand's unmeasured stream: looks each new message up and publishes its due instant.
async fn resolve(
    mut stream: SseStream,
    store: Store,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    loop {
        let more = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            more = stream.read(&mut ids) => more?,
        };
        for id in ids.drain(..) {
            let message = store.message(MessageId(uuid::Uuid::from_u128(id))).await?;
            let text = message.body.0["text"].as_str().unwrap_or_default();
            let (n, due) = text
                .strip_prefix(TEXT_PREFIX)
                .and_then(|rest| rest.split_once(' '))
                .and_then(|(n, us)| Some((n.parse::<u64>().ok()?, us.parse::<u64>().ok()?)))
                .with_context(|| format!("message {id} is not a bench text: {text:?}"))?;
            let stored = u64::try_from((message.created_ms - shared.epoch_ms) * 1_000).unwrap_or(0);
            shared
                .due
                .write()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .insert(
                    id,
                    Sent {
                        due,
                        stored,
                        opens: n < shared.users,
                    },
                );
        }
        anyhow::ensure!(more, "the server closed a stream");
    }
}

/// The sending side's outcome.
struct Load {
    due: usize,
    /// Accepted (200) webhooks per brand.
    accepted: Vec<u64>,
    failed: usize,
    elapsed: Duration,
    /// Due to 200, per request.
    ack: Histogram,
}

/// Sends one text per request at `rate` for `duration`, users in turn.
async fn send_load(world: &World, shared: &Arc<Shared>, rate: u32, duration: Duration) -> Load {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = (duration.as_secs_f64() * f64::from(rate)) as usize;
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<(usize, u64)>>();
    let start = Instant::now();
    let mut failed = 0;
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            failed += 1;
            continue;
        };
        let (brand, user) = &world.users[n % world.users.len()];
        let channel = world.brands[*brand].line_channel_id.clone();
        let due_us = u64::try_from(due.duration_since(shared.epoch).as_micros()).unwrap_or(0);
        let event = world.sim.event(
            &channel,
            Source::User(user.clone()),
            EventKind::Text(format!("{TEXT_PREFIX}{n} {due_us}")),
        );
        let (sim, tx, brand) = (world.sim.clone(), tx.clone(), *brand);
        tokio::spawn(async move {
            let delivery = sim
                .deliver(&channel, vec![event], DeliverOpts::default())
                .await;
            let ack_us = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
            let ok = matches!(&delivery, Ok(d) if d.status == 200);
            let _ = tx.send(ok.then_some((brand, ack_us)));
            drop(permit);
        });
    }
    drop(tx);
    let mut load = Load {
        due: total,
        accepted: vec![0; world.brands.len()],
        failed,
        elapsed: Duration::ZERO,
        ack: Histogram::new(),
    };
    while let Some(result) = rx.recv().await {
        match result {
            Some((brand, us)) => {
                load.accepted[brand] += 1;
                load.ack.record(us);
            }
            None => load.failed += 1,
        }
    }
    load.elapsed = start.elapsed();
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_dealt_round_robin() {
        let per: Vec<u64> = (0..3).map(|b| streams_of(b, 3, 1_000)).collect();
        assert_eq!(per, [334, 333, 333]);
        assert_eq!(per.iter().sum::<u64>(), 1_000);
    }
}
