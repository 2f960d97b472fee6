// Browser tests of the web UI: our gateway (PUSHGATEWAY_BIN, default
// target/release/pushgateway) driven in headless Debian Chromium
// (/usr/bin/chromium, or CHROMIUM) with playwright-core.
//
//   cd tests/ui && npm ci && node --test ui.test.mjs
//
// UI_SCREENSHOT=path writes a screenshot of the groups page there.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary = process.env.PUSHGATEWAY_BIN || path.join(root, "target", "release", "pushgateway");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A gateway process; `base` is the URL its routes live under. */
async function startGateway(prefix, ...flags) {
  const port = await freePort();
  const proc = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", ...flags], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}${prefix}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/-/ready`)).ok) return { proc, base };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error(`${binary} did not start`);
}

async function push(gw, groupPath, body, method = "PUT") {
  const r = await fetch(`${gw.base}/metrics/${groupPath}`, { method, body });
  assert.equal(r.status, 200, `push to ${groupPath}: ${await r.text()}`);
}

async function scrape(gw) {
  return (await fetch(`${gw.base}/metrics`)).text();
}

const XSS_LABEL = `<script>window.__xss=1</script><img src=x onerror="window.__xss=1">`;

let browser;
let gw;

before(async () => {
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  gw = await startGateway("/pgw", "--web.route-prefix=/pgw");
  await push(
    gw,
    "job/alpha/instance/i1",
    "# HELP requests_total Requests served.\n# TYPE requests_total counter\n" +
      `requests_total{code="200",page=${JSON.stringify(XSS_LABEL)}} 42\n` +
      '# TYPE latency_seconds summary\nlatency_seconds{quantile="0.5"} 0.25\nlatency_seconds_sum 3\nlatency_seconds_count 9\n' +
      '# TYPE size_bytes histogram\nsize_bytes_bucket{le="1024"} 3\nsize_bytes_bucket{le="+Inf"} 5\nsize_bytes_sum 9000\nsize_bytes_count 5\n',
  );
  await push(gw, "job/beta/region@base64/=", "# TYPE queue_depth gauge\nqueue_depth 7\n");
  await push(gw, "job/backup/path@base64/L3Zhci90bXA", "backup_size_bytes 123\n");
  for (let i = 0; i < 250; i++) {
    await push(gw, `job/bulk/instance/n${String(i).padStart(3, "0")}`, `bulk_value ${i}\n`);
  }
});

after(async () => {
  await browser?.close();
  gw?.proc.kill();
});

test("groups page lists groups under a route prefix, one page at a time", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/`);
  await assert.doesNotReject(page.waitForSelector("details.group"));
  assert.match(await page.textContent("#summary"), /^253 groups$/);
  assert.equal(await page.locator("details.group").count(), 100);
  assert.match(await page.textContent("nav.pager"), /Page 1 of 3/);
  await page.click("nav.pager a[rel=next]");
  await page.waitForURL(/page=2/);
  assert.equal(await page.locator("details.group").count(), 100);
  const first = page.locator("details.group").first();
  assert.match(await first.textContent(), /job="bulk"instance="n097"/);
  await page.close();
});

test("the filter narrows groups by label text as one types", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/`);
  await page.fill("#filter", "job=back");
  await page.waitForFunction(() => document.querySelectorAll("details.group").length === 1);
  assert.match(await page.textContent("details.group"), /job="backup"/);
  assert.match(await page.textContent("details.group"), /path="\/var\/tmp"/);
  assert.match(await page.textContent("#summary"), /1 of 253 groups match/);
  assert.match(page.url(), /\?q=job%3Dback$/);
  await page.fill("#filter", "bulk n24");
  await page.waitForFunction(() => document.querySelectorAll("details.group").length === 10);
  await page.fill("#filter", "no-such-label");
  await page.waitForSelector("text=No group matches the filter.");
  await page.close();
});

