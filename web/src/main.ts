// Parley in the browser: sign in, pick a room, chat live. Messages go out
// with unary SendMessage (browsers cannot stream requests) and come in
// through the Subscribe server stream, resumed from the last seq seen after
// any break.
import "./style.css";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { User } from "./gen/parley/v1/auth_pb";
import type { File as ParleyFile } from "./gen/parley/v1/file_pb";
import type { Message } from "./gen/parley/v1/message_pb";
import { Visibility, type Member, type Room } from "./gen/parley/v1/room_pb";
import { byId, formatBytes, h } from "./dom";
import { newClients, type Clients, type Codec, type Protocol } from "./rpc";
import { sha256 } from "./sha256";

type ConnState = "idle" | "connecting" | "live" | "reconnecting" | "offline";

// A message being sent, shown until the stream or the response confirms it.
interface Pending {
  clientMessageId: string;
  text: string;
  attachmentIds: string[];
  state: "sending" | "failed";
  error?: string;
}

// An attachment of the composer, uploaded as soon as it is picked.
interface Upload {
  key: string;
  name: string;
  size: number;
  sent: number;
  file?: ParleyFile;
  error?: string;
}

const store = {
  get: (k: string) => localStorage.getItem("parley." + k) ?? "",
  set: (k: string, v: string) => (v ? localStorage.setItem("parley." + k, v) : localStorage.removeItem("parley." + k)),
};

const state = {
  protocol: (store.get("protocol") || "connect") as Protocol,
  codec: (store.get("codec") || "json") as Codec,
  token: store.get("token"),
  me: undefined as User | undefined,
  rooms: [] as Room[],
  room: undefined as Room | undefined,
  messages: new Map<bigint, Message>(), // by seq
  lastSeq: 0n, // the last seq received from the server, in order
  pending: [] as Pending[],
  uploads: [] as Upload[],
  members: [] as Member[],
  conn: "idle" as ConnState,
  connDetail: "",
  showMembers: false,
};

let rpc: Clients = newClients(state.protocol, state.codec, () => state.token);
let subscription: AbortController | undefined;

const app = byId("app");

// ---------- helpers ----------

function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const wake = () => { clearTimeout(t); resolve(); };
    signal?.addEventListener("abort", wake, { once: true });
    window.addEventListener("online", wake, { once: true });
  });
}

