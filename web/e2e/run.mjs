// End-to-end scenarios for the browser app, run by web/e2e_test.go:
//
//	node e2e/run.mjs SCENARIO
//
// with PARLEY_URL (parleyd serving the embedded app), PARLEY_CONTROL (the
// test's stop/start endpoint), PARLEY_CHROMIUM and PARLEY_SCREENSHOTS. Exits
// non-zero on failure; a last line "SKIP reason" asks the Go test to skip.
import { chromium } from "playwright-core";
import { randomBytes, createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";

const url = process.env.PARLEY_URL;
const control = process.env.PARLEY_CONTROL;
const shots = process.env.PARLEY_SCREENSHOTS;
const scenario = process.argv[2];
const tag = randomBytes(3).toString("hex");
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

class Skip extends Error {}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

async function launch() {
  return chromium.launch({
    executablePath: process.env.PARLEY_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

// user opens the app in a fresh browser context, picks the transport with
// the visible switches and signs up (or, with signIn, signs in).
async function user(browser, name, { protocol = "connect", codec = "json", viewport = desktop, touch = false, signIn = false } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, hasTouch: touch, isMobile: touch });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`[${name}] page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`[${name}] console: ${m.text()}`); });
  await page.goto(url);
  await pickTransport(page, protocol, codec);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: signIn ? "Sign in" : "Create account" }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  return { name, context, page };
}

async function pickTransport(page, protocol, codec) {
  await page.getByRole("radio", { name: protocol === "grpcweb" ? "gRPC-Web" : "Connect" }).check();
  await page.getByRole("radio", { name: codec === "binary" ? "Binary" : "JSON" }).check();
}

async function createRoom(page, name) {
  await page.getByLabel("New room").fill(name);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.locator("#room-title", { hasText: name }).waitFor();
  await live(page);
}

async function openRoom(page, name) {
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator(`button[data-room="${name}"]`).click();
  await page.locator("#room-title", { hasText: name }).waitFor();
  await live(page);
}

async function live(page, timeout = 15000) {
  await page.locator('#conn[data-state="live"]').waitFor({ timeout });
}

async function send(page, text) {
  await page.getByRole("textbox", { name: /^Message / }).fill(text);
  await page.keyboard.press("Enter");
  await seen(page, text);
}

async function seen(page, text, timeout = 10000) {
  await page.locator("#timeline li[data-seq] .text", { hasText: text }).first().waitFor({ timeout });
}

// timeline reads the confirmed messages as shown, in order.
async function timeline(page) {
  return page.$$eval("#timeline li[data-seq]", (lis) =>
    lis.map((li) => ({ seq: Number(li.dataset.seq), text: li.querySelector(".text")?.textContent ?? "" })));
}

function assertContiguous(items, what) {
  items.forEach((m, i) => assert(m.seq === i + 1, `${what}: seq ${m.seq} at position ${i + 1} (${JSON.stringify(items.map((x) => x.seq))})`));
  const texts = items.map((m) => m.text);
  assert(new Set(texts).size === texts.length, `${what}: a message is shown twice: ${JSON.stringify(texts)}`);
}

// token reads the session token the way only the browser itself can: from
// the HttpOnly cookie, which page script cannot see.
async function token(page) {
  const cookie = (await page.context().cookies(url)).find((c) => c.name === "parley_session");
  assert(cookie, "no session cookie");
  return cookie.value;
}

async function roomId(page) {
  return page.evaluate(() => location.hash.replace("#/rooms/", ""));
}

async function shot(page, name) {
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  console.log(`screenshot ${name}.png`);
}

// rpcContentTypes records the Content-Type of every API request of a page.
function rpcContentTypes(page) {
  const seen = new Set();
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/parley.v1.")) seen.add(r.headers()["content-type"]);
  });
  return seen;
}

// attach picks files in the composer and waits until all are uploaded.
async function attach(page, files) {
  await page.locator("#attach").setInputFiles(files);
  await waitUploads(page, files.length);
}

async function waitUploads(page, n) {
  const failed = page.locator('.upload[data-state="failed"]');
  const done = page.locator('.upload[data-state="done"]');
  for (let i = 0; (await done.count()) < n; i++) {
    if (await failed.count()) {
      const why = await failed.first().innerText();
      if (/unimplemented/i.test(why)) throw new Skip(`FileService is not implemented by the server yet (upload said: ${why.replace(/\s+/g, " ")})`);
      throw new Error(`upload failed: ${why}`);
    }
    assert(i < 200, "uploads did not finish");
    await page.waitForTimeout(100);
  }
}

// ---------- scenarios ----------

// chat: two people sign up in their own browser contexts, join one room and
// each sees the other's message live, over the chosen protocol and codec.
async function chat(browser, protocol, codec, wantTypes) {
  const a = await user(browser, `ann-${tag}`, { protocol, codec });
  const types = rpcContentTypes(a.page);
  const room = `chat-${protocol}-${tag}`;
  await createRoom(a.page, room);
  const b = await user(browser, `bob-${tag}`, { protocol, codec });
  await openRoom(b.page, room);
  // Ann sees Bob join in the member list.
  await a.page.locator(`#members li[data-user="${b.name}"]`).waitFor();

  await send(a.page, `hello from ann over ${protocol}`);
  await seen(b.page, `hello from ann over ${protocol}`);
  await send(b.page, `hi ann, bob here (${codec})`);
  await seen(a.page, `hi ann, bob here (${codec})`);
  const used = [...types].sort();
  assert(JSON.stringify(used) === JSON.stringify([...wantTypes].sort()), `requests used ${used.join(", ")}, want ${wantTypes.join(", ")}`);
  console.log(`content types: ${used.join(", ")}`);
  // Switching transport mid-conversation resumes from the last seq.
  const other = protocol === "connect" ? ["grpcweb", "binary"] : ["connect", "json"];
  await pickTransport(a.page, ...other);
  await live(a.page);
  await send(b.page, "after ann switched transport");
  await seen(a.page, "after ann switched transport");
  for (const p of [a.page, b.page]) assertContiguous(await timeline(p), "timeline");
}

// curlPost: a message sent as plain Connect JSON, as curl would, shows up
// live in the open page.
async function curlPost(browser) {
  const a = await user(browser, `cat-${tag}`);
  await createRoom(a.page, `curl-${tag}`);
  const res = await fetch(`${url}/parley.v1.MessageService/SendMessage`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token(a.page)}` },
    body: JSON.stringify({ room_id: await roomId(a.page), text: "posted with curl", client_message_id: `curl-${tag}` }),
  });
  assert(res.ok, `SendMessage answered ${res.status}: ${await res.text()}`);
  await seen(a.page, "posted with curl");

  // History beyond the newest 100 is a click away, without gaps.
  const rid = await roomId(a.page);
  const tok = await token(a.page);
  for (let i = 0; i < 110; i++) {
    const r = await fetch(`${url}/parley.v1.MessageService/SendMessage`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${tok}` },
      body: JSON.stringify({ room_id: rid, text: `bulk ${i}`, client_message_id: `bulk-${tag}-${i}` }),
    });
    assert(r.ok, `bulk send ${i}: ${r.status}`);
  }
  await seen(a.page, "bulk 109");
  await a.page.reload();
  await seen(a.page, "bulk 109");
  let items = await timeline(a.page);
  assert(items.length === 100 && items[0].seq === 12, `after reload: ${items.length} messages from seq ${items[0]?.seq}`);
  await a.page.getByRole("button", { name: "Load earlier messages" }).click();
  await seen(a.page, "posted with curl");
  items = await timeline(a.page);
  assertContiguous(items, "after loading earlier");
  assert(items.length === 111, `want 111 messages, got ${items.length}`);
}