test("expanding a group shows its families and series; label values are shown as text", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/?q=alpha`);
  const group = page.locator("details.group");
  assert.equal(await group.count(), 1);
  await group.locator("summary").click();
  await page.waitForSelector("section.family");
  const families = await page.locator("section.family h3 code").allTextContents();
  assert.deepEqual(families, [
    "latency_seconds",
    "push_failure_time_seconds",
    "push_time_seconds",
    "requests_total",
    "size_bytes",
  ]);
  const requests = page.locator("section.family", { hasText: "requests_total" });
  assert.match(await requests.textContent(), /Requests served\./);
  assert.match(await requests.locator("td").last().textContent(), /^42$/);
  // The label value is text on the page, not markup.
  assert.ok((await requests.textContent()).includes(XSS_LABEL));
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator("section.family img").count(), 0);
  const summary = page.locator("section.family", { hasText: "latency_seconds" });
  assert.match(await summary.textContent(), /count 9, sum 3.*quantile 0.5: 0.25/s);
  const histogram = page.locator("section.family", { hasText: "size_bytes" });
  assert.match(await histogram.textContent(), /le 1024: 3.*le \+Inf: 5/s);
  await page.close();
});

test("deleting a group with an empty label value under a route prefix", async () => {
  assert.match(await scrape(gw), /queue_depth\{instance="",job="beta",region=""\} 7/);
  const page = await browser.newPage();
  let asked = "";
  page.on("dialog", (dialog) => {
    asked = dialog.message();
    dialog.accept();
  });
  await page.goto(`${gw.base}/?q=job%3Dbeta`);
  const group = page.locator("details.group");
  assert.equal(await group.count(), 1);
  await group.locator("button.delete").click();
  await page.waitForSelector("text=No group matches the filter.");
  assert.match(asked, /job="beta".*region=""/);
  assert.doesNotMatch(await scrape(gw), /job="beta"/);
  assert.match(await page.textContent("#summary"), /0 of 252 groups match/);
  // A dismissed confirmation deletes nothing.
  page.removeAllListeners("dialog");
  page.on("dialog", (dialog) => dialog.dismiss());
  await page.fill("#filter", "job=backup");
  await page.waitForFunction(() => document.querySelectorAll("details.group").length === 1);
  await page.locator("details.group button.delete").click();
  await page.waitForTimeout(300);
  assert.match(await scrape(gw), /backup_size_bytes\{instance="",job="backup",path="\/var\/tmp"\} 123/);
  if (process.env.UI_SCREENSHOT) {
    await page.setViewportSize({ width: 1100, height: 640 });
    await page.goto(`${gw.base}/`);
    await page.locator("details.group").first().locator("summary").click();
    await page.waitForSelector("section.family");
    await page.screenshot({ path: process.env.UI_SCREENSHOT });
  }
  await page.close();
});

test("status page shows build information, start time and flags", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/status`);
  const text = await page.textContent("main");
  assert.match(text, /Start time/);
  assert.match(text, /version\s*0\.\d+\.\d+/);
  assert.match(text, /web\.route-prefix\s*\/pgw/);
  await page.click("nav a.brand");
  await page.waitForSelector("details.group");
  await page.close();
});