// backoff grows from 250 ms to 5 s, with jitter so that many tabs do not
// reconnect in step after a restart.
function backoff(attempt: number): number {
  const base = Math.min(5000, 250 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

function errorText(e: unknown): string {
  const ce = ConnectError.from(e);
  return ce.rawMessage || Code[ce.code];
}

// Transient errors are worth retrying with the same client_message_id.
function transient(e: unknown): boolean {
  const c = ConnectError.from(e).code;
  return c === Code.Unavailable || c === Code.Unknown || c === Code.DeadlineExceeded || c === Code.Aborted || c === Code.Internal;
}

function timeOf(m: { createTime?: Parameters<typeof timestampDate>[0] }): string {
  return m.createTime ? timestampDate(m.createTime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

// ---------- top level ----------

function render() {
  app.replaceChildren(header(), state.me ? chatScreen() : authScreen());
}

function header(): HTMLElement {
  const connLabel: Record<ConnState, string> = {
    idle: "Not connected", connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline",
  };
  return h("header", { class: "topbar" },
    h("h1", {}, "Parley"),
    h("p", { id: "conn", class: `conn conn-${state.conn}${state.conn === "idle" ? " visually-hidden" : ""}`, role: "status", "data-state": state.conn, title: state.connDetail },
      h("span", { class: "dot", "aria-hidden": "true" }), connLabel[state.conn]),
    h("div", { class: "switches" },
      radioGroup("Protocol", "protocol", [["connect", "Connect"], ["grpcweb", "gRPC-Web"]], state.protocol, (v) => setTransport(v as Protocol, state.codec)),
      radioGroup("Encoding", "codec", [["json", "JSON"], ["binary", "Binary"]], state.codec, (v) => setTransport(state.protocol, v as Codec)),
    ),
    state.me && h("div", { class: "me" },
      h("span", { class: "who" }, h("span", { class: "who-label" }, "Signed in as "), h("strong", {}, state.me.username)),
      h("button", { type: "button", class: "link", onclick: signOut }, "Sign out")),
  );
}

function radioGroup(legend: string, name: string, options: [string, string][], value: string, onChange: (v: string) => void): HTMLElement {
  return h("fieldset", { class: "segmented" },
    h("legend", {}, legend),
    options.map(([v, label]) =>
      h("label", {},
        h("input", { type: "radio", name, value: v, checked: v === value, onchange: () => onChange(v) }),
        h("span", {}, label))),
  );
}

function setTransport(protocol: Protocol, codec: Codec) {
  state.protocol = protocol;
  state.codec = codec;
  store.set("protocol", protocol);
  store.set("codec", codec);
  rpc = newClients(protocol, codec, () => state.token);
  // Resume the open room over the new transport from where we are.
  if (state.room) startSubscription(state.room.id);
  const focused = document.activeElement?.getAttribute("value");
  render();
  if (focused) document.querySelector<HTMLInputElement>(`.segmented input[value="${focused}"]`)?.focus();
}

// ---------- sign up / sign in ----------

function authScreen(): HTMLElement {
  const error = h("p", { id: "auth-error", class: "error", role: "alert" });
  const form = h("form", { class: "card auth", "aria-labelledby": "auth-title" },
    h("h2", { id: "auth-title" }, "Welcome to Parley"),
    h("p", { class: "hint" }, "Sign in, or pick a username and password to create an account."),
    h("label", { for: "username" }, "Username"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 32, pattern: "[a-z0-9][a-z0-9._\\-]{2,31}", autocapitalize: "none", spellcheck: "false", "aria-describedby": "username-hint" }),
    h("p", { id: "username-hint", class: "hint" }, "3–32 lowercase letters, digits, '.', '_' or '-'."),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, minlength: 8, maxlength: 128, "aria-describedby": "password-hint" }),
    h("p", { id: "password-hint", class: "hint" }, "At least 8 characters."),
    error,
    h("div", { class: "row" },
      h("button", { type: "submit", name: "action", value: "signin", class: "primary" }, "Sign in"),
      h("button", { type: "submit", name: "action", value: "signup" }, "Create account")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? "signin";
    const data = new FormData(form);
    const req = { username: String(data.get("username")), password: String(data.get("password")) };
    error.textContent = "";
    form.setAttribute("aria-busy", "true");
    try {
      const res = action === "signup" ? await rpc.auth.signUp(req) : await rpc.auth.signIn(req);
      state.token = res.token;
      store.set("token", res.token);
      state.me = res.user;
      await enterChat();
    } catch (err) {
      const ce = ConnectError.from(err);
      error.textContent = ce.code === Code.AlreadyExists ? "That username is taken." : ce.code === Code.Unauthenticated ? "Wrong username or password." : errorText(err);
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
  queueMicrotask(() => document.getElementById("username")?.focus());
  return h("main", { class: "center" }, form);
}

async function signOut() {
  try { await rpc.auth.signOut({}); } catch { /* the token is dropped either way */ }
  dropSession();
}

function dropSession() {
  subscription?.abort();
  state.token = "";
  store.set("token", "");
  state.me = undefined;
  state.room = undefined;
  state.conn = "idle";
  render();
}

// ---------- rooms ----------

async function enterChat() {
  await loadRooms();
  const wanted = location.hash.match(/^#\/rooms\/(.+)$/)?.[1];
  const room = state.rooms.find((r) => r.id === wanted);
  if (room) await openRoom(room);
  else render();
}

async function loadRooms() {
  const rooms: Room[] = [];
  let pageToken = "";
  do {
    const res = await rpc.rooms.listRooms({ pageSize: 100, pageToken });
    rooms.push(...res.rooms);
    pageToken = res.nextPageToken;
  } while (pageToken);
  state.rooms = rooms;
}

function chatScreen(): HTMLElement {
  return h("div", { class: `layout ${state.room ? "has-room" : "no-room"}` },
    roomList(),
    state.room ? roomView(state.room) : h("main", { class: "empty", id: "main" }, h("p", {}, "Pick a room, or create one.")),
  );
}

function roomList(): HTMLElement {
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "create-room", "aria-label": "Create a room" },
    h("label", { for: "room-name" }, "New room"),
    h("div", { class: "row" },
      h("input", { id: "room-name", name: "name", required: true, maxlength: 64, pattern: "[A-Za-z0-9._\\-]+", placeholder: "e.g. general", autocapitalize: "none" }),
      h("button", { type: "submit" }, "Create")),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "private" }), "Private"),
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const res = await rpc.rooms.createRoom({
        name: String(data.get("name")),
        visibility: data.get("private") ? Visibility.PRIVATE : Visibility.PUBLIC,
      });
      await loadRooms();
      if (res.room) await openRoom(res.room);
    } catch (err) {
      error.textContent = ConnectError.from(err).code === Code.AlreadyExists ? "A room with that name exists." : errorText(err);
    }
  });
  return h("nav", { class: "rooms", "aria-label": "Rooms" },
    h("div", { class: "rooms-head" },
      h("h2", {}, "Rooms"),
      h("button", { type: "button", class: "link", onclick: async () => { await loadRooms(); render(); } }, "Refresh")),
    h("ul", { id: "room-list" },
      state.rooms.length === 0 ? h("li", { class: "hint" }, "No rooms yet.") : null,
      state.rooms.map((r) =>
        h("li", {},
          h("button", {
            type: "button", class: "room", "data-room": r.name,
            "aria-current": state.room?.id === r.id ? "page" : undefined,
            onclick: () => openRoom(r),
          }, h("span", { "aria-hidden": "true", class: "sigil" }, "#"), r.name, r.visibility === Visibility.PRIVATE && h("span", { class: "badge" }, "private"))))),
    form,
  );
}