// restart: the server stops while the page is open; the page says it is
// reconnecting; messages are posted while it cannot see them; the server
// comes back and the page shows them, nothing missing or doubled.
async function restart(browser) {
  const a = await user(browser, `dan-${tag}`);
  await createRoom(a.page, `restart-${tag}`);
  await send(a.page, "before 1");
  await send(a.page, "before 2");
  const body = { token: await token(a.page), roomId: await roomId(a.page), texts: ["while down 1", "while down 2", "while down 3"] };

  assert((await fetch(`${control}/stop`, { method: "POST" })).ok, "stop");
  await a.page.locator('#conn[data-state="reconnecting"]').waitFor({ timeout: 10000 });
  // A message typed now waits, and is retried with the same
  // client_message_id until the server is back.
  await a.page.getByRole("textbox", { name: /^Message / }).fill("typed while down");
  await a.page.keyboard.press("Enter");
  await a.page.locator('#timeline li[data-pending="sending"]', { hasText: "typed while down" }).waitFor();
  await shot(a.page, "desktop-reconnecting");
  const started = await fetch(`${control}/start`, { method: "POST", body: JSON.stringify(body) });
  assert(started.ok, `start: ${await started.text()}`);

  await live(a.page, 20000);
  await seen(a.page, "while down 3");
  await seen(a.page, "typed while down", 20000);
  await send(a.page, "after restart");
  const items = await timeline(a.page);
  assertContiguous(items, "after restart");
  assert(await a.page.locator("#timeline li[data-pending]").count() === 0, "a message is still pending");
  const texts = items.map((m) => m.text);
  assert(JSON.stringify(texts) === JSON.stringify(["before 1", "before 2", "while down 1", "while down 2", "while down 3", "typed while down", "after restart"]),
    `timeline after restart: ${JSON.stringify(texts)}`);
}