test("with --web.external-url, links follow its path; the admin API wipes from the page", async () => {
  const port = await freePort();
  const proc = spawn(
    binary,
    [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", `--web.external-url=http://127.0.0.1:${port}/ext/`, "--web.enable-admin-api"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  try {
    const ext = { base: `http://127.0.0.1:${port}/ext` };
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`${ext.base}/-/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await push(ext, "job/one", "a 1\n");
    await push(ext, "job/two/x/y", "b 2\n");
    const page = await browser.newPage();
    page.on("dialog", (dialog) => dialog.accept());
    await page.goto(`${ext.base}/`);
    assert.match(await page.getAttribute("link[rel=stylesheet]", "href"), /^\/ext\/static\/style\.css\?v=/);
    await page.locator("details.group", { hasText: 'job="one"' }).locator("button.delete").click();
    await page.waitForFunction(() => document.querySelectorAll("details.group").length === 1);
    assert.doesNotMatch(await scrape(ext), /job="one"/);
    await page.click("#wipe");
    await page.waitForSelector("text=No metrics have been pushed yet.");
    assert.doesNotMatch(await scrape(ext), /job="two"/);
    await page.close();
  } finally {
    proc.kill();
  }
});

/** WCAG contrast ratio of two CSS rgb()/rgba() colours. */
function contrast(a, b) {
  const luminance = (css) => {
    const [r, g, bl] = css.match(/[\d.]+/g).slice(0, 3).map(Number).map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

test("the pager is readable: its text contrasts with what is behind it", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/`);
  const colours = await page.evaluate(() => {
    const text = document.querySelector("nav.pager span");
    let el = text;
    let background = "rgba(0, 0, 0, 0)";
    while (el) {
      const bg = getComputedStyle(el).backgroundColor;
      if (bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent") {
        background = bg;
        break;
      }
      el = el.parentElement;
    }
    if (background === "rgba(0, 0, 0, 0)") background = "rgb(255, 255, 255)";
    const link = document.querySelector("nav.pager a");
    return { text: getComputedStyle(text).color, link: getComputedStyle(link).color, background };
  });
  assert.ok(contrast(colours.text, colours.background) >= 4.5, JSON.stringify(colours));
  assert.ok(contrast(colours.link, colours.background) >= 4.5, JSON.stringify(colours));
  await page.close();
});

test("a group shows a control that turns when it expands", async () => {
  const page = await browser.newPage();
  await page.goto(`${gw.base}/?q=alpha`);
  const marker = () =>
    page.evaluate(() => {
      const style = getComputedStyle(document.querySelector("details.group > summary"), "::before");
      return { content: style.content, transform: style.transform, width: style.width };
    });
  const closed = await marker();
  assert.notEqual(closed.content, "none", JSON.stringify(closed));
  assert.notEqual(closed.content, '""', JSON.stringify(closed));
  await page.locator("details.group summary").click();
  await page.waitForSelector("section.family");
  await page.waitForTimeout(250);
  const open = await marker();
  assert.notEqual(open.transform, closed.transform, "the control turns when open");
  await page.close();
});

test("a long label value is cut, and can be shown whole without opening the group", async () => {
  const own = await startGateway("");
  try {
    const long = "v".repeat(60000);
    await push(own, `job/long/path/${long}`, "m 1\n");
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1100, height: 700 });
    await page.goto(`${own.base}/`);
    const group = page.locator("details.group");
    const height = async () => (await group.locator("summary").boundingBox()).height;
    assert.ok((await height()) < 120, `the cut summary is ${await height()} px high`);
    assert.ok(!(await group.locator(".labels").evaluate((e) => e.innerText)).includes(long));
    const button = group.locator("button.whole");
    assert.match(await button.textContent(), /show all 60000 characters/);
    await button.click();
    assert.equal(await group.evaluate((d) => d.open), false, "the group stays closed");
    const shown = () => group.locator(".labels").evaluate((e) => e.innerText);
    assert.ok((await shown()).includes(long), "whole value shown");
    assert.match(await button.textContent(), /show less/);
    await button.click();
    assert.ok((await height()) < 120, "cut again");
    assert.ok(!(await shown()).includes(long), "cut again");
    const favicon = await page.getAttribute("link[rel=icon]", "href");
    const response = await fetch(new URL(favicon, `${own.base}/`));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "image/svg+xml");
    assert.match(await response.text(), /^<svg/);
    await page.close();
  } finally {
    own.proc.kill();
  }
});

test("a group with a TTL says when it expires; one without says nothing of it", async () => {
  const own = await startGateway("");
  try {
    const r = await fetch(`${own.base}/metrics/job/expiring`, {
      method: "PUT",
      body: "m 1\n",
      headers: { "Pushgateway-TTL": "2h" },
    });
    assert.equal(r.status, 200, await r.text());
    await push(own, "job/lasting", "m 1\n");
    const page = await browser.newPage();
    await page.goto(`${own.base}/`);
    const expiring = page.locator("details.group", { hasText: "expiring" });
    const shown = await expiring.locator(".expires").innerText();
    assert.match(shown, /^expires in 1 h 59 min$|^expires in 2 h 0 min$/);
    assert.ok(await expiring.locator(".expires").isVisible());
    const lasting = page.locator("details.group", { hasText: "lasting" });
    assert.equal(await lasting.locator(".expires").count(), 0);
    await page.close();
  } finally {
    own.proc.kill();
  }
});
