// Shared helpers for the console specs: the browser, steps with names, screenshots, the
// simulator's control API and a few checks. Specs are run by crates/desk-server/tests/it/
// browser.rs, which passes everything through the environment.

import { chromium } from "playwright-core";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** A required environment variable. */
export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

const ARTIFACT_DIR = env("ARTIFACT_DIR");
/** The whole spec must end within this (the Rust test waits for node). */
const DEADLINE_MS = 150_000;

/** Fails the spec with a message. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Runs `body(browser)` against headless Debian chromium and exits with 0 on success, 1 with
 * the error otherwise. Every page opened through `newPage` fails the spec on a JavaScript
 * dialog (alert/confirm/prompt would mean injected script ran) or an uncaught page error.
 */
export async function runSpec(name, body) {
  specName = name;
  // This spec's screenshots from an earlier run would mislead.
  for (const file of readdirSync(ARTIFACT_DIR).filter((f) => f.startsWith(`${name}-`))) {
    rmSync(join(ARTIFACT_DIR, file));
  }
  const timer = setTimeout(() => {
    console.error(`${name}: gave up after ${DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, DEADLINE_MS);
  const browser = await chromium.launch({
    executablePath: env("CHROMIUM_PATH"),
    headless: true,
    // Root in containers has no user namespace for the sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const problems = [];
  const session = {
    browser,
    problems,
    /** A fresh context (own cookies) and page; `locale` sets Accept-Language. */
    async newPage({ locale = "en-US" } = {}) {
      const context = await browser.newContext({
        locale,
        timezoneId: "Asia/Tokyo",
        viewport: { width: 1366, height: 850 },
      });
      const page = await context.newPage();
      page.on("dialog", async (dialog) => {
        if (dialog.type() === "confirm" && confirmsExpected.get(page) > 0) {
          confirmsExpected.set(page, confirmsExpected.get(page) - 1);
          await dialog.accept();
          return;
        }
        problems.push(`a ${dialog.type()} dialog opened: ${dialog.message()}`);
        await dialog.dismiss();
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      return page;
    },
  };
  let failed = false;
  try {
    await body(session);
    check(problems.length === 0, `the page misbehaved:\n  ${problems.join("\n  ")}`);
    console.log(`${name}: passed`);
  } catch (error) {
    failed = true;
    console.error(`${name}: FAILED at step "${currentStep}": ${error.stack ?? error}`);
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        await shot(page, `failure-${shots++}`).catch(() => {});
      }
    }
  } finally {
    await browser.close();
    clearTimeout(timer);
  }
  process.exit(failed ? 1 : 0);
}

/** Confirmation dialogs a page is about to ask, which the spec accepts. */
const confirmsExpected = new WeakMap();

/** Clicks `selector`, which asks "are you sure?" with a confirm dialog, and confirms. */
export async function clickAndConfirm(page, selector) {
  confirmsExpected.set(page, (confirmsExpected.get(page) ?? 0) + 1);
  await page.click(selector);
}

let specName = "spec";
let currentStep = "start";
let shots = 0;

/** Names what follows, for the log and for a failure message. */
export async function step(name, body) {
  currentStep = name;
  const started = Date.now();
  const result = await body();
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
  return result;
}

/**
 * Saves a full-page screenshot as `<ARTIFACT_DIR>/<spec>-<name>.png`. A screenshot is an artifact
 * for people, not a check: headless Chromium on a loaded machine sometimes stalls capturing one
 * (seen once in 30 s), so a capture that fails twice is logged and the walk goes on.
 */
export async function shot(page, name) {
  const path = join(ARTIFACT_DIR, `${specName}-${name}.png`);
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ path, fullPage: true, animations: "disabled", timeout: 15_000 });
      return;
    } catch (e) {
      if (attempt >= 2) {
        console.warn(`  screenshot ${name} not taken: ${e.message.split("\n")[0]}`);
        return;
      }
    }
  }
}

/** The simulated LINE Platform's control API (see crates/line-sim/src/control.rs). */
export class Sim {
  constructor(base, channelId) {
    this.base = base;
    this.channelId = channelId;
  }

  async call(method, path, body) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    check(response.ok, `sim ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** Registers a LINE user (profile served to the desk). */
  addUser(userId, displayName) {
    return this.call("POST", `/sim/channels/${this.channelId}/users`, {
      user_id: userId,
      display_name: displayName,
      language: "ja",
    });
  }

  /** The user sends a text; resolves once the desk acknowledged the webhook. */
  async say(userId, text) {
    const delivery = await this.call(
      "POST",
      `/sim/channels/${this.channelId}/users/${userId}/text`,
      { text },
    );
    check(delivery.status === 200, `webhook refused: ${JSON.stringify(delivery)}`);
  }

  /** Waits until the desk sent `text` to `userId` through LINE, and returns the record. */
  async waitForSent(userId, text, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sent = await this.call("GET", "/sim/sent");
      const hit = sent.find(
        (r) => r.to === userId && r.delivered && r.messages.some((m) => m.text === text),
      );
      if (hit) return hit;
      check(Date.now() < deadline, `LINE never received ${JSON.stringify(text)} for ${userId}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Logs in through the login form and waits for the console. */
export async function logIn(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.startsWith("/login")),
    page.click('button[type="submit"]'),
  ]);
}

/** Every catalog of one language (crates/desk-server/i18n/<lang>/*.json), merged. */
export function catalog(dir, lang) {
  const merged = {};
  for (const file of readdirSync(join(dir, lang)).filter((f) => f.endsWith(".json"))) {
    Object.assign(merged, JSON.parse(readFileSync(join(dir, lang, file), "utf8")));
  }
  return merged;
}

/**
 * Text the page shows to people in the page's language: visible text plus the attributes
 * screen readers and tooltips use (placeholder, title, aria-label, alt). Text marked with
 * another `lang` (such as each language's own name in the language menu) is left out.
 */
export async function visibleStrings(page) {
  return page.evaluate(() => {
    const out = [];
    const lang = document.documentElement.lang;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || el.closest("script,style,template,[hidden]")) continue;
      if (el.closest("[lang]") && el.closest("[lang]").lang !== lang) continue;
      const text = node.textContent.trim();
      if (text) out.push(text);
    }
    for (const el of document.querySelectorAll("[placeholder],[title],[aria-label],[alt]")) {
      for (const attr of ["placeholder", "title", "aria-label", "alt"]) {
        const value = el.getAttribute(attr);
        if (value && value.trim()) out.push(value.trim());
      }
    }
    out.push(document.title);
    return out;
  });
}