// eventsource: a page's EventSource, opened with a stream ticket the page
// got with its session cookie, receives messages live and, when the server
// restarts, reconnects by itself (with Last-Event-ID) and misses nothing of
// what was posted while it was down.
async function eventSource(browser) {
  const a = await user(browser, `eve-${tag}`);
  await createRoom(a.page, `sse-${tag}`);
  const rid = await roomId(a.page);
  const tok = await token(a.page);
  const post = async (text) => {
    const r = await fetch(`${url}/v1/rooms/${rid}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${tok}` },
      body: JSON.stringify({ text, client_message_id: `sse-${tag}-${text.replaceAll(" ", "-")}` }),
    });
    assert(r.ok, `POST messages answered ${r.status}: ${await r.text()}`);
  };
  await a.page.evaluate(async (rid) => {
    const res = await fetch(`/v1/rooms/${rid}/stream-tickets`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    if (!res.ok) throw new Error(`CreateStreamTicket answered ${res.status}: ${await res.text()}`);
    const { ticket } = await res.json();
    const sse = { events: [], opens: 0, errors: [] };
    window.sse = sse;
    const es = new EventSource(`/v1/rooms/${rid}/events?ticket=${encodeURIComponent(ticket)}`);
    sse.state = () => es.readyState;
    es.onopen = () => { sse.opens++; };
    es.onmessage = (e) => {
      const ev = JSON.parse(e.data);
      if (ev.message) sse.events.push({ id: e.lastEventId, seq: Number(ev.message.seq), text: ev.message.text });
    };
    es.addEventListener("error", (e) => { sse.errors.push(e.data ?? `connection error, readyState ${es.readyState}`); });
  }, rid);
  const events = (n, timeout = 20000) => a.page.waitForFunction((n) => window.sse.events.length >= n, n, { timeout });

  await post("live 1");
  await post("live 2");
  await events(2);
  const body = { token: tok, roomId: rid, texts: ["while down 1", "while down 2", "while down 3"] };
  assert((await fetch(`${control}/stop`, { method: "POST" })).ok, "stop");
  const started = await fetch(`${control}/start`, { method: "POST", body: JSON.stringify(body) });
  assert(started.ok, `start: ${await started.text()}`);
  await events(5, 30000);
  await post("after restart");
  await events(6);

  const sse = await a.page.evaluate(() => ({ events: window.sse.events, opens: window.sse.opens, errors: window.sse.errors, state: window.sse.state() }));
  console.log(`EventSource: ${sse.opens} opens, errors ${JSON.stringify(sse.errors)}`);
  assertContiguous(sse.events, "EventSource");
  assert(sse.events.every((e) => e.id === String(e.seq)), `ids are not the seqs: ${JSON.stringify(sse.events)}`);
  assert(JSON.stringify(sse.events.map((e) => e.text)) === JSON.stringify(["live 1", "live 2", "while down 1", "while down 2", "while down 3", "after restart"]),
    `EventSource got ${JSON.stringify(sse.events)}`);
  assert(sse.opens >= 2, `EventSource opened ${sse.opens} times; it never reconnected`);
  assert(sse.state !== 2, "EventSource gave up (CLOSED)");
  assert(sse.errors.some((e) => e.includes('"code":14') && e.includes("StreamPosition")), `no unavailable error event with a StreamPosition at shutdown: ${JSON.stringify(sse.errors)}`);
  await a.context.close();
}

// attachment: Ann uploads a file and an image; Bob downloads the file and
// gets the same bytes, and sees the image inline.
async function attachment(browser) {
  const a = await user(browser, `eve-${tag}`);
  const room = `files-${tag}`;
  await createRoom(a.page, room);
  const b = await user(browser, `fay-${tag}`, { protocol: "grpcweb", codec: "binary" });
  await openRoom(b.page, room);

  const data = randomBytes(700 * 1024 + 13); // three chunks and a bit
  const png = await a.page.screenshot({ clip: { x: 0, y: 0, width: 320, height: 120 } });
  // Progress shows while the chunks go out.
  const progress = [];
  await a.page.exposeFunction("recordProgress", (v) => progress.push(v));
  await a.page.evaluate(() => new MutationObserver(() => {
    const p = document.querySelector('.upload[data-name="report.bin"] progress');
    if (p) window.recordProgress(p.value);
  }).observe(document.getElementById("uploads"), { childList: true, subtree: true }));
  await attach(a.page, [
    { name: "report.bin", mimeType: "application/octet-stream", buffer: data },
    { name: "header.png", mimeType: "image/png", buffer: png },
  ]);
  assert(progress.some((v) => v > 0 && v < data.length), `no intermediate progress seen: ${JSON.stringify(progress)}`);
  await a.page.getByRole("textbox", { name: /^Message / }).fill("two files");
  await a.page.keyboard.press("Enter");
  await seen(b.page, "two files");

  const link = b.page.locator("a.attachment.file", { hasText: "report.bin" });
  const [download] = await Promise.all([b.page.waitForEvent("download"), link.click()]);
  const got = await readFile(await download.path());
  assert(got.length === data.length, `downloaded ${got.length} bytes, want ${data.length}`);
  const sum = (x) => createHash("sha256").update(x).digest("hex");
  assert(sum(got) === sum(data), "downloaded bytes differ from the upload");
  const img = b.page.locator("img.inline-image");
  await img.waitFor();
  await b.page.waitForFunction(() => document.querySelector("img.inline-image")?.naturalWidth > 0);
  console.log(`downloaded ${got.length} bytes, sha256 matches; image shown inline`);
}

