//! The console in headless Chromium. Each test starts the server and the LINE simulator, adds
//! accounts, and runs one spec from `e2e/` with node: playwright-core (from npm, see the
//! repository's package.json) driving Debian's `chromium`. The spec gets its URLs and logins
//! from the environment, drives LINE users through the simulator's `/sim` control API, and
//! saves a screenshot of every screen it visits in `target/e2e-artifacts/`.
//!
//! Without node, chromium or `node_modules` (run `npm ci` at the repository root) a test
//! prints why and passes, except under CI (`CI` set), where that is a failure: the browser
//! tests must never be skipped there.

use std::path::{Path, PathBuf};
use std::process::Command;

use desk_core::{BrandId, Role};
use desk_server::clock::now_ms;
use desk_server::setup::{ChannelSetup, add_channel};
use line_sim::{ChannelSpec, DeliverOpts, EventKind, SimUser, Source};

use crate::auth::{PASSWORD, account};
use crate::helpers::{Backend, LINE_CHANNEL_ID, TestApp};

/// A second brand's LINE channel: its chats are off limits to the first brand's operators.
const OTHER_CHANNEL_ID: &str = "1650000002";
const OTHER_SECRET: &str = "0cc175b9c0f1b6a831c399e269772661";
/// The LINE account the wizard connects.
const WIZARD_CHANNEL_ID: &str = "1650000003";
const WIZARD_SECRET: &str = "92eb5ffee6ae2fec3ad71c777531578f";

/// What running a spec needs.
pub(crate) struct Toolchain {
    root: PathBuf,
    node: PathBuf,
    chromium: PathBuf,
}

