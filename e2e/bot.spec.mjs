// Issue 8 in the browser: a manager turns the rules bot on for a channel and adds a keyword
// rule with quick-reply buttons; a LINE user who writes the keyword gets the answer and the
// buttons through LINE, and the chat shows in the console as a bot chat.
//
// Run by `the_console_configures_a_rule_that_a_user_triggers` in crates/desk-server/tests/it/
// bot.rs (`cargo test`), which sets the environment.

import { Sim, check, env, logIn, runSpec, shot, step } from "./lib.mjs";

const BASE = env("BASE_URL");
const BRAND = env("BRAND_ID");

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

const ANSWER = "毎日10時から19時まで営業しています。";
const BUTTONS = ["予約する | reserve", "スタッフと話す | handoff"];

runSpec("bot", async (session) => {
  const sim = new Sim(env("SIM_URL"), env("LINE_CHANNEL_ID"));
  const page = await session.newPage();

  await step("configure a keyword rule with quick replies", async () => {
    await logIn(page, BASE, env("ADMIN_EMAIL"), env("PASSWORD"));
    await page.goto(`${BASE}/brands/${BRAND}/settings/channels/${env("CHANNEL_ID")}/bot`);
    // The page loads the stored settings into the form before it takes changes.
    await page.locator('[data-testid="bot-settings"][data-ready="true"]').waitFor();
    await page.selectOption("#bot-mode", "rules");
    await byTestId(page, "bot-rules-section").waitFor({ state: "visible" });
    await byTestId(page, "bot-add-rule").click();
    const rule = byTestId(page, "bot-rule").last();
    await rule.locator('[data-testid="bot-rule-trigger"]').fill("営業時間, hours");
    await rule.locator('[data-testid="bot-rule-reply-ja"]').fill(ANSWER);
    await rule.locator('[data-testid="bot-rule-reply-en"]').fill("We are open daily from 10:00 to 19:00.");
    await rule.locator('[data-testid="bot-rule-buttons"]').fill(BUTTONS.join("\n"));
    await shot(page, "01-rule-filled");
    const [saved] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/bot") && r.request().method() === "PUT"),
      byTestId(page, "bot-save").click(),
    ]);
    check(saved.ok(), `saving answered ${saved.status()}: ${await saved.text()}`);
    const error = byTestId(page, "bot-error");
    check(await error.isHidden(), `saving failed: ${await error.innerText()}`);
    // Saved on the server: a reload shows the rule again.
    await page.reload();
    await byTestId(page, "bot-rule").first().waitFor();
    const trigger = await byTestId(page, "bot-rule-trigger").first().inputValue();
    check(trigger.includes("営業時間"), `after a reload the rule reads ${trigger}`);
    await shot(page, "02-rule-saved");
  });

  await step("a LINE user writes the keyword and gets the answer with buttons", async () => {
    const user = "U" + "7".repeat(32);
    await sim.addUser(user, "高橋 さくら");
    await sim.say(user, "営業時間を教えてください");
    const sent = await sim.waitForSent(user, ANSWER);
    const quick = sent.messages.find((m) => m.text === ANSWER).quickReply?.items ?? [];
    const labels = quick.map((item) => item.action.label);
    check(
      labels.includes("予約する") && labels.includes("スタッフと話す"),
      `quick replies sent to LINE: ${JSON.stringify(labels)}`,
    );
    check(sent.api === "reply", `the bot answered by ${sent.api}, not with the free reply token`);
    await page.goto(`${BASE}/brands/${BRAND}/chats?list=open`);
    await page.locator(".chat-row", { hasText: "高橋 さくら" }).click();
    await page.locator("#thread .msg.out", { hasText: ANSWER }).waitFor();
    await shot(page, "03-bot-chat-in-console");
  });
});
