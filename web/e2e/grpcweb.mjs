// The official grpc-web JavaScript client (npm grpc-web) against parleyd,
// in headless Chromium, from a page on another origin. Run by
// web/grpcweb_e2e_test.go:
//
//	node e2e/grpcweb.mjs
//
// with PARLEY_URL (parleyd, started with --cors-origins http://PARLEY_PAGE_ADDR),
// PARLEY_PAGE_ADDR (where this script serves the page) and PARLEY_CHROMIUM.
// In both client formats, "text" (application/grpc-web-text, the client's
// default) and "binary" (application/grpc-web+proto): SayHello; SendMessage
// with an empty text gets INVALID_ARGUMENT with a google.rpc.BadRequest; a
// Subscribe with a 1 s deadline ends with DEADLINE_EXCEEDED. In text mode a
// live Subscribe receives each message within 1 s of its SendMessage, then
// cancel() ends it (the Go test finds the cancel in parleyd's log). A page
// on an origin parleyd does not allow gets no answer. Exits non-zero on
// failure.
import { chromium } from "playwright-core";
import { build } from "esbuild";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const api = process.env.PARLEY_URL;
const pageAddr = process.env.PARLEY_PAGE_ADDR;
const tag = randomBytes(3).toString("hex");

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const bundle = await build({
  entryPoints: [fileURLToPath(new URL("grpcweb-page.js", import.meta.url))],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  write: false,
  logLevel: "warning",
});
const script = bundle.outputFiles[0].text;

// serve starts a server for the page on addr ("host:port", or port 0).
function serve(host, port) {
  const server = createServer((req, res) => {
    if (req.url === "/bundle.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      res.end(script);
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end('<!doctype html><title>grpc-web client</title><script src="/bundle.js"></script>');
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

const [pageHost, pagePort] = pageAddr.split(":");
const allowed = await serve(pageHost, Number(pagePort));
const stranger = await serve("127.0.0.1", 0); // an origin parleyd does not allow
const browser = await chromium.launch({
  executablePath: process.env.PARLEY_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

async function open(origin) {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
  const types = new Set();
  page.on("request", (r) => { if (r.url().startsWith(api) && r.method() === "POST") types.add(r.headers()["content-type"]); });
  await page.goto(origin);
  await page.waitForFunction(() => window.parleyGrpcWeb);
  return { page, types };
}

const call = (page, fn, ...args) => page.evaluate(([fn, args]) => window.parleyGrpcWeb[fn](...args), [fn, args]);

let failed = false;
try {
  const { page, types } = await open(`http://${pageAddr}/`);
  for (const format of ["text", "binary"]) {
    const hello = await call(page, "sayHello", format, api, format);
    assert(hello.message === `Hello ${format}`, `${format} SayHello: ${JSON.stringify(hello)}`);
    console.log(`${format}: SayHello -> ${hello.message}`);

    const token = await call(page, "signUp", format, api, `gw-${format}-${tag}`, "correct horse battery");
    const roomId = await call(page, "createRoom", format, api, token, `gw-${format}-${tag}`);

    const bad = await call(page, "sendMessage", format, api, token, roomId, "", `empty-${format}`);
    assert(bad.error?.code === 3, `${format} SendMessage with empty text: ${JSON.stringify(bad)}`);
    const fields = bad.error.violations.map((v) => v.field);
    assert(bad.error.statusCode === 3 && fields.includes("text"), `${format} BadRequest: ${JSON.stringify(bad.error)}`);
    console.log(`${format}: SendMessage "" -> INVALID_ARGUMENT (${bad.error.message}); BadRequest field violations: ${JSON.stringify(bad.error.violations)}`);

    if (format === "text") {
      const live = await call(page, "subscribeLive", format, api, token, roomId, 5, `live-${tag}`);
      assert(!live.error && live.latencies?.length === 5, `live Subscribe: ${JSON.stringify(live)}`);
      for (const [i, ms] of live.latencies.entries()) {
        console.log(`text: message ${i + 1} arrived on the live Subscribe ${ms.toFixed(1)} ms after its SendMessage`);
        assert(ms < 1000, `message ${i + 1} took ${ms} ms (or never came)`);
      }
      console.log(`text: Subscribe cancelled by the client after ${live.seen.length} messages`);
    }

    const ended = await call(page, "subscribeDeadline", format, api, token, roomId, 1000);
    assert(ended.code === 4, `${format} Subscribe with a 1 s deadline: ${JSON.stringify(ended)}`);
    console.log(`${format}: Subscribe with a 1 s deadline -> DEADLINE_EXCEEDED (${ended.message}) after ${ended.elapsed.toFixed(0)} ms, ${ended.messages} messages`);
  }
  const used = [...types].sort().join(", ");
  assert(used === "application/grpc-web+proto, application/grpc-web-text", `content types sent: ${used}`);
  console.log(`content types sent: ${used}`);

  // The same page from an origin --cors-origins does not list.
  const other = await open(`http://127.0.0.1:${stranger.address().port}/`);
  const refused = await call(other.page, "sayHello", "text", api, "stranger");
  assert(refused.error && !refused.message, `SayHello from a disallowed origin: ${JSON.stringify(refused)}`);
  console.log(`disallowed origin: SayHello -> code ${refused.error.code} (${refused.error.message})`);
  console.log("PASS grpc-web client");
} catch (err) {
  console.error(err);
  failed = true;
} finally {
  await browser.close();
  allowed.close();
  stranger.close();
}
process.exit(failed ? 1 : 0);