// images: a room of 40 images, open in two tabs of one user, on a parleyd
// allowing 4 open streams per user (web/e2e_test.go). Each tab downloads 4
// at a time and tries a download the quota refuses again after the
// RetryInfo delay, so every image shows, none broken.
async function images(browser) {
  const a = await user(browser, `gus-${tag}`);
  await createRoom(a.page, `images-${tag}`);
  const id = await roomId(a.page);
  const png = await a.page.screenshot({ clip: { x: 0, y: 0, width: 64, height: 48 } });
  const started = Date.now();
  for (let m = 0; m < 4; m++) {
    const files = Array.from({ length: 10 }, (_, i) => ({ name: `img-${m * 10 + i}.png`, mimeType: "image/png", buffer: png }));
    await attach(a.page, files);
    await a.page.getByRole("textbox", { name: /^Message / }).fill(`images ${m}`);
    await a.page.keyboard.press("Enter");
    await seen(a.page, `images ${m}`);
    await a.page.locator(".upload").first().waitFor({ state: "detached" });
  }
  const tab = await a.context.newPage();
  const refused = [];
  tab.on("response", async (r) => {
    if (new URL(r.url()).pathname.endsWith("/Download")) {
      const body = await r.text().catch(() => "");
      if (body.includes("resource_exhausted")) refused.push(r.url());
    }
  });
  await tab.goto(`${url}/#/rooms/${id}`);
  await tab.locator("#room-title", { hasText: `images-${tag}` }).waitFor();
  const shown = (p) => p.evaluate(() => [...document.querySelectorAll("img.inline-image")].filter((i) => i.naturalWidth > 0).length);
  for (const p of [a.page, tab]) {
    await p.waitForFunction(() => [...document.querySelectorAll("img.inline-image")].filter((i) => i.naturalWidth > 0).length === 40, null, { timeout: 60000 });
    const broken = await p.locator("img.inline-image[alt$='(could not load)']").count();
    assert(broken === 0, `${broken} images could not load`);
  }
  console.log(`40 images shown in both tabs (${await shown(a.page)}, ${await shown(tab)}) in ${Date.now() - started} ms; ` +
    `${refused.length} Download answers in the second tab were resource_exhausted and tried again`);
}

// xssPayload is script that, wherever it runs, reports what it could read
// (document.cookie, localStorage) every way it can: a request to
// /xss-report (the test intercepts it), a mark in localStorage, a property
// on its opener or top window, a console line and the page title.
const xssPayload = `(function(){var r={origin:location.origin,href:location.href,cookie:document.cookie,storage:{}};` +
  `try{for(var i=0;i<localStorage.length;i++){var k=localStorage.key(i);r.storage[k]=localStorage.getItem(k)}}catch(e){}` +
  `var j=JSON.stringify(r);try{localStorage.setItem("parley.xss",j)}catch(e){}` +
  `try{if(window.opener)window.opener.xssRan=j}catch(e){}try{if(top!==window)top.xssRan=j}catch(e){}` +
  `console.log("XSS-RAN "+j);try{navigator.sendBeacon("/xss-report",j)}catch(e){}` +
  `try{new Image().src="/xss-report?"+encodeURIComponent(j)}catch(e){}try{document.title="PWNED"}catch(e){}})()`;
const evilHTML = `<!doctype html><title>evil</title><h1>evil page</h1><script>${xssPayload}</script>` +
  `<img src="data:," onerror='${xssPayload}'><svg onload='${xssPayload}'></svg>`;
const evilSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80" onload='${xssPayload}'>` +
  `<script>${xssPayload.replace(/</g, "&lt;")}</script><text x="10" y="40">evil svg</text></svg>`;

