#!/usr/bin/env node
// Loads the api's Swagger UI in headless Chromium, opens one operation, clicks "Try it out" and
// "Execute", and checks the response code Swagger UI renders.
//
//   node tests/browser/swagger_ui_check.js http://127.0.0.1:8080 [/healthz] [get]
//
// Environment: CES_CHROMIUM (default /usr/bin/chromium), CES_PUPPETEER_DIR (folder holding
// node_modules/puppeteer-core; default $CES_TOOLS/puppeteer-core-<PUPPETEER_CORE_VERSION from
// versions.env>), CES_SCREENSHOT (write a PNG of the page there), CES_EXPECT_STATUS (default 200).
// Exit status 0 when the check passes, 1 otherwise (the reason on stderr).
"use strict";

const { loadTool } = require("../support/npm_tool.js");

function loadPuppeteer() {
  return loadTool("puppeteer-core", "PUPPETEER_CORE_VERSION", process.env.CES_PUPPETEER_DIR);
}

async function main() {
  const base = (process.argv[2] || "").replace(/\/+$/, "");
  const opPath = process.argv[3] || "/healthz";
  const method = (process.argv[4] || "get").toLowerCase();
  const expected = process.env.CES_EXPECT_STATUS || "200";
  if (!base) throw new Error("usage: swagger_ui_check.js BASE_URL [PATH] [METHOD]");
  const chromium = process.env.CES_CHROMIUM || "/usr/bin/chromium";
  const puppeteer = loadPuppeteer();

  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1600 });
    page.setDefaultTimeout(30000);
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("requestfailed", (r) => problems.push("request failed: " + r.url() + " " + (r.failure() || {}).errorText));

    const started = Date.now();
    const response = await page.goto(base + "/swagger-ui/", { waitUntil: "networkidle0" });
    if (!response || response.status() !== 200) {
      throw new Error("GET /swagger-ui/ answered " + (response ? response.status() : "nothing"));
    }
    // The operations list: rendered once the document at /api-docs is loaded and parsed.
    await page.waitForSelector(".opblock", { timeout: 30000 });
    const title = await page.$eval(".info .title", (e) => e.textContent.trim()).catch(() => "");
    const count = await page.$$eval(".opblock", (list) => list.length);
    console.log(`swagger-ui: loaded in ${Date.now() - started} ms, title "${title}", ${count} operations`);
    if (count < 10) throw new Error("only " + count + " operations rendered");

    // The operation's block: .opblock-<method> holding the summary path data-path="<path>".
    const blockHandle = await page.evaluateHandle(
      (m, p) => {
        for (const block of document.querySelectorAll(".opblock.opblock-" + m)) {
          const el = block.querySelector(".opblock-summary-path");
          if (el && el.getAttribute("data-path") === p) return block;
        }
        return null;
      },
      method,
      opPath
    );
    const block = blockHandle.asElement();
    if (!block) throw new Error(`operation ${method.toUpperCase()} ${opPath} not in the list`);
    await block.evaluate((b) => b.scrollIntoView());
    const opener = (await block.$(".opblock-summary-control")) || (await block.$(".opblock-summary"));
    await opener.click();
    const tryOut = await block.waitForSelector(".try-out__btn", { timeout: 10000 });
    await tryOut.click();
    const execute = await block.waitForSelector(".execute", { timeout: 10000 });
    await execute.click();
    const statusCell = await block.waitForSelector(".live-responses-table .response .response-col_status", {
      timeout: 20000,
    });
    const status = (await statusCell.evaluate((e) => e.textContent)).trim();
    const url = await block.$eval(".request-url pre", (e) => e.textContent.trim()).catch(() => "");
    console.log(`swagger-ui: ${method.toUpperCase()} ${opPath} executed (${url}), rendered status ${status}`);
    if (process.env.CES_SCREENSHOT) await page.screenshot({ path: process.env.CES_SCREENSHOT, fullPage: false });
    for (const p of problems) console.error("swagger-ui: " + p);
    if (!status.startsWith(expected)) throw new Error(`expected status ${expected}, Swagger UI shows "${status}"`);
    console.log("swagger-ui: ok");
  } finally {
    await browser.close();
  }
}

const deadline = setTimeout(() => {
  console.error("swagger-ui: check timed out after 120 s");
  process.exit(1);
}, 120000);

main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (e) => {
    clearTimeout(deadline);
    console.error("swagger-ui: FAILED: " + (e && e.message ? e.message : e));
    process.exit(1);
  }
);
