// Attachments of a message as the timeline shows them: images inline, other
// files as download links, read through the Download server stream.
import type { File as ParleyFile } from "./gen/parley/v1/file_pb";
import { formatBytes, h } from "./dom";
import { errorText } from "./error";
import { api } from "./transport";

// download reads a file into a blob once, and returns its object URL.
const downloaded = new Map<string, Promise<string>>();
function download(f: ParleyFile): Promise<string> {
  let url = downloaded.get(f.id);
  if (!url) {
    url = (async () => {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for await (const chunk of api().files.download({ fileId: f.id })) parts.push(chunk.data as Uint8Array<ArrayBuffer>);
      return URL.createObjectURL(new Blob(parts, { type: f.contentType || "application/octet-stream" }));
    })();
    url.catch(() => downloaded.delete(f.id));
    downloaded.set(f.id, url);
  }
  return url;
}

export function attachmentView(f: ParleyFile): HTMLElement {
  const label = `${f.name} (${formatBytes(Number(f.size))})`;
  if (f.contentType.startsWith("image/")) {
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