// xss: an attacker uploads HTML and SVG carrying script (declared
// text/html, image/svg+xml, and HTML declared image/png); the victim opens
// each every way the app offers: clicking the link, the link's URL in a
// new tab and as a popup of the app, the inline image and its URL in a
// tab. No script of the uploader runs in the app's origin, and the
// session token is out of page script's reach.
async function xss(browser) {
  const mallory = await user(browser, `mal-${tag}`);
  const room = `xss-${tag}`;
  await createRoom(mallory.page, room);
  const victim = await user(browser, `vic-${tag}`);
  await openRoom(victim.page, room);
  const { context, page } = victim;

  // Every way the payload reports, on every page of the victim's context.
  const reports = [];
  await context.route("**/xss-report**", (r) => { reports.push(r.request().postData() || r.request().url()); return r.fulfill({ status: 204 }); });
  const watch = (p) => p.on("console", (m) => { if (m.text().startsWith("XSS-RAN")) reports.push(m.text()); });
  context.on("page", watch);
  watch(page);
  const ran = async () => {
    await page.waitForTimeout(500);
    const opened = [];
    for (const p of context.pages()) opened.push(await p.title().catch(() => ""));
    const marks = await page.evaluate(() => ({ mark: localStorage.getItem("parley.xss"), opener: window.xssRan ?? null }));
    return [...reports, ...opened.filter((t) => t === "PWNED").map(() => "a page titled PWNED"), ...[marks.mark, marks.opener].filter(Boolean)];
  };

  // The oracles work: the same HTML opened as a blob: of this origin from a
  // page without the app's CSP (a 404) runs and is seen.
  {
    const probe = await context.newPage();
    await probe.goto(`${url}/no-such-file.txt`);
    const popup = context.waitForEvent("page");
    await probe.evaluate((html) => window.open(URL.createObjectURL(new Blob([html], { type: "text/html" }))), evilHTML);
    const opened = await popup;
    await opened.waitForLoadState();
    await shot(opened, "xss-control-unprotected-blob");
    const seen = await ran();
    assert(seen.length > 0, "the control payload ran unnoticed: the oracles do not work");
    console.log(`control: an unprotected blob: document of this origin ran the payload (${seen.length} reports, e.g. ${seen[0].slice(0, 120)})`);
    reports.length = 0;
    await page.evaluate(() => { localStorage.removeItem("parley.xss"); delete window.xssRan; });
    await opened.close();
    await probe.close();
  }
  // blobType reads the type of one of the app's blob: URLs from a page of
  // the origin without the app's CSP (whose connect-src rules out blob:).
  const inspector = await context.newPage();
  await inspector.goto(`${url}/no-such-file.txt`);
  const blobType = (href) => inspector.evaluate(async (h) => (await fetch(h)).headers.get("content-type"), href);

  const files = [
    { name: "invoice.html", mimeType: "text/html", buffer: Buffer.from(evilHTML) },
    { name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from(evilSVG) },
    { name: "cat.png", mimeType: "image/png", buffer: Buffer.from(evilHTML) },
  ];
  await attach(mallory.page, files);
  await mallory.page.getByRole("textbox", { name: /^Message / }).fill("see attached");
  await mallory.page.keyboard.press("Enter");
  await seen(page, "see attached");

  // urlOf finds how the app shows a file (a link, or an inline image),
  // has it ready as the app would (a click on a link saves the file) and
  // returns the blob: URL the app uses for it.
  const urlOf = async (f) => {
    const img = page.locator(`img.inline-image[alt="${f.name}"]`);
    if (await img.count()) {
      await page.waitForFunction((n) => [...document.querySelectorAll("img.inline-image")].some((i) => i.alt === n && i.src.startsWith("blob:")), f.name);
      return { how: "inline image", url: await img.getAttribute("src") };
    }
    const link = page.locator("a.attachment.file", { hasText: f.name });
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const got = await readFile(await download.path());
    assert(got.equals(f.buffer), `${f.name}: downloaded bytes differ`);
    return { how: "download link", url: await link.getAttribute("href"), link };
  };
  await page.waitForTimeout(300);
  const shown = {};
  for (const f of files) {
    const { how, url: href, link } = await urlOf(f);
    shown[f.name] = how;
    assert(href.startsWith("blob:" + url), `${f.name}: the app uses ${href}`);
    // Its URL in a new tab, as "Open link/image in new tab" or a pasted URL.
    const tab = await context.newPage();
    const saved = tab.waitForEvent("download", { timeout: 3000 }).then(() => true, () => false);
    const doc = await tab.goto(href).then(() => "shown", (e) => (/download/i.test(e.message) ? "saved" : e.message));
    await tab.waitForTimeout(300);
    await shot(tab, `xss-tab-${f.name.replace(/\W/g, "-")}`);
    const tabType = doc === "shown" ? await tab.evaluate(() => document.contentType) : "";
    await tab.close();
    // As a popup of the app, with an opener to reach back into.
    await page.evaluate((h) => { window.open(h); }, href);
    // A middle click on the link.
    if (link) await link.click({ button: "middle" });
    const leaked = await ran();
    assert(leaked.length === 0, `${f.name} (${how}): the uploader's script ran in the app's origin: ${leaked.join(" | ")}`);
    const type = await blobType(href);
    console.log(`${f.name} (declared ${f.mimeType}): ${how}, blob typed ${type}; in a new tab ${doc}${tabType ? " as " + tabType : ""}${(await saved) ? " (downloaded)" : ""}; no script ran`);
    if (f.mimeType === "image/png") {
      assert(type === "image/png" && (doc !== "shown" || tabType === "image/png"), `${f.name}: blob ${type}, tab ${tabType}`);
    } else {
      assert(type === "application/octet-stream" && doc === "saved", `${f.name}: blob typed ${type}, in a tab ${doc}`);
    }
  }
  await page.bringToFront();
  await shot(page, "xss-room");
  // Only the raster type is an inline image, and HTML passed for a PNG
  // does not decode; HTML and SVG are download links.
  assert(JSON.stringify(shown) === JSON.stringify({ "invoice.html": "download link", "logo.svg": "download link", "cat.png": "inline image" }), `shown as ${JSON.stringify(shown)}`);
  assert(await page.locator("img.inline-image").evaluate((el) => el.naturalWidth) === 0, "the HTML passed for a PNG decoded as an image");

  // The token is out of page script's reach.
  const seenByScript = await page.evaluate(() => ({ cookie: document.cookie, storage: JSON.stringify({ ...localStorage }) }));
  const cookie = (await context.cookies(url)).find((c) => c.name === "parley_session");
  assert(cookie && cookie.httpOnly && cookie.sameSite === "Strict", `session cookie ${JSON.stringify(cookie)}`);
  assert(!seenByScript.cookie.includes(cookie.value) && !seenByScript.cookie.includes("pt_"), `document.cookie shows the token: ${seenByScript.cookie}`);
  assert(!seenByScript.storage.includes(cookie.value) && !seenByScript.storage.includes("pt_"), `localStorage holds the token: ${seenByScript.storage}`);
  console.log(`page script sees document.cookie=${JSON.stringify(seenByScript.cookie)} localStorage=${seenByScript.storage}; the HttpOnly SameSite=Strict cookie holds the token`);

  // The app's own page runs under a strict CSP.
  const csp = (await (await fetch(url)).headers.get("content-security-policy")) || "";
  for (const d of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
    assert(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  }
}

// messageItem is the confirmed message of the open room showing text.
function messageItem(page, text) {
  return page.locator("#timeline li[data-seq]", { has: page.locator(".text", { hasText: text }) });
}

// unread waits until the room list shows count unread beside room (0: no
// badge). The counts are read every 5 s.
async function unread(page, room, count, timeout = 15000) {
  await page.locator(`button[data-room="${room}"][data-unread="${count}"]`).waitFor({ timeout });
  const badge = await page.locator(`button[data-room="${room}"] .unread`).count();
  assert(badge === (count > 0 ? 1 : 0), `${room}: ${badge} badges for ${count} unread`);
}

// deletedShown checks that the message at seq shows as deleted, its text
// nowhere on the page.
async function deletedShown(page, seq, text) {
  await page.locator(`#timeline li[data-seq="${seq}"][data-deleted]`, { hasText: "Message deleted" }).waitFor();
  assert(await page.locator("#timeline", { hasText: text }).count() === 0, `the deleted text "${text}" is still shown`);
}

// edits: Ann edits one of her messages (by keyboard: Escape cancels, Enter
// saves) and deletes another (with a confirmation); Bob sees both live.
// Bob's unread badges count up while another room is open and clear when
// he opens the room; a reload keeps all of it, and shows what was posted
// while he was away.
async function edits(browser) {
  const a = await user(browser, `ivy-${tag}`);
  const b = await user(browser, `jon-${tag}`, { protocol: "grpcweb", codec: "binary" });
  const main = `edits-${tag}`, news = `news-${tag}`, lobby = `lobby-${tag}`;
  await createRoom(a.page, news);
  await createRoom(a.page, main);
  await createRoom(b.page, lobby);
  await openRoom(b.page, news);
  await openRoom(b.page, main);
  await send(a.page, "frist draft");
  await send(a.page, "to be removed");
  await send(a.page, "stays as it is");
  await seen(b.page, "stays as it is");
  assert(await messageItem(b.page, "frist draft").getByRole("button").count() === 0, "Bob is offered to change Ann's message");

  // Edit by keyboard: Escape leaves the text as it was, Enter saves.
  const draft = messageItem(a.page, "frist draft");
  const draftSeq = await draft.getAttribute("data-seq");
  await draft.hover();
  await shot(a.page, "edits-actions");
  await draft.getByRole("button", { name: "Edit message" }).focus();
  await a.page.keyboard.press("Enter");
  const editor = a.page.getByRole("textbox", { name: "Edit message" });
  assert(await editor.evaluate((el) => el === document.activeElement), "the editor is not focused");
  await a.page.keyboard.type(" (never saved)");
  await a.page.keyboard.press("Escape");
  await editor.waitFor({ state: "detached" });
  assert(await draft.locator(".text").innerText() === "frist draft", "Escape did not cancel the edit");
  assert(await a.page.evaluate(() => document.activeElement?.getAttribute("aria-label")) === "Edit message", "focus did not go back to Edit");
  await a.page.keyboard.press("Enter");
  await a.page.keyboard.press("ControlOrMeta+a");
  await a.page.keyboard.type("first draft, fixed");
  await shot(a.page, "edits-editing");
  await a.page.keyboard.press("Enter");
  for (const p of [a.page, b.page]) {
    await p.locator(`#timeline li[data-seq="${draftSeq}"][data-edited]`, { hasText: "first draft, fixed" }).waitFor();
  }
  assert(await b.page.locator(`#timeline li[data-seq="${draftSeq}"] .edited`).innerText() === "(edited)", "no edited mark");

  // Delete, after a confirmation.
  const doomed = messageItem(a.page, "to be removed");
  const doomedSeq = await doomed.getAttribute("data-seq");
  await doomed.hover();
  await doomed.getByRole("button", { name: "Delete message" }).click();
  const confirm = a.page.getByRole("group", { name: "Confirm deletion" });
  await confirm.waitFor();
  await shot(a.page, "edits-confirm-delete");
  await confirm.getByRole("button", { name: "Delete", exact: true }).click();
  await deletedShown(a.page, doomedSeq, "to be removed");
  await deletedShown(b.page, doomedSeq, "to be removed");
  await shot(b.page, "edits-seen-live");
  // Arrow Up in the empty composer edits the latest message not deleted;
  // Escape goes back to the composer.
  await a.page.getByRole("textbox", { name: /^Message / }).focus();
  await a.page.keyboard.press("ArrowUp");
  assert(await editor.inputValue() === "stays as it is", `Arrow Up edits ${JSON.stringify(await editor.inputValue())}`);
  await a.page.keyboard.press("Escape");
  await editor.waitFor({ state: "detached" });
  assert(await a.page.evaluate(() => document.activeElement?.id) === "composer-text", "focus did not go back to the composer");

  // Unread counts while Bob is in another room; edits and deletions are no
  // new messages, and his own do not count.
  await openRoom(b.page, lobby);
  await unread(b.page, main, 0);
  await send(a.page, "unread 1");
  await unread(b.page, main, 1);
  await send(a.page, "unread 2");
  await unread(b.page, main, 2);
  await openRoom(a.page, news);
  await send(a.page, "news 1");
  await unread(b.page, news, 1);
  await shot(b.page, "edits-unread");
  await b.page.locator(`button[data-room="${main}"]`).click();
  await seen(b.page, "unread 2");
  await unread(b.page, main, 0);
  await unread(b.page, news, 1);
  await openRoom(b.page, lobby);

  // Bob goes away; Ann posts; Bob comes back.
  const lobbyId = await roomId(b.page);
  await b.page.close();
  await send(a.page, "news 2");
  await send(a.page, "news 3");
  b.page = await b.context.newPage();
  await b.page.goto(`${url}/#/rooms/${lobbyId}`);
  await live(b.page);
  await unread(b.page, news, 3, 5000);
  await unread(b.page, main, 0, 5000);
  await shot(b.page, "edits-after-reload");
  await b.page.locator(`button[data-room="${main}"]`).click();
  await b.page.locator(`#timeline li[data-seq="${draftSeq}"][data-edited]`, { hasText: "first draft, fixed" }).waitFor();
  await deletedShown(b.page, doomedSeq, "to be removed");
  await b.page.locator(`button[data-room="${news}"]`).click();
  await seen(b.page, "news 3");
  await b.page.reload();
  await live(b.page);
  await unread(b.page, news, 0, 5000);
  await unread(b.page, main, 0, 5000);
  // Ann's page, reloaded, shows the same.
  await openRoom(a.page, main);
  await a.page.reload();
  await a.page.locator(`#timeline li[data-seq="${draftSeq}"][data-edited]`, { hasText: "first draft, fixed" }).waitFor();
  await deletedShown(a.page, doomedSeq, "to be removed");
  await shot(a.page, "edits-ann-reloaded");

  // On a touch phone the buttons show without hovering.
  const phoneAnn = await user(browser, a.name, { viewport: phone, touch: true, signIn: true });
  await phoneAnn.page.locator(`button[data-room="${main}"]`).click();
  const last = messageItem(phoneAnn.page, "unread 2");
  await last.getByRole("button", { name: "Edit message" }).waitFor();
  assert(await last.locator(".actions").evaluate((el) => getComputedStyle(el).opacity) === "1", "the buttons are hidden on a touch screen");
  await shot(phoneAnn.page, "edits-phone");
  await last.getByRole("button", { name: "Edit message" }).tap();
  await phoneAnn.page.getByRole("textbox", { name: "Edit message" }).waitFor();
  await shot(phoneAnn.page, "edits-phone-editing");
}

// editWindow: on a parleyd with a 1 s edit window (web/e2e_test.go), an edit
// too late is refused and the editor says why, keeping the text typed. The
// room's creator may delete someone else's message, not edit it.
async function editWindow(browser) {
  const a = await user(browser, `kai-${tag}`);
  const b = await user(browser, `lea-${tag}`);
  const room = `window-${tag}`;
  await createRoom(b.page, room);
  await openRoom(a.page, room);
  await send(a.page, "written in haste");
  await a.page.waitForTimeout(1500);
  const seq = await messageItem(a.page, "written in haste").getAttribute("data-seq");
  const item = a.page.locator(`#timeline li[data-seq="${seq}"]`);
  await item.hover();
  await item.getByRole("button", { name: "Edit message" }).click();
  await a.page.getByRole("textbox", { name: "Edit message" }).fill("regretted at leisure");
  await a.page.keyboard.press("Enter");
  const error = item.getByRole("alert");
  await error.waitFor();
  const why = await error.innerText();
  assert(/^Not saved: .*edit window.*passed/.test(why), `the editor says ${JSON.stringify(why)}`);
  assert(await a.page.getByRole("textbox", { name: "Edit message" }).inputValue() === "regretted at leisure", "the text typed is lost");
  await shot(a.page, "edit-window-refused");
  await a.page.keyboard.press("Escape");
  assert(await item.locator(".text").innerText() === "written in haste", "the refused edit shows");

  const theirs = messageItem(b.page, "written in haste");
  await theirs.hover();
  assert(await theirs.getByRole("button", { name: "Edit message" }).count() === 0, "the creator is offered to edit another's message");
  await theirs.getByRole("button", { name: "Delete message" }).click();
  await b.page.getByRole("group", { name: "Confirm deletion" }).getByRole("button", { name: "Delete", exact: true }).click();
  await deletedShown(a.page, seq, "written in haste");
}

// screenshots: the main screens at desktop and phone width.
async function screenshots(browser) {
  for (const [label, viewport] of [["desktop", desktop], ["phone", phone]]) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel("Username").waitFor();
    await shot(page, `${label}-signin`);
    await context.close();
  }
  const room = `general-${tag}`;
  const a = await user(browser, `gus-${tag}`);
  await createRoom(a.page, room);
  await createRoom(a.page, `random-${tag}`);
  await openRoom(a.page, room);
  const b = await user(browser, `hal-${tag}`, { viewport: phone, protocol: "grpcweb", codec: "binary" });
  await openRoom(b.page, room);
  await send(a.page, "Morning! Did the deploy go out?");
  await send(b.page, "Yes, 10 minutes ago. Dashboards look calm.");
  await send(a.page, "Great. A longer message to see how wrapping behaves when somebody writes a whole paragraph about the release notes, the migration and what comes next.");
  await seen(b.page, "what comes next");
  await attach(a.page, [
    { name: "release-notes.txt", mimeType: "text/plain", buffer: Buffer.from("Release notes\n".repeat(200)) },
    { name: "rooms.png", mimeType: "image/png", buffer: await a.page.screenshot({ clip: { x: 0, y: 50, width: 256, height: 200 } }) },
  ]);
  await a.page.getByRole("textbox", { name: /^Message / }).fill("Notes and a screenshot attached.");
  await a.page.keyboard.press("Enter");
  await seen(b.page, "Notes and a screenshot");
  for (const p of [a.page, b.page]) await p.waitForFunction(() => document.querySelector("img.inline-image")?.naturalWidth > 0);
  await a.page.locator(`#members li[data-user="${b.name}"]`).waitFor();
  await a.page.getByRole("textbox", { name: /^Message / }).focus();
  await shot(a.page, "desktop-room");
  await shot(b.page, "phone-room");
  const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `the phone layout scrolls sideways by ${overflow}px`);
  await b.page.getByRole("button", { name: "Members" }).click();
  await b.page.locator("#members.open").waitFor();
  await shot(b.page, "phone-members");
  await b.page.getByRole("button", { name: "Back to rooms" }).click();
  await b.page.locator("#room-list").waitFor();
  await shot(b.page, "phone-rooms");
}

