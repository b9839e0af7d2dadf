// Attachments of a message as the timeline shows them: images inline, other
// files as download links, read through the Download server stream.
//
// The bytes are the uploader's, and a blob: URL made here is of this page's
// origin: opened as a document (a tab, a frame) it would run with the
// user's session. So a blob is typed only with an inert type, one no
// browser runs as script (the same list the server reports,
// parley.ServedContentType); anything else becomes application/octet-stream,
// which a browser saves instead of showing, even when the link is opened in
// a new tab. Only raster images are shown inline; SVG never is.
import type { File as ParleyFile } from "./gen/parley/v1/file_pb";
import { formatBytes, h } from "./dom";
import { errorText, retryDelayMs } from "./error";
import { sleep } from "./retry";
import { api } from "./transport";

const octetStream = "application/octet-stream";
const inlineImages = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);
const inertTypes = new Set([...inlineImages, "application/pdf", "text/plain"]);

// inertType is the type a blob of a file may carry: the reported type's
// media type if it is inert, else application/octet-stream. The server
// already reports nothing else; this does not rely on it.
function inertType(reported: string): string {
  const essence = reported.split(";")[0].trim().toLowerCase();
  if (!inertTypes.has(essence)) return octetStream;
  if (essence === "text/plain" && /;\s*charset="?utf-8"?\s*$/i.test(reported)) return "text/plain;charset=utf-8";
  return essence;
}

// maxDownloads is how many Download streams the page keeps open at once:
// a room of many images must stay well under the server's open streams per
// user (128 by default, shared with the page's Subscribe and other tabs).
const maxDownloads = 4;
// maxRefusals is how often a download refused by a quota is tried again,
// each time after the delay the server's google.rpc.RetryInfo says.
const maxRefusals = 10;

let running = 0;
const waiting: (() => void)[] = [];

// slot waits for one of the maxDownloads places; call the function it
// returns to give the place back (once; calling it again does nothing).
async function slot(): Promise<() => void> {
  if (running >= maxDownloads) await new Promise<void>((go) => waiting.push(go));
  else running++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    const next = waiting.shift();
    if (next) next(); // the place passes on: running stays the same
    else running--;
  };
}

// fetchBlob reads a file's bytes through the Download stream, in one of the
// maxDownloads places, trying again after the delay a quota refusal
// (resource_exhausted with RetryInfo, e.g. too many open streams) says.
async function fetchBlob(f: ParleyFile): Promise<Blob> {
  for (let refusals = 0; ; refusals++) {
    const release = await slot();
    try {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for await (const chunk of api().files.download({ fileId: f.id })) parts.push(chunk.data as Uint8Array<ArrayBuffer>);
      return new Blob(parts, { type: inertType(f.contentType) });
    } catch (err) {
      const wait = retryDelayMs(err);
      if (wait === undefined || refusals >= maxRefusals) throw err;
      release(); // others may go on while this one waits
      await sleep(wait);
    } finally {
      release();
    }
  }
}

// download reads a file into a blob once, and returns its object URL.
const downloaded = new Map<string, Promise<string>>();
function download(f: ParleyFile): Promise<string> {
  let url = downloaded.get(f.id);
  if (!url) {
    url = fetchBlob(f).then((b) => URL.createObjectURL(b));
    url.catch(() => downloaded.delete(f.id));
    downloaded.set(f.id, url);
  }
  return url;
}

export function attachmentView(f: ParleyFile): HTMLElement {
  const label = `${f.name} (${formatBytes(Number(f.size))})`;
  if (inlineImages.has(inertType(f.contentType))) {
    const img = h("img", { alt: f.name, class: "inline-image", width: 240, height: 160, "data-file": f.id });
    download(f).then((u) => { img.src = u; img.removeAttribute("height"); }, () => { img.alt = `${f.name} (could not load)`; });
    return h("figure", { class: "attachment" }, img, h("figcaption", {}, label));
  }
  const link = h("a", { href: "#", class: "attachment file", "data-file": f.id, download: f.name }, "⬇ ", label);
  link.addEventListener("click", async (e) => {
    if (link.dataset.ready) return;
    e.preventDefault();
    link.setAttribute("aria-busy", "true");
    try {
      link.href = await download(f);
      link.dataset.ready = "1";
      link.click();
    } catch (err) {
      link.textContent = `${label}: ${errorText(err)}`;
    } finally {
      link.removeAttribute("aria-busy");
    }
  });
  return link;
}
