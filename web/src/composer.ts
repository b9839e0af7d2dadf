// The composer under the timeline: a message's text and attachments, sent
// with Enter or the Send button.
import type { Room } from "./gen/parley/v1/room_pb";
import { h } from "./dom";
import { editLatest } from "./edit";
import { renderMembers } from "./members";
import { queueMessage, send } from "./send";
import { renderTimeline } from "./timeline";
import { dropReadyUploads, readyUploads, renderUploads, upload, uploadsInProgress } from "./upload";

export function composer(room: Room): HTMLElement {
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
    // Enter sends, Shift+Enter makes a new line, Arrow Up in an empty
    // composer edits the user's latest message.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === "ArrowUp" && text.value === "" && editLatest()) {
      e.preventDefault();
    }
  });
  fileInput.addEventListener("change", () => {
    for (const f of fileInput.files ?? []) void upload(room, f);
    fileInput.value = "";
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const busy = uploadsInProgress();
    const ready = readyUploads();
    const body = text.value.trim();
    if (busy || (!body && ready.length === 0)) return;
    const p = queueMessage(body, ready.map((u) => u.file!.id));
    dropReadyUploads();
    text.value = "";
    renderUploads();
    renderTimeline();
    void send(p);
  });
  // The room view's lists fill in once the form is in the page.
  queueMicrotask(() => { renderTimeline(); renderMembers(); renderUploads(); });
  return form;
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