// openRoom joins the room (a no-op for members), loads the newest history
// and subscribes from there.
async function openRoom(room: Room) {
  subscription?.abort();
  try {
    const res = await rpc.rooms.joinRoom({ roomId: room.id });
    if (res.room) room = res.room;
  } catch (err) {
    // Members of a private room need no join; anything else is real.
    if (ConnectError.from(err).code !== Code.PermissionDenied) {
      alert(`Could not open ${room.name}: ${errorText(err)}`);
      return;
    }
  }
  state.room = room;
  state.messages = new Map();
  state.pending = [];
  state.uploads = [];
  state.lastSeq = 0n;
  state.showMembers = false;
  history.replaceState(null, "", `#/rooms/${room.id}`);
  try {
    const res = await rpc.messages.listMessages({ roomId: room.id, limit: 100 });
    for (const m of res.messages) state.messages.set(m.seq, m);
    state.lastSeq = res.headSeq;
  } catch (err) {
    state.connDetail = errorText(err);
  }
  render();
  void loadMembers();
  startSubscription(room.id);
  byId("composer-text").focus();
}

function closeRoom() {
  subscription?.abort();
  state.room = undefined;
  state.conn = "idle";
  history.replaceState(null, "", location.pathname);
  render();
  document.querySelector<HTMLButtonElement>("#room-list button")?.focus();
}

async function loadMembers() {
  const room = state.room;
  if (!room) return;
  const members: Member[] = [];
  let pageToken = "";
  try {
    do {
      const res = await rpc.rooms.listMembers({ roomId: room.id, pageSize: 100, pageToken });
      members.push(...res.members);
      pageToken = res.nextPageToken;
    } while (pageToken);
  } catch {
    return;
  }
  if (state.room?.id !== room.id) return;
  state.members = members;
  renderMembers();
}

// ---------- the live stream ----------

function setConn(conn: ConnState, detail = "") {
  if (state.conn === conn && state.connDetail === detail) return;
  state.conn = conn;
  state.connDetail = detail;
  const el = document.getElementById("conn");
  if (el) el.replaceWith(header().querySelector("#conn")!);
}

const silenceLimitMs = 45_000;