impl Toolchain {
    /// `None` (with the reason printed) when something is missing outside CI.
    pub(crate) fn find() -> Option<Toolchain> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap_or(root);
        let chromium = std::env::var_os("LINEDESK_E2E_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        let node = PathBuf::from("node");
        let node_runs = Command::new(&node)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let missing = [
            (!node_runs).then_some("node (Debian package nodejs)"),
            (!chromium.exists()).then_some("chromium (Debian package chromium)"),
            (!root.join("node_modules/playwright-core").exists())
                .then_some("node_modules/playwright-core (run `npm ci` at the repository root)"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        if missing.is_empty() {
            return Some(Toolchain {
                root,
                node,
                chromium,
            });
        }
        let why = format!("browser test needs {}", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("{why}; CI must run the browser tests (.ci/run installs all of these)");
        }
        eprintln!("SKIPPED: {why}. `.ci/run` installs them; CI fails instead of skipping.");
        None
    }

    /// Runs `e2e/<spec>` with `env` and fails the test, with node's output, unless it passes.
    pub(crate) async fn run(&self, spec: &str, env: Vec<(&'static str, String)>) {
        let artifacts = self.root.join("target/e2e-artifacts");
        std::fs::create_dir_all(&artifacts).expect("artifact directory");
        let mut command = Command::new(&self.node);
        command
            .arg(self.root.join("e2e").join(spec))
            .current_dir(&self.root)
            .env("ARTIFACT_DIR", &artifacts)
            .env("CHROMIUM_PATH", &self.chromium)
            .envs(env);
        // The spec has its own overall deadline, so this returns.
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("node starts");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "e2e/{spec} failed ({}); screenshots in {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            output.status,
            artifacts.display()
        );
        println!("{stdout}");
    }
}

/// Brand B with its own channel and one chat, which brand A's operators must not reach.
/// Returns the brand and the chat.
async fn other_brand_chat(app: &TestApp) -> (BrandId, String) {
    let spec = ChannelSpec::new(OTHER_CHANNEL_ID, OTHER_SECRET);
    app.sim.add_channel(spec.clone());
    let server = app.server.as_ref().expect("running");
    let channel = add_channel(
        app.store(),
        &server.state.cipher,
        ChannelSetup {
            brand: "Other Shop".into(),
            department: "Other Support".into(),
            line_channel_id: OTHER_CHANNEL_ID.into(),
            secret: OTHER_SECRET.into(),
            channel_key: None,
            bot_user_id: Some(spec.bot_user_id.clone()),
            display_name: "Other Shop".into(),
        },
        now_ms(),
    )
    .await
    .expect("second channel");
    app.sim.set_webhook(
        OTHER_CHANNEL_ID,
        &format!("{}/line/webhook/{}", app.base, channel.channel_key),
    );
    let user = "U0ther0000000000000000000000000001";
    app.sim
        .add_user(OTHER_CHANNEL_ID, SimUser::new(user, "Other Customer"));
    let event = app.sim.event(
        OTHER_CHANNEL_ID,
        Source::User(user.into()),
        EventKind::Text("a question for the other shop".into()),
    );
    let delivery = app
        .sim
        .deliver(OTHER_CHANNEL_ID, vec![event], DeliverOpts::default())
        .await
        .expect("delivery");
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    let brand = channel.brand_id;
    let conversation = app
        .eventually("the other brand's chat", || async {
            app.conversations()
                .await
                .into_iter()
                .find(|c| c["brand_id"] == brand.to_string())
                .and_then(|c| c["id"].as_str().map(str::to_owned))
        })
        .await;
    (brand, conversation)
}

/// Issue 5's walk: log in, a LINE user writes and the chat appears live, answer, transfer,
/// close, a completed chat refuses input, script injection renders as text, Japanese has no
/// untranslated strings, another brand's chat is refused (page and API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_walk() {
    let Some(tools) = Toolchain::find() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let brand = app.channel.brand_id;
    let department = app.channel.department_id;
    let (first, _) = account(
        &app,
        "aiko@test.linedesk",
        Role::Operator,
        Some(brand),
        &[department],
    )
    .await;
    let (second, _) = account(
        &app,
        "ben@test.linedesk",
        Role::Operator,
        Some(brand),
        &[department],
    )
    .await;
    let (admin, _) = account(&app, "chief@test.linedesk", Role::Admin, None, &[]).await;
    let (other_brand, other_chat) = other_brand_chat(&app).await;
    let sim = app.sim.base_url().expect("sim serving");
    tools
        .run(
            "console.spec.mjs",
            vec![
                ("BASE_URL", app.base.clone()),
                ("SIM_URL", sim),
                ("LINE_CHANNEL_ID", LINE_CHANNEL_ID.into()),
                ("BRAND_ID", brand.to_string()),
                ("OPERATOR_EMAIL", first.email.clone()),
                ("OPERATOR_NAME", first.display_name.clone()),
                ("SECOND_EMAIL", second.email.clone()),
                ("SECOND_ID", second.id.to_string()),
                ("SECOND_NAME", second.display_name.clone()),
                ("ADMIN_EMAIL", admin.email.clone()),
                ("PASSWORD", PASSWORD.into()),
                ("OTHER_BRAND_ID", other_brand.to_string()),
                ("OTHER_CONVERSATION_ID", other_chat),
                (
                    "I18N_DIR",
                    tools
                        .root
                        .join("crates/desk-server/i18n")
                        .display()
                        .to_string(),
                ),
            ],
        )
        .await;
    app.finish().await;
}

/// Issue 6's walk: an admin connects a LINE account to an empty brand through every wizard
/// step (a wrong secret first, then chat mode on and re-checked after switching it off), and
/// a LINE user's message then reaches that brand's console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wizard_walk() {
    let Some(tools) = Toolchain::find() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let (admin, _) = account(&app, "chief@test.linedesk", Role::Admin, None, &[]).await;
    let brand = app
        .store()
        .create_brand("新しいショップ", now_ms())
        .await
        .expect("empty brand");
    // LINE's side of the account: Chat is on in LINE Official Account Manager.
    let mut spec = ChannelSpec::new(WIZARD_CHANNEL_ID, WIZARD_SECRET);
    spec.display_name = "さくら書店".into();
    app.sim.add_channel(spec);
    let sim = app.sim.base_url().expect("sim serving");
    tools
        .run(
            "wizard.spec.mjs",
            vec![
                ("BASE_URL", app.base.clone()),
                ("SIM_URL", sim),
                ("BRAND_ID", brand.id.to_string()),
                ("ADMIN_EMAIL", admin.email.clone()),
                ("PASSWORD", PASSWORD.into()),
                ("LINE_CHANNEL_ID", WIZARD_CHANNEL_ID.into()),
                ("LINE_CHANNEL_SECRET", WIZARD_SECRET.into()),
            ],
        )
        .await;
    app.finish().await;
}
