// The open room's screen: its name, the timeline, the member panel and the
// composer.
import { Visibility, type Room } from "./gen/parley/v1/room_pb";
import { composer } from "./composer";
import { h } from "./dom";
import { membersShown, toggleMembers } from "./members";
import { closeRoom } from "./room";

export function roomView(room: Room): HTMLElement {
  return h("main", { class: "room-view", id: "main", "aria-labelledby": "room-title" },
    h("div", { class: "room-head" },
      h("button", { type: "button", class: "back", onclick: closeRoom, "aria-label": "Back to rooms" }, "←"),
      h("h2", { id: "room-title" }, h("span", { class: "sigil", "aria-hidden": "true" }, "#"), room.name, room.visibility === Visibility.PRIVATE && h("span", { class: "badge" }, "private")),
      h("button", {
        type: "button", id: "members-toggle", class: "link", "aria-expanded": String(membersShown()), "aria-controls": "members",
        onclick: toggleMembers,
      }, "Members")),
    h("div", { class: "room-body" },
      h("ol", { id: "timeline", class: "timeline", role: "log", "aria-live": "polite", "aria-label": `Messages in ${room.name}`, tabindex: 0 }),
      h("aside", { id: "members", class: "members", "aria-label": "Members" }),
    ),
    composer(room),
  );
}