// startSubscription keeps one Subscribe stream open for the room, and after
// any break resubscribes with since_seq = the last seq received, so nothing
// is missed and nothing arrives twice.
function startSubscription(roomId: string) {
  subscription?.abort();
  const ctl = new AbortController();
  subscription = ctl;
  void (async () => {
    for (let attempt = 0; !ctl.signal.aborted; attempt++) {
      setConn(attempt === 0 ? "connecting" : navigator.onLine ? "reconnecting" : "offline", state.connDetail);
      // The server sends a heartbeat on idle streams (every 15 s by
      // default); a stream silent for much longer is dead without knowing
      // it (a sleeping laptop, a dropped NAT entry), so end it and resume.
      const call = new AbortController();
      const cut = () => call.abort();
      ctl.signal.addEventListener("abort", cut, { once: true });
      let watchdog = setTimeout(cut, silenceLimitMs);
      try {
        const stream = rpc.messages.subscribe(
          { roomId, sinceSeq: state.lastSeq },
          { signal: call.signal, onHeader: () => { setConn("live"); } },
        );
        for await (const res of stream) {
          clearTimeout(watchdog);
          watchdog = setTimeout(cut, silenceLimitMs);
          attempt = 0;
          setConn("live");
          const ev = res.event;
          switch (ev.case) {
            case "message":
              receive(ev.value);
              break;
            case "memberJoined":
            case "memberLeft":
              void loadMembers();
              break;
          }
        }
        state.connDetail = "stream ended";
      } catch (err) {
        if (ctl.signal.aborted) return;
        const ce = ConnectError.from(err);
        state.connDetail = errorText(err);
        if (ce.code === Code.Unauthenticated) {
          dropSession();
          return;
        }
        if (ce.code === Code.OutOfRange) {
          // The server has fewer messages than we saw (a reset database):
          // start over rather than show a gap.
          state.messages.clear();
          state.lastSeq = 0n;
          renderTimeline();
        } else if (ce.code === Code.PermissionDenied || ce.code === Code.NotFound) {
          setConn("idle", errorText(err));
          return;
        }
      } finally {
        clearTimeout(watchdog);
        ctl.signal.removeEventListener("abort", cut);
      }
      if (ctl.signal.aborted) return;
      setConn(navigator.onLine ? "reconnecting" : "offline", state.connDetail);
      await sleep(backoff(attempt), ctl.signal);
    }
  })();
}

// Going offline may leave a dead stream that has not noticed yet; coming
// back, resubscribe at once instead of waiting for it to time out.
window.addEventListener("offline", () => { if (state.room) setConn("offline", "the browser is offline"); });
window.addEventListener("online", () => { if (state.room) startSubscription(state.room.id); });

function receive(m: Message) {
  if (m.seq <= state.lastSeq && state.messages.has(m.seq)) return;
  state.messages.set(m.seq, m);
  if (m.seq > state.lastSeq) state.lastSeq = m.seq;
  state.pending = state.pending.filter((p) => p.clientMessageId !== m.clientMessageId || m.sender?.id !== state.me?.id);
  renderTimeline();
}

// ---------- room view ----------

function roomView(room: Room): HTMLElement {
  return h("main", { class: "room-view", id: "main", "aria-labelledby": "room-title" },
    h("div", { class: "room-head" },
      h("button", { type: "button", class: "back", onclick: closeRoom, "aria-label": "Back to rooms" }, "←"),
      h("h2", { id: "room-title" }, h("span", { class: "sigil", "aria-hidden": "true" }, "#"), room.name, room.visibility === Visibility.PRIVATE && h("span", { class: "badge" }, "private")),
      h("button", {
        type: "button", id: "members-toggle", class: "link", "aria-expanded": String(state.showMembers), "aria-controls": "members",
        onclick: () => { state.showMembers = !state.showMembers; byId("members-toggle").setAttribute("aria-expanded", String(state.showMembers)); renderMembers(); },
      }, "Members")),
    h("div", { class: "room-body" },
      h("ol", { id: "timeline", class: "timeline", role: "log", "aria-live": "polite", "aria-label": `Messages in ${room.name}`, tabindex: 0 }),
      h("aside", { id: "members", class: "members", "aria-label": "Members" }),
    ),
    composer(room),
  );
}

