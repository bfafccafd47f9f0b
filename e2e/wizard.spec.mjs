// Issue 6 in the browser: from an empty brand, an admin walks the connect wizard to a live
// channel (a wrong secret first; Chat on in LINE, switched off and re-checked; the webhook
// test; a new department; review; done with the share kit), then a LINE user's message
// appears in the brand's console. A screenshot of every step.
//
// Run by crates/desk-server/tests/it/browser.rs (`cargo test`), which sets the environment.

import { Sim, check, env, logIn, runSpec, shot, step } from "./lib.mjs";

const BASE = env("BASE_URL");
const BRAND = env("BRAND_ID");
const CHANNEL_ID = env("LINE_CHANNEL_ID");

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** The wizard reloads on every step: waits until the page shows `step`. */
async function atStep(page, step) {
  await page.waitForSelector(`#channel-wizard[data-step="${step}"]`);
}

runSpec("wizard", async (session) => {
  const sim = new Sim(env("SIM_URL"), CHANNEL_ID);
  const page = await session.newPage();

  await step("an empty brand has no channel yet", async () => {
    await logIn(page, BASE, env("ADMIN_EMAIL"), env("PASSWORD"));
    await page.goto(`${BASE}/brands/${BRAND}/settings/channels`);
    await shot(page, "01-channels-empty");
    await page.goto(`${BASE}/brands/${BRAND}/settings/channels/new`);
    await atStep(page, "credentials");
  });

  await step("credentials: a wrong secret is refused by name, the right one passes", async () => {
    await page.fill("#channel-id", CHANNEL_ID);
    await page.fill("#channel-secret", "f".repeat(32));
    await byTestId(page, "wizard-submit-credentials").click();
    const error = byTestId(page, "wizard-error");
    await error.waitFor({ state: "visible" });
    check(/secret/i.test(await error.innerText()), `the error does not name the secret: ${await error.innerText()}`);
    await shot(page, "02-credentials-wrong-secret");
    await page.fill("#channel-secret", env("LINE_CHANNEL_SECRET"));
    await byTestId(page, "wizard-submit-credentials").click();
    await atStep(page, "response_mode");
  });

  await step("response mode: Chat is on, switched off in LINE, re-checked", async () => {
    await byTestId(page, "chat-mode-warning").waitFor();
    check(await byTestId(page, "wizard-next").isDisabled(), "Next is possible while Chat is on");
    check((await byTestId(page, "account-name").innerText()) === "さくら書店", "account name not shown");
    await shot(page, "03-response-mode-chat-on");
    // What the admin does in LINE Official Account Manager: Chat off.
    const spec = (await sim.call("GET", "/sim/channels")).find((c) => c.channel_id === CHANNEL_ID);
    await sim.call("POST", "/sim/channels", { ...spec, chat_mode: "bot" });
    await byTestId(page, "wizard-recheck").click();
    await byTestId(page, "chat-mode-ok").waitFor();
    await shot(page, "04-response-mode-ok");
    await byTestId(page, "wizard-next").click();
    await atStep(page, "webhook");
  });

  await step("webhook: the URL is set at LINE and the test succeeds", async () => {
    const url = await byTestId(page, "webhook-url").innerText();
    check(url.startsWith(`${BASE}/line/webhook/`), `webhook URL ${url}`);
    await byTestId(page, "wizard-test-webhook").click();
    const result = byTestId(page, "webhook-result");
    await result.waitFor();
    check((await result.getAttribute("data-outcome")) === "ok", `webhook test: ${await result.innerText()}`);
    await shot(page, "05-webhook-tested");
    await byTestId(page, "wizard-next").click();
    await atStep(page, "department");
  });

  await step("department: a new one receives the chats", async () => {
    await page.fill("#department-new", "LINE窓口");
    await byTestId(page, "wizard-save-department").click();
    await byTestId(page, "department-chosen").waitFor();
    await shot(page, "06-department");
    await byTestId(page, "wizard-next").click();
    await atStep(page, "review");
  });

  await step("review, connect, done with the share kit", async () => {
    const review = await byTestId(page, "wizard-review").innerText();
    check(review.includes(CHANNEL_ID) && review.includes("LINE窓口"), `review shows: ${review}`);
    await shot(page, "07-review");
    await byTestId(page, "wizard-next").click();
    await atStep(page, "done");
    await byTestId(page, "wizard-done").waitFor();
    await shot(page, "08-done-share-kit");
  });

  await step("the channel is live: a LINE user's message reaches the console", async () => {
    await page.goto(`${BASE}/brands/${BRAND}/chats?list=open`);
    await page.waitForSelector('#live-status[data-state="live"]');
    const user = "U" + "5".repeat(32);
    await sim.addUser(user, "佐藤 健");
    await sim.say(user, "ホームページから友だち追加しました");
    await page.locator(".chat-row", { hasText: "佐藤 健" }).waitFor({ timeout: 5_000 });
    await shot(page, "09-first-chat");
  });
});
