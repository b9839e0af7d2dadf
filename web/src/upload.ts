// Uploads of the composer's attachments: each file is uploaded as soon as it
// is picked, in chunks with UploadChunk, asking GetUpload where to continue
// after a failed chunk, and listed with a progress bar.
import { Code, ConnectError } from "@connectrpc/connect";
import type { File as ParleyFile } from "./gen/parley/v1/file_pb";
import type { Room } from "./gen/parley/v1/room_pb";
import { formatBytes, h } from "./dom";
import { errorText, transient } from "./error";
import { randomId } from "./randomId";
import { backoff, sleep } from "./retry";
import { sha256 } from "./sha256";
import { api } from "./transport";

// Upload is one attachment of the composer; file is set once it is done.
export interface Upload {
  key: string;
  name: string;
  size: number;
  sent: number;
  file?: ParleyFile;
  error?: string;
}

const chunkSize = 256 * 1024;

let uploads: Upload[] = [];

// clearUploads forgets every upload (another room is opened).
export function clearUploads() {
  uploads = [];
}

// uploadsInProgress tells whether a file is still on its way.
export function uploadsInProgress(): boolean {
  return uploads.some((u) => !u.file && !u.error);
}

// readyUploads are the uploads done, to attach to the next message.
export function readyUploads(): Upload[] {
  return uploads.filter((u) => u.file);
}

// dropReadyUploads takes the uploads done off the list, once sent.
export function dropReadyUploads() {
  uploads = uploads.filter((u) => !u.file);
}

export async function upload(room: Room, f: globalThis.File) {
  const u: Upload = { key: randomId(), name: f.name, size: f.size, sent: 0 };
  uploads.push(u);
  renderUploads();
  try {
    const data = new Uint8Array(await f.arrayBuffer());
    const created = await api().files.createUpload({
      metadata: { roomId: room.id, name: f.name, contentType: f.type, size: BigInt(f.size), sha256: await sha256(data) },
    });
    const id = created.upload!.uploadId;
    let offset = 0;
    let failures = 0;
    while (!u.file) {
      try {
        const res = await api().files.uploadChunk({ uploadId: id, offset: BigInt(offset), data: data.subarray(offset, offset + chunkSize) });
        offset = Number(res.upload!.offset);
        u.file = res.upload!.file;
        failures = 0;
      } catch (err) {
        if (++failures > 5 || !(transient(err) || ConnectError.from(err).code === Code.FailedPrecondition)) throw err;
        await sleep(backoff(failures));
        const st = await api().files.getUpload({ uploadId: id });
        offset = Number(st.upload!.offset);
        u.file = st.upload!.file;
      }
      u.sent = offset;
      renderUploads();
    }
  } catch (err) {
    u.error = errorText(err);
  }
  renderUploads();
}

export function renderUploads() {
  const el = document.getElementById("uploads");
  if (!el) return;
  el.replaceChildren(...uploads.map((u) =>
    h("div", { class: "upload", "data-name": u.name, "data-state": u.error ? "failed" : u.file ? "done" : "uploading" },
      h("span", { class: "name" }, u.name),
      h("progress", { max: u.size, value: u.sent, "aria-label": `Uploading ${u.name}` }),
      h("span", { class: "size" }, u.error ? `failed: ${u.error}` : u.file ? "ready" : `${formatBytes(u.sent)} / ${formatBytes(u.size)}`),
      h("button", {
        type: "button", class: "link", "aria-label": `Remove ${u.name}`,
        onclick: () => { uploads = uploads.filter((x) => x !== u); renderUploads(); },
      }, "✕"))));
}