function renderTimeline() {
  const list = document.getElementById("timeline");
  if (!list) return;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items: HTMLElement[] = [];
  const seqs = [...state.messages.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (seqs.length === 0 && state.pending.length === 0) {
    items.push(h("li", { class: "hint" }, "No messages yet. Say hello!"));
  } else if (seqs.length > 0 && seqs[0] > 1n) {
    items.push(h("li", { class: "earlier" }, h("button", { type: "button", class: "link", onclick: loadEarlier }, "Load earlier messages")));
  }
  for (const seq of seqs) {
    const m = state.messages.get(seq)!;
    const mine = m.sender?.id === state.me?.id;
    items.push(h("li", { class: `msg${mine ? " mine" : ""}`, "data-seq": String(m.seq), "data-cmid": m.clientMessageId, tabindex: -1 },
      h("div", { class: "meta" },
        h("span", { class: "sender" }, m.sender?.username ?? "?"),
        h("time", { datetime: m.createTime ? timestampDate(m.createTime).toISOString() : undefined }, timeOf(m))),
      m.text && h("p", { class: "text" }, m.text),
      m.attachments.map(attachmentView)));
  }
  for (const p of state.pending) {
    items.push(h("li", { class: `msg mine pending ${p.state}`, "data-cmid": p.clientMessageId, "data-pending": p.state },
      h("div", { class: "meta" },
        h("span", { class: "sender" }, state.me?.username ?? ""),
        h("span", {}, p.state === "sending" ? "sending…" : `not sent: ${p.error ?? ""}`)),
      p.text && h("p", { class: "text" }, p.text),
      p.state === "failed" && h("button", { type: "button", class: "retry", onclick: () => void send(p) }, "Retry")));
  }
  list.replaceChildren(...items);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// loadEarlier reads the page of history before the oldest message shown,
// keeping the view where it was.
async function loadEarlier() {
  const room = state.room;
  const list = document.getElementById("timeline");
  if (!room || !list || state.messages.size === 0) return;
  const oldest = [...state.messages.keys()].reduce((a, b) => (a < b ? a : b));
  try {
    const res = await rpc.messages.listMessages({ roomId: room.id, beforeSeq: oldest, limit: 100 });
    if (state.room?.id !== room.id) return;
    for (const m of res.messages) if (!state.messages.has(m.seq)) state.messages.set(m.seq, m);
  } catch (err) {
    state.connDetail = errorText(err);
    return;
  }
  const fromBottom = list.scrollHeight - list.scrollTop;
  renderTimeline();
  list.scrollTop = list.scrollHeight - fromBottom;
  list.querySelector<HTMLElement>("li[data-seq]")?.focus();
}

function renderMembers() {
  const aside = document.getElementById("members");
  if (!aside) return;
  aside.classList.toggle("open", state.showMembers);
  aside.replaceChildren(
    h("h3", {}, `Members (${state.members.length})`),
    h("ul", {}, state.members.map((m) => h("li", { "data-user": m.user?.username }, m.user?.username ?? "?", m.user?.id === state.me?.id ? " (you)" : ""))),
  );
}

// Escape folds the member panel (on phones it covers the timeline).
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || !state.showMembers) return;
  state.showMembers = false;
  const toggle = document.getElementById("members-toggle");
  toggle?.setAttribute("aria-expanded", "false");
  renderMembers();
  if (toggle && getComputedStyle(toggle).display !== "none") toggle.focus();
});

// ---------- composer ----------

function composer(room: Room): HTMLElement {
  const text = h("textarea", { id: "composer-text", name: "text", rows: 1, maxlength: 4000, placeholder: "Write a message…", "aria-label": `Message ${room.name}` });
  const fileInput = h("input", { id: "attach", type: "file", multiple: true, class: "visually-hidden" });
  const form = h("form", { class: "composer", "aria-label": "Send a message" },
    h("div", { id: "uploads", class: "uploads" }),
    h("div", { class: "row" },
      fileInput,
      h("label", { for: "attach", class: "attach button", title: "Attach files" }, paperclip(), h("span", { class: "visually-hidden" }, "Attach files")),
      text,
      h("button", { type: "submit", class: "primary" }, "Send")),
  );
  text.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter makes a new line.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  fileInput.addEventListener("change", () => {
    for (const f of fileInput.files ?? []) void upload(room, f);
    fileInput.value = "";
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const busy = state.uploads.some((u) => !u.file && !u.error);
    const ready = state.uploads.filter((u) => u.file);
    const body = text.value.trim();
    if (busy || (!body && ready.length === 0)) return;
    const p: Pending = { clientMessageId: newId(), text: body, attachmentIds: ready.map((u) => u.file!.id), state: "sending" };
    state.pending.push(p);
    state.uploads = state.uploads.filter((u) => !u.file);
    text.value = "";
    renderUploads();
    renderTimeline();
    void send(p);
  });
  queueMicrotask(() => { renderTimeline(); renderMembers(); renderUploads(); });
  return form;
}

