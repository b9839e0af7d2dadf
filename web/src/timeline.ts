// The open room's timeline: the confirmed messages by seq (history, the
// stream, SendMessage answers), each in its latest form (edited, or
// removed), then the user's own still being sent.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Message } from "./gen/parley/v1/message_pb";
import { attachmentView } from "./attachment";
import { explainConnection } from "./connectionStatus";
import { h, redraw } from "./dom";
import { changeNotice, messageActions, messageEditor } from "./edit";
import { errorText } from "./error";
import { openedRoom } from "./room";
import { pendingMessages, send, settlePending } from "./send";
import { session } from "./session";
import { api } from "./transport";

let messages = new Map<bigint, Message>(); // by seq
// earlier tells whether history may hold messages before the oldest shown.
// Not every seq is a message's (edits and deletions have theirs), so only
// a page of history shorter than asked for tells that the start is reached.
let earlier = true;

// historyPage is how many messages a page of history asks for.
export const historyPage = 100;

// clearMessages empties the timeline, without redrawing it.
export function clearMessages() {
  messages.clear();
  earlier = true;
}

// showHistory puts a page of history (ListMessages with limit historyPage)
// in the timeline, without redrawing it.
export function showHistory(page: readonly Message[]) {
  for (const m of page) showMessage(m);
  if (page.length < historyPage) earlier = false;
}

// showMessage puts m in the timeline, without redrawing it.
export function showMessage(m: Message) {
  const shown = messages.get(m.seq);
  messages.set(m.seq, shown ? later(shown, m) : m);
}

// receive shows a message the stream delivered; sinceSeq is the resume
// position before it. One at or before that position and already shown is
// a replay.
export function receive(m: Message, sinceSeq: bigint) {
  if (m.seq <= sinceSeq && messages.has(m.seq)) return;
  showMessage(m);
  settlePending(m);
  renderSoon();
}

// receiveChange shows an edit or a deletion: m in its new form. A message
// not shown (before the history loaded) stays out.
export function receiveChange(m: Message) {
  if (!messages.has(m.seq)) return;
  showMessage(m);
  renderSoon();
}

let renderQueued = false;

// renderSoon redraws the timeline once the events at hand are taken in: a
// backlog the stream replays in one go is drawn once, not once per event.
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    renderTimeline();
  });
}

// latestOwnMessage is the user's newest message shown that is not deleted.
export function latestOwnMessage(): Message | undefined {
  let latest: Message | undefined;
  for (const m of messages.values()) {
    if (m.sender?.id === session.user?.id && !m.deleteTime && (!latest || m.seq > latest.seq)) latest = m;
  }
  return latest;
}

// later is the newer of two forms of one message: a deletion is final,
// otherwise the later edit wins (b on a tie). Forms arrive out of order
// when an EditMessage answer overtakes the stream.
function later(a: Message, b: Message): Message {
  if (a.deleteTime) return a;
  if (b.deleteTime) return b;
  return nanos(b.editTime) >= nanos(a.editTime) ? b : a;
}

function nanos(t: Timestamp | undefined): bigint {
  return t ? t.seconds * 1_000_000_000n + BigInt(t.nanos) : -1n;
}

// clock formats a time as hours and minutes (made once: formatting with
// toLocaleTimeString builds a formatter at each call).
const clock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });

function timeOf(t: Timestamp | undefined): string {
  return t ? clock.format(timestampDate(t)) : "";
}

// messageItem is one confirmed message as the timeline shows it.
function messageItem(m: Message): HTMLElement {
  const mine = m.sender?.id === session.user?.id;
  const removed = m.deleteTime !== undefined;
  const editor = messageEditor(m);
  return h("li", {
    class: `msg${mine ? " mine" : ""}${removed ? " deleted" : ""}${editor ? " editing" : ""}`, "data-seq": String(m.seq), "data-cmid": m.clientMessageId,
    "data-edited": m.editTime !== undefined && !removed, "data-deleted": removed, "data-focus": `msg:${m.seq}`, tabindex: -1,
  },
  h("div", { class: "meta" },
    h("span", { class: "sender" }, m.sender?.username ?? "?"),
    h("time", { datetime: m.createTime ? timestampDate(m.createTime).toISOString() : undefined }, timeOf(m.createTime)),
    m.editTime && !removed && h("span", { class: "edited", title: `Edited at ${timeOf(m.editTime)}` }, "(edited)"),
    messageActions(m)),
  removed ? h("p", { class: "removed" }, "Message deleted") : editor ?? (m.text && h("p", { class: "text" }, m.text)),
  m.attachments.map(attachmentView), // none once deleted
  changeNotice(m));
}

export function renderTimeline() {
  const list = document.getElementById("timeline");
  if (!list) return;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items: HTMLElement[] = [];
  const pending = pendingMessages();
  const seqs = [...messages.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (seqs.length === 0 && pending.length === 0) {
    items.push(h("li", { class: "hint" }, "No messages yet. Say hello!"));
  } else if (seqs.length > 0 && seqs[0] > 1n && earlier) {
    items.push(h("li", { class: "earlier" }, h("button", { type: "button", class: "link", onclick: loadEarlier }, "Load earlier messages")));
  }
  for (const seq of seqs) items.push(messageItem(messages.get(seq)!));
  for (const p of pending) {
    items.push(h("li", { class: `msg mine pending ${p.state}`, "data-cmid": p.clientMessageId, "data-pending": p.state },
      h("div", { class: "meta" },
        h("span", { class: "sender" }, session.user?.username ?? ""),
        h("span", {}, p.state === "sending" ? "sending…" : `not sent: ${p.error ?? ""}`)),
      p.text && h("p", { class: "text" }, p.text),
      p.state === "failed" && h("button", { type: "button", class: "retry", "data-focus": `retry:${p.clientMessageId}`, onclick: () => void send(p) }, "Retry")));
  }
  redraw(list, ...items);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// loadEarlier reads the page of history before the oldest message shown,
// keeping the view where it was.
async function loadEarlier() {
  const room = openedRoom();
  const list = document.getElementById("timeline");
  if (!room || !list || messages.size === 0) return;
  const oldest = [...messages.keys()].reduce((a, b) => (a < b ? a : b));
  try {
    const res = await api().messages.listMessages({ roomId: room.id, beforeSeq: oldest, limit: historyPage });
    if (openedRoom()?.id !== room.id) return;
    showHistory(res.messages);
  } catch (err) {
    explainConnection(errorText(err));
    return;
  }
  const fromBottom = list.scrollHeight - list.scrollTop;
  renderTimeline();
  list.scrollTop = list.scrollHeight - fromBottom;
  list.querySelector<HTMLElement>("li[data-seq]")?.focus();
}
