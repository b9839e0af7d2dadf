// Changing messages in the open room: editing one of your own inline (Enter
// saves, Shift+Enter makes a new line, Escape cancels; Arrow Up in the empty
// composer edits your latest message) and deleting one of
// your own, or any in a room you created, after a confirmation (Escape
// cancels). EditMessage and DeleteMessage are idempotent, so a transient
// failure is tried again; what they answer is shown at once, and the
// stream brings the same change to everyone else. One message is changed
// at a time: starting on another drops the first.
import type { Message } from "./gen/parley/v1/message_pb";
import { byId, h } from "./dom";
import { errorText } from "./error";
import { retrying } from "./retry";
import { openedRoom } from "./room";
import { session } from "./session";
import { latestOwnMessage, receiveChange, renderTimeline } from "./timeline";
import { api } from "./transport";

// Change is what is happening to one message. The editor element is kept
// across redraws of the timeline, so its text and caret survive messages
// arriving meanwhile. fromComposer: the edit started there, and the focus
// goes back there.
interface Change {
  seq: bigint;
  step: "editing" | "saving" | "confirming" | "deleting" | "failed";
  editor?: HTMLTextAreaElement;
  error?: string;
  fromComposer?: boolean;
}

let change: Change | undefined;

// changeOf is the change under way of m, if any; none once m is deleted
// (by someone else, meanwhile).
function changeOf(m: Message): Change | undefined {
  return change?.seq === m.seq && !m.deleteTime ? change : undefined;
}

// clearChange forgets the change under way (another room is opened).
export function clearChange() {
  change = undefined;
}

// messageActions are the Edit and Delete buttons of a message, for those who
// may use them, or null.
export function messageActions(m: Message): HTMLElement | null {
  if (m.deleteTime) return null;
  const me = session.user?.id;
  const mine = m.sender?.id === me;
  const deletable = mine || openedRoom()?.creatorId === me;
  const c = changeOf(m);
  if (!deletable || (c && c.step !== "failed")) return null;
  return h("span", { class: "actions" },
    mine && h("button", { type: "button", class: "action", "data-focus": `edit:${m.seq}`, "aria-label": "Edit message", onclick: () => startEdit(m) }, "Edit"),
    h("button", { type: "button", class: "action", "data-focus": `delete:${m.seq}`, "aria-label": "Delete message", onclick: () => askDelete(m) }, "Delete"));
}

// messageEditor is the inline editor of m while it is being edited, else
// undefined.
export function messageEditor(m: Message): HTMLElement | undefined {
  const c = changeOf(m);
  if (!c?.editor || (c.step !== "editing" && c.step !== "saving")) return undefined;
  c.editor.readOnly = c.step === "saving";
  return h("div", { class: "editor" },
    c.editor,
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary small", "data-focus": `save:${m.seq}`, disabled: c.step === "saving", onclick: () => void save(m) }, c.step === "saving" ? "Saving…" : "Save"),
      h("button", { type: "button", class: "small", "data-focus": `cancel:${m.seq}`, onclick: () => finish(m.seq, "edit") }, "Cancel"),
      h("span", { class: "hint", "aria-hidden": "true" }, "Enter to save · Escape to cancel")),
    c.error && h("p", { class: "error", role: "alert" }, c.error));
}

// changeNotice is what goes under m: the delete confirmation, or why the
// last change failed; else null.
export function changeNotice(m: Message): HTMLElement | null {
  const c = changeOf(m);
  if (!c) return null;
  if (c.step === "failed") return h("p", { class: "error", role: "alert" }, c.error ?? "");
  if (c.step !== "confirming" && c.step !== "deleting") return null;
  const box = h("div", { class: "confirm", role: "group", "aria-label": "Confirm deletion" },
    h("span", {}, "Delete this message for everyone?"),
    h("button", { type: "button", class: "danger small", "data-focus": `confirm:${m.seq}`, disabled: c.step === "deleting", onclick: () => void remove(m) }, c.step === "deleting" ? "Deleting…" : "Delete"),
    h("button", { type: "button", class: "small", "data-focus": `keep:${m.seq}`, onclick: () => finish(m.seq, "delete") }, "Cancel"));
  box.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.stopPropagation();
    finish(m.seq, "delete");
  });
  return box;
}

// editLatest starts editing the user's latest message, from the composer;
// false if there is none.
export function editLatest(): boolean {
  const m = latestOwnMessage();
  if (m) startEdit(m, true);
  return m !== undefined;
}

function startEdit(m: Message, fromComposer = false) {
  const editor = h("textarea", { class: "edit-text", rows: 1, maxlength: 4000, "aria-label": "Edit message", "data-focus": `editor:${m.seq}` });
  editor.value = m.text;
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void save(m);
    } else if (e.key === "Escape") {
      e.stopPropagation();
      finish(m.seq, "edit");
    }
  });
  change = { seq: m.seq, step: "editing", editor, fromComposer };
  renderTimeline();
  editor.focus();
  editor.setSelectionRange(editor.value.length, editor.value.length);
}

function askDelete(m: Message) {
  change = { seq: m.seq, step: "confirming" };
  renderTimeline();
  focus(`confirm:${m.seq}`);
}

// finish ends the change of the message at seq and gives the keyboard focus
// back to where it started: the composer or the message's button.
function finish(seq: bigint, from: "edit" | "delete") {
  const composer = change?.seq === seq && change.fromComposer;
  if (change?.seq === seq) change = undefined;
  renderTimeline();
  if (composer) byId("composer-text").focus();
  else focus(`${from}:${seq}`);
}

async function save(m: Message) {
  const c = change;
  const room = openedRoom();
  if (!room || c?.seq !== m.seq || !c.editor || c.step !== "editing") return;
  const text = c.editor.value.trim();
  if (text === m.text) return finish(m.seq, "edit");
  c.step = "saving";
  c.error = undefined;
  renderTimeline();
  try {
    const res = await retrying(() => api().messages.editMessage({ roomId: room.id, seq: m.seq, text }));
    if (change !== c) return;
    if (res.message) receiveChange(res.message);
    finish(m.seq, "edit");
  } catch (err) {
    if (change !== c) return;
    c.step = "editing";
    c.error = `Not saved: ${errorText(err)}`;
    renderTimeline();
    c.editor.focus();
  }
}

async function remove(m: Message) {
  const c = change;
  const room = openedRoom();
  if (!room || c?.seq !== m.seq || c.step !== "confirming") return;
  c.step = "deleting";
  renderTimeline();
  try {
    const res = await retrying(() => api().messages.deleteMessage({ roomId: room.id, seq: m.seq }));
    if (change !== c) return;
    change = undefined;
    if (res.message) receiveChange(res.message);
    focus(`msg:${m.seq}`);
  } catch (err) {
    if (change !== c) return;
    change = { seq: m.seq, step: "failed", error: `Not deleted: ${errorText(err)}` };
    renderTimeline();
    focus(`delete:${m.seq}`);
  }
}

function focus(key: string) {
  document.querySelector<HTMLElement>(`#timeline [data-focus="${key}"]`)?.focus();
}