// send posts a pending message, retrying transient failures with the same
// client_message_id: the server stores it once however often it arrives.
async function send(p: Pending) {
  const room = state.room;
  if (!room) return;
  p.state = "sending";
  renderTimeline();
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await rpc.messages.sendMessage(
        { roomId: room.id, text: p.text, clientMessageId: p.clientMessageId, attachmentIds: p.attachmentIds },
        { timeoutMs: 15000 },
      );
      if (state.room?.id !== room.id) return;
      const m = res.message!;
      // Shown at once; the stream delivers the same seq later, and
      // lastSeq only moves with the stream, so no gap can hide behind it.
      state.messages.set(m.seq, m);
      state.pending = state.pending.filter((x) => x !== p);
      renderTimeline();
      return;
    } catch (err) {
      if (transient(err) && attempt < 5) {
        await sleep(backoff(attempt + 2));
        continue;
      }
      p.state = "failed";
      p.error = errorText(err);
      renderTimeline();
      return;
    }
  }
}

// ---------- attachments ----------

const chunkSize = 256 * 1024;

// upload announces the file and sends it in chunks with UploadChunk,
// asking GetUpload where to continue after a failed chunk.
async function upload(room: Room, f: globalThis.File) {
  const u: Upload = { key: newId(), name: f.name, size: f.size, sent: 0 };
  state.uploads.push(u);
  renderUploads();
  try {
    const data = new Uint8Array(await f.arrayBuffer());
    const created = await rpc.files.createUpload({
      metadata: { roomId: room.id, name: f.name, contentType: f.type, size: BigInt(f.size), sha256: await sha256(data) },
    });
    const id = created.upload!.uploadId;
    let offset = 0;
    let failures = 0;
    while (!u.file) {
      try {
        const res = await rpc.files.uploadChunk({ uploadId: id, offset: BigInt(offset), data: data.subarray(offset, offset + chunkSize) });
        offset = Number(res.upload!.offset);
        u.file = res.upload!.file;
        failures = 0;
      } catch (err) {
        if (++failures > 5 || !(transient(err) || ConnectError.from(err).code === Code.FailedPrecondition)) throw err;
        await sleep(backoff(failures));
        const st = await rpc.files.getUpload({ uploadId: id });
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

function renderUploads() {
  const el = document.getElementById("uploads");
  if (!el) return;
  el.replaceChildren(...state.uploads.map((u) =>
    h("div", { class: "upload", "data-name": u.name, "data-state": u.error ? "failed" : u.file ? "done" : "uploading" },
      h("span", { class: "name" }, u.name),
      h("progress", { max: u.size, value: u.sent, "aria-label": `Uploading ${u.name}` }),
      h("span", { class: "size" }, u.error ? `failed: ${u.error}` : u.file ? "ready" : `${formatBytes(u.sent)} / ${formatBytes(u.size)}`),
      h("button", {
        type: "button", class: "link", "aria-label": `Remove ${u.name}`,
        onclick: () => { state.uploads = state.uploads.filter((x) => x !== u); renderUploads(); },
      }, "✕"))));
}

// download reads a file through the Download server stream into a blob.
const downloaded = new Map<string, Promise<string>>();
function download(f: ParleyFile): Promise<string> {
  let url = downloaded.get(f.id);
  if (!url) {
    url = (async () => {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for await (const chunk of rpc.files.download({ fileId: f.id })) parts.push(chunk.data as Uint8Array<ArrayBuffer>);
      return URL.createObjectURL(new Blob(parts, { type: f.contentType || "application/octet-stream" }));
    })();
    url.catch(() => downloaded.delete(f.id));
    downloaded.set(f.id, url);
  }
  return url;
}

function attachmentView(f: ParleyFile): HTMLElement {
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

function paperclip(): SVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
  p.setAttribute("d", "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9");
  p.setAttribute("fill", "none");
  p.setAttribute("stroke", "currentColor");
  p.setAttribute("stroke-width", "2");
  p.setAttribute("stroke-linecap", "round");
  svg.append(p);
  return svg;
}

// ---------- start ----------

async function start() {
  render();
  if (!state.token) return;
  try {
    state.me = (await rpc.auth.getMe({})).user;
    await enterChat();
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated) dropSession();
    else render();
  }
}

void start();