// offline: the browser loses the network; the page says so, and once back
// it resumes and shows what was posted meanwhile.
async function offline(browser) {
  const a = await user(browser, `ida-${tag}`);
  await createRoom(a.page, `offline-${tag}`);
  await send(a.page, "online 1");
  await a.context.setOffline(true);
  await a.page.locator('#conn[data-state="offline"]').waitFor();
  await shot(a.page, "desktop-offline");
  const res = await fetch(`${url}/parley.v1.MessageService/SendMessage`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token(a.page)}` },
    body: JSON.stringify({ room_id: await roomId(a.page), text: "sent while offline", client_message_id: `offline-${tag}` }),
  });
  assert(res.ok, `SendMessage answered ${res.status}`);
  await a.context.setOffline(false);
  await live(a.page);
  await seen(a.page, "sent while offline");
  await send(a.page, "online 2");
  const items = await timeline(a.page);
  assertContiguous(items, "after offline");
  assert(items.length === 3, `want 3 messages, got ${JSON.stringify(items)}`);
}

// keyboard: sign up, create a room and send a message with the keyboard
// alone; the focused control is outlined.
async function keyboard(browser) {
  const context = await browser.newContext({ viewport: desktop });
  const page = await context.newPage();
  await page.goto(url);
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { id: el?.id, text: el?.textContent?.trim(), outline: el ? getComputedStyle(el).outlineStyle : "" };
  });
  await page.getByLabel("Username").waitFor();
  assert((await focused()).id === "username", "the username field is not focused on load");
  await page.keyboard.type(`kim-${tag}`);
  await page.keyboard.press("Tab");
  await page.keyboard.type("correct horse battery");
  await page.keyboard.press("Tab"); // Sign in
  await page.keyboard.press("Tab"); // Create account
  const create = await focused();
  assert(create.text === "Create account" && create.outline !== "none", `focus on ${JSON.stringify(create)}`);
  await page.keyboard.press("Enter");
  await page.getByText(`Signed in as kim-${tag}`).waitFor();
  for (let i = 0; (await focused()).id !== "room-name"; i++) {
    assert(i < 30, "Tab never reached the new room field");
    await page.keyboard.press("Tab");
  }
  await page.keyboard.type(`keys-${tag}`);
  await page.keyboard.press("Enter");
  await live(page);
  assert((await focused()).id === "composer-text", "the composer is not focused after opening the room");
  await page.keyboard.type("typed, not clicked");
  await page.keyboard.press("Enter");
  await seen(page, "typed, not clicked");
  await page.keyboard.press("Tab");
  assert((await focused()).text === "Send", "Tab from the composer does not reach Send");
  await context.close();
}

// docs: the API reference at /docs shows every REST operation with no CSP
// violation, and a call tried from it with a token pasted into Authorize
// answers for that user.
async function docs(browser) {
  const name = `doc-${tag}`;
  const res = await fetch(`${url}/v1/users`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: name, password: "correct horse battery" }),
  });
  assert(res.ok, `POST /v1/users: ${res.status}`);
  const { token } = await res.json();
  const context = await browser.newContext({ viewport: desktop });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  await page.goto(`${url}/docs`);
  await page.locator(".opblock").first().waitFor();
  const operations = await page.locator(".opblock").count();
  assert(operations >= 19, `${operations} operations shown, want every REST route`);
  await page.screenshot({ path: path.join(shots, "docs.png"), fullPage: true });

  await page.getByRole("button", { name: "Authorize" }).first().click();
  await page.locator(".auth-container input").fill(token);
  await page.locator(".auth-container button.authorize").click();
  await page.locator(".auth-container button.btn-done").click();
  const me = page.locator(`.opblock[id$="-AuthService_GetMe"]`);
  await me.locator(".opblock-summary").click();
  await me.getByRole("button", { name: "Execute" }).click();
  const answer = me.locator(".live-responses-table .response .response-col_status").first();
  await answer.waitFor();
  assert((await answer.textContent()).trim() === "200", `GetMe from /docs: ${await answer.textContent()}`);
  const body = await me.locator(".live-responses-table .response .microlight").first().textContent();
  assert(body.includes(name), `GetMe from /docs answered ${body}`);
  await answer.scrollIntoViewIfNeeded();
  await shot(page, "docs-try-it-out");
  assert(problems.length === 0, `the page reported:\n${problems.join("\n")}`);
  await context.close();
}

const scenarios = {
  keyboard,
  docs,
  offline,
  "chat-connect-json": (b) => chat(b, "connect", "json", ["application/json", "application/connect+json"]),
  "chat-grpcweb-binary": (b) => chat(b, "grpcweb", "binary", ["application/grpc-web+proto"]),
  "curl-post": curlPost,
  restart,
  eventsource: eventSource,
  attachment,
  xss,
  screenshots,
  images,
  edits,
  "edit-window": editWindow,
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
const browser = await launch();
const started = Date.now();
try {
  await run(browser);
  console.log(`PASS ${scenario} in ${Date.now() - started} ms`);
} catch (e) {
  if (e instanceof Skip) {
    console.log(`SKIP ${e.message}`);
  } else {
    console.log(e.stack);
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
